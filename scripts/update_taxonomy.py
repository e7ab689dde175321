"""Write engine/validate/fides_taxonomy.json: the keys of fideslang's default taxonomy, as data.

    python scripts/update_taxonomy.py

``zoomforce validate`` checks category, use and subject names against that file instead of
importing fideslang (and pydantic) on every run; ``tests/test_taxonomy.py`` proves the file equals
fideslang's taxonomy, so a fideslang upgrade that changes it fails until this script is run.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

from fideslang.default_taxonomy import DEFAULT_TAXONOMY

TARGET = Path(__file__).resolve().parents[1] / "engine/validate/fides_taxonomy.json"


def taxonomy_keys() -> dict[str, list[str]]:
    return {
        "data_category": sorted(item.fides_key for item in DEFAULT_TAXONOMY.data_category),
        "data_use": sorted(item.fides_key for item in DEFAULT_TAXONOMY.data_use),
        "data_subject": sorted(item.fides_key for item in DEFAULT_TAXONOMY.data_subject),
    }


def main() -> None:
    version = importlib.metadata.version("fideslang")
    origin = (f"fideslang {version} default_taxonomy (DEFAULT_TAXONOMY): the fides_key of every item; "
              "regenerate with scripts/update_taxonomy.py")
    TARGET.write_text(json.dumps({"origin": origin, **taxonomy_keys()}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
