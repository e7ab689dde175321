"""The sync against what the emulators now show as Zoom and Salesforce do, over real sockets.

Each test would fail on a writer or reader that ignored it: Zoom lists that name one record twice
above the Bulk threshold (Salesforce fails both rows of a job that repeats a key), meeting UUIDs
with one inner ``/`` (single-encoded, as Zoom's spec allows), a daily rate limit that stops a run
(exit 3, state saved) which the next run resumes, an endpoint that pages by ``page_number`` only,
and the reverse flow's registrants: denied and cancelled ones left alone, the statuses and the
records key read from the mapping, and Zoom's 3 registrations a day of one person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from engine.cli.main import cli
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.zoom.app import ZoomEmulatorConfig
from engine.errors import DailyLimitReached
from engine.sync.runner import SyncOptions, SyncRunner
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet, load_mapping_set
from engine.zoom.reader import ZoomSource
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, copy_mappings, replace_once, validate_errors
from tests.test_sync import OBJECTS, World, _servers, _stop, assert_everything_once, records, run_sync

EVENT = OBJECTS["meetings"]


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


@contextmanager
def started(tmp_path: Path, **zoom: Any) -> Iterator[World]:
    world = _servers(ZoomEmulatorConfig(**({"users": 4} | zoom)),
                     SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS), tmp_path / "tls")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REQUESTS_CA_BUNDLE", world.ca_file)
            yield world
    finally:
        _stop(world)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with started(tmp_path) as running:
        yield running


def use_up(world: World, requests_of_light: int) -> None:
    """Spend some of the day's Light requests, as other apps of the account do."""
    client = world.zoom_client()
    try:
        for _ in range(requests_of_light):
            client.get(f"/users/{world.account.user_ids()[0]}")
    finally:
        client.close()


# --------------------------------------------------------------------------- keys listed twice


def test_a_sync_above_the_bulk_threshold_with_keys_listed_twice_writes_each_record_once(
    world: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    counts = world.account.counts()
    rejoins = counts["webinar_participants"] - counts["webinar_attendees"]
    assert rejoins > 0  # a signed-in participant who rejoined is a second report row with the same id
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(world, store, mapping_set, entities=("participants",), writer={"bulk_threshold": 3})
    participants = report.entities["participants"]
    assert report.failed == 0, report.summary()
    assert (participants.read, participants.written, participants.unchanged) == (
        counts["webinar_participants"], counts["webinar_attendees"], rejoins)
    assert world.salesforce.stats()["routes"].get("bulk_create")  # the Bulk path, which fails repeated keys
    rows = records(world, OBJECTS["participants"], "zoom_app__UUID__c, zoom_app__User_Id__c")
    assert len(rows) == counts["webinar_attendees"]
    signed_in = [r["zoom_app__UUID__c"] for r in rows if r["zoom_app__UUID__c"]]
    assert signed_in and len(signed_in) == len(set(signed_in))
    # the last row listed wins: a rejoined participant's record holds the rejoin's per-join id
    last_rows = {row["id"]: row["user_id"] for w in world.account.all_webinars() for row in w.attendees if row["id"]}
    assert {r["zoom_app__UUID__c"]: r["zoom_app__User_Id__c"] for r in rows if r["zoom_app__UUID__c"]} == last_rows


# ---------------------------------------------------------------------- UUIDs with an inner "/"


def test_participants_of_meetings_whose_uuid_has_an_inner_slash_are_read(tmp_path: Path,
                                                                          mapping_set: MappingSet) -> None:
    with started(tmp_path, users=8, seed=7) as world:
        past = [m for m in world.account.all_meetings() if m.past]
        inner = [m for m in past if "/" in m.uuid[1:] and not m.uuid.startswith("/") and "//" not in m.uuid]
        assert inner, "seed 7 has meeting UUIDs with one inner '/' (sent single-encoded)"
        with StateStore.open(tmp_path / "state.db") as store:
            report = run_sync(world, store, mapping_set, entities=("past_meetings",))
        assert report.failed == 0, report.summary()
        names = {r["zoom_app__Zoom_Meeting_Id__c"]: r["zoom_app__Participants__c"]
                 for r in records(world, EVENT, "zoom_app__Zoom_Meeting_Id__c, zoom_app__Participants__c")}
        for meeting in past:
            expected = ", ".join(row["name"] for row in meeting.participants)
            assert names[str(meeting.id)] == expected, meeting.uuid


# -------------------------------------------------------------------------------- daily limits


def test_a_daily_limit_stops_the_run_with_its_state_saved_and_the_next_run_resumes(
    tmp_path: Path, mapping_set: MappingSet
) -> None:
    with started(tmp_path, daily_limit=60) as world:  # a full sync of 4 users takes 45 Light requests
        use_up(world, 30)
        with StateStore.open(tmp_path / "state.db") as store:
            first = run_sync(world, store, mapping_set)
            assert isinstance(first.stopped, DailyLimitReached)
            assert first.stopped.exit_code == 3 and first.stopped.resets_at
            assert "run it again after" in str(first.stopped)
            written = sum(c.written for c in first.entities.values())
            assert written > 0  # what was read before the limit is in Salesforce
            (last_run,) = store.runs.recent(1)
            assert last_run.status == "interrupted" and "daily rate limit" in last_run.summary["stopped"]
            world.zoom.post("new-day")  # 00:00 UTC: the limits start again
            second = run_sync(world, store, mapping_set)
            assert second.stopped is None and second.failed == 0, second.summary()
            assert store.runs.recent(1)[0].status == "ok"
            assert sum(c.unchanged for c in second.entities.values()) > 0  # what the first run wrote: skipped
        assert_everything_once(world)  # the org one run without a limit gives: nothing lost, nothing twice


def test_the_command_exits_3_on_a_daily_limit_and_says_when_to_run_again(tmp_path: Path) -> None:
    with started(tmp_path, daily_limit=3) as world:
        env = world.env() | {"REQUESTS_CA_BUNDLE": world.ca_file}
        result = CliRunner().invoke(cli, ["sync", "users", "--summary", "json", "--state",
                                          str(tmp_path / "state.db")], env=env)
        assert result.exit_code == 3, result.stderr
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("zoomforce: error:")]
        assert "the daily rate limit of" in line and "The run stopped; what it wrote is saved" in line
        assert line.endswith("run it again after " + world.zoom.app.state.emulator.daily.resets_at().strftime(
            "%Y-%m-%dT%H:%M:%SZ"))  # the next 00:00 UTC, Zoom's Retry-After
        summary = json.loads(result.stdout)
        assert set(summary) == {"entities", "api_calls"}  # the documented shape, of what was done


# ------------------------------------------------------------------------------- page_number


def test_an_endpoint_that_pages_by_page_number_is_read_to_its_last_page(
    world: World, tmp_path: Path
) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "webinars.yaml", "params: {userId: id, page_size: 300}", "params: {userId: id, page_size: 1}")
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(world, store, mapping_set, entities=("webinars",))
    assert report.failed == 0, report.summary()
    assert report.entities["webinars"].written == world.account.counts()["webinars"] > 1
    pages = world.zoom.stats()["requests"]["GET /users/{userId}/webinars"]["200"]
    assert pages == sum(max(1, len(u.webinars)) for u in world.account.all_users())  # one page per webinar


# ------------------------------------------------------------------------------ reverse flow


def registrations(world: World, store: StateStore, mapping_set: MappingSet, webinar: str,
                  now: datetime | None = None) -> Any:
    zoom, writer = world.zoom_client(), world.writer()
    try:
        runner = SyncRunner(mapping_set, store, ZoomSource(zoom), writer,
                            **({"now": lambda: now} if now else {}))
        report = runner.run(SyncOptions(entities=("registrations",), webinar=webinar))
        return report.entities["registrations"]
    finally:
        zoom.close()
        writer.close()


def posted(world: World, webinar: str) -> list[str]:
    answer = requests.get(f"{world.zoom.url}/_emulator/registrants/{webinar}", timeout=10).json()
    return sorted(r["email"] for r in answer["registrants"])


def registration_posts(world: World) -> int:
    return sum(world.zoom.stats()["requests"].get("POST /webinars/{webinarId}/registrants", {}).values())


def manual_webinar(world: World) -> Any:
    return next(w for w in world.account.all_webinars() if w.approval_type == 1 and w.registrants)


def test_denied_registrants_are_left_alone_unless_the_mapping_lists_statuses_without_denied(
    world: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    webinar = manual_webinar(world)
    denied = next(r for r in webinar.registrants if r["status"] == "denied")
    world.salesforce.app.state.store.create("Contact", {"FirstName": "Denied", "LastName": "Once",
                                                        "Email": denied["email"]})
    with StateStore.open(tmp_path / "state.db") as store:
        counts = registrations(world, store, mapping_set, str(webinar.id))
        assert (counts.read, counts.written, counts.unchanged) == (1, 0, 1)
        assert registration_posts(world) == 0  # the host denied them: not posted again and again
    folder = copy_mappings(tmp_path)
    replace_once(folder / "registrations.yaml", "statuses: [approved, pending, denied]",
                 "statuses: [approved, pending]")
    with StateStore.open(tmp_path / "other.db") as store:
        counts = registrations(world, store, load_mapping_set([folder]).raise_if_invalid(), str(webinar.id))
    assert counts.written == 1 and registration_posts(world) == 1  # the mapping said otherwise


def test_a_registrant_who_cancelled_is_left_alone_unless_the_mapping_says_register(
    world: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    webinar = str(manual_webinar(world).id)
    world.salesforce.app.state.store.create("Lead", {"FirstName": "Ana", "LastName": "Lee", "Company": "Q",
                                                     "Email": "lee@example.com"})
    with StateStore.open(tmp_path / "state.db") as store:
        assert registrations(world, store, mapping_set, webinar).written == 1
        world.zoom.post(f"registrants/{webinar}", {"email": "lee@example.com", "status": "cancelled"})
        again = registrations(world, store, mapping_set, webinar)
        assert (again.written, again.unchanged, registration_posts(world)) == (0, 1, 1)
        folder = copy_mappings(tmp_path)
        replace_once(folder / "registrations.yaml", "cancelled: leave", "cancelled: register")
        register = load_mapping_set([folder]).raise_if_invalid()
        assert registrations(world, store, register, webinar).written == 1
    assert registration_posts(world) == 2 and posted(world, webinar) == ["lee@example.com"]


def test_three_registrations_a_day_of_one_person_then_none_until_the_next_day(
    world: World, tmp_path: Path
) -> None:
    webinar = str(manual_webinar(world).id)
    folder = copy_mappings(tmp_path)
    replace_once(folder / "registrations.yaml", "cancelled: leave", "cancelled: register")
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    world.salesforce.app.state.store.create("Contact", {"FirstName": "Jo", "LastName": "Kim",
                                                        "Email": "kim@example.com"})
    with StateStore.open(tmp_path / "state.db") as store:
        for _ in range(3):  # each time the person cancels, the next run registers them again
            assert registrations(world, store, mapping_set, webinar).written == 1
            world.zoom.post(f"registrants/{webinar}", {"email": "kim@example.com", "status": "cancelled"})
        fourth = registrations(world, store, mapping_set, webinar)
        assert (fourth.written, fourth.failed, registration_posts(world)) == (0, 1, 4)
        (letter,) = store.dead_letters.find("registrations")
        assert letter.code == "ZOOM_429" and "daily rate limit of (3)" in letter.message
        fifth = registrations(world, store, mapping_set, webinar)
        assert (fifth.failed, registration_posts(world)) == (1, 4)  # not posted again the same UTC day
        world.zoom.post("new-day")
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        assert registrations(world, store, mapping_set, webinar, now=tomorrow).written == 1
    assert registration_posts(world) == 5


def test_the_reverse_flows_list_is_checked_by_validate(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "registrations.yaml", "    records: registrants\n", "    records: registrant\n")
    messages = [e["message"] for e in validate_errors(folder)]
    assert any("has no 'registrant' list of records" in m and "'registrants'" in m for m in messages), messages
    folder = copy_mappings(tmp_path / "second")
    text = (folder / "registrations.yaml").read_text(encoding="utf-8")
    start = text.index("  list:")
    end = text.index("disclosure:")
    (folder / "registrations.yaml").write_text(text[:start] + "\n" + text[end:], encoding="utf-8")
    messages = [e["message"] for e in validate_errors(folder)]
    assert any("a Zoom target with a match_key needs 'list'" in m for m in messages), messages
