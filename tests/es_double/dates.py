"""Date parsing and formatting for `date` fields (UTC epoch milliseconds inside the double).

Supported formats (https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/mapping-date-format):
`strict_date_optional_time` (also `date_optional_time`, `strict_date_optional_time_nanos`
parsed to millisecond precision), `strict_date` / `date`, `strict_date_time` / `date_time`,
`epoch_millis`, `epoch_second`, the dynamic-date-detection patterns `yyyy/MM/dd HH:mm:ss`
and `yyyy/MM/dd` (optionally followed by ` Z`), `yyyy-MM-dd`, `yyyy-MM-dd HH:mm:ss`, and
`||` alternatives tried left to right. Any other format is refused when the mapping is
created. Date math (`now-1d/d`, `2020-01-01||+1M`) is supported in range queries.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.es_double.errors import EsError, unsupported

DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"

_ISO = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)
_LENIENT_ISO = re.compile(
    r"(?P<y>\d{1,9})(?:-(?P<mo>\d{1,2})(?:-(?P<d>\d{1,2})"
    r"(?:T(?P<h>\d{1,2})(?::(?P<mi>\d{1,2})(?::(?P<s>\d{1,2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)
_SLASH = re.compile(
    r"(?P<y>\d{4})/(?P<mo>\d{2})/(?P<d>\d{2})(?: (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2}))?(?: (?P<z>Z|[+-]\d{2}:?\d{2}))?"
)
_DASH_SPACE = re.compile(r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})(?: (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2}))?")
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")

_ISO_NAMES = {
    "strict_date_optional_time",
    "date_optional_time",
    "strict_date_optional_time_nanos",
    "date_optional_time_nanos",
}
_DATE_ONLY = {"strict_date", "date"}
_DATE_TIME = {"strict_date_time", "date_time"}
_PATTERNS = {
    "yyyy/MM/dd HH:mm:ss": ("slash", True, False),
    "yyyy/MM/dd HH:mm:ss Z": ("slash", True, True),
    "yyyy/MM/dd": ("slash", False, False),
    "yyyy/MM/dd Z": ("slash", False, True),
    "yyyy-MM-dd": ("dash", False, False),
    "yyyy-MM-dd HH:mm:ss": ("dash", True, False),
}


class DateParseError(Exception):
    """The value does not match any of the field's formats."""


def _zone_offset(z: str | None) -> int:
    if not z or z == "Z":
        return 0
    sign = -1 if z[0] == "-" else 1
    digits = z[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    return sign * (hours * 3600 + minutes * 60) * 1000


def _to_millis(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None, offset_ms: int) -> int:
    if not (1 <= mo <= 12) or not (1 <= d <= calendar.monthrange(y, mo)[1]) or h > 23 or mi > 59 or s > 59:
        raise DateParseError("out of range")
    days = _days_from_civil(y, mo, d)
    millis = ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000
    if frac:
        millis += int((frac + "000")[:3])
    return millis - offset_ms


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _match_iso(text: str, strict: bool, need_date: bool, need_time: bool) -> int:
    m = (_ISO if strict else _LENIENT_ISO).fullmatch(text)
    if not m:
        raise DateParseError(text)
    g = m.groupdict()
    if need_date and g["d"] is None:
        raise DateParseError(text)
    if need_time and (g["s"] is None or g["f"] is None or g["z"] is None):
        raise DateParseError(text)
    if need_date and not need_time and g["h"] is not None:
        raise DateParseError(text)
    return _to_millis(
        int(g["y"]),
        int(g["mo"] or 1),
        int(g["d"] or 1),
        int(g["h"] or 0),
        int(g["mi"] or 0),
        int(g["s"] or 0),
        g["f"],
        _zone_offset(g["z"]),
    )


def _parse_one(fmt: str, value: object) -> int:
    if fmt in ("epoch_millis", "epoch_second"):
        if isinstance(value, bool):
            raise DateParseError(str(value))
        if isinstance(value, (int, float)):
            number = float(value) if isinstance(value, float) else value
        else:
            text = str(value)
            if not _EPOCH.fullmatch(text):
                raise DateParseError(text)
            number = float(text) if "." in text else int(text)
        scale = 1000 if fmt == "epoch_second" else 1
        return int(round(number * scale)) if isinstance(number, float) else number * scale
    text = value if isinstance(value, str) else _number_text(value)
    if fmt in _ISO_NAMES:
        return _match_iso(text, strict=fmt.startswith("strict"), need_date=False, need_time=False)
    if fmt in _DATE_ONLY:
        return _match_iso(text, strict=fmt.startswith("strict"), need_date=True, need_time=False)
    if fmt in _DATE_TIME:
        return _match_iso(text, strict=fmt.startswith("strict"), need_date=True, need_time=True)
    if fmt in _PATTERNS:
        kind, with_time, with_zone = _PATTERNS[fmt]
        m = (_SLASH if kind == "slash" else _DASH_SPACE).fullmatch(text)
        if not m or (m.group("h") is not None) != with_time:
            raise DateParseError(text)
        zone = m.groupdict().get("z")
        if (zone is not None) != with_zone:
            raise DateParseError(text)
        return _to_millis(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"] or 0),
            int(m["mi"] or 0),
            int(m["s"] or 0),
            None,
            _zone_offset(zone),
        )
    raise DateParseError(text)


def _number_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_format(fmt: str) -> list[str]:
    """Split `a||b` and refuse formats the double does not implement."""
    parts = [p.strip() for p in fmt.split("||")]
    for p in parts:
        if (
            p not in _ISO_NAMES
            and p not in _DATE_ONLY
            and p not in _DATE_TIME
            and p not in _PATTERNS
            and p
            not in (
                "epoch_millis",
                "epoch_second",
            )
        ):
            raise unsupported(f"date format [{p}]")
    return parts


@dataclass(frozen=True)
class DateFormat:
    """A parsed `format` mapping parameter."""

    text: str
    parts: tuple[str, ...]

    @classmethod
    def of(cls, fmt: str | None) -> DateFormat:
        text = fmt or DEFAULT_DATE_FORMAT
        return cls(text, tuple(check_format(text)))

    def parse(self, value: object) -> int:
        """Epoch millis, or EsError shaped like Elasticsearch's date parse failure."""
        for part in self.parts:
            try:
                return _parse_one(part, value)
            except (DateParseError, ValueError, OverflowError):
                continue
        raise EsError(
            400,
            "illegal_argument_exception",
            f"failed to parse date field [{_number_text(value) if not isinstance(value, str) else value}] with format [{self.text}]",
            caused_by=EsError(
                400,
                "date_time_parse_exception",
                "Failed to parse with all enclosed parsers"
                if len(self.parts) > 1
                else f"Text '{value}' could not be parsed at index 0",
            ),
        )

    def fast_int(self, value: int) -> int | None:
        """Epoch millis of a JSON integer without trying every parser; None when unsure."""
        for part in self.parts:
            if part == "epoch_millis":
                return value
            if part == "epoch_second":
                return value * 1000
            if part.startswith("strict_") and not (1000 <= value <= 9999):
                continue  # strict formats need a 4-digit year: an integer of another width fails them
            return None
        return None

    def format(self, millis: int) -> str:
        """Render with the first format, as `fields` and aggregations do."""
        return format_millis(millis, self.parts[0])


def format_millis(millis: int, fmt: str) -> str:
    """Elasticsearch's printer for one named format."""
    if fmt == "epoch_millis":
        return str(millis)
    if fmt == "epoch_second":
        seconds, rest = divmod(millis, 1000)
        return str(seconds) if rest == 0 else f"{millis / 1000}"
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)
    if fmt in _DATE_ONLY:
        return moment.strftime("%Y-%m-%d")
    if fmt in _PATTERNS:
        kind, with_time, with_zone = _PATTERNS[fmt]
        out = moment.strftime("%Y/%m/%d" if kind == "slash" else "%Y-%m-%d")
        if with_time:
            out += moment.strftime(" %H:%M:%S")
        if with_zone:
            out += " +0000"
        return out
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_MATH_UNIT = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")


def _add_unit(millis: int, amount: int, unit: str) -> int:
    if unit in "yM":
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)
        months = moment.year * 12 + moment.month - 1 + (amount * 12 if unit == "y" else amount)
        year, month = divmod(months, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        shifted = moment.replace(year=year, month=month + 1, day=day)
        return int((shifted - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(milliseconds=1))
    size = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "H": 3_600_000, "m": 60_000, "s": 1000}[unit]
    return millis + amount * size


def _round(millis: int, unit: str, up: bool) -> int:
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)
    if unit == "y":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        start = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "d":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit in "hH":
        start = moment.replace(minute=0, second=0, microsecond=0)
    elif unit == "m":
        start = moment.replace(second=0, microsecond=0)
    else:
        start = moment.replace(microsecond=0)
    low = int((start - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(milliseconds=1))
    if not up:
        return low
    return _add_unit(low, 1, unit) - 1


def parse_date_math(value: object, fmt: DateFormat, round_up: bool, now_ms: int | None = None) -> int:
    """Range-query bound: a date in `fmt`, or date math anchored on `now` or `<date>||`."""
    if not isinstance(value, str):
        return fmt.parse(value)
    if value.startswith("now"):
        base = now_ms if now_ms is not None else int(time.time() * 1000)
        ops = value[3:]
    elif "||" in value:
        anchor, _, ops = value.partition("||")
        base = fmt.parse(anchor)
    else:
        return fmt.parse(value)
    pos = 0
    millis = base
    while pos < len(ops):
        m = _MATH_UNIT.match(ops, pos)
        if not m:
            raise EsError(400, "elasticsearch_parse_exception", f"operator not supported for date math [{ops}]")
        if m.group(4):
            millis = _round(millis, m.group(4), round_up)
        else:
            amount = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
            millis = _add_unit(millis, amount, m.group(3))
        pos = m.end()
    return millis
