"""Every JSON Schema in schemas/ is valid against its meta-schema: checked here, so no command checks it at run time.

A schema is any JSON file of schemas/ that declares ``$schema`` (the Salesforce catalogs, the Zoom
index and secrets.json are data, not schemas). The engine loads its schemas without checking them
(``engine.language.schema_checker``): a schema broken by an edit fails here, not in a user's run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from engine.disclosure.facts import SCHEMA as FACTS_SCHEMA
from engine.project.project_file import SCHEMA_FILE as PROJECT_SCHEMA
from engine.validate.schema_check import MAPPING_SCHEMA
from tests.helpers import REPO

SCHEMAS = REPO / "schemas"


def _declares_schema(path: Path) -> bool:
    document = json.loads(path.read_text(encoding="utf-8"))
    return isinstance(document, dict) and "$schema" in document


SCHEMA_FILES = sorted(path for path in SCHEMAS.rglob("*.json") if _declares_schema(path))


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[p.relative_to(SCHEMAS).as_posix() for p in SCHEMA_FILES])
def test_every_schema_is_valid_against_its_meta_schema(path: Path) -> None:
    schema = _load(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator_for(schema).check_schema(schema)


def test_the_schemas_the_engine_loads_are_among_them() -> None:
    checked = {path.relative_to(SCHEMAS).as_posix() for path in SCHEMA_FILES}
    assert {MAPPING_SCHEMA, FACTS_SCHEMA, PROJECT_SCHEMA} <= checked
    assert len(checked) > 50  # the Zoom REST and event schemas too
