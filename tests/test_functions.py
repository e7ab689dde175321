"""The transform registry: documented examples, edge cases, properties, and no builtin shadowed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jmespath import exceptions as jmes_errors
from jmespath.functions import Functions

from engine.errors import TransformValueError
from engine.functions import (
    FUNCTION_DOCS,
    RETURN_TYPES,
    ZoomforceFunctions,
    function_arities,
    function_options,
    render_function_docs,
)
from tests.helpers import REPO


def search(expression: str, data: Any) -> Any:
    return jmespath.search(expression, data, function_options())


@pytest.mark.parametrize("name", sorted(FUNCTION_DOCS))
def test_documented_example(name: str) -> None:
    doc = FUNCTION_DOCS[name]
    assert search(doc.example_expression, doc.example_input) == doc.example_result


def test_every_function_is_documented_and_typed() -> None:
    ours = set(ZoomforceFunctions().FUNCTION_TABLE) - set(Functions().FUNCTION_TABLE)
    assert ours == set(FUNCTION_DOCS) == set(RETURN_TYPES)


def test_no_builtin_is_shadowed() -> None:
    builtins = {name.removeprefix("_func_") for name in vars(Functions) if name.startswith("_func_")}
    overridden = {name.removeprefix("_func_") for name in vars(ZoomforceFunctions) if name.startswith("_func_")}
    assert builtins & overridden == set()


def test_readme_embeds_the_generated_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(r"<!-- functions:start -->\n(.*?)<!-- functions:end -->", readme, re.S)
    assert section is not None
    assert section.group(1) == render_function_docs(), "run: python scripts/update_readme_functions.py"


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("sf_datetime(t)", {"t": "2026-03-23T06:00:00Z"}, "2026-03-23T06:00:00.000Z"),
        ("sf_datetime(t)", {"t": "2026-03-23T06:00:00.123456Z"}, "2026-03-23T06:00:00.123Z"),
        ("sf_datetime(t)", {"t": "2026-03-23T06:00:00"}, "2026-03-23T06:00:00.000Z"),
        ("sf_datetime(t)", {"t": "2026-03-23T00:30:00+05:30"}, "2026-03-22T19:00:00.000Z"),
        ("sf_datetime(t)", {"t": 1739923528000}, "2025-02-19T00:05:28.000Z"),
        ("sf_datetime(t)", {"t": None}, None),
        ("add_minutes(t, n)", {"t": "2028-02-28T23:30:00Z", "n": 60}, "2028-02-29T00:30:00Z"),
        ("add_minutes(t, n)", {"t": "2026-03-23T06:00:00Z", "n": -30}, "2026-03-23T05:30:00Z"),
        ("add_minutes(t, n)", {"t": "2026-03-23T06:00:00Z", "n": "15"}, "2026-03-23T06:15:00Z"),
        ("add_minutes(t, n)", {"t": "2026-03-23T06:00:00Z", "n": None}, None),
        ("seconds_to_minutes(n)", {"n": 120}, 2),
        ("seconds_to_minutes(n)", {"n": "90"}, 1.5),
        ("minutes_to_seconds(n)", {"n": 1.5}, 90),
        ("seconds_to_hms(n)", {"n": 90000}, "25:00:00"),
        ("truncate(s, `3`)", {"s": "Zoë Ñúñez"}, "Zoë"),
        ("truncate(s, `10`)", {"s": "short"}, "short"),
        ("trim(s)", {"s": "\u00a0Ada\t"}, "Ada"),
        ("concat(a, `1`, b)", {"a": "x", "b": None}, "x1"),
        ("concat_ws(' ', a, b, c)", {"a": "Ada", "b": "", "c": "Lovelace"}, "Ada Lovelace"),
        ("coalesce(a, b, c)", {"a": None, "b": "  ", "c": 0}, 0),
        ("coalesce(a, b)", {"a": None, "b": None}, None),
        ("default(a, 'x')", {"a": False}, False),
        ('lookup(v, `{"true": "Yes"}`)', {"v": True}, "Yes"),
        ('lookup(v, `{"1": "One"}`)', {"v": 1.0}, "One"),
        ("split_name(n)", {"n": "  de la Cruz,   María  "}, {"first": "María", "last": "de la Cruz"}),
        ("split_name(n)", {"n": "Cher"}, {"first": None, "last": "Cher"}),
        ("split_name(n)", {"n": "   "}, None),
        ("last_name(n)", {"n": "Seán O'Brien"}, "O'Brien"),
        ("first_name(n)", {"n": "李 雷"}, "李"),
        ("normalize_email(e)", {"e": "  "}, None),
        ("digits(n)", {"n": 1001}, "1001"),
        ("to_boolean(v)", {"v": " OFF "}, False),
        ("to_boolean(v)", {"v": 1}, True),
        ("to_integer(v)", {"v": "85746065432123456"}, 85746065432123456),
        ("to_integer(v)", {"v": " 1e3 "}, 1000),
        ("to_integer(v)", {"v": 12.0}, 12),
    ],
)
def test_cases(expression: str, data: Any, expected: Any) -> None:
    assert search(expression, data) == expected


@pytest.mark.parametrize(
    ("expression", "data", "message"),
    [
        ("sf_datetime(t)", {"t": "next tuesday"}, "cannot use 'next tuesday' as an ISO-8601 time"),
        ('lookup(v, `{"0": "a"}`)', {"v": 7}, "7 is not in the lookup table (known: 0)"),
        ("normalize_email(e)", {"e": "ada@@example"}, "'ada@@example' is not an e-mail address"),
        ("to_boolean(v)", {"v": "maybe"}, "'maybe' is not a boolean"),
        ("to_integer(v)", {"v": 1.5}, "1.5 is not a whole number"),
        ("to_integer(v)", {"v": "12a"}, "to_integer() expected a number, got '12a'"),
        ("add_minutes(t, n)", {"t": "2026-01-01T00:00:00Z", "n": 1e20}, "out of range"),
    ],
)
def test_bad_values_raise_transform_errors(expression: str, data: Any, message: str) -> None:
    with pytest.raises(TransformValueError, match=re.escape(message)):
        search(expression, data)


def test_arity_and_type_errors_come_from_jmespath() -> None:
    with pytest.raises(jmes_errors.ArityError):
        search("add_minutes(t)", {"t": "2026-01-01T00:00:00Z"})
    with pytest.raises(jmes_errors.VariadictArityError):
        search("concat_ws(', ')", {})
    with pytest.raises(jmes_errors.JMESPathTypeError):
        search("upper(n)", {"n": 1})


def test_arities_cover_builtins_and_ours() -> None:
    arities = function_arities()
    assert arities["join"] == (2, 2)
    assert arities["concat"] == (1, None)
    assert arities["lookup"] == (2, 2)
    assert arities["not_null"] == (1, None)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)))
def test_sf_datetime_round_trips(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    written = search("sf_datetime(t)", {"t": moment.isoformat()})
    assert datetime.strptime(written, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) == moment


@given(st.integers(min_value=-(2**63), max_value=2**63))
def test_to_integer_is_exact(number: int) -> None:
    assert search("to_integer(v)", {"v": str(number)}) == number


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_truncate_never_exceeds(text: str, length: int) -> None:
    assert len(search(f"truncate(v, `{length}`)", {"v": text})) <= length


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_concat_of_texts_is_join(parts: list[str]) -> None:
    arguments = ", ".join(f"v[{i}]" for i in range(len(parts)))
    assert search(f"concat({arguments})", {"v": parts}) == "".join(parts)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(json_values)
def test_lookup_fails_only_with_transform_errors(value: Any) -> None:
    table = {"a": 1, "true": 2}
    try:
        found = search('lookup(v, `{"a": 1, "true": 2}`)', {"v": value})
    except TransformValueError as exc:
        assert "not in the lookup table" in str(exc) or "cannot be looked up" in str(exc)
    else:
        assert found == (None if value is None else table["true" if value is True else value])


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_add_minutes_matches_timedelta(minutes: int) -> None:
    start = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)
    expected = (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert search("add_minutes(t, n)", {"t": "2026-03-23T06:00:00Z", "n": minutes}) == expected
