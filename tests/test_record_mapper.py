"""The plan's lean REST path gives what its full path gives, record for record, error for error.

``Plan.map_record`` runs :mod:`engine.language.record_mapper` first and the full path only when
the lean one raises; here both are run on the official examples and on hostile variants of them
(every field of every default mapping set to odd values), and must agree exactly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.language import safe_json
from engine.language.plan import Plan, RunContext, compile_plan
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS, REPO
from tests.hostile.strategies import hostile_json, ordinary

EXAMPLES = json.loads((REPO / "tests/fixtures/zoom/example_responses.json").read_text(encoding="utf-8"))["responses"]
MAPPING_SET = load_mapping_set([MAPPINGS]).raise_if_invalid()
PLANS = {name: compile_plan(mapping) for name, mapping in MAPPING_SET.mappings.items()
         if mapping.source.system == "zoom"}
CONTEXT = RunContext(parent=EXAMPLES["GET /webinars/{webinarId}"], run={"run_time": "2026-01-01T00:00:00.000Z"})


def _example(entity: str) -> dict[str, Any]:
    mapping = MAPPING_SET.get(entity)
    body = EXAMPLES[mapping.source.endpoint]
    records = body.get(mapping.source.records) if mapping.source.records and isinstance(body, dict) else None
    item = records[0] if isinstance(records, list) and records else body
    return {**item, **{inc.name: EXAMPLES[inc.endpoint] for inc in mapping.source.include}}


def _outcome(run: Any) -> Any:
    try:
        mapped = run()
        return ("mapped", mapped.upsert_key, mapped.record, mapped.warnings)
    except RecordError as exc:
        return ("error", type(exc).__name__, str(exc), exc.field, exc.source)


def _agree(plan: Plan, record: Any) -> None:
    lean = _outcome(lambda: plan.map_record(record, CONTEXT))
    full = _outcome(lambda: (safe_json.check_record(record), plan._map_in_full(record, CONTEXT, None))[1])
    assert lean == full


@pytest.mark.parametrize("entity", sorted(PLANS))
def test_the_examples_map_the_same_on_both_paths(entity: str) -> None:
    record = _example(entity)
    _agree(PLANS[entity], record)
    assert _outcome(lambda: PLANS[entity].map_record(record, CONTEXT))[0] == "mapped"


odd_values = st.one_of(ordinary, st.text(min_size=250, max_size=300), st.just(""), st.just("  "),
                       st.sampled_from(["2022-03-23T06:00:00Z", "2022-13-40", "x@y", "https://a.b/c", "1e3", "7"]))


@settings(max_examples=300, deadline=None)
@given(entity=st.sampled_from(sorted(PLANS)), changes=st.dictionaries(st.integers(0, 30), odd_values, max_size=4))
def test_odd_values_map_or_fail_the_same_on_both_paths(entity: str, changes: dict[int, Any]) -> None:
    record = _example(entity)
    keys = sorted(record)
    for index, value in changes.items():
        record[keys[index % len(keys)]] = value
    _agree(PLANS[entity], record)


@settings(max_examples=200, deadline=None)
@given(text=hostile_json)
def test_the_quick_record_check_passes_nothing_the_located_walk_refuses(text: str) -> None:
    value = safe_json.loads(text)
    for record in (value, {"a": value}, [value, {"b": [value]}]):
        try:
            safe_json._check_record_located(record)
            located = True
        except RecordError:
            located = False
        if safe_json._plainly_within_limits(record):  # it may leave a good record to the walk, never a bad one
            assert located


@pytest.mark.parametrize("entity", sorted(PLANS))
def test_the_lean_path_itself_maps_the_examples(entity: str) -> None:
    """The lean path decides an ordinary record: one that always fell back would pass the tests above, slowly."""
    plan, record = PLANS[entity], _example(entity)
    lean = plan._rest_mapper(record, CONTEXT, False)
    full = plan._map_in_full(record, CONTEXT, None)
    assert lean == full
