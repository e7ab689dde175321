"""The state as an operator relies on it: bound to its org, one run at a time, dry runs on a copy,
dead letters with their history, and a file of the previous version that still opens."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import ConfigError, LockHeld, RunStopped, StateBoundElsewhere
from engine.sync.state import database as state_module
from engine.sync.state.binding import SALESFORCE_ORG, ZOOM_ACCOUNT
from engine.sync.state.lock import FileRunLock
from engine.sync.state.record_hashes import WrittenItem
from engine.sync.state.store import StateStore


def files_of(path: Path) -> dict[str, str]:
    """Every file of the state (the database, its journal, its lock), by name, as a digest of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.glob(path.name + "*"))}


# ---- a state written by the previous version -------------------------------------------------------


def _version_2_state(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "MIGRATIONS", state_module.MIGRATIONS[:2])
    monkeypatch.setattr(state_module, "SCHEMA_VERSION", 2)
    with StateStore.open(path) as old:
        run = old.runs.start("sync", ["meetings"], {})
        old.commit_batch("meetings", [WrittenItem.of("m1", {"topic": "A"})], "2026-01-02", run)
        raw = old._db.connection
        for key, status in (("m2", "open"), ("m3", "resolved")):
            raw.execute(
                "INSERT INTO dead_letters (entity, key, code, message, record, status, run_id, created_at, updated_at)"
                " VALUES ('meetings', ?, 'STRING_TOO_LONG', 'too long', '{\"source\": {\"id\": 1}}', ?, ?, "
                "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')", (key, status, run))
        old.runs.finish(run, "partial", {})
        assert old.schema_version == 2
    monkeypatch.undo()


def test_a_state_of_the_previous_version_opens_and_keeps_everything(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    _version_2_state(path, monkeypatch)
    with StateStore.open(path) as store:
        assert store.schema_version == state_module.SCHEMA_VERSION >= 3
        assert store.cursors.get("meetings") == "2026-01-02"
        assert store.hashes.count("meetings") == 1
        assert [(d.key, d.status) for d in store.dead_letters.find(status=None)] == [("m2", "open"),
                                                                                   ("m3", "resolved")]
        (open_letter,) = store.dead_letters.find("meetings")
        assert [a.code for a in store.dead_letters.attempts(open_letter.id)] == ["STRING_TOO_LONG"]
        assert store.binding.get() == {}  # bound at its next run
        assert store.dead_letters.discard([open_letter.id], "test record") == [open_letter.id]
        assert store.dead_letters.get(open_letter.id).status == "discarded"  # type: ignore[union-attr]


# ---- the binding ---------------------------------------------------------------------------------


def test_the_state_binds_at_first_use_and_refuses_another_org_naming_both(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        store.check_binding({SALESFORCE_ORG: "00D000000000001AAA"})
        store.check_binding({SALESFORCE_ORG: "00D000000000001", ZOOM_ACCOUNT: "acct-1"})  # 15 chars, same org
        assert store.binding.get() == {SALESFORCE_ORG: "00D000000000001AAA", ZOOM_ACCOUNT: "acct-1"}
        with pytest.raises(StateBoundElsewhere) as caught:
            store.check_binding({SALESFORCE_ORG: "00D000000000002AAA", ZOOM_ACCOUNT: "acct-1"})
        message = str(caught.value)
        assert caught.value.exit_code == 2 and isinstance(caught.value, ConfigError)
        assert "00D000000000001AAA" in message and "00D000000000002AAA" in message
        assert "--full-refresh --rebind" in message and "acct-1" not in message  # only what differs
        with pytest.raises(StateBoundElsewhere, match="Zoom account acct-1, this run acct-2"):
            store.check_binding({ZOOM_ACCOUNT: "acct-2"})


def test_a_rebind_records_the_new_org_and_forgets_hashes_and_cursors_but_keeps_letters(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        store.check_binding({SALESFORCE_ORG: "00D000000000001AAA", ZOOM_ACCOUNT: "a"})
        store.commit_batch("calls", [WrittenItem.of("c1", {"n": 1})], "2026-01-02", None)
        store.commit_batch("meetings", [WrittenItem.of("m1", {"n": 1})], None, None)
        store.dead_letters.add("meetings", "m2", "X", "x", {}, None, secret_fields=())
        store.check_binding({SALESFORCE_ORG: "00D000000000009AAA", ZOOM_ACCOUNT: "a"}, rebind=True)
        assert store.binding.get()[SALESFORCE_ORG] == "00D000000000009AAA"
        assert store.hashes.count() == 0
        assert store.cursors.all() == {}  # what was read up to there was written to the old org
        assert store.dead_letters.count("meetings") == 1
        store.check_binding({SALESFORCE_ORG: "00D000000000009AAA"})


# ---- the dry run's copy --------------------------------------------------------------------------


def test_a_snapshot_never_touches_the_file_whatever_is_written_to_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with StateStore.open(path) as store:
        store.commit_batch("calls", [WrittenItem.of("c1", {"n": 1})], "2026-01-02", None)
    before = files_of(path)
    assert list(before) == ["s.db"]
    with StateStore.snapshot(path) as copy:
        assert copy.cursors.get("calls") == "2026-01-02"
        copy.cursors.set("calls", "2030-01-01")
        copy.hashes.forget_all()
        copy.runs.start("sync", [], {})
    assert files_of(path) == before
    with StateStore.open(path) as store:
        assert store.cursors.get("calls") == "2026-01-02" and store.hashes.count() == 1


def test_a_snapshot_of_no_file_is_an_empty_state_and_creates_nothing(tmp_path: Path) -> None:
    with StateStore.snapshot(tmp_path / "none.db") as copy:
        assert copy.cursors.all() == {} and copy.schema_version == state_module.SCHEMA_VERSION
        copy.cursors.set("calls", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_snapshot_sees_what_a_running_process_committed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with StateStore.open(path) as live:
        live.cursors.set("calls", "1")
        live.cursors.set("calls", "2")  # still in the -wal file of the open connection
        with StateStore.snapshot(path) as copy:
            assert copy.cursors.get("calls") == "2"


def test_a_snapshot_of_a_version_2_file_is_migrated_in_memory_only(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    _version_2_state(path, monkeypatch)
    before = files_of(path)
    with StateStore.snapshot(path) as copy:
        assert copy.schema_version == state_module.SCHEMA_VERSION
        assert copy.dead_letters.count("meetings") == 1
    assert files_of(path) == before
    raw = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    raw.close()


# ---- one run at a time ---------------------------------------------------------------------------


def test_a_second_run_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    first = FileRunLock(state, "sync meetings")
    first.acquire()
    try:
        second = FileRunLock(state, "sync")
        with pytest.raises(LockHeld) as caught:
            second.acquire()
        error = caught.value
        assert isinstance(error, RunStopped) and error.exit_code == 3
        assert f"pid {os.getpid()}" in str(error) and "(sync meetings)" in str(error) and state in str(error)
        holder = first.holder()
        assert holder is not None and holder.started_at and holder.started_at.endswith("Z")
    finally:
        first.release()
    second.acquire()  # released: the next one gets it
    second.release()
    second.release()  # twice is harmless


def test_a_waiting_run_gets_the_lock_when_its_holder_ends(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    first = FileRunLock(state, "sync")
    first.acquire()
    naps: list[float] = []

    def nap(seconds: float) -> None:  # the holder finishes while the second run waits
        naps.append(seconds)
        if len(naps) == 3:
            first.release()

    clock = iter(float(n) for n in range(1000))
    waiter = FileRunLock(state, "sync", sleep=nap, monotonic=lambda: next(clock))
    waiter.acquire(wait=60)
    assert waiter.held and len(naps) >= 3
    waiter.release()
    first.acquire()
    with pytest.raises(LockHeld, match="after waiting 2 s"):
        FileRunLock(state, "sync", sleep=lambda s: None, monotonic=lambda: next(clock)).acquire(wait=2)
    first.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from engine.sync.state.lock import FileRunLock
        lock = FileRunLock({state!r}, "sync")
        lock.acquire()
        print("locked", flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            FileRunLock(state, "sync").acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        lock = FileRunLock(state, "sync")
        lock.acquire()
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_store_in_memory_has_a_lock_that_is_always_free() -> None:
    with StateStore.open(":memory:") as store, store.run_lock("sync"), store.run_lock("sync"):
        pass


# ---- dead letters ----------------------------------------------------------------------------------


def test_every_attempt_is_kept_and_discard_marks_only_open_letters(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        run = store.runs.start("sync", [], {})
        first = store.dead_letters.add("meetings", "m1", "STRING_TOO_LONG", "one", {}, run, secret_fields=())
        assert store.dead_letters.add("meetings", "m1", "INVALID_FIELD", "two", {}, run, secret_fields=()) == first
        store.dead_letters.bump(first, "REQUIRED_FIELD_MISSING", "three", run)
        attempts = store.dead_letters.attempts(first)
        assert [(a.code, a.message, a.run_id) for a in attempts] == [
            ("STRING_TOO_LONG", "one", run), ("INVALID_FIELD", "two", run), ("REQUIRED_FIELD_MISSING", "three", run)]
        assert store.dead_letters.get(first).attempts == 3  # type: ignore[union-attr]
        other = store.dead_letters.add("meetings", "m2", "X", "x", {}, run, secret_fields=())
        store.dead_letters.resolve(other, run)
        assert store.dead_letters.discard([first, other, 999], "duplicate in Zoom") == [first]
        letter = store.dead_letters.get(first)
        assert letter is not None and (letter.status, letter.discard_reason) == ("discarded", "duplicate in Zoom")
        assert letter.discarded_at is not None
        again = store.dead_letters.add("meetings", "m1", "X", "x", {}, run, secret_fields=())
        assert again != first and store.dead_letters.get(again).status == "open"  # type: ignore[union-attr]
        assert [d.id for d in store.dead_letters.find(code="X", status=None)] == [other, again]


def test_purge_deletes_only_old_letters_that_are_no_longer_open(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    with StateStore.open(tmp_path / "s.db", clock=lambda: now[0]) as store:
        kept_open = store.dead_letters.add("calls", "c1", "X", "x", {}, None, secret_fields=())
        old_resolved = store.dead_letters.add("calls", "c2", "X", "x", {}, None, secret_fields=())
        store.dead_letters.resolve(old_resolved, None)
        old_discarded = store.dead_letters.add("calls", "c3", "X", "x", {}, None, secret_fields=())
        now[0] = datetime(2026, 3, 1, tzinfo=UTC)
        store.dead_letters.discard([old_discarded], "r")  # set aside lately: its age counts from then
        recent = store.dead_letters.add("calls", "c4", "X", "x", {}, None, secret_fields=())
        store.dead_letters.resolve(recent, None)
        assert store.dead_letters.purge(now[0] - timedelta(days=30)) == 1
        assert {d.id for d in store.dead_letters.find(status=None)} == {kept_open, old_discarded, recent}
        assert store.dead_letters.attempts(old_resolved) == []
