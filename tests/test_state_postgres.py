"""What only the PostgreSQL state does: connection errors, migrations, a dropped connection, advisory locks.

Every test runs against the real server of :mod:`tests.postgres_server`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psycopg
import pytest

from engine.errors import LockHeld, StateError
from engine.sync.state import postgres
from engine.sync.state.store import StateStore
from tests.helpers import REPO
from tests.postgres_server import PostgresServer, free_port
from tests.test_cli_sync import clean_env, zoomforce


def test_an_unreachable_server_is_one_line_naming_host_and_database_without_the_password(tmp_path) -> None:
    port = free_port()
    url = f"postgresql://zf:hunter2@127.0.0.1:{port}/zoomdb"
    env = clean_env(ZOOM_ACCOUNT_ID="a", ZOOM_CLIENT_ID="b", ZOOM_CLIENT_SECRET="c",
                    SF_INSTANCE_URL="https://127.0.0.1:9", SF_ACCESS_TOKEN="t")
    run = zoomforce("sync", "meetings", "--state", url, env=env, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    (line,) = run.error_lines
    assert f"host 127.0.0.1:{port}" in line and "database zoomdb" in line and "refused" in line.lower()
    assert "hunter2" not in run.stderr + run.stdout and "Traceback" not in run.stderr


def test_zoomforce_state_selects_postgresql_and_a_missing_database_is_named(postgres_server: PostgresServer,
                                                                           tmp_path) -> None:
    url = postgres_server.url("nosuchdb", password="hunter2")
    run = zoomforce("dead-letters", "list", env=clean_env(ZOOMFORCE_STATE=url), cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    (line,) = run.error_lines
    assert "database nosuchdb" in line and 'database "nosuchdb" does not exist' in line
    assert "hunter2" not in run.stderr


def test_a_malformed_url_is_a_state_error() -> None:
    with pytest.raises(StateError, match="not a PostgreSQL URL"):
        StateStore.open("postgresql://127.0.0.1:5432/db?bogus_option=1")


def test_the_display_url_never_holds_the_password() -> None:
    shown = postgres.display_url("postgresql://zf:hunter2@db.example:5433/state?sslmode=require")
    assert shown == "postgresql://zf@db.example:5433/state"


def test_a_state_written_by_the_previous_version_opens_and_is_migrated(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as old:
        old.execute("CREATE TABLE zoomforce_schema (program TEXT NOT NULL, version INTEGER NOT NULL)")
        old.execute("INSERT INTO zoomforce_schema VALUES ('zoomforce', 1)")
        for statement in postgres.MIGRATIONS[0]:
            old.execute(statement)
        old.execute("INSERT INTO cursors (entity, value, updated_at) VALUES ('meetings', 'c1', '2024-01-01')")
    with StateStore.open(pg_url) as store:
        assert store.schema_version == postgres.SCHEMA_VERSION == 3
        assert store.cursors.get("meetings") == "c1"
        assert store._db.one("SELECT to_regclass('run_locks') AS t")["t"] == "run_locks"


def test_accounts_have_their_own_schema(pg_url: str) -> None:
    with StateStore.open(pg_url, schema="account_a") as one, StateStore.open(pg_url, schema="account_b") as two:
        one.cursors.set("meetings", "a")
        two.cursors.set("meetings", "b")
        one.check_binding({"zoom_account": "A"})
        two.check_binding({"zoom_account": "B"})
        assert (one.cursors.get("meetings"), two.cursors.get("meetings")) == ("a", "b")


def _terminate_others(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


def test_a_dropped_connection_rolls_back_the_batch_in_flight_and_the_next_call_reconnects(pg_url: str) -> None:
    with StateStore.open(pg_url) as store:
        store.cursors.set("meetings", "c1")
        with pytest.raises(StateError, match=r"state database postgresql://postgres@127\.0\.0\.1"):  # noqa: SIM117
            with store.transaction():
                store.commit_batch("meetings", [("1", {"a": 1})], "c2", None)
                assert _terminate_others(pg_url) >= 1
                store.commit_batch("meetings", [("2", {"a": 2})], "c3", None)
        assert store.cursors.get("meetings") == "c1" and store.hashes.count() == 0, "nothing half committed"
        store.cursors.set("meetings", "c4")
    with StateStore.open(pg_url) as again:
        assert again.cursors.get("meetings") == "c4"


def test_runs_on_other_entities_or_accounts_go_side_by_side_and_overlapping_work_does_not(pg_url: str) -> None:
    with StateStore.open(pg_url) as one, StateStore.open(pg_url) as two:
        meetings = one.run_lock("sync meetings", org="org", account="a", entities=["meetings"])
        meetings.acquire()
        with two.run_lock("sync webinars", org="org", account="a", entities=["webinars"]):
            pass
        with two.run_lock("sync meetings", org="org", account="b", entities=["meetings"]):
            pass
        with two.run_lock("sync meetings", org="other-org", account="a", entities=["meetings"]):
            pass
        both = two.run_lock("sync", org="org", account="a", entities=["webinars", "meetings"])
        with pytest.raises(LockHeld, match=r"pid \d+.*\(sync meetings\)"):
            both.acquire(wait=0.3)
        with two.run_lock("sync webinars", org="org", account="a", entities=["webinars"]):
            pass  # the failed attempt gave back the keys it had taken
        everything = two.run_lock("dead-letters retry", org="org", account="a")
        with pytest.raises(LockHeld):
            everything.acquire()  # a run of all the entities waits for every run of some
        meetings.release()
        with both:
            pass
        with everything, pytest.raises(LockHeld):
            one.run_lock("sync webinars", org="org", account="a", entities=["webinars"]).acquire()


HOLDER = textwrap.dedent("""
    import sys, time
    from engine.sync.state.store import StateStore
    store = StateStore.open(sys.argv[1])
    lock = store.run_lock("sync meetings", org="org", account="a", entities=["meetings"])
    lock.acquire()
    print("held", flush=True)
    time.sleep(600)
""")


def test_a_killed_holder_releases_the_lock(pg_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url], stdout=subprocess.PIPE, text=True, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with StateStore.open(pg_url) as store:
            lock = store.run_lock("sync meetings", org="org", account="a", entities=["meetings"])
            with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
                lock.acquire()
            holder.send_signal(signal.SIGKILL)
            holder.wait(30)
            lock.acquire(wait=30)  # the server ends the dead session, and its locks with it
            lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_newer_or_foreign_postgresql_state_is_exit_2_in_one_line(pg_url: str, postgres_server: PostgresServer,
                                                                   tmp_path) -> None:
    with StateStore.open(pg_url):
        pass
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("UPDATE zoomforce_schema SET version = 99")
    run = zoomforce("dead-letters", "list", "--state", pg_url, env=clean_env(), cwd=tmp_path)
    assert run.returncode == 2 and len(run.error_lines) == 1, run.stderr
    assert "schema version 99 is newer" in run.stderr and "upgrade zoomforce" in run.stderr
    foreign = postgres_server.create_database()
    with psycopg.connect(foreign, autocommit=True) as other:
        other.execute("CREATE TABLE invoices (id INTEGER)")
    run = zoomforce("dead-letters", "purge", "--older-than", "1", "--state", foreign, env=clean_env(), cwd=tmp_path)
    assert run.returncode == 2 and len(run.error_lines) == 1 and "not a zoomforce state" in run.stderr, run.stderr
    with psycopg.connect(foreign) as other:
        assert other.execute("SELECT to_regclass('runs')").fetchone() == (None,), "nothing created in it"


def test_a_dry_run_on_a_database_never_used_creates_nothing_in_it(pg_url: str) -> None:
    with StateStore.snapshot(pg_url) as copy:
        assert copy.cursors.all() == {} and copy.is_snapshot
        copy.cursors.set("meetings", "c1")
    with psycopg.connect(pg_url) as check:
        assert check.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
