"""Failures where the operator looks: every record that fails is a line on standard error (entity, key,
error code, reason; secrets redacted), the first 20 per entity and code, then a count."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.emulators.zoom.data import Account
from engine.project.project_file import PROJECT_ENV
from engine.serving import start_in_thread
from engine.sync.output import FailureLines
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, copy_mappings, replace_once

LIMIT = 20


def test_failure_lines_show_the_first_of_each_code_then_a_count() -> None:
    stream = io.StringIO()
    closed: list[bool] = []
    lines = FailureLines(stream, limit=2, before=lambda: closed.append(True))
    for n in range(5):
        lines("meetings", str(n), "STRING_TOO_LONG", "Topic: data value\ntoo large")
    lines("meetings", "9", "INVALID_FIELD", "no such column")
    lines("users", "u1", "STRING_TOO_LONG", "x")
    lines.close()
    assert stream.getvalue().splitlines() == [
        "zoomforce: failed: meetings 0: STRING_TOO_LONG: Topic: data value too large",
        "zoomforce: failed: meetings 1: STRING_TOO_LONG: Topic: data value too large",
        "zoomforce: failed: meetings 9: INVALID_FIELD: no such column",
        "zoomforce: failed: users u1: STRING_TOO_LONG: x",
        "zoomforce: failed: meetings: 3 more STRING_TOO_LONG failure(s) not shown (5 in all; every one is kept as "
        "a dead letter)",
    ]
    assert closed, "an open progress line is ended first"
    quiet = io.StringIO()
    unlimited = FailureLines(quiet, limit=None, kept=False)
    for n in range(30):
        unlimited("e", str(n), "C", "r")
    unlimited.close()
    assert len(quiet.getvalue().splitlines()) == 30


@pytest.fixture()
def short_passwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    """An org whose meeting password field holds 3 characters: Salesforce refuses every password, quoting it."""
    catalog = tmp_path / "org"
    shutil.copytree(ORG_WITH_ADDITIONS, catalog)
    path = catalog / "zoom_app__Zoom_Event__c.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for field in data["fields"]:
        if field["name"] == "zoom_app__Zoom_Meeting_Password__c":
            field["length"] = 3
    path.write_text(json.dumps(data), encoding="utf-8")
    tls = make_tls_files(tmp_path / "tls")
    zoom = zoom_app(ZoomEmulatorConfig(users=12))
    servers = [start_in_thread(zoom), start_in_thread(salesforce_app(SalesforceEmulatorConfig(catalog_dir=catalog)),
                                                      tls=tls)]
    for name, value in {
        "SF_INSTANCE_URL": servers[1].url, "SF_CLIENT_ID": "demo", "SF_CLIENT_SECRET": "demo",
        "REQUESTS_CA_BUNDLE": tls.ca_file, "ZOOM_ACCOUNT_ID": "demo", "ZOOM_CLIENT_ID": "demo",
        "ZOOM_CLIENT_SECRET": "demo", "ZOOM_API_URL": f"{servers[0].url}/v2",
        "ZOOM_OAUTH_URL": f"{servers[0].url}/oauth/token",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SF_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    yield zoom.state.account
    for server in servers:
        server.stop()
    close_app(zoom)


def test_records_salesforce_refuses_are_told_on_standard_error_with_their_secrets_redacted(
        short_passwords: Account, tmp_path: Path) -> None:
    account = short_passwords
    passwords = {m.password for m in account.all_meetings() if m.password}
    refused = [m for m in account.all_meetings() if m.password]
    assert len(refused) > LIMIT
    result = CliRunner().invoke(cli, ["sync", "meetings", "--mappings", str(MAPPINGS), "--state",
                                      str(tmp_path / "state.db")])
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("zoomforce: failed: ")]
    assert len(failed) == LIMIT + 1, failed
    ids = {str(m.id) for m in refused}
    for line in failed[:LIMIT]:
        found = re.fullmatch(r"zoomforce: failed: (\w+) (\d+): ([A-Z_]+): (.*)", line)
        assert found is not None, line
        entity, key, code, reason = found.groups()
        assert (entity, key in ids, code) == ("meetings", True, "STRING_TOO_LONG"), line
        assert reason == "Zoom Meeting Password: data value too large: *** (max length=3)", line
    assert failed[-1] == (f"zoomforce: failed: meetings: {len(refused) - LIMIT} more STRING_TOO_LONG failure(s) "
                          f"not shown ({len(refused)} in all; every one is kept as a dead letter)")
    for password in passwords:
        assert password not in result.stderr and password not in result.stdout


def test_records_that_cannot_be_mapped_are_told_too(short_passwords: Account, tmp_path: Path) -> None:
    mappings = copy_mappings(tmp_path)
    replace_once(mappings / "meetings.yaml",
                 "  - from: topic\n    to: zoom_app__Meeting_Topic__c\n    type: string\n    max_length: 255\n",
                 "  - from: topic\n    to: zoom_app__Meeting_Topic__c\n    type: string\n    values: {none: None}\n")
    result = CliRunner().invoke(cli, ["sync", "meetings", "--mappings", str(mappings), "--state",
                                      str(tmp_path / "state.db"), "--dry-run"])
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("zoomforce: failed: meetings")]
    meetings = sum(1 for _ in short_passwords.all_meetings())
    assert len(failed) == LIMIT + 1
    assert all(": MAPPING_TYPE: " in line and "is not in the field's value table" in line for line in failed[:LIMIT])
    assert failed[-1] == (f"zoomforce: failed: meetings: {meetings - LIMIT} more MAPPING_TYPE failure(s) not shown "
                          f"({meetings} in all)"), "a dry run keeps no dead letter"
