"""Write the transform functions' table (with examples) into README.md between its markers.

Usage: python scripts/update_readme_functions.py
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.language.function_docs import render_example_table

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    table = render_example_table()
    updated = re.sub(
        r"(<!-- functions:start -->\n).*?(<!-- functions:end -->)",
        lambda m: m.group(1) + table + m.group(2),
        text,
        flags=re.S,
    )
    README.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
