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
from tests.helpers import MAPPINGS, REPO, copy_mappings
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


# first_name(name) and last_name(name) split the name once on the lean path (RESULT_PARTS): in the
# default order, reversed, with only one of them, and with each over a different path.
FIRST, LAST = "  - from: first_name(name)", "  - from: last_name(name)"
FIRST_KIND, LAST_KIND = "category: user.name.first", "category: user.name.last"


def _swapped(text: str, one: str, other: str) -> str:
    return text.replace(one, "\0").replace(other, one).replace("\0", other)


def _without_first(text: str) -> str:
    start = text.index(FIRST)
    return text[:start] + text[text.index(FIRST_KIND, start) + len(FIRST_KIND) + 2:]


NAME_VARIANTS = {
    "as shipped": lambda text: text,
    "last before first": lambda text: _swapped(_swapped(text, FIRST, LAST), FIRST_KIND, LAST_KIND),
    "last only": _without_first,
    "two paths": lambda text: text.replace(LAST, "  - from: last_name(email)"),
}
names = st.one_of(st.none(), st.integers(), st.just(""), st.just(" , "), st.text(max_size=12),
                  st.sampled_from(["Ada Lovelace", "Lovelace, Ada", "Ada", "Lovelace,", ", Ada", "A  B  C"]))


@pytest.fixture(scope="module")
def name_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    plans = {}
    for variant, change in NAME_VARIANTS.items():
        folder = copy_mappings(tmp_path_factory.mktemp("names"))
        path = folder / "panelists.yaml"
        text = path.read_text(encoding="utf-8")
        assert FIRST in text and LAST in text
        path.write_text(change(text), encoding="utf-8")
        plans[variant] = compile_plan(load_mapping_set([folder]).raise_if_invalid().get("panelists"))
    return plans


@settings(max_examples=200, deadline=None)
@given(variant=st.sampled_from(sorted(NAME_VARIANTS)), name=names, email=names)
def test_a_name_split_once_maps_as_each_function_alone(name_plans: dict[str, Plan], variant: str,
                                                        name: Any, email: Any) -> None:
    record = {**_example("panelists"), "name": name, "email": email}
    _agree(name_plans[variant], record)


def test_the_lean_path_maps_both_parts_of_a_name(name_plans: dict[str, Plan]) -> None:
    record = {**_example("panelists"), "name": "  Lovelace,  Ada King ", "email": "grace@hopper.org"}
    outputs = {variant: plan._rest_mapper(record, CONTEXT, False).record for variant, plan in name_plans.items()}
    assert (outputs["as shipped"]["zoom_app__First_Name__c"], outputs["as shipped"]["zoom_app__Last_Name__c"]) \
        == ("Ada King", "Lovelace")
    assert outputs["last before first"]["zoom_app__First_Name__c"] == "Lovelace"
    assert outputs["last only"]["zoom_app__Last_Name__c"] == "Lovelace"
    assert "zoom_app__First_Name__c" not in outputs["last only"]
    assert outputs["two paths"]["zoom_app__First_Name__c"] == "Ada King"
    assert outputs["two paths"]["zoom_app__Last_Name__c"] == "grace@hopper.org"
