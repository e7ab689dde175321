"""The command line: click's runner for the contract, one real subprocess for the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.helpers import MAPPINGS, REPO

MEETING = {
    "id": 85746065432,
    "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
    "host_id": "30R7kT7bTIKSNUFEuH_Qlg",
    "topic": "Quarterly review",
    "start_time": "2026-03-23T06:00:00Z",
    "duration": 45,
    "join_url": "https://example.zoom.us/j/85746065432",
    "start_url": "https://example.zoom.us/s/85746065432?zak=HOST-TOKEN",
    "password": "s3cr3t",
    "past": {"participants_count": 7},
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_validate_default_mappings_is_clean(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(MAPPINGS)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.stderr


def _broken(tmp_path: Path) -> Path:
    text = (MAPPINGS / "meetings.yaml").read_text(encoding="utf-8")
    broken = text.replace(
        "    to: zoom_app__Meeting_Topic__c\n", "    to: zoom_app__Meeting_Topic__c\n    on_overflow: cut\n", 1
    )
    path = tmp_path / "meetings.yaml"
    path.write_text(broken, encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_validate_reports_file_line_col_and_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    path = _broken(tmp_path)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    line = _line_of(path, "on_overflow: cut")
    assert _lines(result.stdout) == [
        f'{path}:{line}:18: error: fields[1].on_overflow: expected one of truncate, reject; got "cut"'
    ]


def test_validate_json_format(runner: CliRunner, tmp_path: Path) -> None:
    path = _broken(tmp_path)
    result = runner.invoke(cli, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    (error,) = payload["errors"]
    assert set(error) >= {"file", "line", "column", "message", "severity"}
    assert (error["file"], error["line"], error["column"], error["severity"]) == (
        str(path),
        _line_of(path, "on_overflow: cut"),
        18,
        "error",
    )


def test_validate_json_format_when_valid(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(MAPPINGS), "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    # The default set reads one undocumented field (a webinar's registration URL), and its disclosure
    # facts keep example addresses to replace: warnings only.
    assert {e["severity"] for e in payload["errors"]} == {"warning"}
    assert sum("registration_url" in e["message"] for e in payload["errors"]) == 1
    assert sum("is an example address" in e["message"] for e in payload["errors"]) == 3


def test_validate_github_annotations(runner: CliRunner, tmp_path: Path) -> None:
    path = _broken(tmp_path)
    result = runner.invoke(cli, ["validate", str(path), "--format", "github"])
    assert result.exit_code == 1
    (line,) = _lines(result.stdout)
    assert line.startswith(f"::error file={path},line={_line_of(path, 'on_overflow: cut')},col=18,")
    assert "::fields[1].on_overflow: expected one of truncate, reject" in line


@pytest.mark.parametrize("arguments", [["validate", "no/such/folder"], ["validate", "--format", "xml"], ["map"]])
def test_usage_errors_exit_2(runner: CliRunner, arguments: list[str]) -> None:
    assert runner.invoke(cli, arguments).exit_code == 2


def test_map_redacts_secrets(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "meeting.json"
    source.write_text(json.dumps(MEETING), encoding="utf-8")
    result = runner.invoke(cli, ["map", "meetings", "--input", str(source), "--mappings", str(MAPPINGS)])
    assert result.exit_code == 0, result.stderr
    (line,) = _lines(result.stdout)
    output = json.loads(line)
    assert output["entity"] == "meetings"
    assert output["object"] == "zoom_app__Zoom_Event__c"
    assert output["upsert_key"] == {"zoom_app__Zoom_Meeting_Id__c": "85746065432"}
    record = output["record"]
    assert record["zoom_app__Zoom_Meeting_Password__c"] == "***"
    assert record["zoom_app__Start_Url__c"] == "***"
    assert "s3cr3t" not in result.output and "HOST-TOKEN" not in result.output
    assert record["zoom_app__Zoom_Meeting_End_Time__c"] == "2026-03-23T06:45:00.000Z"
    assert record["zoom_app__Participant_Count__c"] == 7


def test_map_reveal_secrets_from_stdin(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["map", "meetings", "--mappings", str(MAPPINGS), "--reveal-secrets"], input=json.dumps(MEETING)
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)["record"]
    assert record["zoom_app__Zoom_Meeting_Password__c"] == "s3cr3t"
    assert record["zoom_app__Start_Url__c"] == MEETING["start_url"]


def test_map_bad_record_is_reported_and_the_rest_written(runner: CliRunner) -> None:
    lines = [
        json.dumps(MEETING),
        json.dumps({**MEETING, "id": 2, "start_time": "soon"}),
        json.dumps({**MEETING, "id": 3}),
    ]
    result = runner.invoke(cli, ["map", "meetings", "--mappings", str(MAPPINGS)], input="\n".join(lines))
    assert result.exit_code == 1
    assert [json.loads(x)["upsert_key"] for x in _lines(result.stdout)] == [
        {"zoom_app__Zoom_Meeting_Id__c": "85746065432"},
        {"zoom_app__Zoom_Meeting_Id__c": "3"},
    ]
    assert (
        "meetings: record 1: field zoom_app__Zoom_Meeting_Start_Time__c (from start_time): cannot use 'soon'"
        in result.stderr
    )


def test_map_unknown_entity_suggests(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["map", "meeting", "--mappings", str(MAPPINGS)], input="{}")
    assert result.exit_code == 2
    assert "no mapping for entity 'meeting'" in result.stderr and "did you mean 'meetings'?" in result.stderr


def test_map_input_not_json(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["map", "meetings", "--mappings", str(MAPPINGS)], input="{nope")
    assert result.exit_code == 2
    assert result.stderr.startswith("zoomforce: error: input is not JSON")


def test_map_with_invalid_mappings_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    _broken(tmp_path)
    result = runner.invoke(cli, ["map", "meetings", "--mappings", str(tmp_path)], input=json.dumps(MEETING))
    assert result.exit_code == 2
    assert "on_overflow: expected one of truncate, reject" in result.stderr
    assert "Traceback" not in result.output


def _zoomforce_command() -> list[str]:
    script = shutil.which("zoomforce")
    return [script] if script else [sys.executable, "-m", "engine"]


def test_console_script_in_a_real_subprocess(tmp_path: Path) -> None:
    ok = subprocess.run(
        [*_zoomforce_command(), "validate", str(MAPPINGS)], capture_output=True, text=True, cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    path = _broken(tmp_path)
    bad = subprocess.run([*_zoomforce_command(), "validate", str(path)], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1
    assert f":{_line_of(path, 'on_overflow: cut')}:18: error: " in bad.stdout
    mapped = subprocess.run(
        [*_zoomforce_command(), "map", "meetings"], input=json.dumps(MEETING), capture_output=True, text=True, cwd=REPO
    )
    assert mapped.returncode == 0, mapped.stderr
    assert json.loads(mapped.stdout)["record"]["zoom_app__Zoom_Meeting_Password__c"] == "***"


CALLEE_ENDED = {
    "event": "phone.callee_ended",
    "event_ts": 1764547200000,
    "payload": {
        "account_id": "demo",
        "object": {
            "call_id": "7018317023722949162",
            "caller": {"phone_number": "+13125558157", "extension_number": 1001},
            "callee": {"phone_number": "+12125551002", "extension_number": 1003},
            "ringing_start_time": "2026-11-23T02:10:08Z",
            "answer_start_time": "2026-11-23T02:10:14Z",
            "call_end_time": "2026-11-23T02:23:39Z",
        },
    },
}


@pytest.mark.parametrize("document", [CALLEE_ENDED, CALLEE_ENDED["payload"]["object"]], ids=["body", "record"])
def test_map_an_event_notification_writes_only_what_it_delivers(runner: CliRunner, tmp_path: Path,
                                                                 document: dict) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = runner.invoke(cli, ["map", "calls", "--event", "phone.callee_ended", "--input", str(path)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    mapped = json.loads(line)
    assert mapped["upsert_key"] == {"zoom_app__Calllog_Unique_ID__c": "7018317023722949162"}
    assert mapped["record"] == {
        "zoom_app__Calllog_Unique_ID__c": "7018317023722949162",
        "zoom_app__Ring_Start_Time__c": "2026-11-23T02:10:08.000Z",
        "zoom_app__Answer_Start_Time__c": "2026-11-23T02:10:14.000Z",
        "zoom_app__Call_End_Time__c": "2026-11-23T02:23:39.000Z",
        "zoom_app__Call_ID__c": "7018317023722949162",
        "zoom_app__Callee_Extension_Number__c": "1003",
        "zoom_app__Callee_Phone_Number__c": "+12125551002",
        "zoom_app__Caller_Extension_Number__c": "1001",
        "zoom_app__Caller_Phone_Number__c": "+13125558157",
    }


def test_map_an_event_that_does_not_feed_the_entity_is_an_input_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(CALLEE_ENDED), encoding="utf-8")
    result = runner.invoke(cli, ["map", "meetings", "--event", "phone.callee_ended", "--input", str(path)])
    assert result.exit_code == 2
    assert "event 'phone.callee_ended' does not feed this entity" in result.stderr
    wrong = runner.invoke(cli, ["map", "calls", "--event", "phone.caller_ended", "--input", str(path)])
    assert wrong.exit_code == 2 and "is a 'phone.callee_ended' event" in wrong.stderr


@pytest.mark.parametrize("words", [["sync", "--log-format", "json", "--bogus"], ["map", "--log-format=json"],
                                   ["dead-letters", "show", "--log-format", "json", "not-a-number"]])
def test_a_usage_error_under_json_logs_is_one_json_record_and_exit_2(words: list[str]) -> None:
    result = CliRunner().invoke(cli, words)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    record = json.loads(line)
    assert record["event"] == "usage_error" and record["level"] == "error" and record["exit_code"] == 2
    assert record["message"].startswith("zoomforce: error: ")


def test_a_usage_error_in_text_keeps_clicks_usage_lines() -> None:
    result = CliRunner().invoke(cli, ["sync", "--bogus"])
    assert result.exit_code == 2 and "Usage:" in result.stderr and "No such option '--bogus'" in result.stderr
