"""A document the parser certifies needs no record check; every other document is checked as before.

``safe_json.loads_certified`` certifies a text from scans it makes anyway (:func:`safe_json.is_certified`);
``Plan.map_record(..., checked=True)`` then skips ``check_record``. Here: each condition that withholds
the certificate, the claim itself over hostile JSON (a certified document, and a record joined from
it, always passes the walk), the proof that the walk is skipped, and ``map``'s input reading.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from engine.errors import InputTooDeep, RecordError
from engine.language import limits, safe_json
from engine.language.inputs import read_certified_records, read_records
from engine.language.plan import RunContext, compile_plan
from engine.language.streaming import iter_certified_records, iter_records, map_each
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS
from tests.hostile.strategies import hostile_json

USERS = compile_plan(load_mapping_set([MAPPINGS]).raise_if_invalid().get("users"))
ORDINARY = {"id": "U1", "email": "ada@example.com", "n": [1, 2.5, -3e10, True, None], "name": "Zoë Ñúñez 😀"}


def _certified(text: str | bytes) -> bool:
    return safe_json.loads_certified(text)[1] is not None


def test_an_ordinary_document_is_certified_with_its_length() -> None:
    text = json.dumps(ORDINARY, ensure_ascii=False)
    assert safe_json.loads_certified(text) == (ORDINARY, len(text))
    assert safe_json.loads_certified(text.encode()) == (ORDINARY, len(text))  # characters, not bytes
    assert _certified("[" * (limits.MAX_NESTING_DEPTH - 2) + "]" * (limits.MAX_NESTING_DEPTH - 2))
    assert _certified('{"a": ' + "9" * (limits.MAX_INTEGER_DIGITS - 1) + ', "b": 1e99, "c": "\\u00e9"}')


NOT_CERTIFIED = {
    "one level short of the limit (no room for a join)": "[" * 63 + "]" * 63,
    "nested past the limit (cut)": "[" * (limits.MAX_NESTING_DEPTH + 5) + "]" * (limits.MAX_NESTING_DEPTH + 5),
    "an integer of the limit's digits": '{"a": ' + "9" * limits.MAX_INTEGER_DIGITS + "}",
    "a long integer": '{"a": ' + "1" * 500 + "}",
    "NaN": '{"a": NaN}',
    "Infinity": '{"a": [-Infinity]}',
    "an exponent that overflows": '{"a": 1e400}',
    "an exponent of three digits": '{"a": 1E-300}',
    "a NUL escape (the marker's first character)": '{"a": "\\u0000zoomforce: nested too deep"}',
    "an escaped surrogate pair": '{"a": "\\ud83d\\ude00"}',
    "a lone escaped surrogate": '{"a": "\\uDC00"}',
    "a lone surrogate in the text": '{"a": "\ud800"}',
    "a text longer than the certified length": json.dumps({"a": "x" * safe_json.CERTIFIED_LENGTH}),
}


@pytest.mark.parametrize("case", sorted(NOT_CERTIFIED))
def test_each_condition_withholds_the_certificate(case: str) -> None:
    text = NOT_CERTIFIED[case]
    assert not _certified(text)
    assert safe_json.loads_certified(text)[0] == safe_json.loads(text) or case in ("NaN", "Infinity")  # same parse


def test_the_certified_length_keeps_both_size_limits() -> None:
    assert safe_json.CERTIFIED_LENGTH <= limits.MAX_STRING_LENGTH
    assert 8 * safe_json.CERTIFIED_LENGTH <= limits.MAX_RECORD_SIZE


@settings(max_examples=300, deadline=None)
@given(text=hostile_json)
def test_a_certified_document_and_a_record_joined_from_it_pass_the_walk(text: str) -> None:
    value, length = safe_json.loads_certified(text)
    if length is None:
        return
    for record in (value, {"id": 1, "included": value}, {"listed": [value], "detail": {"x": value}}):
        safe_json._check_record_located(record)  # raises if the certificate was wrong
        assert safe_json._plainly_within_limits(record)
    for item in value if isinstance(value, list) else []:
        safe_json._check_record_located(item)


def test_a_certified_record_skips_the_walk_and_any_other_is_walked() -> None:
    """A record no text could give a certificate for (it holds the marker): with checked=True it is not walked."""
    record = {"id": "U1", "email": "ada@example.com", "extra": safe_json.TOO_DEEP}
    assert USERS.map_record(record, checked=True).upsert_key == {"zoom_app__Web_User_Id__c": "U1"}
    with pytest.raises(InputTooDeep):
        USERS.map_record(record)
    with pytest.raises(InputTooDeep):
        USERS.map_record(record, checked=False)


def test_map_reads_each_record_with_its_certificate() -> None:
    good = json.dumps({"id": "U1", "email": "a@example.com"})
    deep = json.dumps({"id": "U2", "extra": safe_json.TOO_DEEP})  # the marker, as a text would give it
    lines = [good + "\n", deep + "\n", "nope\n", json.dumps([{"id": "U3"}, {"id": "U4"}]) + "\n"]
    flags = [(type(record).__name__, certified) for record, certified in iter_certified_records(lines)]
    assert flags == [("dict", True), ("dict", False), ("BadLine", False), ("dict", True), ("dict", True)]
    assert list(iter_records(lines))[:2] == [json.loads(good), json.loads(deep)]
    whole = "".join(lines[:2])
    assert [c for _, c in read_certified_records(whole)] == [True, False]
    assert read_records(whole) == [json.loads(good), json.loads(deep)]


def test_an_uncertified_record_read_by_map_is_still_its_error() -> None:
    lines = [json.dumps({"id": "U1"}) + "\n", json.dumps({"id": "U2", "x": safe_json.TOO_DEEP}) + "\n"]
    outcomes: list[Any] = []
    count, failed = map_each(USERS, iter_certified_records(lines), RunContext(), lambda i, o: outcomes.append(o))
    assert (count, failed) == (2, 1)
    assert isinstance(outcomes[1], RecordError) and outcomes[1].code == "MAPPING_INPUT_TOO_DEEP"


def test_items_of_a_certified_record_are_certified_with_it() -> None:
    from engine.language.streaming import with_parents

    holder = {"id": 1, "files": [{"a": 1}, {"b": 2}]}
    assert [c for _, _, c in with_parents([(holder, True)], "files", None)] == [True, True]
    assert [c for _, _, c in with_parents([(holder, False)], "files", None)] == [False, False]
