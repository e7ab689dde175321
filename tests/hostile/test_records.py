"""Hostile records through the parser, the record check and ``zoomforce map``: one bad record is its own error.

Every limit is the one of ``engine/language/limits.py``; each case asserts the per-record code, that
the good records beside it are still mapped, and that nothing exits 70.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from engine.errors import RecordError
from engine.language import limits
from engine.language.coerce import COERCERS
from engine.language.safe_json import TOO_DEEP, Oversized, check_record, loads, nesting_depth, well_formed_deep
from engine.language.value_types import VALUE_TYPES
from engine.secrets import is_masked
from tests.helpers import REPO

DEEP = "[" * 3000 + "]" * 3000


def test_a_document_deeper_than_the_limit_parses_with_a_marker_and_no_recursion() -> None:
    document = loads('{"id": 1, "agenda": ' + DEEP + ', "after": {"ok": true}}')
    assert document["id"] == 1 and document["after"] == {"ok": True}
    node = document["agenda"]
    for _ in range(limits.MAX_NESTING_DEPTH - 2):  # the object is level 1, agenda level 2
        node = node[0]
    assert node == [TOO_DEEP]  # level 64 holds the marker of what was below it
    assert nesting_depth('{"a": "[[[[", "b": [[1]]}') == 3  # brackets inside strings do not count


def test_huge_integers_nan_and_infinity_become_markers() -> None:
    document = loads('{"n": ' + "9" * 5000 + ', "x": NaN, "y": -Infinity, "z": 1e999, "ok": 12345678901234567890}')
    assert isinstance(document["n"], Oversized) and document["n"].kind == "integer"
    assert all(isinstance(document[k], Oversized) and document[k].kind == "not-finite" for k in "xy")
    assert document["z"] == float("inf") and document["ok"] == 12345678901234567890
    with pytest.raises(RecordError, match="JSON numbers are finite"):
        check_record({"z": document["z"]})


@pytest.mark.parametrize(("text", "code", "fragment"), [
    ('{"id": 1, "agenda": ' + DEEP + "}", "MAPPING_INPUT_TOO_DEEP", "limit: nesting depth 64"),
    ('{"id": 1, "n": ' + "1" * 65 + "}", "MAPPING_NUMBER_TOO_LARGE", "limit: integer digits 64"),
    ('{"id": 1, "n": NaN}', "MAPPING_INVALID_NUMBER", "NaN at n"),
    ('{"id": 1, "s": "' + "x" * (limits.MAX_STRING_LENGTH + 1) + '"}', "MAPPING_INPUT_TOO_LARGE",
     "limit: string length"),
])
def test_check_record_names_the_code_the_place_and_the_limit(text: str, code: str, fragment: str) -> None:
    with pytest.raises(RecordError) as caught:
        check_record(loads(text))
    assert caught.value.code == code
    assert fragment in str(caught.value)


def test_a_python_record_deeper_than_the_limit_is_refused_without_recursion() -> None:
    record: dict = {}
    node = record
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(RecordError, match=re.escape("nested too deep at a.a.a.a.a.a...")):
        check_record(record)
    assert json.dumps(well_formed_deep(record)).count("{") == limits.MAX_NESTING_DEPTH


def test_an_integer_too_long_to_print_is_refused_by_its_size() -> None:
    with pytest.raises(RecordError, match="integer digits"):
        check_record({"n": 10 ** 5000})


def _map(entity: str, lines: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "map", entity, *extra], input="\n".join(lines),
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)


def test_map_keeps_going_past_every_kind_of_hostile_line() -> None:
    lines = [
        '{"id": "U1", "email": "a@example.com"}',
        '{"id": "U2", "email": "b@example.com", "x": ' + DEEP + "}",
        '{"id": "U3", "email": "c@example.com", "n": ' + "9" * 5000 + "}",
        '{"id": "U4", "email": "a\\ud800@example.com"}',
        '{"id": "U5", "email": "e@example.com", "n": NaN}',
        '{"id": "U6", "email": "f@example.com", "id": "U6b"}',
        DEEP,
        '{"id": "U8", "email": "h@example.com"',
        '{"id": "U9", "email": "i@example.com"}',
    ]
    result = _map("users", lines)
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    written = [json.loads(line)["upsert_key"]["zoom_app__Web_User_Id__c"] for line in result.stdout.splitlines()]
    assert written == ["U1", "U6b", "U9"]  # a duplicate key keeps its last value, as JSON parsers do
    errors = result.stderr.splitlines()
    assert "users: record 1: the record is nested too deep at x[0][0][0][0][0]..." in errors[0]
    assert "record 2: an integer of 5000 digits at n (limit: integer digits 64)" in errors[1]
    assert "record 3: field zoom_app__Zoom_User_Email__c (from email): the e-mail address holds a lone surrogate" \
        in errors[2]
    assert "record 4: NaN at n" in errors[3]
    assert "record 6: the record is nested too deep" in errors[4]
    assert "input line 8 is not JSON" in errors[5]
    assert errors[-1] == "zoomforce: 6 of 9 record(s) could not be mapped"


def test_a_lone_surrogate_in_a_text_field_is_repaired_and_printed() -> None:
    result = _map("registrants", ['{"id": "R1", "first_name": "Ad\\ud800a", "email": "ada@example.com"}'],
                  "--parent", '{"id": 123}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["record"]["zoom_app__First_Name__c"] == "Ad\ufffda"


def test_a_hostile_parent_is_one_usage_error() -> None:
    result = _map("registrants", ['{"id": "R1"}'], "--parent", '{"id": ' + DEEP + "}")
    assert result.returncode == 2 and result.stderr.startswith("zoomforce: error: --parent: the record is nested too")


@pytest.mark.parametrize("text", ['"\\' * 500_000, '"' * 1_000_001, '["' + "a\\" * 300_000, "[" * 1_000_000],
                         ids=["escaped quotes", "quotes", "unterminated escapes", "open brackets"])
def test_a_pathological_text_is_scanned_in_one_pass_and_refused_as_not_json(text: str) -> None:
    """Half a million escaped quotes: a string pattern that could fail would rescan from every quote
    (hours); the scanner's cannot, so this returns at once as the JSON error it is."""
    with pytest.raises(json.JSONDecodeError):
        loads(text)


PATHOLOGICAL_TEXT = ["1" * 200_000 + "x", "9" * 5_000, "a@" + "." * 200_000 + " b", "?" * 200_000 + "=***",
                     "." * 200_000, "1" * 200_000 + ".5e", "https://" + "?" * 200_000]


@pytest.mark.parametrize("text", PATHOLOGICAL_TEXT, ids=[f"text{i}" for i in range(len(PATHOLOGICAL_TEXT))])
@pytest.mark.parametrize("type_name", sorted(n for n in VALUE_TYPES))
def test_every_coercer_takes_a_pathological_string_in_linear_time(type_name: str, text: str) -> None:
    """Each of these made a backtracking pattern quadratic, or int() raise past 4300 digits."""
    try:
        COERCERS[type_name](text)
    except RecordError as exc:
        assert exc.code.startswith("MAPPING_")


def test_a_numeric_string_over_the_digit_limit_is_that_field_s_error() -> None:
    from engine.language.plan import compile_plan
    from engine.validate.mapping_set import load_mapping_set
    from tests.helpers import MAPPINGS

    plan = compile_plan(load_mapping_set([MAPPINGS]).raise_if_invalid().get("meetings"))
    with pytest.raises(RecordError) as caught:
        plan.map_record({"id": 1, "duration": "9" * 5_000})
    assert caught.value.code == "MAPPING_NUMBER_TOO_LARGE" and caught.value.field == "zoom_app__Duration_mins__c"
    assert is_masked("https://x/?" + "?" * 100_000 + "pwd=***") and not is_masked("?" * 200_000)
