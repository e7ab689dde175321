"""First validation pass: the JSON Schema of the mapping language, errors mapped back to YAML.

The schema is ``schemas/mapping.schema.json``; ``engine.language.schema_errors`` turns each
violation into a Problem at the line and column of the offending key or value, naming what was
expected and, for a misspelt key or value, the nearest valid one.
"""

from __future__ import annotations

import json
from functools import cache

from jsonschema import Draft202012Validator

from engine.errors import Problem
from engine.language.loader import LoadedDocument
from engine.language.schema_errors import positioned_problems
from engine.resources import schemas_dir


@cache
def mapping_validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "mapping.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)  # the schema is checked against the meta-schema in tests/test_mapping_schema.py


@cache
def schema_validator(name: str) -> Draft202012Validator:
    """The validator of ``schemas/NAME`` (checked once)."""
    schema = json.loads((schemas_dir() / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_problems(document: LoadedDocument, validator: Draft202012Validator | None = None) -> list[Problem]:
    """Every violation of `validator`'s schema (default: the mapping language's) by `document`, one
    Problem each, sorted by position."""
    return positioned_problems(validator or mapping_validator(), document)
