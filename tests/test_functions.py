"""The transform registry: documented examples, per-function cases, errors, properties, no builtin shadowed."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jmespath import exceptions as jmes_errors
from jmespath.functions import Functions

from engine.errors import TransformValueError, ZoomforceError
from engine.language.function_docs import FUNCTION_DOCS, render_function_docs
from engine.language.functions import RETURN_TYPES, ZoomforceFunctions, function_arities, function_options
from tests.helpers import REPO

JMESPATH_BUILTINS = {
    "abs", "avg", "ceil", "contains", "ends_with", "floor", "join", "keys", "length", "map", "max", "max_by",
    "merge", "min", "min_by", "not_null", "reverse", "sort", "sort_by", "starts_with", "sum", "to_array",
    "to_number", "to_string", "type", "values",
}  # fmt: skip
VALUE_TYPES = {"string", "integer", "number", "boolean", "datetime", "date", "object", "any"}


def search(expression: str, data: Any) -> Any:
    return jmespath.search(expression, data, function_options())


def run_cases(cases: list[tuple[str, Any, Any]]) -> None:
    for expression, data, expected in cases:
        result = search(expression, data)
        assert result == expected and type(result) is type(expected), (expression, data, result)


# ---- the registry itself -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FUNCTION_DOCS))
def test_documented_example(name: str) -> None:
    doc = FUNCTION_DOCS[name]
    assert doc.signature.startswith(f"{name}(")
    assert search(doc.example_expression, doc.example_input) == doc.example_result


def test_every_function_is_documented_and_typed() -> None:
    ours = set(ZoomforceFunctions.FUNCTION_TABLE) - set(Functions.FUNCTION_TABLE)
    assert ours == set(FUNCTION_DOCS) == set(RETURN_TYPES)
    assert set(RETURN_TYPES.values()) <= VALUE_TYPES


def test_no_builtin_is_overridden_or_shadowed() -> None:
    builtins = set(Functions.FUNCTION_TABLE)
    assert builtins == JMESPATH_BUILTINS
    ours = {name.removeprefix("_func_") for name in vars(ZoomforceFunctions) if name.startswith("_func_")}
    assert ours & builtins == set()
    for name in builtins:
        assert ZoomforceFunctions.FUNCTION_TABLE[name] == Functions.FUNCTION_TABLE[name]


def test_docs_file_is_generated_from_the_registry() -> None:
    text = (REPO / "docs" / "functions.md").read_text(encoding="utf-8")
    assert text == render_function_docs(), "regenerate: python scripts/update_function_docs.py"


def test_update_script_checks_the_docs_file() -> None:
    done = subprocess.run([sys.executable, "scripts/update_function_docs.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_function_table_lives_in_docs_functions_md_only() -> None:
    """README and the other docs link to docs/functions.md instead of repeating its table."""
    others = [REPO / "README.md", REPO / "CONTRIBUTING.md", *(REPO / "docs").glob("*.md")]
    for path in others:
        if path.name == "functions.md" or not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        repeated = [doc.signature for doc in FUNCTION_DOCS.values() if f"| `{doc.signature}` |" in text]
        assert repeated == [], f"{path.name} repeats the function table: link to docs/functions.md instead"


def test_docs_name_every_function_with_its_example() -> None:
    text = render_function_docs()
    for doc in FUNCTION_DOCS.values():
        assert doc.signature in text and doc.example_expression in text


def test_options_are_one_shared_instance() -> None:
    assert function_options() is function_options()
    assert isinstance(function_options().custom_functions, ZoomforceFunctions)


def test_arities_cover_builtins_and_ours() -> None:
    arities = function_arities()
    assert set(arities) == JMESPATH_BUILTINS | set(FUNCTION_DOCS)
    assert {name: arities[name] for name in ("join", "not_null", "map", "abs", "merge")} == {
        "join": (2, 2),
        "not_null": (1, None),
        "map": (2, 2),
        "abs": (1, 1),
        "merge": (1, None),
    }
    ours = {name: arities[name] for name in FUNCTION_DOCS}
    assert ours == {
        "sf_datetime": (1, 1),
        "sf_date": (1, 1),
        "add_minutes": (2, 2),
        "add_seconds": (2, 2),
        "minutes_to_seconds": (1, 1),
        "seconds_to_minutes": (1, 1),
        "seconds_to_hms": (1, 1),
        "truncate": (2, 2),
        "lower": (1, 1),
        "upper": (1, 1),
        "trim": (1, 1),
        "concat": (1, None),
        "concat_ws": (2, None),
        "coalesce": (1, None),
        "default": (2, 2),
        "lookup": (2, 3),
        "split_name": (1, 1),
        "first_name": (1, 1),
        "last_name": (1, 1),
        "normalize_email": (1, 1),
        "to_boolean": (1, 1),
        "to_integer": (1, 1),
        "digits": (1, 1),
    }


def test_arities_are_a_copy() -> None:
    function_arities()["sf_datetime"] = (9, 9)
    assert function_arities()["sf_datetime"] == (1, 1)


@pytest.mark.parametrize("name", list(FUNCTION_DOCS))
def test_arity_bounds_match_what_jmespath_enforces(name: str) -> None:
    low, high = function_arities()[name]
    with pytest.raises(jmes_errors.ArityError):
        search(f"{name}({', '.join(['`{}`'] * (low - 1))})", {})
    if high is not None:
        with pytest.raises(jmes_errors.ArityError):
            search(f"{name}({', '.join(['`{}`'] * (high + 1))})", {})


# ---- times -------------------------------------------------------------------------------------


def test_sf_datetime() -> None:
    run_cases(
        [
            ("sf_datetime(t)", {"t": "2022-03-23T06:00:00Z"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T06:00:00.000Z"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T06:00:00.1Z"}, "2022-03-23T06:00:00.100Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T06:00:00.123456Z"}, "2022-03-23T06:00:00.123Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T06:00:00.999999999Z"}, "2022-03-23T06:00:00.999Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T06:00:00"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T11:30:00+05:30"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T11:30:00+0530"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T08:00:00+02"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T01:00:00-05:00"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T00:30:00+05:30"}, "2022-03-22T19:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-12-31T23:30:00-01:00"}, "2023-01-01T00:30:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23 06:00:00Z"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23t06:00:00z"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23T06:00Z"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": " 2022-03-23T06:00:00Z\n"}, "2022-03-23T06:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2022-03-23"}, "2022-03-23T00:00:00.000Z"),
            ("sf_datetime(t)", {"t": "2024-02-29T12:00:00Z"}, "2024-02-29T12:00:00.000Z"),
            ("sf_datetime(t)", {"t": "0999-01-01T00:00:00Z"}, "0999-01-01T00:00:00.000Z"),
            ("sf_datetime(t)", {"t": 1647993600000}, "2022-03-23T00:00:00.000Z"),
            ("sf_datetime(t)", {"t": 1647993600123}, "2022-03-23T00:00:00.123Z"),
            ("sf_datetime(t)", {"t": 1647993600000.5}, "2022-03-23T00:00:00.000Z"),
            ("sf_datetime(t)", {"t": 0}, "1970-01-01T00:00:00.000Z"),
            ("sf_datetime(t)", {"t": -1000}, "1969-12-31T23:59:59.000Z"),
            ("sf_datetime(t)", {"t": None}, None),
            ("sf_datetime(missing)", {}, None),
        ]
    )


def test_sf_date() -> None:
    run_cases(
        [
            ("sf_date(t)", {"t": "2022-03-23T06:00:00Z"}, "2022-03-23"),
            ("sf_date(t)", {"t": "2022-03-23T23:30:00-02:00"}, "2022-03-24"),
            ("sf_date(t)", {"t": "2022-03-23T00:30:00+05:30"}, "2022-03-22"),
            ("sf_date(t)", {"t": "2022-03-23"}, "2022-03-23"),
            ("sf_date(t)", {"t": " 2024-02-29 "}, "2024-02-29"),
            ("sf_date(t)", {"t": 1647993600000}, "2022-03-23"),
            ("sf_date(t)", {"t": None}, None),
        ]
    )


def test_add_minutes_and_seconds() -> None:
    start = "2022-03-23T06:00:00Z"
    run_cases(
        [
            ("add_minutes(t, n)", {"t": start, "n": 90}, "2022-03-23T07:30:00Z"),
            ("add_minutes(t, n)", {"t": start, "n": -30}, "2022-03-23T05:30:00Z"),
            ("add_minutes(t, n)", {"t": start, "n": 1.5}, "2022-03-23T06:01:30Z"),
            ("add_minutes(t, n)", {"t": start, "n": "15"}, "2022-03-23T06:15:00Z"),
            ("add_minutes(t, n)", {"t": start, "n": 0}, "2022-03-23T06:00:00Z"),
            ("add_minutes(t, n)", {"t": "2024-02-28T23:30:00Z", "n": 60}, "2024-02-29T00:30:00Z"),
            ("add_minutes(t, n)", {"t": "2023-02-28T23:30:00Z", "n": 60}, "2023-03-01T00:30:00Z"),
            ("add_minutes(t, n)", {"t": "2022-12-31T23:59:00Z", "n": 1}, "2023-01-01T00:00:00Z"),
            ("add_minutes(t, n)", {"t": "2022-03-23T11:30:00+05:30", "n": 30}, "2022-03-23T06:30:00Z"),
            # the night clocks change in Europe: UTC has no daylight saving
            ("add_minutes(t, n)", {"t": "2026-03-29T00:30:00Z", "n": 60}, "2026-03-29T01:30:00Z"),
            ("add_minutes(t, n)", {"t": "2026-03-29T01:30:00+01:00", "n": 120}, "2026-03-29T02:30:00Z"),
            ("add_minutes(t, n)", {"t": "2022-03-23T06:00:00.750Z", "n": 0}, "2022-03-23T06:00:00Z"),
            ("add_minutes(t, n)", {"t": 1647993600000, "n": 60}, "2022-03-23T01:00:00Z"),
            ("add_minutes(t, n)", {"t": None, "n": 60}, None),
            ("add_minutes(t, n)", {"t": start, "n": None}, None),
            ("add_seconds(t, n)", {"t": start, "n": 125}, "2022-03-23T06:02:05Z"),
            ("add_seconds(t, n)", {"t": start, "n": -1}, "2022-03-23T05:59:59Z"),
            ("add_seconds(t, n)", {"t": start, "n": 0.5}, "2022-03-23T06:00:00Z"),
            ("add_seconds(t, n)", {"t": start, "n": " 3600 "}, "2022-03-23T07:00:00Z"),
            ("add_seconds(t, n)", {"t": None, "n": 1}, None),
        ]
    )


def test_the_design_example_meeting_end_time() -> None:
    meeting = {"start_time": "2022-03-23T06:00:00Z", "duration": 60}
    assert search("sf_datetime(add_minutes(start_time, duration))", meeting) == "2022-03-23T07:00:00.000Z"


# ---- durations ---------------------------------------------------------------------------------


def test_durations() -> None:
    run_cases(
        [
            ("minutes_to_seconds(n)", {"n": 45}, 2700),
            ("minutes_to_seconds(n)", {"n": 1.5}, 90),
            ("minutes_to_seconds(n)", {"n": 0.1}, 6),
            ("minutes_to_seconds(n)", {"n": -1}, -60),
            ("minutes_to_seconds(n)", {"n": " 2 "}, 120),
            ("minutes_to_seconds(n)", {"n": "0.5"}, 30),
            ("minutes_to_seconds(n)", {"n": None}, None),
            ("seconds_to_minutes(n)", {"n": 90}, 1.5),
            ("seconds_to_minutes(n)", {"n": 120}, 2),
            ("seconds_to_minutes(n)", {"n": 120.0}, 2),
            ("seconds_to_minutes(n)", {"n": 30.0}, 0.5),
            ("seconds_to_minutes(n)", {"n": -30}, -0.5),
            ("seconds_to_minutes(n)", {"n": 0}, 0),
            ("seconds_to_minutes(n)", {"n": 100}, 100 / 60),
            ("seconds_to_minutes(n)", {"n": "90"}, 1.5),
            ("seconds_to_minutes(n)", {"n": 5144763925927407360}, 85746065432123456),
            ("seconds_to_minutes(n)", {"n": None}, None),
            ("seconds_to_hms(n)", {"n": 0}, "00:00:00"),
            ("seconds_to_hms(n)", {"n": 59}, "00:00:59"),
            ("seconds_to_hms(n)", {"n": 3725}, "01:02:05"),
            ("seconds_to_hms(n)", {"n": 90000}, "25:00:00"),
            ("seconds_to_hms(n)", {"n": 360000}, "100:00:00"),
            ("seconds_to_hms(n)", {"n": 59.9}, "00:00:59"),
            ("seconds_to_hms(n)", {"n": -90}, "-00:01:30"),
            ("seconds_to_hms(n)", {"n": "3600"}, "01:00:00"),
            ("seconds_to_hms(n)", {"n": None}, None),
        ]
    )


# ---- text --------------------------------------------------------------------------------------


def test_truncate() -> None:
    run_cases(
        [
            ("truncate(s, `9`)", {"s": "Quarterly business review"}, "Quarterly"),
            ("truncate(s, `10`)", {"s": "short"}, "short"),
            ("truncate(s, `5`)", {"s": "short"}, "short"),
            ("truncate(s, `0`)", {"s": "abc"}, ""),
            ("truncate(s, `2.0`)", {"s": "abc"}, "ab"),
            ("truncate(s, `3`)", {"s": "Zoë Ñúñez"}, "Zoë"),
            ("truncate(s, `3`)", {"s": "Zoe\u0308 N"}, "Zo"),  # e + combining diaeresis: not split
            ("truncate(s, `4`)", {"s": "Zoe\u0308 N"}, "Zoe\u0308"),
            ("truncate(s, `2`)", {"s": "a😀b"}, "a😀"),
            ("truncate(s, `3`)", {"s": "ab\ud83d\ude00"}, "ab"),  # no lone high surrogate at the end
            ("truncate(s, `3`)", {"s": "ab\ud83dc"}, "ab"),
            ("truncate(s, `3`)", {"s": "👨\u200d👩\u200d👧"}, ""),  # a ZWJ sequence is not split
            ("truncate(s, `1`)", {"s": "\u0301abc"}, "\u0301"),  # a text that starts with a mark keeps it
            ("truncate(s, `3`)", {"s": None}, None),
        ]
    )


def test_case_and_trim() -> None:
    run_cases(
        [
            ("lower(s)", {"s": "ÉCOLE Ada"}, "école ada"),
            ("upper(s)", {"s": "straße"}, "STRASSE"),
            ("trim(s)", {"s": "\u00a0Ada\t\n"}, "Ada"),
            ("trim(s)", {"s": "\u2003Ada  Lovelace\u3000"}, "Ada  Lovelace"),
            ("trim(s)", {"s": "   "}, ""),
            ("lower(s)", {"s": None}, None),
            ("upper(s)", {"s": None}, None),
            ("trim(s)", {"s": None}, None),
        ]
    )


def test_concat() -> None:
    run_cases(
        [
            ("concat(a, ' ', b)", {"a": "Ada", "b": "Lovelace"}, "Ada Lovelace"),
            ("concat(a, `1`, b)", {"a": "x", "b": None}, "x1"),
            ("concat('a', `true`, `false`, `1.0`, `1.5`, `null`, `-2`)", {}, "atruefalse11.5-2"),
            ("concat(`12345678901234567890`)", {}, "12345678901234567890"),
            ("concat(a)", {"a": "only"}, "only"),
            ("concat(`null`, `null`)", {}, ""),
            ("concat_ws(' ', a, b, c)", {"a": "Ada", "b": "", "c": "Lovelace"}, "Ada Lovelace"),
            ("concat_ws(', ', a, b)", {"a": None, "b": None}, ""),
            ("concat_ws('-', `1`, `2.0`, `true`)", {}, "1-2-true"),
            ("concat_ws('', 'a', 'b')", {}, "ab"),
            ("concat_ws(',', 'a', ' ', 'b')", {}, "a, ,b"),
            ("concat_ws(', ', 'only')", {}, "only"),
        ]
    )


def test_coalesce_and_default() -> None:
    run_cases(
        [
            ("coalesce(a, b, c)", {"a": None, "b": "  ", "c": 0}, 0),
            ("coalesce(a, b)", {"a": None, "b": None}, None),
            ("coalesce(a, b)", {"a": "", "b": "\u00a0"}, None),
            ("coalesce(a, b)", {"a": False, "b": "x"}, False),
            ("coalesce(a, b)", {"a": [], "b": "x"}, []),
            ("coalesce(a)", {"a": "ada@example.com"}, "ada@example.com"),
            ("default(a, 'x')", {"a": None}, "x"),
            ("default(a, 'x')", {"a": False}, False),
            ("default(a, 'x')", {"a": ""}, ""),
            ("default(a, 'x')", {"a": 0}, 0),
            ("default(a, b)", {"a": None, "b": None}, None),
        ]
    )


# ---- lookup ------------------------------------------------------------------------------------

APPROVAL = '`{"0": "Automatically Approve", "1": "Manually Approve", "2": "No Registration Required"}`'


def test_lookup() -> None:
    run_cases(
        [
            (f"lookup(v, {APPROVAL})", {"v": 0}, "Automatically Approve"),
            (f"lookup(v, {APPROVAL})", {"v": "1"}, "Manually Approve"),
            (f"lookup(v, {APPROVAL})", {"v": 2.0}, "No Registration Required"),
            (f"lookup(v, {APPROVAL})", {"v": None}, None),
            (f"lookup(v, {APPROVAL}, 'Other')", {"v": 7}, "Other"),
            (f"lookup(v, {APPROVAL}, 'Other')", {"v": 1}, "Manually Approve"),
            (f"lookup(v, {APPROVAL}, 'Other')", {"v": None}, None),
            (f"lookup(v, {APPROVAL}, `null`)", {"v": 7}, None),
            ('lookup(v, `{"true": "Yes", "false": "No"}`)', {"v": True}, "Yes"),
            ('lookup(v, `{"true": "Yes", "false": "No"}`)', {"v": False}, "No"),
            ('lookup(v, `{"1.5": "one and a half"}`)', {"v": 1.5}, "one and a half"),
            ("lookup(v, `{\"a\": null}`, 'fallback')", {"v": "a"}, None),
            ("lookup(v, t)", {"v": "85746065432123456", "t": {"85746065432123456": "big"}}, "big"),
            ("lookup(v, t)", {"v": 85746065432123456, "t": {"85746065432123456": "big"}}, "big"),
        ]
    )


# ---- people ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("Ada Lovelace", {"first": "Ada", "last": "Lovelace"}),
        ("  Ada   King\u00a0Lovelace ", {"first": "Ada King", "last": "Lovelace"}),
        ("Cher", {"first": None, "last": "Cher"}),
        ("Lovelace, Ada", {"first": "Ada", "last": "Lovelace"}),
        ("Lovelace,Ada", {"first": "Ada", "last": "Lovelace"}),
        ("  de la Cruz,   María  ", {"first": "María", "last": "de la Cruz"}),
        ("María de la Cruz", {"first": "María de la", "last": "Cruz"}),  # the rule; the comma form keeps "de la"
        ("Seán O'Brien", {"first": "Seán", "last": "O'Brien"}),
        ("O'Brien, Seán", {"first": "Seán", "last": "O'Brien"}),
        ("Jean-Luc Picard", {"first": "Jean-Luc", "last": "Picard"}),
        ("李 雷", {"first": "李", "last": "雷"}),
        ("Zoë Ñúñez", {"first": "Zoë", "last": "Ñúñez"}),
        ("Lovelace,", {"first": None, "last": "Lovelace"}),
        (", Ada", {"first": None, "last": "Ada"}),
        (",", None),
        ("   ", None),
        ("", None),
        (None, None),
    ],
)
def test_split_name(full_name: str | None, expected: dict[str, str | None] | None) -> None:
    assert search("split_name(n)", {"n": full_name}) == expected
    assert search("first_name(n)", {"n": full_name}) == (expected and expected["first"])
    assert search("last_name(n)", {"n": full_name}) == (expected and expected["last"])


def test_normalize_email() -> None:
    run_cases(
        [
            ("normalize_email(e)", {"e": " Ada@Example.COM "}, "ada@example.com"),
            ("normalize_email(e)", {"e": "O'Brien+zoom@Sub.Example.co.uk"}, "o'brien+zoom@sub.example.co.uk"),
            ("normalize_email(e)", {"e": "ÉLODIE@exemple.fr"}, "élodie@exemple.fr"),
            ("normalize_email(e)", {"e": ""}, None),
            ("normalize_email(e)", {"e": "\u00a0 "}, None),
            ("normalize_email(e)", {"e": None}, None),
        ]
    )


@pytest.mark.parametrize(
    "address", ["ada", "ada@example", "@example.com", "ada@.com", "ada@example.", "ada @example.com", "a@b@c.com"]
)
def test_normalize_email_rejects_implausible_addresses(address: str) -> None:
    message = f"normalize_email(): expected an e-mail address (name@domain.tld), got {address!r}"
    with pytest.raises(TransformValueError, match=re.escape(message)):
        search("normalize_email(e)", {"e": address})


def test_digits() -> None:
    run_cases(
        [
            ("digits(n)", {"n": "+1 (555) 010-0199"}, "+15550100199"),
            ("digits(n)", {"n": " +33 6 12 34 56 78"}, "+33612345678"),
            ("digits(n)", {"n": "555.010.0199"}, "5550100199"),
            ("digits(n)", {"n": "1+2"}, "12"),
            ("digits(n)", {"n": "ext. 12"}, "12"),
            ("digits(n)", {"n": "１２３"}, "123"),
            ("digits(n)", {"n": 1001}, "1001"),
            ("digits(n)", {"n": "abc"}, None),
            ("digits(n)", {"n": "+"}, None),
            ("digits(n)", {"n": None}, None),
        ]
    )


# ---- conversions -------------------------------------------------------------------------------


def test_to_boolean() -> None:
    truthy = [True, 1, 1.0, "true", "TRUE", " yes ", "On", "1"]
    falsy = [False, 0, 0.0, "false", "No", "OFF", " 0 "]
    run_cases(
        [("to_boolean(v)", {"v": v}, True) for v in truthy]
        + [("to_boolean(v)", {"v": v}, False) for v in falsy]
        + [("to_boolean(v)", {"v": None}, None)]
    )


@pytest.mark.parametrize("value", [2, -1, 0.5, "", "maybe", "y", "t"])
def test_to_boolean_rejects(value: Any) -> None:
    with pytest.raises(TransformValueError, match=r"^to_boolean\(\): expected true/false, yes/no, on/off or 1/0, got "):
        search("to_boolean(v)", {"v": value})


def test_to_integer() -> None:
    run_cases(
        [
            ("to_integer(v)", {"v": 42}, 42),
            ("to_integer(v)", {"v": -7}, -7),
            ("to_integer(v)", {"v": 12.0}, 12),
            ("to_integer(v)", {"v": 1e20}, 100000000000000000000),
            ("to_integer(v)", {"v": "  42 "}, 42),
            ("to_integer(v)", {"v": "+42"}, 42),
            ("to_integer(v)", {"v": "-42"}, -42),
            ("to_integer(v)", {"v": "1e3"}, 1000),
            ("to_integer(v)", {"v": "1.0"}, 1),
            ("to_integer(v)", {"v": "85746065432123456"}, 85746065432123456),
            ("to_integer(v)", {"v": "85746065432123456.0"}, 85746065432123456),
            ("to_integer(v)", {"v": "9223372036854775807"}, 2**63 - 1),
            ("to_integer(v)", {"v": "-9223372036854775808"}, -(2**63)),
            ("to_integer(v)", {"v": "18446744073709551615"}, 2**64 - 1),
            ("to_integer(v)", {"v": None}, None),
        ]
    )


@pytest.mark.parametrize("value", [1.5, "1.5", "12a", "", " ", "0x10", "1_000", "١٢", "nan", "inf", "1e99999"])
def test_to_integer_rejects(value: Any) -> None:
    message = f"to_integer(): expected a whole number, got {value!r}"
    with pytest.raises(TransformValueError, match=re.escape(message)):
        search("to_integer(v)", {"v": value})


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "data", "message"),
    [
        (
            "sf_datetime(t)",
            {"t": "next tuesday"},
            "sf_datetime(): expected an ISO-8601 time (e.g. 2022-03-23T06:00:00Z) or epoch milliseconds, "
            "got 'next tuesday'",
        ),
        (
            "sf_datetime(t)",
            {"t": "x" * 100},
            "sf_datetime(): expected an ISO-8601 time (e.g. 2022-03-23T06:00:00Z) or epoch milliseconds, "
            f"got '{'x' * 56}...",
        ),
        ("sf_date(t)", {"t": "2023-02-29"}, "sf_date(): expected a valid date (YYYY-MM-DD), got '2023-02-29'"),
        (
            "add_minutes(t, n)",
            {"t": "9999-12-31T23:59:00Z", "n": 5},
            "add_minutes(): expected a shift that stays within years 1 to 9999, got 5",
        ),
        (
            "add_minutes(t, n)",
            {"t": "2022-03-23T06:00:00Z", "n": 1e20},
            "add_minutes(): expected a shift that stays within years 1 to 9999, got 1e+20",
        ),
        (
            "add_seconds(t, n)",
            {"t": "2022-03-23T06:00:00Z", "n": "soon"},
            "add_seconds(): expected a number, got 'soon'",
        ),
        ("seconds_to_hms(n)", {"n": "1:30"}, "seconds_to_hms(): expected a number, got '1:30'"),
        (
            "minutes_to_seconds(n)",
            {"n": 1e308},
            "minutes_to_seconds(): expected a number within float range, got 1e+308",
        ),
        ("truncate(s, `-1`)", {"s": "abc"}, "truncate(): expected a length of 0 or more, got -1"),
        ("truncate(s, `1.5`)", {"s": "abc"}, "truncate(): expected a whole number of characters, got 1.5"),
        (
            "concat('a', b)",
            {"b": {"x": 1}},
            "concat(): expected text, a finite number or a boolean, got {'x': 1}",
        ),
        (
            f"lookup(v, {APPROVAL})",
            {"v": 7},
            "lookup(): expected a key of the table ('0', '1', '2'), got 7",
        ),
        (
            "lookup(v, t)",
            {"v": "z", "t": {str(i): i for i in range(12)}},
            "lookup(): expected a key of the table ('0', '1', '10', '11', '2', '3', '4', '5', '6', '7', ...), got 'z'",
        ),
        (
            "lookup(v, `{}`, 'x')",
            {"v": [1]},
            "lookup(): expected text, a number or a boolean to look up, got [1]",
        ),
    ],
)
def test_bad_values_raise_transform_errors(expression: str, data: Any, message: str) -> None:
    with pytest.raises(TransformValueError) as raised:
        search(expression, data)
    assert str(raised.value) == message
    assert isinstance(raised.value, ZoomforceError) and isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    "time",
    [
        "",
        "2022-02-29T00:00:00Z",
        "2022-03-23T25:00:00Z",
        "2022-03-23T06:00:00+24:00",
        "2022-03-23T06:00:00+05:75",
        "2022-03-23T06:00:60Z",
        "2022-W12-3",
        "20220323T060000Z",
        "1647993600000",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_unparseable_times(time: str) -> None:
    with pytest.raises(TransformValueError, match=r"^sf_datetime\(\): expected an ISO-8601 time"):
        search("sf_datetime(t)", {"t": time})


@pytest.mark.parametrize("milliseconds", [1e20, -1e20, float("nan"), float("inf")])
def test_epoch_out_of_range(milliseconds: float) -> None:
    with pytest.raises(TransformValueError, match=r"^sf_datetime\(\): expected"):
        search("sf_datetime(t)", {"t": milliseconds})


@pytest.mark.parametrize(
    ("expression", "error", "message"),
    [
        ("add_minutes(t)", jmes_errors.ArityError, "Expected 2 arguments for function add_minutes(), received 1"),
        ("upper('a', 'b')", jmes_errors.ArityError, "Expected 1 argument for function upper(), received 2"),
        ("concat()", jmes_errors.VariadictArityError, "Expected at least 1 argument for function concat(), received 0"),
        (
            "concat_ws(', ')",
            jmes_errors.VariadictArityError,
            "Expected at least 2 arguments for function concat_ws(), received 1",
        ),
        (
            "lookup(t)",
            jmes_errors.VariadictArityError,
            "Expected at least 2 arguments for function lookup(), received 1",
        ),
        (
            "lookup(t, `{}`, 'a', 'b')",
            jmes_errors.ArityError,
            "Expected 3 arguments for function lookup(), received 4",
        ),
    ],
)
def test_arity_errors_come_from_jmespath(expression: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        search(expression, {"t": "2022-03-23T06:00:00Z"})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "expression",
    [
        "upper(`1`)",
        "trim(`[]`)",
        "truncate('abc', '2')",
        "sf_datetime(`true`)",
        "add_minutes('2022-03-23T06:00:00Z', `true`)",
        "to_integer(`true`)",
        "to_boolean(`[]`)",
        "split_name(`42`)",
        "lookup('a', 'not a table')",
        "concat_ws(`1`, 'a')",
        "digits(`{}`)",
    ],
)
def test_type_errors_come_from_jmespath(expression: str) -> None:
    with pytest.raises(jmes_errors.JMESPathTypeError):
        search(expression, {})


# ---- properties --------------------------------------------------------------------------------

offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets))
def test_sf_datetime_round_trips_any_aware_datetime(moment: datetime) -> None:
    written = search("sf_datetime(t)", {"t": moment.isoformat()})
    back = datetime.strptime(written, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert back == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@given(st.integers(min_value=-(10**13), max_value=10**14))
def test_sf_datetime_of_epoch_milliseconds(milliseconds: int) -> None:
    written = search("sf_datetime(t)", {"t": milliseconds})
    back = datetime.strptime(written, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert back == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_add_minutes_matches_timedelta(minutes: int) -> None:
    start = datetime(2022, 3, 23, 6, 0, tzinfo=UTC)
    expected = (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert search("add_minutes(t, n)", {"t": "2022-03-23T06:00:00Z", "n": minutes}) == expected


@given(st.integers(min_value=-(2**63), max_value=2**63))
def test_to_integer_of_text_is_exact(number: int) -> None:
    assert search("to_integer(v)", {"v": str(number)}) == number
    assert search("to_integer(v)", {"v": f"  {number} "}) == number


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_seconds_to_minutes_undoes_minutes_to_seconds(minutes: int) -> None:
    assert search("seconds_to_minutes(minutes_to_seconds(n))", {"n": minutes}) == minutes


@given(st.text(alphabet=st.characters(blacklist_categories=())), st.integers(min_value=0, max_value=50))
def test_truncate_never_exceeds_and_keeps_a_prefix(text: str, length: int) -> None:
    cut = search(f"truncate(v, `{length}`)", {"v": text})
    assert len(cut) <= length and text.startswith(cut)
    assert cut == text or not (cut and "\ud800" <= cut[-1] <= "\udbff")


@given(st.lists(st.text(), min_size=1, max_size=6))
def test_concat_of_strings_is_join(parts: list[str]) -> None:
    arguments = ", ".join(f"v[{i}]" for i in range(len(parts)))
    assert search(f"concat({arguments})", {"v": parts}) == "".join(parts)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


tables = st.dictionaries(st.text(max_size=5) | st.sampled_from(["0", "1", "1.5", "true", "false"]), json_values)


def has_text_form(value: Any) -> bool:
    return isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value))


@given(json_values, tables)
def test_lookup_fails_only_with_transform_errors(value: Any, table: dict[str, Any]) -> None:
    try:
        found = search("lookup(v, t)", {"v": value, "t": table})
    except TransformValueError as exc:
        assert str(exc).startswith("lookup(): expected ")
    else:
        assert found is None if value is None else any(found is entry for entry in table.values())
    if isinstance(value, str) and value in table:
        assert found is table[value]


@given(json_values, tables)
def test_lookup_with_a_fallback_fails_only_on_values_without_a_text_form(value: Any, table: dict[str, Any]) -> None:
    if value is not None and not has_text_form(value):
        with pytest.raises(TransformValueError):
            search("lookup(v, t, f)", {"v": value, "t": table, "f": "fallback"})
        return
    found = search("lookup(v, t, f)", {"v": value, "t": table, "f": "fallback"})
    assert found is None if value is None else (found == "fallback" or any(found is e for e in table.values()))


def test_an_empty_time_is_refused_in_a_fresh_process_too() -> None:
    """The last time a transform wrote is remembered to spare parsing it again: before any was written,
    no text (the empty one included) may match that memory and read as 1970."""
    code = ("from engine.language.expressions import compile_expression\n"
            "try:\n    print(compile_expression(\"sf_datetime('')\").evaluate({}))\n"
            "except Exception as exc:\n    print(type(exc).__name__)\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "TransformValueError"
