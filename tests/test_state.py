"""The state store: every API round trip, atomicity, a real kill -9, threads, broken files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import ConfigError, StateError
from engine.secrets import redact
from engine.sync.state import database as state_module
from engine.sync.state.database import SCHEMA_VERSION
from engine.sync.state.record_hashes import WrittenItem, payload_hash
from engine.sync.state.store import StateStore
from tests.helpers import REPO

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


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


@pytest.fixture
def store(clock: FakeClock) -> Iterator[StateStore]:
    with StateStore.open(":memory:", clock=clock) as opened:
        yield opened


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "zoomforce.db"


def _keys(store: StateStore, entity: str) -> set[str]:
    rows = store._db.connection.execute("SELECT key FROM record_hashes WHERE entity = ?", (entity,)).fetchall()
    return {row["key"] for row in rows}


# ---- opening, pragmas, migrations -------------------------------------------------------------


def test_open_configures_wal_and_persists(db_path: Path) -> None:
    with StateStore.open(db_path) as store:
        pragma = {
            name: store._db.connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version")
        }
        store.cursors.set("meetings", "2024-05-01T00:00:00Z")
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 10_000,
        "user_version": SCHEMA_VERSION,
    }
    with StateStore.open(str(db_path)) as again:
        assert again.schema_version == SCHEMA_VERSION == 4
        assert again.cursors.get("meetings") == "2024-05-01T00:00:00Z"


def test_migrations_are_forward_only(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with StateStore.open(db_path) as store:
        store.cursors.set("webinars", "w1")
    following = ("CREATE TABLE extra (id INTEGER PRIMARY KEY)",)
    next_version = len(state_module.MIGRATIONS) + 1
    monkeypatch.setattr(state_module, "MIGRATIONS", (*state_module.MIGRATIONS, following))
    monkeypatch.setattr(state_module, "SCHEMA_VERSION", next_version)
    with StateStore.open(db_path) as store:  # earlier versions are not replayed (they would fail)
        assert store.schema_version == next_version
        assert store._db.connection.execute("SELECT COUNT(*) FROM extra").fetchone()[0] == 0
        assert store.cursors.get("webinars") == "w1"


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    StateStore.open(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StateError, match="newer than this zoomforce") as caught:
        StateStore.open(db_path)
    assert str(db_path) in str(caught.value)


def test_a_corrupt_file_is_one_readable_state_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite, just garbage \x00\xff" * 200)
    with pytest.raises(StateError) as caught:
        StateStore.open(db_path)
    message = str(caught.value)
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    assert str(db_path) in message and "corrupt" in message and "\n" not in message


def test_a_missing_folder_is_a_state_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "state.db"
    with pytest.raises(StateError, match=re.escape(str(missing))):
        StateStore.open(missing)


def test_a_locked_file_is_a_state_error_naming_it(db_path: Path) -> None:
    StateStore.open(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with StateStore.open(db_path, busy_timeout_ms=50) as store, pytest.raises(StateError) as caught:
            store.cursors.set("meetings", "x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(db_path) in str(caught.value) and "locked" in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions that apply")
def test_a_read_only_file_is_a_state_error(db_path: Path) -> None:
    with StateStore.open(db_path) as store:
        store.cursors.set("meetings", "x")
    for leftover in db_path.parent.glob("zoomforce.db-*"):
        leftover.unlink()
    db_path.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        with pytest.raises(StateError, match=re.escape(str(db_path))), StateStore.open(db_path) as store:
            store.cursors.set("meetings", "y")
    finally:
        db_path.parent.chmod(0o755)
        db_path.chmod(0o644)


def test_closed_store_raises_state_error(store: StateStore) -> None:
    store.close()
    store.close()
    with pytest.raises(StateError, match=":memory:"):
        store.cursors.get("meetings")


# ---- runs -------------------------------------------------------------------------------------


def test_runs_round_trip(store: StateStore, clock: FakeClock) -> None:
    first = store.runs.start("sync", ["meetings", "webinars"], {"dry_run": False, "since": None})
    clock.advance(5)
    second = store.runs.start("sync", ["registrants"], {"retry_dead_letters": True})
    store.runs.finish(first, "partial", {"entities": {"meetings": {"read": 3, "failed": 1}}})

    record = store.runs.get(first)
    assert record is not None
    assert record.command == "sync" and record.entities == ["meetings", "webinars"]
    assert record.options == {"dry_run": False, "since": None}
    assert record.status == "partial" and record.summary == {"entities": {"meetings": {"read": 3, "failed": 1}}}
    assert record.started_at == "2024-05-01T12:00:00.000Z" and record.finished_at == "2024-05-01T12:00:05.000Z"
    assert record.pid == os.getpid()
    assert [run.id for run in store.runs.recent()] == [second, first]
    assert [run.id for run in store.runs.recent(limit=1)] == [second]
    assert store.runs.get(second).status == "running"  # type: ignore[union-attr]
    assert store.runs.get(999) is None


def test_finish_run_checks_status_and_id(store: StateStore) -> None:
    run_id = store.runs.start("sync", [], {})
    with pytest.raises(ValueError, match="running"):
        store.runs.finish(run_id, "running", {})  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="run 42"):
        store.runs.finish(42, "ok", {})


def test_a_live_run_is_not_marked_interrupted(store: StateStore) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    assert store.runs.recover_interrupted() == []
    assert store.runs.get(run_id).status == "running"  # type: ignore[union-attr]


def test_a_run_of_a_dead_process_is_marked_interrupted(store: StateStore) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    store._db.connection.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(finished.stdout), run_id))
    assert store.runs.recover_interrupted() == [run_id]
    assert store.runs.get(run_id).status == "interrupted"  # type: ignore[union-attr]
    assert store.runs.recover_interrupted() == []


# ---- cursors ----------------------------------------------------------------------------------


def test_cursors_round_trip(store: StateStore) -> None:
    assert store.cursors.get("meetings") is None
    store.cursors.set("meetings", "2024-05-01T00:00:00Z")
    store.cursors.set("meetings", "2024-05-02T00:00:00Z")
    store.cursors.set("webinars", "next-page-token-42")
    assert store.cursors.get("meetings") == "2024-05-02T00:00:00Z"
    assert store.cursors.all() == {"meetings": "2024-05-02T00:00:00Z", "webinars": "next-page-token-42"}
    store.cursors.clear("meetings")
    assert store.cursors.get("meetings") is None


# ---- hashes -----------------------------------------------------------------------------------


def test_payload_hash_is_sha256_of_canonical_json() -> None:
    payload = {"b": [1, 2], "a": "été", "c": {"y": None, "x": True}}
    canonical = '{"a":"été","b":[1,2],"c":{"x":true,"y":null}}'
    assert payload_hash(payload) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert payload_hash(dict(reversed(list(payload.items())))) == payload_hash(payload)
    assert payload_hash({"a": "ete"}) != payload_hash({"a": "été"})


def test_record_hashes_round_trip(store: StateStore, clock: FakeClock) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    first, second = {"Name": "Standup", "Duration__c": 30}, {"Name": "Retro", "Duration__c": 60}
    assert not store.hashes.unchanged("meetings", 1, first)
    count = store.hashes.remember_written(
        "meetings",
        [(1, first), ("2", payload_hash(second), "a0B000000000001"), WrittenItem.of("3", second)],
        run_id,
    )
    assert count == 3
    assert store.hashes.unchanged("meetings", "1", first) and store.hashes.unchanged("meetings", 1, first)
    assert not store.hashes.unchanged("meetings", 1, {**first, "Duration__c": 45})
    assert not store.hashes.unchanged("webinars", 1, first)
    assert store.hashes.get("meetings", 2) == payload_hash(second)

    clock.advance(60)
    store.hashes.remember_written("meetings", [("2", {"Name": "Retro 2"})], run_id)  # no Salesforce id this time
    state = store.hashes.state("meetings", 2)
    assert state is not None
    assert state.salesforce_id == "a0B000000000001" and state.payload_hash == payload_hash({"Name": "Retro 2"})
    assert state.last_written_at == "2024-05-01T12:01:00.000Z" and state.run_id == run_id

    assert store.hashes.forget("meetings", 1) is True
    assert store.hashes.forget("meetings", 1) is False
    assert store.hashes.get("meetings", 1) is None and not store.hashes.unchanged("meetings", 1, first)


def test_remember_written_is_all_or_nothing(store: StateStore) -> None:
    def items() -> Iterator[tuple[str, dict[str, int]]]:
        yield ("1", {"n": 1})
        yield ("2", {"n": 2})
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        store.hashes.remember_written("meetings", items(), None)
    with pytest.raises(ValueError, match="payload hash"):
        store.hashes.remember_written("meetings", [("1", payload_hash({"n": 1})), ("2", "not-a-hash")], None)
    assert _keys(store, "meetings") == set()


# ---- checkpoint -------------------------------------------------------------------------------


def test_commit_batch_moves_hashes_and_cursor_together(store: StateStore) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    store.commit_batch("meetings", [WrittenItem.of("1", {"n": 1}, "a01")], "2024-05-01T00:00:00Z", run_id)
    store.commit_batch("meetings", [WrittenItem.of("2", {"n": 2})], None, run_id)  # mid-page: cursor stays
    assert _keys(store, "meetings") == {"1", "2"}
    assert store.cursors.get("meetings") == "2024-05-01T00:00:00Z"
    assert store.hashes.state("meetings", "1").salesforce_id == "a01"  # type: ignore[union-attr]


def test_commit_batch_failing_inside_stores_nothing(store: StateStore) -> None:
    store.commit_batch("meetings", [WrittenItem.of("1", {"n": 1})], "c1", None)
    # The cursor write, which comes after the hashes, fails at the database level.
    store._db.connection.execute(
        "CREATE TEMP TRIGGER fail_cursor BEFORE UPDATE ON cursors BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(StateError, match="disk on fire"):
        store.commit_batch("meetings", [WrittenItem.of("2", {"n": 2}), WrittenItem.of("3", {"n": 3})], "c2", None)
    assert _keys(store, "meetings") == {"1"}
    assert store.cursors.get("meetings") == "c1"


def test_a_failure_in_the_callers_transaction_stores_nothing(store: StateStore) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    for error in (RuntimeError("Salesforce said no"), KeyboardInterrupt()):
        with pytest.raises(type(error)), store.transaction():
            store.dead_letters.add("meetings", "9", "TooLong", "too long", {"id": 9}, run_id, secret_fields=())
            store.commit_batch("meetings", [WrittenItem.of("1", {"n": 1})], "c1", run_id)
            raise error
    assert _keys(store, "meetings") == set()
    assert store.cursors.get("meetings") is None and store.dead_letters.count() == 0


def test_nested_transactions_roll_back_only_the_inner_block(store: StateStore) -> None:
    with store.transaction():
        store.cursors.set("meetings", "outer")
        with pytest.raises(RuntimeError), store.transaction():
            store.cursors.set("webinars", "inner")
            raise RuntimeError
        store.cursors.set("users", "after")
    assert store.cursors.all() == {"meetings": "outer", "users": "after"}


# ---- dead letters -----------------------------------------------------------------------------


def test_redact_at_any_depth() -> None:
    record = {
        "id": 1,
        "password": "hunter2",
        "settings": {"password": "p1", "h323_password": "p2", "topic": "ok", "deep": {"token": {"a": 1}}},
        "occurrences": [{"password": "p3", "start": "x"}],
        "tracking": {"password": "keep-me-not"},
    }
    result = redact(record, ["password", "settings.h323_password", "token"])
    assert result == {
        "id": 1,
        "password": "***",
        "settings": {"password": "***", "h323_password": "***", "topic": "ok", "deep": {"token": "***"}},
        "occurrences": [{"password": "***", "start": "x"}],
        "tracking": {"password": "***"},
    }
    assert record["settings"]["password"] == "p1"  # type: ignore[index]
    assert redact({"h323_password": "x"}, ["settings.h323_password"]) == {"h323_password": "x"}


def test_add_dead_letter_redacts_itself(store: StateStore) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    record = {"id": 7, "topic": "Board", "settings": {"password": "s3cr3t!"}}
    dead_id = store.dead_letters.add(
        "meetings",
        7,
        "CoercionError",
        "cannot use 's3cr3t!' as number",
        record,
        run_id,
        4,
        secret_fields=["password"],
    )
    stored = store.dead_letters.get(dead_id)
    assert stored is not None
    assert stored.record == {"id": 7, "topic": "Board", "settings": {"password": "***"}}
    assert stored.message == "cannot use '***' as number"
    assert stored.key == "7" and stored.source_index == 4 and stored.attempts == 1 and stored.status == "open"
    raw = store._db.connection.execute("SELECT record, message FROM dead_letters").fetchone()
    assert "s3cr3t" not in raw["record"] and "s3cr3t" not in raw["message"]
    with pytest.raises(TypeError):
        store.dead_letters.add("meetings", 8, "X", "m", record, run_id)  # type: ignore[call-arg]


def test_dead_letters_upsert_resolve_bump_and_count(store: StateStore, clock: FakeClock) -> None:
    run_id = store.runs.start("sync", ["meetings", "webinars"], {})
    first = store.dead_letters.add("meetings", "1", "TooLong", "topic too long", {"v": 1}, run_id, secret_fields=())
    clock.advance(1)
    again = store.dead_letters.add("meetings", "1", "CoercionError", "bad time", {"v": 2}, run_id, 3, secret_fields=())
    other = store.dead_letters.add("webinars", "1", "TooLong", "x", {}, run_id, secret_fields=())
    keyless = [
        store.dead_letters.add("meetings", None, "MissingValue", "no id", {}, run_id, secret_fields=())
        for _ in range(2)
    ]
    assert again == first and other != first and keyless[0] != keyless[1]

    letter = store.dead_letters.get(first)
    assert letter is not None
    assert (letter.code, letter.message, letter.record, letter.attempts) == ("CoercionError", "bad time", {"v": 2}, 2)
    assert letter.source_index == 3 and letter.created_at < letter.updated_at
    assert store.dead_letters.count() == 4 and store.dead_letters.count("meetings") == 3
    assert store.dead_letters.counts() == {"meetings": 3, "webinars": 1}
    assert [d.id for d in store.dead_letters.find("webinars")] == [other]

    store.dead_letters.bump(first, "RemoteError", "Salesforce HTTP 503")
    bumped = store.dead_letters.get(first)
    assert bumped is not None and (bumped.attempts, bumped.code) == (3, "RemoteError")

    store.dead_letters.resolve(first, run_id)
    resolved = store.dead_letters.get(first)
    assert resolved is not None and resolved.status == "resolved" and resolved.resolved_run_id == run_id
    assert store.dead_letters.count("meetings") == 2 and store.dead_letters.count(status="resolved") == 1
    assert store.dead_letters.add("meetings", "1", "TooLong", "again", {}, run_id, secret_fields=()) != first
    assert len(store.dead_letters.find(status=None)) == 5
    with pytest.raises(LookupError, match="dead letter 999"):
        store.dead_letters.bump(999, "X", "y")


def test_writing_a_record_resolves_its_open_dead_letter(store: StateStore) -> None:
    run_id = store.runs.start("sync", ["meetings"], {})
    dead_id = store.dead_letters.add("meetings", "5", "RemoteError", "503", {"id": 5}, run_id, secret_fields=())
    store.commit_batch("meetings", [WrittenItem.of("5", {"n": 5})], "c", run_id)
    letter = store.dead_letters.get(dead_id)
    assert letter is not None and letter.status == "resolved" and store.dead_letters.count() == 0


# ---- inbox ------------------------------------------------------------------------------------


def test_inbox_dedups_by_event_id_and_by_body(store: StateStore) -> None:
    body = json.dumps({"event": "meeting.started", "payload": {"object": {"id": 1}}}).encode()
    assert store.inbox.add("evt-1", "meeting.started", body) is True
    assert store.inbox.add("evt-1", "meeting.started", body + b" ") is False  # same id
    assert store.inbox.add("evt-2", "meeting.started", body) is False  # same body
    assert store.inbox.add("evt-3", "meeting.ended", b"{}", datetime(2024, 1, 1, tzinfo=UTC)) is True
    assert store.inbox.pending_count() == 2
    events = store.inbox.claim(10, lease_seconds=30)
    assert [(e.event_id, e.body, e.attempts) for e in events] == [("evt-3", b"{}", 1), ("evt-1", body, 1)]
    assert events[0].received_at == "2024-01-01T00:00:00.000Z"
    assert events[1].body_sha256 == hashlib.sha256(body).hexdigest()


def test_inbox_lease_expiry_reclaims(store: StateStore, clock: FakeClock) -> None:
    store.inbox.add("evt-1", "meeting.started", b"1")
    store.inbox.add("evt-2", "meeting.started", b"2")
    claimed = store.inbox.claim(1, lease_seconds=60)
    assert [e.event_id for e in claimed] == ["evt-1"] and claimed[0].status == "processing"
    assert claimed[0].lease_until == "2024-05-01T12:01:00.000Z"
    assert [e.event_id for e in store.inbox.claim(10, lease_seconds=60)] == ["evt-2"]
    assert store.inbox.claim(10, lease_seconds=60) == []
    store.inbox.done(claimed[0].id)
    done = store.inbox.get(claimed[0].id)
    assert done is not None and done.body == b"" and done.body_sha256 == hashlib.sha256(b"1").hexdigest()
    assert store.inbox.add("evt-1", "meeting.started", b"1") is False, "a redelivery is still recognised"
    clock.advance(61)  # the worker holding evt-2 crashed: its lease runs out
    again = store.inbox.claim(10, lease_seconds=60)
    assert [(e.event_id, e.attempts) for e in again] == [("evt-2", 2)]
    assert store.inbox.counts() == {"done": 1, "processing": 1}
    assert store.inbox.pending_count() == 1


def test_inbox_failed_backs_off_then_dies(store: StateStore, clock: FakeClock) -> None:
    store.inbox.add("evt-1", "webinar.registration_created", b"x")
    (event,) = store.inbox.claim(5, lease_seconds=30)
    store.inbox.failed(event.id, "Salesforce HTTP 503", retry_after_seconds=120)
    failed = store.inbox.get(event.id)
    assert failed is not None and failed.status == "pending" and failed.last_error == "Salesforce HTTP 503"
    assert failed.next_attempt_at == "2024-05-01T12:02:00.000Z" and failed.lease_until is None
    clock.advance(119)
    assert store.inbox.claim(5, lease_seconds=30) == []
    clock.advance(1)
    (retry,) = store.inbox.claim(5, lease_seconds=30)
    assert retry.attempts == 2
    store.inbox.dead(retry.id, "gave up after 2 attempts")
    dead = store.inbox.get(retry.id)
    assert dead is not None and dead.status == "dead" and dead.last_error == "gave up after 2 attempts"
    assert dead.body == b"", "a dead event keeps no body (its records are dead letters)"
    assert store.inbox.pending_count() == 0 and store.inbox.claim(5, lease_seconds=30) == []
    assert store.inbox.requeue_dead() == 0, "nothing left to requeue: never forever"
    assert store.inbox.add("evt-1", "webinar.registration_created", b"x") is False, "a redelivery is recognised"
    with pytest.raises(LookupError, match="inbox event 999"):
        store.inbox.done(999)


def test_inbox_expired_lease_without_attempts_left_goes_dead(store: StateStore, clock: FakeClock) -> None:
    store.inbox.add("evt-1", "meeting.started", b"poison")
    store.inbox.claim(1, lease_seconds=10, max_attempts=2)
    clock.advance(11)
    assert len(store.inbox.claim(1, lease_seconds=10, max_attempts=2)) == 1
    clock.advance(11)
    assert store.inbox.claim(1, lease_seconds=10, max_attempts=2) == []
    assert store.inbox.counts() == {"dead": 1}


def test_inbox_add_commits_with_full_sync_unless_inside_a_transaction(db_path: Path) -> None:
    with StateStore.open(db_path) as store:
        seen: list[str] = []
        store._db.connection.set_trace_callback(seen.append)
        store.inbox.add("evt-1", "meeting.started", b"1")
        with store.transaction():  # the caller's commit decides: the pragma is left alone
            store.inbox.add("evt-2", "meeting.started", b"2")
        store._db.connection.set_trace_callback(None)
        assert [line for line in seen if "synchronous" in line] == [
            "PRAGMA synchronous = FULL",
            "PRAGMA synchronous = NORMAL",
        ]
        assert store._db.connection.execute("PRAGMA synchronous").fetchone()[0] == 1
        assert store.inbox.counts() == {"pending": 2}


# ---- threads ----------------------------------------------------------------------------------


def _hammer(store: StateStore, worker: int, errors: list[BaseException]) -> None:
    try:
        for batch in range(40):
            items = [WrittenItem.of(f"{worker}-{batch}-{i}", {"i": i}) for i in range(5)]
            store.commit_batch(f"entity{worker}", items, f"c{batch}", None)
            store.inbox.add(f"evt-{worker}-{batch}", "meeting.started", f"{worker}/{batch}".encode())
            store.inbox.claim(2, lease_seconds=30)
    except BaseException as error:
        errors.append(error)


def test_threads_share_one_store(db_path: Path) -> None:
    errors: list[BaseException] = []
    with StateStore.open(db_path) as store:
        threads = [threading.Thread(target=_hammer, args=(store, n, errors)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert all(len(_keys(store, f"entity{n}")) == 200 for n in range(4))
        assert sum(store.inbox.counts().values()) == 160


def test_two_stores_on_one_file_queue_instead_of_failing(db_path: Path) -> None:
    errors: list[BaseException] = []
    stores = [StateStore.open(db_path) for _ in range(2)]
    try:
        threads = [threading.Thread(target=_hammer, args=(stores[n], n, errors)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for opened in stores:
            opened.close()
    assert errors == []
    with StateStore.open(db_path) as store:
        assert _keys(store, "entity0") | _keys(store, "entity1") == {
            f"{n}-{b}-{i}" for n in range(2) for b in range(40) for i in range(5)
        }


def test_read_then_write_transactions_on_two_connections_neither_fail_nor_lose_updates(db_path: Path) -> None:
    errors: list[BaseException] = []

    def count(store: StateStore) -> None:
        try:
            for _ in range(200):
                with store.transaction():
                    current = store.cursors.get("counter")
                    store.cursors.set("counter", str(int(current or 0) + 1))
        except BaseException as error:
            errors.append(error)

    stores = [StateStore.open(db_path) for _ in range(2)]
    try:
        threads = [threading.Thread(target=count, args=(opened,)) for opened in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert stores[0].cursors.get("counter") == "400"
    finally:
        for opened in stores:
            opened.close()


# ---- a real kill -9 ---------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from engine.sync.state.record_hashes import WrittenItem
    from engine.sync.state.store import StateStore

    store = StateStore.open(sys.argv[1])
    run_id = store.runs.start("sync", ["meetings"], {})
    for batch in range(3):
        items = [WrittenItem.of(f"m{batch}-{i}", {"n": i}, f"sf{batch}-{i}") for i in range(50)]
        store.commit_batch("meetings", items, f"cursor-{batch}", run_id)
    print(run_id, flush=True)
    with store.transaction():
        # Big enough to spill uncommitted pages into the WAL file before the kill.
        store.hashes.remember_written("meetings", (WrittenItem.of(f"m3-{i}", {"n": i}) for i in range(40000)), run_id)
        store.cursors.set("meetings", "cursor-3", run_id)
        wal = os.path.getsize(sys.argv[1] + "-wal")
        print(wal, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    print("not reached", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_keeps_exactly_its_committed_batches(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(db_path)], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    run_line, wal_line = child.stdout.split()
    run_id = int(run_line)
    assert int(wal_line) > 1_000_000  # the half-written batch really was on disk when killed

    with StateStore.open(db_path) as store:
        assert store.cursors.get("meetings") == "cursor-2"
        assert _keys(store, "meetings") == {f"m{b}-{i}" for b in range(3) for i in range(50)}
        assert store.hashes.state("meetings", "m2-49").salesforce_id == "sf2-49"  # type: ignore[union-attr]
        assert store.runs.get(run_id).status == "running"  # type: ignore[union-attr]
        assert store.runs.recover_interrupted() == [run_id]
        assert store.runs.recent()[0].status == "interrupted" and store.runs.recent()[0].finished_at is not None
        # The next run resumes from cursor-2 and commits the batch that was lost.
        resumed = store.runs.start("sync", ["meetings"], {})
        store.commit_batch("meetings", [WrittenItem.of("m3-0", {"n": 0})], "cursor-3", resumed)
        assert store.cursors.get("meetings") == "cursor-3" and len(_keys(store, "meetings")) == 151


def test_times_are_utc_iso_with_z(store: StateStore) -> None:
    run_id = store.runs.start("sync", [], {})
    store.runs.finish(run_id, "ok", {})
    record = store.runs.get(run_id)
    assert record is not None and ISO_Z.match(record.started_at) and ISO_Z.match(record.finished_at or "")
    assert state_module.utc_iso(datetime(2024, 5, 1, 14, 0, tzinfo=UTC).astimezone()) == "2024-05-01T14:00:00.000Z"
    assert state_module.utc_iso(datetime(2024, 5, 1, 14, 0)) == "2024-05-01T14:00:00.000Z"


def test_a_version_1_file_gains_the_redacted_snapshot_column(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "MIGRATIONS", state_module.MIGRATIONS[:1])
    monkeypatch.setattr(state_module, "SCHEMA_VERSION", 1)
    StateStore.open(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO record_hashes (entity, key, payload_hash, last_written_at) VALUES (?, ?, ?, ?)",
        ("meetings", "85746065432", payload_hash({"topic": "Old"}), "2026-01-01T00:00:00.000Z"),
    )
    raw.commit()
    raw.close()
    monkeypatch.undo()
    with StateStore.open(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        before = store.hashes.state("meetings", "85746065432")
        assert before is not None and before.snapshot() is None
        item = WrittenItem.of("85746065432", {"topic": "New", "password": "s3cret"}, secret_fields=["password"])
        store.commit_batch("meetings", [item], None, None)
        after = store.hashes.state("meetings", "85746065432")
        assert after is not None and after.snapshot() == {"topic": "New", "password": "***"}
        assert after.payload_hash == payload_hash({"topic": "New", "password": "s3cret"})
        assert "s3cret" not in (after.last_record or "")


def test_record_states_reads_many_keys_at_once(store: StateStore) -> None:
    store.hashes.remember_written("calls", [(f"c{n}", {"n": n}) for n in range(1200)], None)
    found = store.hashes.states("calls", [f"c{n}" for n in range(0, 1300, 3)] + ["c3"])
    assert sorted(found) == sorted(f"c{n}" for n in range(0, 1200, 3))
    assert found["c9"].payload_hash == payload_hash({"n": 9})
    assert store.hashes.states("meetings", ["c9"]) == {}
