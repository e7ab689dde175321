"""A JSON Schema checked in two steps: jsonschema-rs says whether a document is valid, jsonschema says why not.

Most documents are valid, and jsonschema-rs (compiled, a few milliseconds with its import) tells so
without importing jsonschema (some 60 ms) or walking the document in Python (some 4 ms a mapping).
Only a document it does not find valid is walked by jsonschema, whose errors
``engine.language.schema_errors`` turns into Problems at their lines and columns: the messages are
jsonschema's whichever step ran, and the two must agree on what is valid (tests/test_schema_checker.py
holds them to it over the hostile mutants, the cases and generated documents).

Where they could disagree, jsonschema decides: a value jsonschema-rs cannot take (a YAML date, bytes)
and a string holding a character that Python's ``re`` and jsonschema-rs's regular expressions class
differently (``REGEX_ENGINES_DIFFER``: U+0085 is whitespace to Python only, U+FEFF to jsonschema-rs
only; a decimal digit other than 0-9 is ``\\d`` to Python only) go to jsonschema. Where jsonschema-rs
is the stricter (``$`` before a final line break matches in Python only), the document goes to
jsonschema too, which finds it valid; no ``not`` and no ``oneOf`` of overlapping types in the schemas
lets a stricter part make the whole more lenient (the tests check that too).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from engine.errors import Problem
from engine.language.loader import LoadedDocument
from engine.resources import schemas_dir

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

# The characters Python's `re` classes otherwise than jsonschema-rs (\s, \S, \d in the schemas' patterns):
# U+001C to U+001F and U+0085 are whitespace to Python only, U+FEFF to jsonschema-rs only.
REGEX_ENGINES_DIFFER = re.compile(r"[\x1c-\x1f\x85\ufeff]|(?![0-9])\d")


class SchemaChecker:
    """One JSON Schema (draft 2020-12): ``problems(document)`` lists its violations, positioned."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=False, offline=True)
        self._full: Draft202012Validator | None = None

    @property
    def validator(self) -> Draft202012Validator:
        """jsonschema's validator of the schema, made when first asked for (an invalid document)."""
        if self._full is None:
            from jsonschema import Draft202012Validator  # deferred: a valid document never needs it

            self._full = Draft202012Validator(self.schema)
        return self._full

    def known_valid(self, data: Any) -> bool:
        """Whether jsonschema-rs finds `data` valid where it cannot disagree with jsonschema."""
        if not _regex_neutral(data):
            return False
        try:
            return self._fast.is_valid(data)
        except ValueError:  # a value JSON has no type for (a YAML date, bytes): jsonschema decides
            return False

    def problems(self, document: LoadedDocument) -> list[Problem]:
        """Every violation of the schema by `document`, one Problem each, sorted by position."""
        if self.known_valid(document.data):
            return []
        from engine.language.schema_errors import positioned_problems  # deferred: it imports jsonschema

        return positioned_problems(self.validator, document)


def _regex_neutral(data: Any) -> bool:
    """No string of `data` (key or value) holds a character the two regular expression engines class apart."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if REGEX_ENGINES_DIFFER.search(value):
                return False
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and REGEX_ENGINES_DIFFER.search(key):
                    return False
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return True


@cache
def schema_checker(name: str) -> SchemaChecker:
    """The checker of ``schemas/NAME``, read once a process (the schemas are checked against the
    meta-schema in tests/test_schemas_valid.py, not at run time)."""
    return SchemaChecker(json.loads((schemas_dir() / name).read_text(encoding="utf-8")))
