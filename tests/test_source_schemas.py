"""The Zoom source schemas in schemas/zoom/ and the module that walks them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from engine.zoom.schemas import (
    EndpointSchema,
    load_source_index,
    resolve_path,
    schema_types,
)

ROOT = Path(__file__).parents[1]
ZOOM_SCHEMAS = ROOT / "schemas" / "zoom"
REFERENCE = ROOT / "reference" / "zoom"
SCRIPT = ROOT / "scripts" / "extract_zoom_schemas.py"

INDEX = load_source_index(ZOOM_SCHEMAS)

# The paths the reference subsets hold (NOTES-zoom-api.md, section 1): the index must cover them all.
EXPECTED_RECORDS = {
    "GET /users": "users",
    "GET /users/{userId}": None,
    "GET /users/{userId}/settings": None,
    "GET /users/{userId}/meetings": "meetings",
    "POST /users/{userId}/meetings": None,
    "GET /meetings/{meetingId}": None,
    "GET /past_meetings/{meetingId}": None,
    "GET /past_meetings/{meetingId}/instances": "meetings",
    "GET /past_meetings/{meetingId}/participants": "participants",
    "GET /report/meetings/{meetingId}": None,
    "GET /report/meetings/{meetingId}/participants": "participants",
    "GET /report/users/{userId}/meetings": "meetings",
    "GET /users/{userId}/webinars": "webinars",
    "POST /users/{userId}/webinars": None,
    "GET /webinars/{webinarId}": None,
    "GET /webinars/{webinarId}/registrants": "registrants",
    "POST /webinars/{webinarId}/registrants": None,
    "GET /webinars/{webinarId}/panelists": "panelists",
    "GET /past_webinars/{webinarId}/instances": "webinars",
    "GET /past_webinars/{webinarId}/participants": "participants",
    "GET /report/webinars/{webinarId}": None,
    "GET /report/webinars/{webinarId}/participants": "participants",
    "GET /phone/users": "users",
    "GET /phone/users/{userId}": None,
    "GET /phone/call_logs": "call_logs",
    "GET /phone/call_logs/{callLogId}": None,
    "GET /phone/users/{userId}/call_logs": "call_logs",
    "GET /phone/call_history": "call_logs",
    "GET /phone/call_history/{callLogId}": None,
    "GET /phone/users/{userId}/call_history": "call_logs",
    "GET /users/{userId}/recordings": "meetings",
    "GET /meetings/{meetingId}/recordings": "recording_files",
}


def endpoint(name: str) -> EndpointSchema:
    found = INDEX.endpoint(name)
    assert found is not None, f"{name} is not in schemas/zoom/index.json"
    return found


# --- the committed data -------------------------------------------------------------------------


def test_index_lists_every_endpoint_with_its_records_property() -> None:
    records = {name: endpoint(name).records for name in INDEX.endpoint_names()}
    assert records == EXPECTED_RECORDS


@pytest.mark.parametrize("name", sorted(EXPECTED_RECORDS))
def test_every_endpoint_loads_as_a_valid_json_schema(name: str) -> None:
    loaded = endpoint(name)
    for schema in (loaded.response, loaded.request):
        if schema is not None:
            jsonschema.Draft202012Validator.check_schema(schema)
            assert "$ref" not in json.dumps(schema) and "allOf" not in json.dumps(schema)
    assert isinstance(loaded.record_schema().get("properties"), dict) or "oneOf" in loaded.record_schema()
    assert list(loaded.path_params) == [part[1:-1] for part in name.split("/") if part.startswith("{")]


def test_every_file_the_index_names_exists_and_nothing_else_is_there() -> None:
    index = json.loads((ZOOM_SCHEMAS / "index.json").read_text(encoding="utf-8"))
    named = {entry["response"] for entry in index["endpoints"].values()}
    named |= {entry["request"] for entry in index["endpoints"].values() if entry["request"]}
    named |= {entry["schema"] for entry in index["events"].values()}
    on_disk = {path.relative_to(ZOOM_SCHEMAS).as_posix() for path in ZOOM_SCHEMAS.glob("*/*.json")}
    assert named == on_disk


def test_post_endpoints_carry_their_request_body() -> None:
    registrant = endpoint("POST /webinars/{webinarId}/registrants").request
    assert registrant is not None
    assert set(registrant["required"]) == {"email", "first_name"}
    assert endpoint("GET /webinars/{webinarId}").request is None


def test_index_records_pagination_deprecation_scopes_and_rate_limits() -> None:
    meeting = endpoint("GET /meetings/{meetingId}")
    assert "meeting:read:admin" in meeting.scopes_classic
    assert "meeting:read:meeting:admin" in meeting.scopes_granular
    assert meeting.rate_limit == "Light"
    assert not meeting.paginated and meeting.query_params == ("occurrence_id", "show_previous_occurrences")
    assert endpoint("GET /users").page_size_max == 2000
    assert endpoint("GET /phone/users").page_size_max == 100
    assert endpoint("GET /phone/call_history").rate_limit == "Heavy"
    assert endpoint("GET /report/meetings/{meetingId}/participants").paginated
    assert not endpoint("GET /webinars/{webinarId}/panelists").paginated
    deprecated = {name for name in INDEX.endpoint_names() if endpoint(name).deprecated}
    call_logs = {"GET /phone/call_logs", "GET /phone/call_logs/{callLogId}", "GET /phone/users/{userId}/call_logs"}
    assert deprecated == call_logs


def test_every_endpoint_names_scopes_and_a_rate_limit() -> None:
    for name in INDEX.endpoint_names():
        loaded = endpoint(name)
        assert loaded.scopes_classic and loaded.scopes_granular, name
        assert loaded.rate_limit in {"Light", "Medium", "Heavy", "Resource-intensive"}, name


def test_events_point_at_their_object() -> None:
    assert len(INDEX.event_names()) == 24  # the Rivet SDK's 23, and webinar.updated from its supplement
    updated = INDEX.event("webinar.updated")
    assert updated is not None and "registration_url" in updated.record_schema()["properties"]
    ended = INDEX.event("phone.callee_ended")
    assert ended is not None and ended.object_path == "payload.object"
    assert "ringing_start_time" in ended.record_schema()["properties"]
    assert INDEX.event("phone.no_such_event") is None


# --- regeneration -------------------------------------------------------------------------------


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    out = tmp_path / "zoom"
    command = [sys.executable, str(SCRIPT), "--reference", str(REFERENCE), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    generated = {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*.json")}
    committed = {path.relative_to(ZOOM_SCHEMAS).as_posix(): path.read_bytes() for path in ZOOM_SCHEMAS.rglob("*.json")}
    assert sorted(generated) == sorted(committed)
    changed = [name for name in generated if generated[name] != committed[name]]
    assert changed == [], f"run python scripts/extract_zoom_schemas.py: {changed}"
    check = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


# --- resolve_path -------------------------------------------------------------------------------


def test_resolve_path_finds_webinar_fields_with_their_types() -> None:
    webinar = endpoint("GET /webinars/{webinarId}").record_schema()
    join_url = resolve_path(webinar, ["join_url"])
    assert join_url.found and join_url.types == {"string"}
    approval = resolve_path(webinar, ["settings", "approval_type"])
    assert approval.found and approval.types == {"integer"} and approval.schema["enum"] == [0, 1, 2]
    assert resolve_path(webinar, ["id"]).schema["format"] == "int64"


def test_webinar_has_no_registration_url() -> None:
    result = resolve_path(endpoint("GET /webinars/{webinarId}").record_schema(), ["registration_url"])
    assert not result.found
    assert (result.failed_at, result.missing, result.schema) == (0, "registration_url", None)


def test_a_misspelt_field_suggests_the_real_one() -> None:
    result = resolve_path(endpoint("GET /webinars/{webinarId}").record_schema(), ["joinurl"])
    assert not result.found and result.suggestions[0] == "join_url"
    nested = resolve_path(endpoint("GET /webinars/{webinarId}").record_schema(), ["settings", "Approval_Type"])
    assert (nested.failed_at, nested.suggestions[0]) == (1, "approval_type")


def test_user_settings_one_of_resolves_through_its_branches() -> None:
    settings = endpoint("GET /users/{userId}/settings").response
    assert "oneOf" in settings
    password = resolve_path(settings, ["schedule_meeting", "pmi_password"])
    assert password.found and password.types == {"string"}
    # The meeting_security option has a boolean of the same name.
    assert resolve_path(settings, ["meeting_security", "pmi_password"]).types == {"boolean"}
    missing = resolve_path(settings, ["schedule_meeting", "pmi_pasword"])
    assert not missing.found and missing.suggestions[0] == "pmi_password"


def test_participants_record_and_projection_shapes() -> None:
    report = endpoint("GET /report/meetings/{meetingId}/participants")
    assert resolve_path(report.record_schema(), ["user_email"]).types == {"string"}
    for item in (None, 0):
        projected = resolve_path(report.response, ["participants", item, "user_email"])
        assert projected.found and projected.types == {"string"}
    assert resolve_path(report.response, ["participants"]).types == {"array"}
    name_on_array = resolve_path(report.response, ["participants", "user_email"])
    assert (name_on_array.found, name_on_array.failed_at) == (False, 1)
    index_on_object = resolve_path(report.record_schema(), [0])
    assert (index_on_object.found, index_on_object.missing) == (False, "[0]")
    assert not resolve_path(report.record_schema(), ["user_email", "domain"]).found


def test_phone_user_id_on_phone_user() -> None:
    result = resolve_path(endpoint("GET /phone/users/{userId}").record_schema(), ["phone_user_id"])
    assert result.found and result.types == {"string"}


def test_open_objects_accept_any_name_and_typed_objects_do_not() -> None:
    assert resolve_path({}, ["anything", 3, "deeper"]).found
    open_map = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert resolve_path(open_map, ["key"]).types == {"integer"}
    assert not resolve_path({"type": "object", "properties": {"a": {}}}, ["b"]).found
    assert not resolve_path({"type": "string"}, ["a"]).found


def test_any_of_unions_the_types_of_the_branches_that_resolve() -> None:
    schema = {
        "anyOf": [
            {"type": "object", "properties": {"id": {"type": "integer"}}},
            {"type": "object", "properties": {"id": {"type": "string"}}},
            {"type": "object", "properties": {"other": {"type": "boolean"}}},
        ]
    }
    result = resolve_path(schema, ["id"])
    assert result.found and result.types == {"integer", "string"} and result.schema == {"type": "integer"}


def test_schema_types() -> None:
    assert schema_types({"type": "integer", "format": "int64"}) == {"integer"}
    assert schema_types({"type": ["string", "null"]}) == {"string", "null"}
    assert schema_types({"oneOf": [{"type": "integer"}, {"type": "string"}]}) == {"integer", "string"}
    assert schema_types({"properties": {}}) == {"object"}
    assert schema_types({"enum": [1, "a"]}) == {"integer", "string"}
    assert schema_types({}) == {"array", "boolean", "integer", "null", "number", "object", "string"}


def test_unknown_endpoint_gets_suggestions() -> None:
    assert INDEX.endpoint("GET /meeting/{meetingId}") is None
    assert INDEX.suggest_endpoint("GET /meeting/{meetingId}")[0] == "GET /meetings/{meetingId}"
    assert INDEX.suggest_endpoint("get /webinars/{id}")[0] == "GET /webinars/{webinarId}"


def test_index_is_cached_per_directory() -> None:
    assert load_source_index(ZOOM_SCHEMAS) is INDEX
    assert load_source_index() is load_source_index()
