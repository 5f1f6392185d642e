"""Import the Kibana dashboards of `kibana_saved_objects/` into Kibana, or export them back.

    python scripts/kibana_objects.py import [--kibana-url URL] [--dir kibana_saved_objects] [--timeout 300]
    python scripts/kibana_objects.py export [--kibana-url URL] [--dir kibana_saved_objects] [--object TYPE:ID ...]

`import` waits until Kibana is available, imports every object with
overwrite (so running it again is harmless), prints a JSON summary of what was
created or updated and exits 1 when any object fails. `export` rewrites the
folder from Kibana (for maintainers who edited a dashboard in Kibana).
Credentials: KIBANA_API_KEY or KIBANA_USERNAME/KIBANA_PASSWORD (see pipeline/kibana.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.es import install_log_redaction, redact_url
from pipeline.kibana import (
    ImportFailed,
    KibanaClient,
    KibanaError,
    export_folder,
    import_folder,
    settings_from_env,
)

log = logging.getLogger("kibana_objects")

FOLDER = Path(__file__).resolve().parents[1] / "kibana_saved_objects"  # works from any working directory


def _object_ref(text: str) -> dict[str, str]:
    object_type, sep, object_id = text.partition(":")
    if not sep or not object_type or not object_id:
        raise argparse.ArgumentTypeError(f"expected TYPE:ID, got {text!r}")
    return {"type": object_type, "id": object_id}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("import", "import the folder into Kibana"), ("export", "write Kibana's objects into the folder")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--kibana-url", default=None, help="Kibana URL (default $KIBANA_URL or http://localhost:5601)")
        cmd.add_argument("--dir", type=Path, default=FOLDER, help="saved-objects folder (default: the repository's)")
        cmd.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for Kibana (default 300)")
        cmd.add_argument("--interval", type=float, default=2.0, help="seconds between status checks (default 2)")
    sub.choices["import"].add_argument(
        "--no-overwrite", action="store_true", help="fail on objects that already exist instead of overwriting them"
    )
    sub.choices["export"].add_argument(
        "--object", dest="objects", type=_object_ref, action="append", default=None,
        help="TYPE:ID to export (repeatable; default: every object already in the folder)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    client = KibanaClient(settings_from_env(args.kibana_url))
    try:
        if args.command == "import":
            report = import_folder(
                client, args.dir, timeout=args.timeout, interval=args.interval, overwrite=not args.no_overwrite
            )
            print(json.dumps({"kibana": redact_url(client.settings.url), **report.as_dict()}, indent=2, ensure_ascii=False))
        else:
            counts = export_folder(client, args.dir, objects=args.objects, timeout=args.timeout, interval=args.interval)
            print(json.dumps({"kibana": redact_url(client.settings.url), "files": counts}, indent=2))
    except ImportFailed as exc:
        print(json.dumps({"kibana": redact_url(client.settings.url), **exc.report.as_dict()}, indent=2, ensure_ascii=False))
        log.error("%s", exc)
        return 1
    except (KibanaError, ValueError, OSError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
