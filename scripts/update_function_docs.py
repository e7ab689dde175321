"""Regenerate docs/functions.md, the reference of the transform functions, from engine.language.function_docs.

That file is the one place the function table lives (the README links to it); a test checks it is
up to date.

Usage: python scripts/update_function_docs.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.language.function_docs import render_function_docs

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "functions.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/functions.md is out of date")
    args = parser.parse_args()
    text = render_function_docs()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/update_function_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
