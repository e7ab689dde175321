"""The mapping language's JSON Schema: valid, documented everywhere, in sync with its source."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

from tests.helpers import REPO

SCHEMA_PATH = REPO / "schemas" / "mapping.schema.json"


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_schema_is_valid_2020_12() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def _properties(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            yield f"{path}/{name}", child
        for key, child in node.items():
            if key != "properties":
                yield from _properties(child, f"{path}/{key}")
        for name, child in node.get("properties", {}).items():
            yield from _properties(child, f"{path}/{name}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _properties(child, f"{path}[{i}]")


def _described(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    if "description" in node:
        return True
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return "description" in schema["$defs"][ref.removeprefix("#/$defs/")]
    return False


def test_every_property_has_a_description() -> None:
    schema = _schema()
    missing = sorted({path for path, node in _properties(schema) if not _described(schema, node)})
    assert missing == []


def test_fixed_keys_of_design_md_are_there() -> None:
    schema = _schema()
    assert {"entity", "source", "target", "fields"} <= set(schema["required"])
    field_props = schema["$defs"]["field"]["properties"]
    assert {"from", "to", "label", "category", "secret", "enabled"} <= set(field_props)


def test_json_is_generated_from_the_yaml_source() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/build_mapping_schema.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_value_type_enum_is_the_value_type_table() -> None:
    from engine.language.value_types import VALUE_TYPES

    assert _schema()["$defs"]["value_type"]["enum"] == list(VALUE_TYPES)
