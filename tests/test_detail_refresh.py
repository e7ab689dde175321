"""`detail: {refresh_when_changed, max_age}`: within max_age, a listed meeting whose signal fields
(its join_url, which carries the passcode, its times and topic) are as at its last detail read is
not read in detail again, and costs no Salesforce call.

Against the Zoom and Salesforce emulators over real sockets (the fixtures of ``tests/test_sync.py``),
the runner given the clock, the calls counted by the emulators themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.sync.runner import SyncOptions, SyncRunner
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from engine.zoom.reader import ZoomSource
from tests.helpers import copy_mappings, replace_once, validate_errors
from tests.test_sync import World, fresh, mapping_set, world  # noqa: F401 - fixtures

DETAIL = ("GET /meetings/{meetingId}", "GET /past_meetings/{meetingId}")
T0 = datetime.now(UTC)


def _zoom(emulators: World) -> dict[str, int]:
    return {route: sum(statuses.values()) for route, statuses in emulators.zoom.stats()["requests"].items()}


def _salesforce(emulators: World) -> dict[str, int]:
    return {route: sum(statuses.values()) for route, statuses in emulators.salesforce.stats()["routes"].items()}


def _sync(emulators: World, store: StateStore, mappings: MappingSet, at: datetime, **options: Any) -> Any:
    zoom, writer = emulators.zoom_client(), emulators.writer()
    try:
        return SyncRunner(mappings, store, ZoomSource(zoom), writer, now=lambda: at).run(
            SyncOptions(entities=("meetings",), **options))
    finally:
        zoom.close()
        writer.close()


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}


def test_an_unchanged_rerun_within_max_age_makes_only_list_calls(
        fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:  # noqa: F811 - the fixtures above
    listing = mapping_set.get("meetings").source.listing
    assert listing is not None and listing.detail_max_age == 86400 and "join_url" in listing.detail_signals
    meetings = len(list(fresh.account.all_meetings()))
    with StateStore.open(tmp_path / "state.db") as store:
        first = _sync(fresh, store, mapping_set, T0)
        assert first.entities["meetings"].written == meetings > 1
        assert _zoom(fresh)["GET /meetings/{meetingId}"] == meetings

        zoom_before, salesforce_before = _zoom(fresh), _salesforce(fresh)
        second = _sync(fresh, store, mapping_set, T0 + timedelta(hours=23))
        counts = second.entities["meetings"]
        assert (counts.read, counts.unchanged, counts.written, counts.failed) == (meetings, meetings, 0, 0)
        made = _delta(_zoom(fresh), zoom_before)
        assert not set(made) & set(DETAIL), f"no meeting read in detail: {made}"
        assert made["GET /users/{userId}/meetings"] == len(list(fresh.account.all_users()))
        # the users (read only as the meetings' parent) still are read; of Salesforce, only the login and
        # the run's preflight describe: no write, no query
        assert set(_delta(_salesforce(fresh), salesforce_before)) <= {"oauth_token", "describe"}

        changed = next(iter(fresh.account.all_meetings()))
        changed.encrypted = "a-new-passcode"  # the passcode changes: the listed join_url with it
        zoom_before = _zoom(fresh)
        third = _sync(fresh, store, mapping_set, T0 + timedelta(hours=23, minutes=30))
        assert _delta(_zoom(fresh), zoom_before)["GET /meetings/{meetingId}"] == 1
        assert third.entities["meetings"].written == 1 and third.entities["meetings"].unchanged == meetings - 1

        zoom_before = _zoom(fresh)
        late = _sync(fresh, store, mapping_set, T0 + timedelta(hours=25))  # past max_age: read in full again
        assert _delta(_zoom(fresh), zoom_before)["GET /meetings/{meetingId}"] == meetings - 1
        assert late.entities["meetings"].written == 0

        zoom_before = _zoom(fresh)
        _sync(fresh, store, mapping_set, T0 + timedelta(hours=26), full_refresh=True)
        assert _delta(_zoom(fresh), zoom_before)["GET /meetings/{meetingId}"] == meetings


def test_a_signal_field_the_list_lacks_is_refused_by_validate(tmp_path: Path) -> None:
    mappings = copy_mappings(tmp_path)
    replace_once(mappings / "meetings.yaml", "refresh_when_changed: [join_url, start_time,",
                 "refresh_when_changed: [join_url, password,")  # the password is in the detail, not the list
    errors = validate_errors(mappings)
    assert [(e["path"], e["message"].split(" in ")[0]) for e in errors] == [
        ("source.list.detail.refresh_when_changed[1]", "unknown field 'password'")]
    replace_once(mappings / "meetings.yaml", "max_age: 24h", "max_age: a day")
    assert any(e["path"] == "source.list.detail.max_age" for e in validate_errors(mappings))
