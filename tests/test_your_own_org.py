"""The README's "Your own org", end to end: init -> pull -> a custom field -> validate -> map -> sync -> disclose,
all with no --catalog flag; and a stock org: the --without-additions project syncs with no failure, the full
default set is refused at pre-flight. The emulators on 127.0.0.1, the CLI through click's runner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.project.project_file import PROJECT_ENV
from tests.helpers import MAPPINGS, Emulated

AGENDA_FIELD = """
  - from: agenda
    to: Agenda__c
    type: string
    max_length: 2000
    label: {en: Meeting agenda, fr: Ordre du jour de la réunion}
    category: user.content
"""


def zoomforce(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture()
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.delenv("SF_ACCESS_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    ok(zoomforce("init", "acme"))
    return tmp_path / "acme"


def point_at(monkeypatch: pytest.MonkeyPatch, world: Emulated) -> None:
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture()
def org_with_agenda(acme: Path, tmp_path: Path) -> Iterator[Emulated]:
    """An org that has a custom Agenda__c on zoom_app__Zoom_Event__c (and the additions deployed)."""
    catalog = tmp_path / "org-catalog"
    shutil.copytree(acme / "salesforce-catalog", catalog)
    path = catalog / "zoom_app__Zoom_Event__c.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["fields"].append({"name": "Agenda__c", "label": "Agenda", "type": "textarea", "length": 32768,
                           "custom": True})
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    world = Emulated(tmp_path / "agenda-org", users=3, catalog=catalog)
    yield world
    world.stop()


def test_a_custom_field_goes_through_every_command_with_no_catalog_flag(
        acme: Path, org_with_agenda: Emulated, monkeypatch: pytest.MonkeyPatch) -> None:
    world = org_with_agenda
    point_at(monkeypatch, world)
    meetings = acme / "mappings" / "meetings.yaml"
    meetings.write_text(meetings.read_text(encoding="utf-8") + AGENDA_FIELD, encoding="utf-8")
    monkeypatch.chdir(acme)
    before = zoomforce("validate")
    assert before.exit_code == 1 and "'Agenda__c' is not a field of zoom_app__Zoom_Event__c in " \
                                     "salesforce-catalog/zoom_app__Zoom_Event__c.json" in before.stdout
    ok(zoomforce("catalog", "pull"))
    event = json.loads((acme / "salesforce-catalog" / "zoom_app__Zoom_Event__c.json").read_text(encoding="utf-8"))
    assert any(f["name"] == "Agenda__c" for f in event["fields"])
    ok(zoomforce("validate"))
    meeting = next(m for m in world.account.all_meetings() if m.agenda)
    mapped = ok(zoomforce("map", "meetings", stdin=json.dumps(meeting.record())))
    assert json.loads(mapped.stdout)["record"]["Agenda__c"] == meeting.agenda
    planned = ok(zoomforce("sync", "meetings", "--dry-run"))
    assert f'Agenda__c: null -> "{meeting.agenda}"' in planned.stdout
    synced = ok(zoomforce("sync", "--summary", "json"))
    assert all(c["failed"] == 0 for c in json.loads(synced.stdout)["entities"].values())
    events = world.org.records("zoom_app__Zoom_Event__c")
    written = {r["zoom_app__Zoom_Meeting_Id__c"]: r.get("Agenda__c") for r in events}
    assert written[str(meeting.id)] == meeting.agenda, "the field lands in the org"
    assert (acme / "zoomforce.db").is_file(), "the state is where the project says"
    disclosed = ok(zoomforce("disclose"))
    assert "Meeting agenda" in disclosed.stdout
    changes = ok(zoomforce("disclose", "--diff", str(MAPPINGS)))
    assert "Agenda__c" in changes.stdout and "Meeting agenda" in changes.stdout


@pytest.fixture()
def stock_org(tmp_path: Path) -> Iterator[Emulated]:
    world = Emulated(tmp_path / "stock-org", users=3, catalog=None)  # Zoom's package as it ships
    yield world
    world.stop()


def test_a_stock_org_syncs_the_project_without_additions_and_refuses_the_full_set(
        tmp_path: Path, stock_org: Emulated, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(monkeypatch, stock_org)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    ok(zoomforce("init", "lean", "--without-additions"))
    ok(zoomforce("init", "full"))
    monkeypatch.chdir(tmp_path / "full")
    refused = zoomforce("sync")
    assert refused.exit_code == 2
    assert len([line for line in refused.stderr.splitlines() if "the org lacks" in line]) == 5
    monkeypatch.chdir(tmp_path / "lean")
    synced = ok(zoomforce("sync", "--summary", "json"))
    entities = json.loads(synced.stdout)["entities"]
    assert entities and all(c["failed"] == 0 for c in entities.values()), entities
    assert entities["users"]["written"] == entities["users"]["read"] > 0
    again = ok(zoomforce("sync", "--summary", "json"))
    assert all(c["written"] == 0 for c in json.loads(again.stdout)["entities"].values())
