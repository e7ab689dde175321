"""What a mapping reads of a record, and the record cut down to it (what a dead letter keeps)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.language.plan import compile_plan
from engine.language.projection import project, read_tree, tree_of
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS


def test_a_tree_keeps_the_leaves_an_expression_reads() -> None:
    tree = tree_of(["settings.schedule_meeting.pmi_password", "join(', ', participants[].name || `[]`)", "id"])
    assert tree == {"settings": {"schedule_meeting": {"pmi_password": {}}}, "participants": {None: {"name": {}}},
                    "id": {}}


def test_project_keeps_only_the_read_paths() -> None:
    tree = tree_of(["settings.schedule_meeting.pmi_password", "participants[].name", "id"])
    record = {
        "id": 1, "agenda": "private", "h323_password": "123456",
        "settings": {"schedule_meeting": {"pmi_password": "p", "host_video": True}, "feature": {"a": 1}},
        "participants": [{"name": "Ada", "user_email": "ada@example.com"}, {"name": "Alan"}],
    }
    assert project(record, tree) == {
        "id": 1,
        "settings": {"schedule_meeting": {"pmi_password": "p"}},
        "participants": [{"name": "Ada"}, {"name": "Alan"}],
    }
    assert project({"id": 1, "participants": "not a list"}, tree) == {"id": 1, "participants": "not a list"}
    assert project(None, tree) is None


def test_the_default_mappings_read_what_their_plans_use() -> None:
    mapping_set = load_mapping_set([MAPPINGS]).raise_if_invalid()
    record_tree, parent_tree = read_tree(mapping_set.get("registrants"))
    assert {"id", "first_name", "email", "custom_questions"} <= set(record_tree)
    assert parent_tree == {"id": {}}
    users, _ = read_tree(mapping_set.get("users"))
    assert users["settings"] == {"schedule_meeting": {"pmi_password": {}}, "feature": users["settings"]["feature"]}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=4), max_leaves=12)


PAST_MEETINGS = load_mapping_set([MAPPINGS]).get("past_meetings")
PAST_PLAN = compile_plan(PAST_MEETINGS)


@settings(deadline=None, max_examples=60)
@given(extra=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=5))
def test_a_projected_record_maps_exactly_as_the_whole_one(extra: dict) -> None:
    mapping, plan = PAST_MEETINGS, PAST_PLAN
    record = {**extra, "id": 85746065432, "start_time": "2022-03-23T06:00:00Z", "end_time": "2022-03-23T07:00:00Z",
              "participants_count": 3, "attendance": {"participants": [{"name": "Ada", "id": "x"}], "total": 1}}
    tree, _ = read_tree(mapping)
    assert plan.map_record(project(record, tree)).record == plan.map_record(record).record


def test_a_parent_the_mapping_does_not_read_is_not_kept_at_all() -> None:
    user = {"id": "U1", "phone_numbers": [{"number": "+33 1 23 45 67 89"}], "settings": {"extension": "42"}}
    assert project(user, tree_of([])) is None
    assert project(user, tree_of(["settings.extension"])) == {"settings": {"extension": "42"}}


def test_a_mapping_that_reads_a_whole_record_keeps_it_whole() -> None:
    record = {"id": 1, "settings": {"a": 1, "b": 2}, "agenda": "private"}
    for expression in ("@", "keys(@)", "to_string(@)", "*", "[*].id", "@ | keys(@)", "length(@) || id"):
        assert project(record, tree_of(["id", expression])) == record, expression
    for expression in ("@.id", "settings.a", "[id, settings.a]", "join(', ', tags[*].name)"):
        assert "agenda" not in (project(record, tree_of([expression])) or {}), expression


def test_a_meeting_dead_letter_keeps_nothing_of_its_user() -> None:
    mapping_set = load_mapping_set([MAPPINGS]).raise_if_invalid()
    _, parent_tree = read_tree(mapping_set.get("meetings"))
    user = {"id": "U1", "phone_numbers": [{"number": "+33 1 23 45 67 89"}], "settings": {"extension": "42"}}
    assert project(user, parent_tree) is None
