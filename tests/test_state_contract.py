"""The state's contract, one suite run on both backends: a SQLite file and a real PostgreSQL server.

Runs, cursors, record hashes, dead letters, the inbox, the org binding and the run lock behave the
same whichever backend holds them; what only one backend does (WAL pragmas, flock, advisory locks
across sessions, a dropped connection) is tested in its own module.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import LockHeld, StateBoundElsewhere, StateError
from engine.sync.state.record_hashes import WrittenItem, payload_hash
from engine.sync.state.store import StateStore

BACKENDS = ["sqlite", "postgresql"]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a state lives: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "zoomforce.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(location: str, clock: FakeClock) -> Iterator[StateStore]:
    with StateStore.open(location, clock=clock) as opened:
        yield opened


def test_the_backend_is_the_one_asked_for(store: StateStore, location: str) -> None:
    assert store.dialect == ("postgresql" if location.startswith("postgresql://") else "sqlite")
    assert "@" not in store.path or ":" not in store.path.split("@")[0].split("//")[1], "no password in the name"


# ---- runs -------------------------------------------------------------------------------------


def test_runs_round_trip(store: StateStore, clock: FakeClock) -> None:
    first = store.runs.start("sync", ["meetings", "webinars"], {"dry_run": False, "since": None})
    clock.advance(5)
    second = store.runs.start("sync", ["registrants"], {"retry_dead_letters": True})
    store.runs.finish(first, "partial", {"entities": {"meetings": {"read": 3, "failed": 1}}})
    record = store.runs.get(first)
    assert record is not None and record.command == "sync" and record.entities == ["meetings", "webinars"]
    assert record.options == {"dry_run": False, "since": None}
    assert record.status == "partial" and record.summary == {"entities": {"meetings": {"read": 3, "failed": 1}}}
    assert record.started_at == "2024-05-01T12:00:00.000Z" and record.finished_at == "2024-05-01T12:00:05.000Z"
    assert record.pid == os.getpid()
    assert [run.id for run in store.runs.recent()] == [second, first]
    assert [run.id for run in store.runs.recent(limit=1)] == [second]
    assert store.runs.get(999) is None
    with pytest.raises(ValueError, match="running"):
        store.runs.finish(first, "running", {})  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="run 999"):
        store.runs.finish(999, "ok", {})
    assert store.runs.last_success() is None
    store.runs.finish(second, "ok", {})
    assert store.runs.last_success() == "2024-05-01T12:00:05.000Z"
    assert store.runs.last_success("dead-letters") is None


def test_a_run_of_a_dead_process_is_marked_interrupted(store: StateStore) -> None:
    alive = store.runs.start("sync", ["meetings"], {})
    gone = store.runs.start("sync", ["meetings"], {})
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    with store.transaction():
        store._db.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(finished.stdout), gone))
    assert store.runs.recover_interrupted() == [gone]
    assert store.runs.get(gone).status == "interrupted"  # type: ignore[union-attr]
    assert store.runs.get(alive).status == "running"  # type: ignore[union-attr]


# ---- cursors and record hashes ------------------------------------------------------------------


def test_cursors_round_trip(store: StateStore) -> None:
    assert store.cursors.get("meetings") is None
    store.cursors.set("meetings", "2024-05-01T00:00:00Z")
    store.cursors.set("meetings", "2024-05-02T00:00:00Z")
    store.cursors.set("webinars", "w-1")
    assert store.cursors.all() == {"meetings": "2024-05-02T00:00:00Z", "webinars": "w-1"}
    store.cursors.clear("meetings")
    assert store.cursors.get("meetings") is None and store.cursors.all() == {"webinars": "w-1"}


def test_detail_reads_round_trip(store: StateStore) -> None:
    reads = store.detail_reads
    store.hashes.remember_written("meetings", [("m1", {"a": 1}), ("m2", {"a": 2}), ("m3", {"a": 3})], None)
    store.hashes.remember_written("webinars", [("w1", {"a": 1})], None)
    assert reads.remember("meetings", [("1", "h1", "m1"), ("2", "h2", "m2")], "2026-01-01T10:00:00.000Z", None) == 2
    reads.remember("meetings", [("2", "h2b", "m2"), ("4", "h4", "m4")], "2026-01-02T10:00:00.000Z", None)
    reads.remember("webinars", [("1", "w", "w1")], "2026-01-02T10:00:00.000Z", None)
    assert reads.fresh("meetings", "2026-01-01T00:00:00.000Z") == {"1": "h1", "2": "h2b"}, "m4 was never written"
    assert reads.fresh("meetings", "2026-01-01T10:00:00.001Z") == {"2": "h2b"}, "older than max_age: left out"
    store.hashes.forget("meetings", "m2")
    assert reads.fresh("meetings", "2026-01-01T10:00:00.001Z") == {}, "its record forgotten: read in full again"
    reads.forget("meetings")
    assert reads.fresh("meetings", "2000-01-01T00:00:00.000Z") == {}
    reads.forget_all()
    assert reads.fresh("webinars", "2000-01-01T00:00:00.000Z") == {}


def test_record_hashes_round_trip(store: StateStore, clock: FakeClock) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    payload = {"Name": "Standup", "Zoom_Id__c": "1"}
    assert store.hashes.remember_written("meetings", [("1", payload, "a01"), ("2", payload_hash({"x": 2}))],
                                         run_id) == 2
    assert store.hashes.get("meetings", 1) == payload_hash(payload)
    assert store.hashes.unchanged("meetings", "1", payload) and not store.hashes.unchanged("meetings", "1", {})
    clock.advance(1)
    store.hashes.remember_written("meetings", [WrittenItem.of("1", {"Name": "B"}, None, ["Name"])], run_id)
    state = store.hashes.state("meetings", "1")
    assert state is not None and state.salesforce_id == "a01", "a known Salesforce id is kept"
    assert state.last_written_at == "2024-05-01T12:00:01.000Z" and state.snapshot() == {"Name": "***"}
    assert set(store.hashes.states("meetings", ["1", "2", "3", 1])) == {"1", "2"}
    assert store.hashes.count() == 2 and store.hashes.count("webinars") == 0
    assert store.hashes.forget("meetings", "2") and not store.hashes.forget("meetings", "2")
    assert store.hashes.forget_all() == 1 and store.hashes.count() == 0
    with pytest.raises(ValueError, match="not a payload hash"):
        store.hashes.remember_written("meetings", [("9", "not-a-hash")], run_id)


def test_commit_batch_is_all_or_nothing(store: StateStore) -> None:
    store.commit_batch("meetings", [("1", {"a": 1})], "c1", None)
    assert store.cursors.get("meetings") == "c1" and store.hashes.count() == 1
    with pytest.raises(RuntimeError), store.transaction():
        store.commit_batch("meetings", [("2", {"a": 2})], "c2", None)
        raise RuntimeError("Salesforce answered, then the process failed before the commit")
    assert store.cursors.get("meetings") == "c1" and store.hashes.get("meetings", "2") is None


def test_nested_transactions_roll_back_only_the_inner_block(store: StateStore) -> None:
    with store.transaction():
        store.cursors.set("a", "1")
        with pytest.raises(KeyError), store.transaction():
            store.cursors.set("b", "2")
            raise KeyError("inner")
        store.cursors.set("c", "3")
    assert store.cursors.all() == {"a": "1", "c": "3"}


# ---- dead letters -----------------------------------------------------------------------------


def test_dead_letters_upsert_attempts_resolve_discard_purge(store: StateStore, clock: FakeClock) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    first = store.dead_letters.add("meetings", 5, "MAPPING_X", "bad pwd=s3cret", {"id": 5, "password": "s3cret"},
                                   run_id, source_index=3, secret_fields=["password"])
    clock.advance(1)
    again = store.dead_letters.add("meetings", "5", "REMOTE", "503", {"id": 5}, run_id, attempt=4, secret_fields=())
    other = store.dead_letters.add("webinars", None, "X", "m", {}, run_id, secret_fields=())
    assert again == first and other != first
    letter = store.dead_letters.get(first)
    assert letter is not None and letter.attempts == 4 and letter.code == "REMOTE" and letter.source_index == 3
    assert [a.code for a in store.dead_letters.attempts(first)] == ["MAPPING_X", "REMOTE"]
    assert "s3cret" not in json.dumps(letter.as_json(evidence=True))
    assert "s3cret" not in store.dead_letters.attempts(first)[0].message
    assert store.dead_letters.counts() == {"meetings": 1, "webinars": 1}
    assert [d.id for d in store.dead_letters.find(ids=[])] == []
    assert [d.id for d in store.dead_letters.find(ids=[other])] == [other]
    store.dead_letters.bump(other, "Y", "again", run_id)
    assert store.dead_letters.get(other).attempts == 2  # type: ignore[union-attr]
    assert store.dead_letters.discard([other, 999], "not ours") == [other]
    store.commit_batch("meetings", [("5", {"id": 5})], None, run_id)
    assert store.dead_letters.get(first).status == "resolved"  # type: ignore[union-attr]
    assert store.dead_letters.count() == 0 and store.dead_letters.count(status=None) == 2
    assert store.dead_letters.oldest("resolved") == "2024-05-01T12:00:00.000Z"
    clock.advance(10)
    assert store.dead_letters.purge(clock.now) == 2 and store.dead_letters.find(status=None) == []


# ---- inbox ------------------------------------------------------------------------------------


def test_inbox_dedups_leases_retries_and_dies(store: StateStore, clock: FakeClock) -> None:
    body = json.dumps({"event": "meeting.started", "payload": {"object": {"id": 1}}}).encode()
    assert store.inbox.add("evt-1", "meeting.started", body) is True
    assert store.inbox.add("evt-1", "meeting.started", body + b" ") is False  # same id
    assert store.inbox.add("evt-2", "meeting.started", body) is False  # same body
    assert store.inbox.add("evt-3", "meeting.ended", b"\x00{}", datetime(2024, 1, 1, tzinfo=UTC)) is True
    assert store.inbox.pending_count() == 2 and store.inbox.oldest_waiting() == "2024-01-01T00:00:00.000Z"
    events = store.inbox.claim(1, lease_seconds=60)
    assert [(e.event_id, e.body, e.attempts) for e in events] == [("evt-3", b"\x00{}", 1)]
    assert events[0].lease_until == "2024-05-01T12:01:00.000Z"
    (second,) = store.inbox.claim(10, lease_seconds=60)
    assert second.body_sha256 == hashlib.sha256(body).hexdigest() and store.inbox.claim(10, 60) == []
    store.inbox.done(second.id)
    assert store.inbox.get(second.id).body == b""  # type: ignore[union-attr]
    clock.advance(61)  # the worker holding evt-3 died: its lease runs out
    (again,) = store.inbox.claim(10, lease_seconds=60)
    assert (again.event_id, again.attempts) == ("evt-3", 2)
    store.inbox.failed(again.id, "Salesforce HTTP 503", retry_after_seconds=120)
    assert store.inbox.claim(10, 60) == []
    clock.advance(120)
    (retry,) = store.inbox.claim(10, 60)
    store.inbox.dead(retry.id, "gave up")
    assert store.inbox.counts() == {"done": 1, "dead": 1} and store.inbox.requeue_dead() == 0
    assert store.inbox.dead_with_body() == []
    with pytest.raises(LookupError, match="inbox event 999"):
        store.inbox.done(999)


def test_inbox_expired_lease_without_attempts_left_goes_dead(store: StateStore, clock: FakeClock) -> None:
    store.inbox.add("evt-1", "meeting.started", b"poison")
    store.inbox.claim(1, lease_seconds=10, max_attempts=2)
    clock.advance(11)
    assert len(store.inbox.claim(1, lease_seconds=10, max_attempts=2)) == 1
    clock.advance(11)
    assert store.inbox.claim(1, lease_seconds=10, max_attempts=2) == []
    assert store.inbox.counts() == {"dead": 1} and len(store.inbox.dead_with_body()) == 1
    assert store.inbox.requeue_dead() == 1 and store.inbox.pending_count() == 1


def test_released_events_are_due_again_at_once_without_an_attempt_counted(store: StateStore) -> None:
    store.inbox.add("evt-1", "meeting.started", b"1")
    store.inbox.add("evt-2", "meeting.started", b"2")
    first, second = store.inbox.claim(10, lease_seconds=600)
    store.inbox.done(second.id)
    assert store.inbox.release([first.id, second.id, 999]) == 1, "only a leased event is given back"
    (again,) = store.inbox.claim(10, lease_seconds=600)
    assert (again.id, again.attempts) == (first.id, 1)


def test_two_stores_claim_disjoint_events(location: str, clock: FakeClock) -> None:
    with StateStore.open(location, clock=clock) as one, StateStore.open(location, clock=clock) as two:
        for number in range(20):
            one.inbox.add(f"evt-{number}", "meeting.started", f"{number}".encode())
        with one.transaction():  # one replica's claim is in flight, its rows locked...
            first = one.inbox.claim(5, lease_seconds=60)
            if one.dialect == "postgresql":  # ...and the other's skips them instead of waiting
                second = two.inbox.claim(5, lease_seconds=60)
                assert not {e.id for e in first} & {e.id for e in second}
        rest = two.inbox.claim(100, lease_seconds=60)
        assert not {e.id for e in first} & {e.id for e in rest}
        assert one.inbox.counts() == {"processing": 20}


# ---- binding ----------------------------------------------------------------------------------


def test_binding_binds_once_refuses_another_org_and_rebinds(store: StateStore) -> None:
    store.check_binding({"salesforce_org": "00D000000000001AAA"})
    store.check_binding({"salesforce_org": "00D000000000001", "zoom_account": "acct-1"})
    assert store.binding.get() == {"salesforce_org": "00D000000000001AAA", "zoom_account": "acct-1"}
    store.commit_batch("meetings", [("1", {"a": 1})], "c", None)
    with pytest.raises(StateBoundElsewhere):
        store.check_binding({"salesforce_org": "00D000000000002AAA"})
    store.check_binding({"salesforce_org": "00D000000000002AAA"}, rebind=True)
    assert store.binding.get()["salesforce_org"] == "00D000000000002AAA"
    assert store.hashes.count() == 0 and store.cursors.all() == {}


# ---- opening: migrations, other programs, dry-run copies, the lock -----------------------------


def test_reopening_keeps_everything_and_migrates_nothing(location: str) -> None:
    with StateStore.open(location) as first:
        first.cursors.set("meetings", "c1")
        version = first.schema_version
    with StateStore.open(location) as second:
        assert second.cursors.get("meetings") == "c1" and second.schema_version == version


def test_a_newer_schema_is_refused(store: StateStore, location: str) -> None:
    newer = store.schema_version + 1
    with store.transaction():
        if store.dialect == "postgresql":
            store._db.execute("UPDATE zoomforce_schema SET version = ?", (newer,))
        else:
            store._db.execute(f"PRAGMA user_version = {newer}")
    store.close()
    with pytest.raises(StateError, match=f"schema version {newer} is newer"):
        StateStore.open(location)


def test_a_state_of_another_program_is_refused(location: str) -> None:
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as other:
            other.execute("CREATE TABLE accounts (id INTEGER)")
    else:
        import sqlite3

        with sqlite3.connect(location) as other:
            other.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(StateError, match="not a zoomforce state"):
        StateStore.open(location)


def test_a_dry_run_copy_never_writes_the_state(location: str) -> None:
    with StateStore.open(location) as live:
        run_id = live.runs.start("sync", ["meetings"], {})
        live.commit_batch("meetings", [("1", {"a": 1})], "c1", run_id)
        live.inbox.add("evt-1", "meeting.started", b"body")
        live.check_binding({"salesforce_org": "00D000000000001AAA"})
    with StateStore.snapshot(location) as copy:
        assert copy.cursors.get("meetings") == "c1" and copy.hashes.count() == 1
        assert copy.binding.get() == {"salesforce_org": "00D000000000001AAA"}
        assert copy.inbox.get(1) is not None and copy.inbox.get(1).body == b"body"  # type: ignore[union-attr]
        copy.commit_batch("meetings", [("2", {"a": 2})], "c2", copy.runs.start("sync", [], {}))
        with copy.run_lock("sync"):
            pass
    with StateStore.open(location) as live:
        assert live.cursors.get("meetings") == "c1" and live.hashes.count() == 1 and len(live.runs.recent()) == 1


def test_one_run_at_a_time_on_the_same_work(location: str) -> None:
    with StateStore.open(location) as one, StateStore.open(location) as two:
        first = one.run_lock("sync meetings", org="org", account="a", entities=["meetings"])
        first.acquire()
        second = two.run_lock("sync meetings", org="org", account="a", entities=["meetings"])
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            second.acquire()
        first.release()
        first.release()
        with second:
            pass


def test_the_metrics_read_the_state_on_both_backends(store: StateStore, clock: FakeClock) -> None:
    from engine import metrics
    from engine.sync.observe import observe_state

    run_id = store.runs.start("sync", ["meetings"], {})
    store.runs.finish(run_id, "ok", {})
    store.inbox.add("evt-1", "meeting.started", b"1")
    store.dead_letters.add("meetings", "1", "X", "m", {}, run_id, secret_fields=())
    observe_state(store, now=clock.now + timedelta(seconds=30))
    text = metrics.exposition().decode()
    assert "zoomforce_inbox_depth 1.0" in text and 'entity="meetings"' in text


def test_a_renewed_lease_keeps_the_event_from_other_claimers(store: StateStore, clock: FakeClock) -> None:
    store.inbox.add("evt-1", "meeting.started", b"1")
    (event,) = store.inbox.claim(1, lease_seconds=60)
    clock.advance(50)
    assert store.inbox.extend([event.id, 999], lease_seconds=60) == 1
    clock.advance(50)  # past the first lease, not the renewed one
    assert store.inbox.claim(10, lease_seconds=60) == []
    clock.advance(11)
    assert [e.id for e in store.inbox.claim(10, lease_seconds=60)] == [event.id]
