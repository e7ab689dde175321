"""Property tests for the runtime: random records never crash the plan, only typed errors."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.language.plan import Plan, RunContext, compile_plan, run_batch
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

_PLANS: dict[str, Plan] = {}


def _plans() -> list[Plan]:
    if not _PLANS:
        mapping_set = load_mapping_set([MAPPINGS]).raise_if_invalid()
        _PLANS.update({name: compile_plan(m) for name, m in mapping_set.mappings.items()})
    return list(_PLANS.values())


def _field_names(plan: Plan) -> list[str]:
    names: list[str] = []
    for field_plan in plan.fields:
        names.extend(p[0] for p in field_plan.expression.field_paths() if p and isinstance(p[0], str))
    return sorted(set(names))


def records_for(plan: Plan) -> st.SearchStrategy[dict[str, Any]]:
    """Records with the plan's own field names (so the fields really run) holding random JSON."""
    return st.dictionaries(st.sampled_from(_field_names(plan)), json_values, max_size=12)


def _check_plan(plan: Plan, records: list[Any], parent: Any) -> None:
    context = RunContext(parent=parent, run={"run_time": "2026-01-01T00:00:00.000Z"})
    first = run_batch(plan, records, context)
    assert len(first.mapped) + len(first.errors) == len(records)
    assert all(isinstance(e, RecordError) and e.index is not None and e.reason for e in first.errors)
    for _, mapped in first.mapped:
        json.dumps(mapped.as_json(plan.secrets), allow_nan=False)
    again = run_batch(plan, records, context)
    assert [m.as_json() for _, m in again.mapped] == [m.as_json() for _, m in first.mapped]
    assert [str(e) for e in again.errors] == [str(e) for e in first.errors]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_random_records_yield_records_or_typed_errors(data: st.DataObject) -> None:
    for plan in _plans():
        records = data.draw(st.lists(records_for(plan) | json_values, max_size=5), label=plan.entity)
        parent = data.draw(json_values | st.dictionaries(st.sampled_from(["id", "topic"]), json_values), label="parent")
        _check_plan(plan, records, parent)


def test_a_secret_that_cannot_be_coerced_is_reported_without_its_value() -> None:
    from pathlib import Path

    from engine.errors import CoercionError
    from engine.language.plan import compile_plan
    from engine.validate.mapping_set import load_mapping_set

    meetings = load_mapping_set([Path(__file__).resolve().parents[1] / "mappings"]).get("meetings")
    plan = compile_plan(meetings)
    record = {"id": 85746065432, "start_url": "not a url ?zak=eyJSECRETTOKENVALUE", "password": "P@ss"}
    try:
        plan.map_record(record)
    except CoercionError as error:
        assert error.field == "zoom_app__Start_Url__c"
        assert "SECRET" not in str(error) and "zak" not in str(error)
        assert "a secret: not shown" in str(error)
    else:
        raise AssertionError("a start URL that is no URL must fail the record")
