"""Write docs/queries.md from the service's query builders (thin: service.querydocs renders it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.querydocs import render

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "queries.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"file to write (default {DEFAULT_OUT})")
    parser.add_argument("--prefix", default=None, help="index prefix (default: movierec)")
    args = parser.parse_args()
    text = render(args.prefix) if args.prefix else render()
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
