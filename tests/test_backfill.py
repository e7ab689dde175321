"""Backfill: ``--since`` / ``--until`` bound every entity whose Zoom listing can be bounded in time.

The mappings declare the window (``source.list.window``): the query parameters Zoom takes (the call
history, a user's meetings, the meeting report), or a time of the listed record the sync filters
on (webinars); a child read under a bounded parent is bounded with it. An entity that cannot be
bounded is read whole, and the run says so in a warning naming it. The Zoom emulator honours the
same window parameters as Zoom, so what is read can be checked against its account.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.zoom.app import ZoomEmulatorConfig
from engine.emulators.zoom.data import Account, MeetingData
from engine.sync.runner import SyncOptions, SyncRunner
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet, load_mapping_set
from engine.zoom.reader import Window, ZoomSource
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, copy_mappings, replace_once, validate_errors
from tests.test_sync import World, _servers, _stop

USERS = 6


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = _servers(ZoomEmulatorConfig(users=USERS), SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS),
                     tmp_path_factory.mktemp("bf-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", built.ca_file)
        yield built
    _stop(built)


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


def sync(world: World, store: StateStore, mappings: MappingSet, **options: Any) -> tuple[SyncRunner, Any]:
    zoom, writer = world.zoom_client(), world.writer()
    try:
        runner = SyncRunner(mappings, store, ZoomSource(zoom), writer)
        return runner, runner.run(SyncOptions(**options))
    finally:
        zoom.close()
        writer.close()


def past_meetings(account: Account) -> list[MeetingData]:
    found = [account.find_meeting(str(i)) for i in account.past_meeting_ids()]
    return [m for m in found if m is not None]


def day(moment: Any) -> date:
    return moment.date()


def zoom_get(world: World, path: str, **params: str) -> httpx.Response:
    token = httpx.post(f"{world.zoom.url}/oauth/token", auth=("demo", "demo"), trust_env=False,
                       params={"grant_type": "account_credentials", "account_id": "demo"}).json()["access_token"]
    return httpx.get(f"{world.zoom.url}/v2{path}", params=params, headers={"Authorization": f"Bearer {token}"},
                     trust_env=False, timeout=10)


# ---- the emulator honours Zoom's window parameters ---------------------------------------------------


def test_the_meeting_report_lists_past_meetings_started_in_its_range_and_refuses_more_than_a_month(
    world: World
) -> None:
    user = world.account.user_at(2)
    held = [m for m in user.meetings if m.past]
    assert len(held) >= 2
    first, last = min(day(m.actual_start) for m in held), max(day(m.actual_start) for m in held)
    answer = zoom_get(world, f"/report/users/{user.id}/meetings", **{"from": str(last), "to": str(last)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"]) == (str(last), str(last))
    assert {m["id"] for m in body["meetings"]} == {m.id for m in held if day(m.actual_start) == last}
    assert all({"uuid", "id", "start_time", "end_time", "participants_count", "type"} <= set(m)
               for m in body["meetings"])
    whole = zoom_get(world, f"/report/users/{user.id}/meetings", **{"from": str(first), "to": str(last)})
    assert {m["id"] for m in whole.json()["meetings"]} == {m.id for m in held}
    too_long = zoom_get(world, f"/report/users/{user.id}/meetings", **{"from": "2025-01-01", "to": "2025-03-01"})
    assert too_long.status_code == 400 and too_long.json()["code"] == 300
    missing = zoom_get(world, f"/report/users/{user.id}/meetings", **{"from": "2025-01-01"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "to"


def test_a_users_meetings_are_bounded_by_from_and_to(world: World) -> None:
    user = world.account.user_at(2)
    starts = sorted(day(m.start) for m in user.meetings)
    since = starts[1]
    answer = zoom_get(world, f"/users/{user.id}/meetings", **{"from": str(since)})
    assert {m["id"] for m in answer.json()["meetings"]} == {m.id for m in user.meetings if day(m.start) >= since}
    until = zoom_get(world, f"/users/{user.id}/meetings", to=str(starts[0]))
    assert {m["id"] for m in until.json()["meetings"]} == {m.id for m in user.meetings if day(m.start) <= starts[0]}
    assert len(zoom_get(world, f"/users/{user.id}/meetings").json()["meetings"]) == len(user.meetings)


# ---- the sync reads what the window holds ----------------------------------------------------------------


def test_since_reads_the_past_meetings_in_the_window_through_the_report(
    world: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    world.salesforce.post("reset")
    held = past_meetings(world.account)
    days = sorted({day(m.actual_start) for m in held})
    since, until = days[1], days[-2]
    inside = {str(m.id) for m in held if since <= day(m.actual_start) <= until}
    assert inside and len(inside) < len(held), "the window holds some past meetings, not all"
    with StateStore.open(tmp_path / "s.db") as store:
        _, report = sync(world, store, mapping_set, entities=("past_meetings",), since=since, until=until)
        assert report.entities["past_meetings"].read == len(inside)
        assert report.failed == 0
        assert store.cursors.get("past_meetings") == until.isoformat()
        assert set(store.hashes.states("past_meetings", [str(m.id) for m in held])) == inside
        requests = world.zoom.stats()["requests"]
        assert "GET /report/users/{userId}/meetings" in requests
        # the next run, without --since, starts at the cursor: the later meetings come in
        _, following = sync(world, store, mapping_set, entities=("past_meetings",))
        later = {str(m.id) for m in held if day(m.actual_start) >= until}
        assert following.entities["past_meetings"].read == len(later)


def test_since_bounds_the_meetings_and_webinars_and_the_children_read_under_them(
    world: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    world.salesforce.post("reset")
    account = world.account
    meetings = [m for i in account.meeting_ids() if (m := account.find_meeting(str(i))) is not None]
    webinars = [w for i in account.webinar_ids() if (w := account.find_webinar(str(i))) is not None]
    since = day(account.now)  # the upcoming ones: today on
    with StateStore.open(tmp_path / "s.db") as store:
        _, report = sync(world, store, mapping_set, entities=("meetings", "registrants"), since=since)
        assert report.entities["meetings"].read == sum(1 for m in meetings if day(m.start) >= since)
        upcoming = [w for w in webinars if day(w.start) >= since]
        assert 0 < len(upcoming) < len(webinars)
        assert report.entities["webinars"].read == len(upcoming)
        assert report.entities["registrants"].read == sum(
            1 for w in upcoming for r in w.registrants if r["status"] == "approved")
        assert store.cursors.get("meetings") is None and store.cursors.get("webinars") is None, \
            "a listing read whole by default keeps no cursor"
        _, whole = sync(world, store, mapping_set, entities=("meetings",))
        assert whole.entities["meetings"].read == len(meetings)


def test_since_on_an_entity_that_cannot_be_bounded_says_so_naming_it(
    world: World, mapping_set: MappingSet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zoomforce")
    with StateStore.open(tmp_path / "s.db") as store:
        runner, report = sync(world, store, mapping_set, entities=("users", "calls"), since=day(world.account.now))
    warned = [r for r in caplog.records if getattr(r, "event", None) == "window.unbounded"]
    assert [(r.levelname, r.entity) for r in warned] == [("WARNING", "users")]  # type: ignore[attr-defined]
    assert warned[0].getMessage() == ("users: --since/--until do not apply: its listing (GET /users) cannot be "
                                      "bounded in time; every record is read")
    assert report.entities["users"].read == USERS
    assert runner.bounded("registrants") and runner.bounded("participants") and runner.bounded("past_meetings")
    assert not runner.bounded("users") and not runner.bounded("registrations")
    caplog.clear()
    with StateStore.open(tmp_path / "t.db") as store:
        sync(world, store, mapping_set, entities=("calls",))
    assert not [r for r in caplog.records if getattr(r, "event", None) == "window.unbounded"], "no --since: no word"


# ---- the window itself ----------------------------------------------------------------------------------


def test_a_window_splits_into_the_days_an_endpoint_takes_and_holds_times_by_their_utc_date() -> None:
    window = Window(date(2026, 1, 1), date(2026, 3, 1))
    parts = window.split(30)
    assert [(p.since, p.until) for p in parts] == [(date(2026, 1, 1), date(2026, 1, 30)),
                                                  (date(2026, 1, 31), date(2026, 3, 1))]
    assert Window(date(2026, 1, 1), None).split(30) == [Window(date(2026, 1, 1), None)]
    assert window.holds("2026-01-01T00:00:00Z") and window.holds("2026-03-01T23:59:59Z")
    assert not window.holds("2025-12-31T23:59:59Z") and not window.holds("2026-03-02T00:00:00Z")
    assert window.holds("2026-03-02T01:00:00+05:00") is not False  # 2026-03-01 20:00 UTC: inside
    assert window.holds(None) and window.holds("soon")  # no time: not left out
    assert Window(None, date(2026, 1, 1)).holds("1999-01-01T00:00:00Z")
    assert not Window(date(2026, 1, 2), None).holds("2026-01-01")


# ---- validate checks the declared window ----------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "message"), [
    ("window: {from: from, to: to, max_days: 30}\n", "window: {from: start, to: to, max_days: 30}\n",
     "source.list.window.from: GET /phone/call_history takes no query parameter 'start'"),
    ("window: {from: from, to: to, max_days: 30}\n", "window: {max_days: 30}\n",
     "source.list.window: a window needs the query parameters that bound it (from, to) or the record's time"),
])
def test_validate_refuses_a_call_window_zoom_does_not_take(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = copy_mappings(tmp_path)
    line, _ = replace_once(folder / "calls.yaml", old, new)
    (error,) = validate_errors(folder)
    assert error["file"].endswith("calls.yaml") and error["line"] == line
    assert message in f"{error['path']}: {error['message']}"


def test_validate_checks_the_window_field_and_the_filter_against_the_listed_items(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "webinars.yaml", "window: {field: start_time,", "window: {field: start_tme,")
    replace_once(folder / "past_meetings.yaml", 'filter: "!contains(`[5, 6, 9]`, type)"',
                 'filter: "!contains(`[5, 6, 9]`, kind)"')
    errors = {(e["file"].rsplit("/", 1)[-1], e["path"]): e["message"] for e in validate_errors(folder)}
    assert errors[("webinars.yaml", "source.list.window.field")] == \
        "unknown field 'start_tme' in an item of GET /users/{userId}/webinars; did you mean 'start_time'?"
    assert errors[("past_meetings.yaml", "source.list.filter")].startswith(
        "unknown field 'kind' in an item of GET /report/users/{userId}/meetings")
