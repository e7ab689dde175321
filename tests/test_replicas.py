"""Past one process: two ``zoomforce serve`` replicas and two ``zoomforce sync`` runs on one PostgreSQL state.

Everything is real and on loopback: the PostgreSQL server of :mod:`tests.postgres_server`, the
Salesforce emulator over HTTPS, ``zoomforce serve`` and ``zoomforce sync`` as processes of their own.

The replicas: 2,000 signed events are sent alternately to both; meanwhile Salesforce goes away (its
server stops, the org kept) and comes back on the same address, and one replica is SIGKILLed with a
batch in hand and started again. Every event must land in Salesforce exactly once (one record per
call, none missing, none twice) and the inbox must end empty of work (every event done). The
killed replica's leased events come back when their lease runs out and the other replica (or
the restarted one) takes them: ``SELECT ... FOR UPDATE SKIP LOCKED`` keeps two replicas from
taking the same one at once.

The syncs: two accounts (two Zoom emulators of different accounts), one ``sync --account`` each, at
the same time on one state: both complete, each account's part of the state is its own, and a
second round writes nothing (each record was written exactly once).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.data import Account
from engine.emulators.zoom.webhooks import build_event, serialize
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.serve.app import WEBHOOK_PATH
from engine.serving import RunningServer, TLSFiles, start_in_thread
from engine.sync.state.store import StateStore
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, signed_headers, wait_until
from tests.test_cli_sync import LineReader, clean_env, start_server, stop

SECRET = "zm-webhook-SECRET-replicas-51c0"
CALLS = "zoom_app__Zoom_Call_Log__c"
CALL_KEY = "zoom_app__Calllog_Unique_ID__c"
EVENTS = 2000
LEASE_SECONDS = 8  # a killed replica's events come back after this
DEADLINE = 120.0


class Replica:
    """One ``zoomforce serve`` process on the shared state."""

    def __init__(self, state: str, env: dict[str, str], workdir: Path, name: str):
        self.stderr_path = workdir / f"{name}.stderr"
        with self.stderr_path.open("w", encoding="utf-8") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--port", "0", "--state", state, "--mappings",
                 str(MAPPINGS), "--lease-seconds", str(LEASE_SECONDS), "--forwarded-allow-ips", "127.0.0.1"],
                stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=workdir)
        self.reader = LineReader(self.process.stdout)  # type: ignore[arg-type]
        self.url = self.reader.next(60)
        assert self.url.startswith("http://127.0.0.1:"), self.url


@pytest.fixture
def tls(tmp_path: Path) -> TLSFiles:
    return make_tls_files(tmp_path / "tls")


def _writer(url: str) -> SalesforceWriter:
    return SalesforceWriter(SalesforceCredentials(url, client_id="demo", client_secret="demo"),
                            sleep=lambda seconds: None)


def _inbox(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}


def test_two_replicas_process_2000_events_exactly_once_through_an_outage_and_a_kill(
    pg_url: str, tls: TLSFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)  # the test's own reader trusts the emulator
    app = salesforce_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS))
    server: RunningServer = start_in_thread(app, tls=tls)
    port = int(server.url.rsplit(":", 1)[1])
    env = clean_env(SF_INSTANCE_URL=server.url, SF_CLIENT_ID="demo", SF_CLIENT_SECRET="demo",
                    REQUESTS_CA_BUNDLE=tls.ca_file, SSL_CERT_FILE=tls.ca_file, ZOOM_WEBHOOK_SECRET_TOKEN=SECRET)
    account = Account(users=700)  # enough calls for 2,000 distinct ones
    events = [build_event(account, "phone.callee_ended", n) for n in range(700)]
    events += [build_event(account, "phone.caller_ended", n) for n in range(1300)]
    bodies = [serialize(event) for event in events]
    keys = {str(event["payload"]["object"]["call_id"]) for event in events}
    assert len(keys) == EVENTS
    replicas = [Replica(pg_url, env, tmp_path, "a"), Replica(pg_url, env, tmp_path, "b")]
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    try:
        with httpx.Client(timeout=60, limits=limits, trust_env=False) as client, ThreadPoolExecutor(8) as pool:

            def send(number: int) -> int:
                body = bodies[number]
                url = replicas[number % 2].url + WEBHOOK_PATH
                headers = signed_headers(body, SECRET, str(int(time.time())), f"load-{number}")
                return client.post(url, content=body, headers=headers).status_code

            def phase(first: int, last: int) -> None:
                statuses = list(pool.map(send, range(first, last)))
                assert statuses == [200] * (last - first)

            phase(0, 500)
            server.stop()  # Salesforce goes away; its org is kept in `app`
            phase(500, 1000)
            wait_until(lambda: _inbox(pg_url).get("processing", 0) > 0, "a replica to hold leased events",
                       DEADLINE)
            replicas[1].process.send_signal(signal.SIGKILL)  # mid-batch: its leases are left behind
            replicas[1].process.wait(30)
            stop(replicas[1].process)
            replicas[1] = Replica(pg_url, env, tmp_path, "b-again")
            phase(1000, 1500)
            server = start_in_thread(app, "127.0.0.1", port, tls=tls)  # back, same address
            phase(1500, EVENTS)
        wait_until(lambda: _inbox(pg_url) == {"done": EVENTS}, f"{EVENTS} events done", DEADLINE)
        reader = _writer(server.url)
        try:
            written = [row[CALL_KEY] for row in reader.query(f"SELECT {CALL_KEY} FROM {CALLS}")]
        finally:
            reader.close()
        assert len(written) == EVENTS and set(written) == keys, "every event once, none twice, none missing"
        with StateStore.open(pg_url) as store:
            assert store.inbox.pending_count() == 0 and store.dead_letters.find() == []
            retried = store._db.one("SELECT COUNT(*) AS n FROM inbox WHERE attempts > 1")["n"]
        assert retried > 0, "the outage and the kill made events be taken again"
        for replica in replicas:  # the probes: alive, and ready (the state and Salesforce answer)
            health = httpx.get(replica.url + "/healthz", timeout=30, trust_env=False)
            assert health.status_code == 200 and health.json()["inbox"]["done"] == EVENTS
            ready = httpx.get(replica.url + "/readyz", timeout=30, trust_env=False)
            assert ready.json() == {"status": "ready", "checks": {"state": "ok", "salesforce": "ok"}}
        for replica in replicas:
            replica.process.send_signal(signal.SIGTERM)
            replica.process.wait(30)
            assert replica.process.returncode in (0, 130), replica.stderr_path.read_text()
            assert SECRET not in replica.stderr_path.read_text()
    finally:
        for replica in replicas:
            stop(replica.process)
        server.stop()


# ---- two syncs, one account each ------------------------------------------------------------------


def _sync_env(zoom_a: str, zoom_b: str, salesforce: str, ca_file: str) -> dict[str, str]:
    env = clean_env(SF_INSTANCE_URL=salesforce, SF_CLIENT_ID="demo", SF_CLIENT_SECRET="demo",
                    REQUESTS_CA_BUNDLE=ca_file, SSL_CERT_FILE=ca_file)
    for name, url in (("A", zoom_a), ("B", zoom_b)):
        env |= {f"{name}_ZOOM_ACCOUNT_ID": f"acct-{name.lower()}", f"{name}_ZOOM_CLIENT_ID": "demo",
                f"{name}_ZOOM_CLIENT_SECRET": "demo", f"{name}_ZOOM_API_URL": f"{url}/v2",
                f"{name}_ZOOM_OAUTH_URL": f"{url}/oauth/token"}
    return env


def _syncs(env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    """``sync --account a`` and ``sync --account b`` at the same time; their JSON summaries."""
    processes = [subprocess.Popen([sys.executable, "-m", "engine", "sync", "meetings", "--account", name,
                                   "--summary", "json", "--mappings", str(MAPPINGS)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
                 for name in ("a", "b")]
    summaries = []
    for process in processes:
        out, err = process.communicate(timeout=DEADLINE)
        assert process.returncode == 0, err
        summaries.append(json.loads(out))
    return summaries


def test_two_syncs_of_two_accounts_on_one_state_run_side_by_side_and_write_each_record_once(
    pg_url: str, tmp_path: Path
) -> None:
    started = []
    try:
        for name, seed in (("a", "1"), ("b", "2")):
            started.append(start_server(["emulator", "zoom", "--port", "0", "--users", "3", "--seed", seed,
                                         "--account-id", f"acct-{name}"], tmp_path, f"zoom-{name}"))
        salesforce = start_server(["emulator", "salesforce", "--port", "0", "--catalog", str(ORG_WITH_ADDITIONS)],
                                  tmp_path, "salesforce", lines=2)
        started.append(salesforce)
        ca_file = salesforce.lines[1].removeprefix("ca: ")
        env = _sync_env(started[0].url, started[1].url, salesforce.url, ca_file) | {"ZOOMFORCE_STATE": pg_url}
        first = _syncs(env, tmp_path)
        written = [summary["entities"]["meetings"]["written"] for summary in first]
        assert all(count > 0 for count in written)
        for name, summary in zip(("a", "b"), first, strict=True):
            with StateStore.open(pg_url, schema=f"account_{name}") as store:
                assert store.binding.get()["zoom_account"] == f"acct-{name}"
                assert store.hashes.count("meetings") == summary["entities"]["meetings"]["written"]
        again = _syncs(env, tmp_path)
        assert [summary["entities"]["meetings"]["written"] for summary in again] == [0, 0]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REQUESTS_CA_BUNDLE", ca_file)
            reader = _writer(salesforce.url)
            try:
                ids = [row["zoom_app__Zoom_Meeting_Id__c"] for row in
                       reader.query("SELECT zoom_app__Zoom_Meeting_Id__c FROM zoom_app__Zoom_Event__c")]
            finally:
                reader.close()
        assert len(ids) == len(set(ids)) == sum(written), "each account's meetings, each once"
    finally:
        for server in started:
            stop(server.process)
