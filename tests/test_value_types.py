"""engine.language.value_types: the one table of value types, and what coercion, validation and the
Salesforce catalog read from it."""

from __future__ import annotations

import pytest

from engine.describe import JSON_TYPES, article, json_type, short
from engine.language.coerce import COERCERS, passthrough
from engine.language.value_types import VALUE_TYPES
from engine.salesforce.catalog import type_accepts
from engine.suggest import close_matches, did_you_mean, suggestion


def test_every_value_type_has_its_coercer() -> None:
    assert set(COERCERS) == {None, *VALUE_TYPES}
    assert COERCERS[None] is passthrough
    for name, value_type in VALUE_TYPES.items():
        assert COERCERS[name].__name__ == value_type.coercer


def test_text_types_take_max_length_and_come_from_tables() -> None:
    text = {name for name, value_type in VALUE_TYPES.items() if value_type.text}
    assert text == {"string", "picklist", "id", "email", "url", "credential_url"}
    assert {name for name, value_type in VALUE_TYPES.items() if not value_type.in_tables} == {"datetime", "date"}


def test_literals_are_json_types() -> None:
    for value_type in VALUE_TYPES.values():
        assert value_type.literals <= JSON_TYPES


def test_type_accepts_reads_the_table() -> None:
    for name, value_type in VALUE_TYPES.items():
        for sf_type in value_type.salesforce:
            assert type_accepts(sf_type, name)
    assert not type_accepts("string", "no-such-value-type")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "null"), (True, "boolean"), (3, "integer"), (2.5, "number"), ("x", "string"), ([1], "array"),
     ((1,), "array"), ({"a": 1}, "object")],
)
def test_json_type(value: object, expected: str) -> None:
    assert json_type(value) == expected


def test_short_cuts_long_reprs_to_sixty_characters() -> None:
    assert short("abc") == "'abc'"
    long = short("x" * 100)
    assert len(long) == 60 and long.endswith("...")


def test_article() -> None:
    assert (article("integer"), article("string")) == ("an integer", "a string")


def test_suggestions() -> None:
    assert close_matches("form", ["from", "to"]) == ["from"]
    assert close_matches("contact", ["Contact", "Account"], 3, ignore_case=True) == ["Contact"]
    assert did_you_mean([]) == ""
    assert did_you_mean(["a", "b", "c", "d"]) == "; did you mean 'a', 'b', 'c'?"
    assert suggestion("form", ["from", "to"]) == "; did you mean 'from'?"
    assert suggestion("zzz", ["from", "to"]) == ""
