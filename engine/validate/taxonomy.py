"""The privacy taxonomy: Fides data categories, uses and subjects from fideslang's defaults.

The keys are read from ``fides_taxonomy.json`` beside this module (written from fideslang by
``scripts/update_taxonomy.py``; ``tests/test_taxonomy.py`` proves it equals fideslang's), so that
validating mappings does not import fideslang and pydantic.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

TAXONOMY_FILE = Path(__file__).resolve().parent / "fides_taxonomy.json"

#: Categories whose values are credentials: a field in one of them must say ``secret: true``.
CREDENTIAL_PREFIXES = ("user.authorization", "system.authentication")


@cache
def _taxonomy() -> dict[str, frozenset[str]]:
    data = json.loads(TAXONOMY_FILE.read_text(encoding="utf-8"))
    return {kind: frozenset(data[kind]) for kind in ("data_category", "data_use", "data_subject")}


def data_categories() -> frozenset[str]:
    return _taxonomy()["data_category"]


def data_uses() -> frozenset[str]:
    return _taxonomy()["data_use"]


def data_subjects() -> frozenset[str]:
    return _taxonomy()["data_subject"]


def is_credential(category: str) -> bool:
    return any(category == prefix or category.startswith(prefix + ".") for prefix in CREDENTIAL_PREFIXES)
