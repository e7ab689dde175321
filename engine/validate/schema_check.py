"""First validation pass: the JSON Schema of the mapping language, errors mapped back to YAML.

The schema is ``schemas/mapping.schema.json``; ``engine.language.schema_checker`` finds a valid
document valid without jsonschema, and ``engine.language.schema_errors`` turns each violation of an
invalid one into a Problem at the line and column of the offending key or value, naming what was
expected and, for a misspelt key or value, the nearest valid one.
"""

from __future__ import annotations

from engine.errors import Problem
from engine.language.loader import LoadedDocument
from engine.language.schema_checker import SchemaChecker, schema_checker

MAPPING_SCHEMA = "mapping.schema.json"


def mapping_checker() -> SchemaChecker:
    return schema_checker(MAPPING_SCHEMA)  # checked against the meta-schema in tests/test_schemas_valid.py


def schema_problems(document: LoadedDocument, checker: SchemaChecker | None = None) -> list[Problem]:
    """Every violation of `checker`'s schema (default: the mapping language's) by `document`, one
    Problem each, sorted by position."""
    return (checker or mapping_checker()).problems(document)
