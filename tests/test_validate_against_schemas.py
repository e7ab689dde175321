"""`zoomforce validate` against Zoom's official schemas and the Salesforce target catalog: the
mistakes integrators really make fail at the line and column of the offending value, with the
nearest real names as a suggestion.

Each test copies the default mappings, changes one value, and runs the real CLI on the copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.helpers import copy_mappings, replace_once, validate_errors


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return copy_mappings(tmp_path)


_replace = replace_once


_errors = validate_errors


def _only_error(folder: Path) -> dict[str, object]:
    (error,) = _errors(folder)
    return error


def test_the_default_set_is_valid(folder: Path) -> None:
    assert _errors(folder) == []


def test_a_misspelt_zoom_field_fails_at_its_line_with_the_real_name(folder: Path) -> None:
    line, column = _replace(folder / "meetings.yaml", "  - from: topic\n", "  - from: topik\n")
    error = _only_error(folder)
    assert (error["file"], error["line"]) == (str(folder / "meetings.yaml"), line)
    assert error["column"] == column + len("  - from: ")
    assert "unknown field 'topik'" in str(error["message"]) and "'topic'" in str(error["message"])


def test_a_misspelt_nested_field_inside_a_function_names_the_step(folder: Path) -> None:
    path = folder / "webinars.yaml"
    text = path.read_text(encoding="utf-8")
    assert "settings.approval_type" in text
    path.write_text(text.replace("settings.approval_type", "settings.aproval_type", 1), encoding="utf-8")
    error = _only_error(folder)
    assert "settings.aproval_type" in str(error["message"])
    assert "'approval_type'" in str(error["message"])


def test_an_unknown_salesforce_field_fails_at_its_to(folder: Path) -> None:
    line, column = _replace(
        folder / "meetings.yaml", "    to: zoom_app__Meeting_Topic__c\n", "    to: zoom_app__Meeting_Topc__c\n"
    )
    error = _only_error(folder)
    assert (error["line"], error["column"]) == (line, column + len("    to: "))
    assert "'zoom_app__Meeting_Topc__c' is not a field of zoom_app__Zoom_Event__c" in str(error["message"])
    assert "'zoom_app__Meeting_Topic__c'" in str(error["message"])


def test_a_type_the_salesforce_field_cannot_take(folder: Path) -> None:
    path = folder / "meetings.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("    to: zoom_app__Zoom_Meeting_Start_Time__c\n")
    type_at = text.index("    type: datetime\n", start)
    path.write_text(text[:type_at] + "    type: boolean\n" + text[type_at + len("    type: datetime\n"):],
                    encoding="utf-8")
    error = _only_error(folder)
    assert error["line"] == text.count("\n", 0, type_at) + 1
    assert "cannot take a boolean value" in str(error["message"])


def test_a_max_length_longer_than_the_field(folder: Path) -> None:
    line, _ = _replace(
        folder / "meetings.yaml",
        "    to: zoom_app__Meeting_Topic__c\n    type: string\n    max_length: 255\n",
        "    to: zoom_app__Meeting_Topic__c\n    type: string\n    max_length: 100000\n",
    )
    error = _only_error(folder)
    assert (error["line"], error["column"]) == (line + 2, len("    max_length: ") + 1)
    assert "max_length 100000 exceeds the 255 characters" in str(error["message"])


def test_an_upsert_key_that_is_no_external_id(folder: Path) -> None:
    line, _ = _replace(
        folder / "meetings.yaml",
        "  upsert_key: zoom_app__Zoom_Meeting_Id__c\n",
        "  upsert_key: zoom_app__Meeting_Topic__c\n",
    )
    messages = [e for e in _errors(folder) if "External ID" in str(e["message"])]
    assert [e["line"] for e in messages] == [line]
    assert "zoom_app__Zoom_Meeting_Id__c" in str(messages[0]["message"])


def test_an_unknown_endpoint_suggests_the_real_one(folder: Path) -> None:
    _replace(
        folder / "meetings.yaml", "  endpoint: GET /meetings/{meetingId}\n", "  endpoint: GET /meeting/{meetingId}\n"
    )
    messages = [str(e["message"]) for e in _errors(folder)]
    assert any("'GET /meeting/{meetingId}' is not a Zoom endpoint" in m and "GET /meetings/{meetingId}" in m
               for m in messages), messages


def test_the_reverse_flow_reads_real_contact_fields_and_writes_the_request_body(folder: Path) -> None:
    _replace(folder / "registrations.yaml", "  - from: FirstName\n", "  - from: FristName\n")
    _replace(folder / "registrations.yaml", "    to: last_name\n", "    to: lastname\n")
    messages = sorted(str(e["message"]) for e in _errors(folder))
    assert any("'FristName' is not a field of Contact" in m and "'FirstName'" in m for m in messages), messages
    assert any("'lastname' is not in the request body of POST /webinars/{webinarId}/registrants" in m
               and "'last_name'" in m for m in messages), messages


def test_an_undocumented_field_is_a_warning_and_without_its_reason_an_error(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code == 0
    assert "warning:" in result.stdout and "registration_url" in result.stdout
    path = folder / "webinars.yaml"
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("undocumented:")]
    assert len(lines) < len(text.splitlines())
    path.write_text("".join(lines), encoding="utf-8")
    messages = [str(e["message"]) for e in _errors(folder)]
    assert any("unknown field 'registration_url'" in m for m in messages), messages


def test_an_enabled_entity_under_a_disabled_parent_fails_validation(folder: Path) -> None:
    replace_once(folder / "webinars.yaml", "entity: webinars\n", "entity: webinars\nenabled: false\n")
    errors = _errors(folder)
    assert sorted(Path(str(e["file"])).name for e in errors) == ["panelists.yaml", "participants.yaml",
                                                                 "registrants.yaml"]
    assert all("parent entity 'webinars' is disabled" in str(e["message"]) for e in errors)
    for name in ("panelists", "participants", "registrants"):
        replace_once(folder / f"{name}.yaml", f"entity: {name}\n", f"entity: {name}\nenabled: false\n")
    assert _errors(folder) == []


def test_without_detail_the_listed_items_are_what_is_checked(folder: Path) -> None:
    start, end = "    detail:                 ", "    key: id\n  parent: users\n"
    text = (folder / "meetings.yaml").read_text(encoding="utf-8")
    detail = text[text.index(start):text.index(end) + len(end)]  # with its refresh_when_changed and max_age
    replace_once(folder / "meetings.yaml", detail, "    detail: false\n  parent: users\n")
    messages = sorted(str(e["message"]) for e in _errors(folder))
    assert len(messages) == 2
    assert all("in the response of GET /users/{userId}/meetings" in m for m in messages)
    assert "unknown field 'password'" in messages[0] and "unknown field 'start_url'" in messages[1]
