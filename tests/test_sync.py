"""``zoomforce sync`` end to end: the runner, the real httpx and simple-salesforce clients, and the
local Zoom and Salesforce emulators over real sockets on 127.0.0.1.

What is checked against the emulators' own data: every record present exactly once (by SOQL),
a second run that writes nothing, faults (429, 5xx) that still end complete, a run killed with
SIGKILL whose rerun loses nothing and doubles nothing, a rejection kept as a dead letter and
written once the mapping is fixed, the reverse flow, the dry run, and no secret in logs, dead
letters or the state file.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.applications import Starlette

from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.emulators.zoom.data import Account
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.serving import RunningServer, start_in_thread
from engine.sync.report import SyncReport
from engine.sync.runner import SyncOptions, SyncRunner
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet, load_mapping_set
from engine.zoom.client import RetryPolicy, ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, copy_mappings, replace_once

OBJECTS = {
    "users": "zoom_app__Zoom_Voice_User__c",
    "meetings": "zoom_app__Zoom_Event__c",
    "webinars": "zoom_app__Zoom_Webinar__c",
    "registrants": "zoom_app__Zoom_Webinar_Registrant__c",
    "participants": "zoom_app__Zoom_Webinar_Attendee__c",
    "panelists": "zoom_app__Zoom_Webinar_Panelist__c",
    "calls": "zoom_app__Zoom_Call_Log__c",
}
KEYS = {
    "users": "zoom_app__Web_User_Id__c",
    "meetings": "zoom_app__Zoom_Meeting_Id__c",
    "webinars": "zoom_app__Webinar_Id__c",
    "registrants": "zoom_app__External_key__c",
    "participants": "zoom_app__User_Id__c",
    "panelists": "zoom_app__Panelist_ID__c",
    "calls": "zoom_app__Calllog_Unique_ID__c",
}
FAST_RETRY = RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_max=0.05, max_wait=5.0)


@dataclass
class Server:
    app: Starlette
    running: RunningServer

    @property
    def url(self) -> str:
        return self.running.url

    def post(self, hook: str, body: dict[str, Any] | None = None) -> Any:
        reply = requests.post(f"{self.url}/_emulator/{hook}", json=body or {}, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def stats(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_emulator/stats", timeout=30).json()


@dataclass
class World:
    zoom: Server
    salesforce: Server
    ca_file: str

    @property
    def account(self) -> Account:
        return self.zoom.app.state.account

    def zoom_client(self, **options: Any) -> ZoomClient:
        credentials = ZoomCredentials("demo", "demo", "demo", api_url=f"{self.zoom.url}/v2",
                                      oauth_url=f"{self.zoom.url}/oauth/token")
        return ZoomClient(credentials, retry=options.pop("retry", FAST_RETRY), **options)

    def writer(self, **options: Any) -> SalesforceWriter:
        credentials = SalesforceCredentials(self.salesforce.url, client_id="demo", client_secret="demo")
        return SalesforceWriter(credentials, sleep=lambda seconds: None, poll_interval=0.01, **options)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ZOOM_ACCOUNT_ID": "demo", "ZOOM_CLIENT_ID": "demo", "ZOOM_CLIENT_SECRET": "demo",
            "ZOOM_API_URL": f"{self.zoom.url}/v2", "ZOOM_OAUTH_URL": f"{self.zoom.url}/oauth/token",
            "SF_INSTANCE_URL": self.salesforce.url, "SF_CLIENT_ID": "demo", "SF_CLIENT_SECRET": "demo",
            "REQUESTS_CA_BUNDLE": self.ca_file,
        }


def _servers(zoom_config: ZoomEmulatorConfig, sf_config: SalesforceEmulatorConfig, tls_dir: Path) -> World:
    tls = make_tls_files(tls_dir)
    zoom = zoom_app(zoom_config)
    sf = salesforce_app(sf_config)
    return World(Server(zoom, start_in_thread(zoom)), Server(sf, start_in_thread(sf, tls=tls)), tls.ca_file)


def _stop(world: World) -> None:
    world.zoom.running.stop()
    world.salesforce.running.stop()
    close_app(world.zoom.app)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = _servers(ZoomEmulatorConfig(users=4), SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS),
                     tmp_path_factory.mktemp("sync-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", built.ca_file)
        yield built
    _stop(built)


@pytest.fixture()
def fresh(world: World) -> World:
    """The module's emulators with an empty Salesforce org and fresh Zoom counters."""
    world.salesforce.post("reset")
    world.zoom.post("reset")
    return world


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


def run_sync(world: World, store: StateStore, mappings: MappingSet, **options: Any) -> SyncReport:
    writer_options = options.pop("writer", {})
    zoom, writer = world.zoom_client(), world.writer(**writer_options)
    try:
        return SyncRunner(mappings, store, ZoomSource(zoom), writer).run(SyncOptions(**options))
    finally:
        zoom.close()
        writer.close()


def records(world: World, sobject: str, fields: str = "Id") -> list[dict[str, Any]]:
    writer = world.writer()
    try:
        return list(writer.query(f"SELECT {fields} FROM {sobject}"))
    finally:
        writer.close()


def key_values(world: World, entity: str) -> list[str]:
    return [str(r[KEYS[entity]]) for r in records(world, OBJECTS[entity], KEYS[entity])]


def expected_counts(account: Account) -> dict[str, int]:
    counts = account.counts()
    return {
        "users": counts["users"], "meetings": counts["meetings"], "webinars": counts["webinars"],
        "registrants": counts["registrants_approved"], "panelists": counts["panelists"],
        "participants": counts["webinar_attendees"], "calls": len(set(account.call_ids())),  # a rejoin once
    }


def assert_everything_once(world: World) -> None:
    for entity, expected in expected_counts(world.account).items():
        values = key_values(world, entity)
        assert len(values) == expected, entity
        assert len(set(values)) == len(values), f"{entity}: a record is there twice"


def secrets_of(account: Account) -> set[str]:
    found: set[str] = set()
    for meeting_id in account.meeting_ids():
        meeting = account.find_meeting(str(meeting_id))
        assert meeting is not None
        found.update({meeting.password, meeting.zak})
    for webinar_id in account.webinar_ids():
        webinar = account.find_webinar(str(webinar_id))
        assert webinar is not None
        found.update({webinar.password, webinar.zak})
    for user_id in account.user_ids():
        user = account.find_user(str(user_id))
        if user is not None and user.pmi_password:
            found.add(user.pmi_password)
    return {s for s in found if s and len(s) >= 4}


# ---- the main job ------------------------------------------------------------------------------


def test_a_full_sync_writes_every_record_once_and_a_second_run_writes_nothing(
    fresh: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        first = run_sync(fresh, store, mapping_set)
        assert first.failed == 0, first.summary()
        expected = expected_counts(fresh.account)
        for entity, count in expected.items():
            assert first.entities[entity].written == count, entity
        assert first.entities["past_meetings"].written == fresh.account.counts()["past_meetings"]
        assert_everything_once(fresh)
        calls_before = fresh.salesforce.stats()["routes"].get("collections_upsert", {})
        second = run_sync(fresh, store, mapping_set)
        assert second.failed == 0
        for entity, counts in second.entities.items():
            assert counts.written == 0, entity
            assert counts.unchanged == counts.read, entity
        assert fresh.salesforce.stats()["routes"].get("collections_upsert", {}) == calls_before
        runs = store.runs.recent()
        assert [r.status for r in runs[:2]] == ["ok", "ok"]
        assert runs[0].summary == second.summary()


def test_ids_relations_and_merged_endpoints_arrive_intact(fresh: World, mapping_set: MappingSet, tmp_path: Path
                                                          ) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        assert run_sync(fresh, store, mapping_set).failed == 0
    meetings = {str(i) for i in fresh.account.meeting_ids()}
    assert set(key_values(fresh, "meetings")) == meetings  # 64-bit ids, digit for digit
    assert any(int(i) > 2**53 for i in meetings)
    past = {str(i) for i in fresh.account.past_meeting_ids()}
    events = records(fresh, OBJECTS["meetings"], "zoom_app__Zoom_Meeting_Id__c, zoom_app__Zoom_Meeting_End_Time__c, "
                     "zoom_app__Zoom_Meeting_Status__c, zoom_app__Zoom_Meeting_Password__c")
    for event in events:
        ended = event["zoom_app__Zoom_Meeting_Id__c"] in past
        assert (event["zoom_app__Zoom_Meeting_Status__c"] == "Ended") is ended
        assert event["zoom_app__Zoom_Meeting_Password__c"], "the secret is written to Salesforce, only hidden elsewhere"
    webinar_ids = {r["Id"] for r in records(fresh, OBJECTS["webinars"])}
    for entity in ("registrants", "participants", "panelists"):
        rows = records(fresh, OBJECTS[entity], "Id, zoom_app__Zoom_Webinar__c")
        assert rows and all(r["zoom_app__Zoom_Webinar__c"] in webinar_ids for r in rows), entity
    phone = records(fresh, OBJECTS["users"], "zoom_app__Web_User_Id__c, zoom_app__PBX_User_Id__c")
    without_phone = {str(u) for u in fresh.account.users_without_phone()}
    for row in phone:
        assert bool(row["zoom_app__PBX_User_Id__c"]) is (row["zoom_app__Web_User_Id__c"] not in without_phone)


def test_people_are_linked_to_contacts_by_email(fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:
    registrant = next(r for w in fresh.account.webinar_ids()
                      for r in fresh.account.find_webinar(str(w)).registrants if r.get("status") == "approved")
    org = fresh.salesforce.app.state.store
    contact = org.create("Contact", {"LastName": "Known", "Email": registrant["email"].upper()})
    with StateStore.open(tmp_path / "state.db") as store:
        assert run_sync(fresh, store, mapping_set, entities=("registrants",)).failed == 0
    rows = records(fresh, OBJECTS["registrants"], "zoom_app__External_key__c, zoom_app__Email__c, Contact__c")
    assert {r["zoom_app__External_key__c"]: r["Contact__c"] for r in rows}[registrant["id"]] == contact.id
    for row in rows:
        same_person = (row["zoom_app__Email__c"] or "").lower() == registrant["email"].lower()
        assert (row["Contact__c"] == contact.id) is same_person


def test_the_bulk_path_above_the_threshold_gives_the_same_org(fresh: World, mapping_set: MappingSet,
                                                              tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(fresh, store, mapping_set, writer={"bulk_threshold": 5})
    assert report.failed == 0, report.summary()
    assert fresh.salesforce.stats()["routes"].get("bulk_create")
    assert_everything_once(fresh)


def test_429_and_5xx_injected_on_both_sides_still_end_complete(tmp_path: Path, mapping_set: MappingSet) -> None:
    world = _servers(ZoomEmulatorConfig(users=2, rate_limit=8, fail_rate=0.15, seed=7),
                     SalesforceEmulatorConfig(fail_rate=0.15, seed=7, catalog_dir=ORG_WITH_ADDITIONS), tmp_path / "tls")
    try:
        with pytest.MonkeyPatch.context() as patch, StateStore.open(tmp_path / "state.db") as store:
            patch.setenv("REQUESTS_CA_BUNDLE", world.ca_file)
            report = run_sync(world, store, mapping_set)
            assert report.failed == 0, report.summary()
            assert_everything_once(world)
            statuses = [s for route in world.zoom.stats()["requests"].values() for s in route]
            assert "429" in statuses and any(s.startswith("5") for s in statuses)
            sf_statuses = [s for route in world.salesforce.stats()["routes"].values() for s in route]
            assert any(s in ("503", "403") for s in sf_statuses)
    finally:
        _stop(world)


# ---- losing nothing ------------------------------------------------------------------------------


def _hashes(state: Path) -> int:
    if not state.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM record_hashes").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_run_killed_in_the_middle_loses_nothing_and_doubles_nothing(tmp_path: Path, mapping_set: MappingSet
                                                                      ) -> None:
    # A rate limit slows the run down so that the kill lands between two checkpoints.
    world = _servers(ZoomEmulatorConfig(users=3, rate_limit=6),
                     SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS), tmp_path / "tls")
    state = tmp_path / "state.db"
    try:
        process = subprocess.Popen([sys.executable, "-m", "engine", "sync", "--state", str(state)], cwd=tmp_path,
                                   env=world.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _hashes(state) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        written_before = _hashes(state)
        assert 0 < written_before < sum(expected_counts(world.account).values())
        with pytest.MonkeyPatch.context() as patch, StateStore.open(state) as store:
            patch.setenv("REQUESTS_CA_BUNDLE", world.ca_file)
            report = run_sync(world, store, mapping_set)
            assert report.failed == 0, report.summary()
            # What the killed run had committed is not written again (the calls' cursor moved past it too).
            assert sum(c.written for c in report.entities.values()) <= (
                sum(expected_counts(world.account).values()) + world.account.counts()["past_meetings"] - written_before
            )
            statuses = [r.status for r in store.runs.recent()]
            assert statuses == ["ok", "interrupted"]
            assert_everything_once(world)
    finally:
        _stop(world)


def _break_meeting_topics(folder: Path) -> None:
    """A topic longer than the Salesforce field, with no max_length to truncate it: Salesforce rejects it."""
    long_topic = "concat(topic, ' ', '" + "x" * 300 + "')"
    replace_once(folder / "meetings.yaml",
                 "  - from: topic\n    to: zoom_app__Meeting_Topic__c\n    type: string\n    max_length: 255\n",
                 f"  - from: \"{long_topic}\"\n    to: zoom_app__Meeting_Topic__c\n    type: string\n")


def test_a_salesforce_rejection_is_kept_and_written_once_the_mapping_is_fixed(
    fresh: World, mapping_set: MappingSet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = copy_mappings(tmp_path)
    _break_meeting_topics(broken)
    broken_set = load_mapping_set([broken]).raise_if_invalid()
    meetings = len(fresh.account.meeting_ids())
    caplog.set_level(logging.DEBUG)
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(fresh, store, broken_set, entities=("meetings",))
        assert report.entities["meetings"].failed == meetings
        assert list(report.entities) == ["meetings"], "users are read to list their meetings, not written"
        letters = store.dead_letters.find("meetings")
        assert len(letters) == meetings
        assert {letter.code for letter in letters} == {"STRING_TOO_LONG"}
        assert all(letter.record["record"]["zoom_app__Zoom_Meeting_Password__c"] == "***" for letter in letters)
        assert all(letter.record["source"]["password"] == "***" for letter in letters)
        for letter in letters:  # only what the mapping reads is kept: no unmapped field, secret or not
            assert {"id", "topic", "start_time"} <= set(letter.record["source"])
            assert not {"h323_password", "encrypted_password", "pstn_password", "agenda"} & set(letter.record["source"])
        assert key_values(fresh, "meetings") == []
        again = run_sync(fresh, store, broken_set, entities=("meetings",))
        assert again.entities["meetings"].failed == meetings
        assert len(store.dead_letters.find("meetings")) == meetings, "the same failure updates its dead letter"
        retried = run_sync(fresh, store, mapping_set, entities=("meetings",), retry_dead_letters=True)
        assert retried.entities["meetings"].written == meetings, [d.message for d in store.dead_letters.find()][:2]
        assert store.dead_letters.find("meetings") == []
        assert list(retried.entities) == ["meetings"]
        passwords = records(fresh, OBJECTS["meetings"], "zoom_app__Zoom_Meeting_Password__c")
        assert all(r["zoom_app__Zoom_Meeting_Password__c"] in (None, "") for r in passwords), "*** is never written"
        following = run_sync(fresh, store, mapping_set, entities=("meetings",))
        assert following.entities["meetings"].written == meetings, "the next sync brings the secrets from Zoom"
        passwords = records(fresh, OBJECTS["meetings"], "zoom_app__Zoom_Meeting_Password__c")
        assert all(r["zoom_app__Zoom_Meeting_Password__c"] not in (None, "", "***") for r in passwords)
    assert sorted(key_values(fresh, "meetings")) == sorted(str(i) for i in fresh.account.meeting_ids())
    logged = caplog.text
    for secret in secrets_of(fresh.account):
        assert secret not in logged


def test_no_secret_in_logs_dead_letters_or_the_state_file(fresh: World, mapping_set: MappingSet, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "state.db"
    broken = copy_mappings(tmp_path)
    _break_meeting_topics(broken)
    with StateStore.open(state) as store:
        run_sync(fresh, store, load_mapping_set([broken]).raise_if_invalid())
        run_sync(fresh, store, mapping_set, dry_run=True)
        assert store.dead_letters.find("meetings")
    secrets = secrets_of(fresh.account)
    assert secrets
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("state.db*"))
    for secret in secrets:
        assert secret.encode() not in raw, "a secret reached the state file"
        assert secret not in caplog.text, "a secret reached the log"


# ---- dry run and the reverse flow ------------------------------------------------------------------


def test_dry_run_reports_without_writing_then_shows_field_changes(fresh: World, mapping_set: MappingSet,
                                                                  tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        planned = run_sync(fresh, store, mapping_set, entities=("meetings",), dry_run=True)
        assert key_values(fresh, "meetings") == []
        assert store.runs.recent() == []
        creates = [p for p in planned.planned if p.entity == "meetings"]
        assert creates and {p.action for p in creates} == {"create"}
        assert all(p.changes["zoom_app__Zoom_Meeting_Password__c"] == (None, "***") for p in creates)
        run_sync(fresh, store, mapping_set, entities=("meetings",))
        changed = copy_mappings(tmp_path)
        replace_once(changed / "meetings.yaml", "  - from: topic\n", "  - from: upper(topic)\n")
        again = run_sync(fresh, store, load_mapping_set([changed]).raise_if_invalid(), entities=("meetings",),
                         dry_run=True)
        updates = [p for p in again.planned if p.entity == "meetings" and p.action == "update"]
        assert len(updates) >= len(fresh.account.meeting_ids()) // 2  # all but topics already in capitals
        for update in updates:
            assert list(update.changes) == ["zoom_app__Meeting_Topic__c"]
            before, after = update.changes["zoom_app__Meeting_Topic__c"]
            assert after == before.upper() != before
        topics = {r["zoom_app__Meeting_Topic__c"] for r in records(fresh, OBJECTS["meetings"],
                                                                   "zoom_app__Meeting_Topic__c")}
        assert any(t != t.upper() for t in topics), "the dry run wrote nothing"


def test_the_reverse_flow_registers_contacts_and_leads_once(fresh: World, mapping_set: MappingSet, tmp_path: Path
                                                            ) -> None:
    webinar = str(next(w for w in fresh.account.webinar_ids()
                       if fresh.account.find_webinar(str(w)).registration_open))
    org = fresh.salesforce.app.state.store
    org.create("Contact", {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"})
    org.create("Lead", {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ADA@example.com", "Company": "AE"})
    org.create("Lead", {"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@example.com", "Company": "N"})
    org.create("Contact", {"LastName": "NoMail"})
    with StateStore.open(tmp_path / "state.db") as store:
        first = run_sync(fresh, store, mapping_set, entities=("registrations",), webinar=webinar)
        counts = first.entities["registrations"]
        assert (counts.read, counts.written, counts.unchanged, counts.failed) == (3, 2, 1, 0)
        posted = requests.get(f"{fresh.zoom.url}/_emulator/registrants/{webinar}", timeout=10).json()
        emails = sorted(r["email"] for r in (posted["registrants"] if isinstance(posted, dict) else posted))
        assert emails == ["ada@example.com", "grace@example.com"]
        second = run_sync(fresh, store, mapping_set, entities=("registrations",), webinar=webinar)
        assert second.entities["registrations"].written == 0
        assert second.entities["registrations"].unchanged == 3


def test_the_reverse_flow_needs_its_webinar(fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:
    from engine.errors import ConfigError

    with StateStore.open(tmp_path / "state.db") as store:
        with pytest.raises(ConfigError, match="--webinar"):
            run_sync(fresh, store, mapping_set, entities=("registrations",))
        with pytest.raises(ConfigError, match="--webinar 1: Zoom has no such webinar") as caught:
            run_sync(fresh, store, mapping_set, entities=("registrations",), webinar="1")
        assert caught.value.exit_code == 2
        assert store.dead_letters.find() == []


def test_the_call_window_moves_its_cursor_only_when_confirmed(fresh: World, mapping_set: MappingSet,
                                                              tmp_path: Path) -> None:
    from engine.errors import RetriesExhausted
    from engine.salesforce.auth import MAX_ATTEMPTS

    with StateStore.open(tmp_path / "state.db") as store:
        fresh.salesforce.post("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": MAX_ATTEMPTS,
                                            "route": "collections_upsert"})
        with pytest.raises(RetriesExhausted):
            run_sync(fresh, store, mapping_set, entities=("calls",))
        assert store.cursors.get("calls") is None, "Salesforce never confirmed: the window is read again"
        assert store.hashes.states("calls", fresh.account.call_ids()) == {}
        assert store.runs.recent()[0].status == "failed"
        report = run_sync(fresh, store, mapping_set, entities=("calls",))
        assert report.entities["calls"].written == len(set(fresh.account.call_ids()))
        cursor = store.cursors.get("calls")
        assert cursor is not None and len(cursor) == 10
        calls = [r for r in fresh.zoom.stats()["requests"] if "call_history" in r]
        assert calls



def test_a_record_that_cannot_be_mapped_is_a_dead_letter_and_the_batch_goes_on(
    fresh: World, mapping_set: MappingSet, tmp_path: Path
) -> None:
    strict = copy_mappings(tmp_path)
    key_field = "  - from: phone.phone_user_id\n    to: zoom_app__PBX_User_Id__c\n    type: string\n"
    replace_once(strict / "users.yaml", key_field, key_field + "    on_missing: reject\n")
    without_phone = {str(u) for u in fresh.account.users_without_phone()}
    assert without_phone, "the synthetic account has users without Zoom Phone"
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(fresh, store, load_mapping_set([strict]).raise_if_invalid(), entities=("users",))
        counts = report.entities["users"]
        assert (counts.failed, counts.written) == (len(without_phone), counts.read - len(without_phone))
        letters = store.dead_letters.find("users")
        assert {letter.key for letter in letters} == without_phone
        assert {letter.code for letter in letters} == {"MAPPING_MISSING"}
        assert all("zoom_app__PBX_User_Id__c" in letter.message for letter in letters)
        assert all(letter.record["source"]["settings"]["schedule_meeting"].get("pmi_password") in (None, "***")
                   for letter in letters)
        dry = run_sync(fresh, store, load_mapping_set([strict]).raise_if_invalid(), entities=("users",), dry_run=True)
        assert dry.entities["users"].failed == len(without_phone)
        assert len(store.dead_letters.find("users")) == len(without_phone), "a dry run files no dead letter"
        retried = run_sync(fresh, store, mapping_set, entities=("users",), retry_dead_letters=True)
        assert retried.entities["users"].written == len(without_phone)
        assert store.dead_letters.find("users") == []
    assert sorted(key_values(fresh, "users")) == sorted(str(u) for u in fresh.account.user_ids())


def test_refused_salesforce_credentials_fail_before_anything_is_read(fresh: World, mapping_set: MappingSet,
                                                                     tmp_path: Path) -> None:
    from engine.errors import AuthenticationFailed

    zoom = fresh.zoom_client()
    writer = SalesforceWriter(SalesforceCredentials(fresh.salesforce.url, client_id="demo", client_secret="wrong"),
                              sleep=lambda seconds: None)
    try:
        with StateStore.open(tmp_path / "state.db") as store, pytest.raises(AuthenticationFailed) as caught:
            SyncRunner(mapping_set, store, ZoomSource(zoom), writer).run(SyncOptions())
        assert caught.value.exit_code == 2 and "wrong" not in str(caught.value)
        assert zoom.api_calls == 0, "no Zoom data was read with Salesforce refusing the login"
    finally:
        zoom.close()
        writer.close()


def test_refused_zoom_credentials_fail_before_salesforce_is_touched(fresh: World, mapping_set: MappingSet,
                                                                   tmp_path: Path) -> None:
    from engine.errors import AuthenticationFailed

    zoom = ZoomClient(ZoomCredentials("demo", "demo", "not-the-secret", api_url=f"{fresh.zoom.url}/v2",
                                      oauth_url=f"{fresh.zoom.url}/oauth/token"), retry=FAST_RETRY)
    writer = fresh.writer()
    try:
        with StateStore.open(tmp_path / "state.db") as store, pytest.raises(AuthenticationFailed) as caught:
            SyncRunner(mapping_set, store, ZoomSource(zoom), writer).run(SyncOptions())
        assert caught.value.exit_code == 2 and "not-the-secret" not in str(caught.value)
        assert (zoom.api_calls, writer.api_calls) == (0, 0)
    finally:
        zoom.close()
        writer.close()


def test_a_disabled_mapping_is_not_synced(fresh: World, tmp_path: Path) -> None:
    from engine.errors import ConfigError

    folder = copy_mappings(tmp_path)
    for name in ("calls", "panelists"):
        replace_once(folder / f"{name}.yaml", f"entity: {name}\n", f"entity: {name}\nenabled: false\n")
    mappings = load_mapping_set([folder]).raise_if_invalid()
    with StateStore.open(tmp_path / "state.db") as store:
        with pytest.raises(ConfigError, match="calls: the mapping is disabled"):
            run_sync(fresh, store, mappings, entities=("calls",))
        report = run_sync(fresh, store, mappings)
    assert "calls" not in report.entities and "panelists" not in report.entities
    assert key_values(fresh, "calls") == [] and key_values(fresh, "panelists") == []
    assert key_values(fresh, "webinars")


def test_a_parent_that_cannot_be_read_is_reported_and_its_children_wait(fresh: World, tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "users.yaml", "      as: phone\n      params: {userId: id}\n      optional: true\n",
                 "      as: phone\n      params: {userId: id}\n")
    without_phone = {str(u) for u in fresh.account.users_without_phone()}
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(fresh, store, load_mapping_set([folder]).raise_if_invalid(), entities=("meetings",))
        assert report.entities["users"].failed == len(without_phone) and report.entities["users"].written == 0
        assert report.failed == len(without_phone), "the exit code says some records failed"
        assert {letter.key for letter in store.dead_letters.find("users")} == without_phone
        assert {letter.code for letter in store.dead_letters.find("users")} == {"ZOOM_1001"}
    readable = [u for u in fresh.account.user_ids() if str(u) not in without_phone]
    expected = sum(len(fresh.account.find_user(str(u)).meetings) for u in readable)
    assert report.entities["meetings"].written == expected == len(key_values(fresh, "meetings"))


def test_a_dry_run_of_the_reverse_flow_registers_nobody(fresh: World, mapping_set: MappingSet, tmp_path: Path
                                                        ) -> None:
    webinar = str(next(w for w in fresh.account.webinar_ids()
                       if fresh.account.find_webinar(str(w)).registration_open))
    fresh.salesforce.app.state.store.create("Contact", {"FirstName": "Ada", "LastName": "L", "Email": "ada@x.org"})
    with StateStore.open(tmp_path / "state.db") as store:
        report = run_sync(fresh, store, mapping_set, entities=("registrations",), webinar=webinar, dry_run=True)
    (planned,) = [p for p in report.planned if p.entity == "registrations"]
    assert (planned.key, planned.action) == (f"{webinar}:ada@x.org", "create")
    assert planned.changes["email"] == (None, "ada@x.org")
    posted = requests.get(f"{fresh.zoom.url}/_emulator/registrants/{webinar}", timeout=10).json()
    assert not (posted["registrants"] if isinstance(posted, dict) else posted)
