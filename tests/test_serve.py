"""Real-time sync from Zoom event notifications, end to end over real sockets on 127.0.0.1.

The receiver is the real app (``engine.serve.app.create_app``) with the real inbox worker, the real
:class:`~engine.serve.events.EventProcessor` on the default mappings, and the real Salesforce writer
(simple-salesforce) against the Salesforce emulator over HTTPS, trusted through
``REQUESTS_CA_BUNDLE``. Events are the Zoom emulator's own (``build_event`` over its synthetic
account), signed as Zoom signs them. What lands in Salesforce is read back with SOQL.

No test depends on the wall clock: signatures are stamped with the current time because that is
what the receiver checks them against, and every wait is a bounded loop that fails when its
deadline passes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from starlette.applications import Starlette

from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.emulators.zoom.data import Account
from engine.emulators.zoom.webhooks import build_event, serialize
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter, soql_quote
from engine.serve.app import WEBHOOK_PATH, create_app
from engine.serve.events import EventProcessor, subscriptions
from engine.serve.worker import InboxWorker
from engine.serving import RunningServer, TLSFiles, start_in_thread
from engine.sync.runner import SyncOptions, SyncRunner
from engine.sync.state.cipher import StateCipher
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet, load_mapping_set
from engine.zoom.client import RetryPolicy, ZoomClient, ZoomCredentials
from engine.zoom.reader import ZoomSource
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, REPO, signed_headers
from tests.helpers import wait_until as wait_for

SECRET = "zm-webhook-SECRET-4f1c9e27ab"
PASSWORD = "Mtg-Pass-77341-q"
DEADLINE = 30.0  # seconds any single wait may take before the test fails
CALLS = "zoom_app__Zoom_Call_Log__c"
CALL_KEY = "zoom_app__Calllog_Unique_ID__c"
MEETINGS = "zoom_app__Zoom_Event__c"
MEETING_KEY = "zoom_app__Zoom_Meeting_Id__c"
REGISTRANTS = "zoom_app__Zoom_Webinar_Registrant__c"
WEBINARS = "zoom_app__Zoom_Webinar__c"
# Fast retries: the backoff is real, only short; an outage in a test lasts well under a second.
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "idle_wait": 0.02, "lease_seconds": 30, "max_attempts": 100_000}
FAST_ZOOM = RetryPolicy(max_attempts=8, backoff_base=0.01, backoff_max=0.05, max_wait=5.0)


# --------------------------------------------------------------------------------------------
# Helpers


def now_ts() -> str:
    """The signature timestamp Zoom would send now (the receiver checks it against its clock)."""
    return str(int(time.time()))


def signed(body: bytes, *, ts: str | None = None, secret: str = SECRET, request_id: str | None = None
           ) -> dict[str, str]:
    return signed_headers(body, secret, ts or now_ts(), request_id)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    wait_for(predicate, what, timeout)


def call_id(event: dict[str, Any]) -> str:
    return str(event["payload"]["object"]["call_id"])


def sf_time(zoom_time: str) -> str:
    """How Salesforce answers a datetime Zoom gave as ``2026-01-05T10:00:00Z``."""
    return zoom_time.replace("Z", ".000+0000")


@dataclass
class Salesforce:
    """The Salesforce emulator, and a writer of its own to read the org back with SOQL."""

    app: Starlette
    server: RunningServer
    tls: TLSFiles
    reader: SalesforceWriter

    @property
    def url(self) -> str:
        return self.server.url

    def hook(self, name: str, body: dict[str, Any] | None = None) -> Any:
        reply = requests.post(f"{self.url}/_emulator/{name}", json=body or {}, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def upserts(self) -> int:
        """Collection upsert requests answered so far (every status)."""
        routes = requests.get(f"{self.url}/_emulator/stats", timeout=30).json()["routes"]
        return sum(routes.get("collections_upsert", {}).values())

    def writer(self, url: str | None = None) -> SalesforceWriter:
        credentials = SalesforceCredentials(url or self.url, client_id="demo", client_secret="demo")
        return SalesforceWriter(credentials, sleep=lambda seconds: None)

    def rows(self, sobject: str, fields: str, where: str = "") -> list[dict[str, Any]]:
        return list(self.reader.query(f"SELECT {fields} FROM {sobject}{where}"))

    def by_key(self, sobject: str, key_field: str, key: str, fields: str) -> list[dict[str, Any]]:
        return self.rows(sobject, fields, f" WHERE {key_field} = {soql_quote(key)}")


@dataclass
class Zoom:
    app: Starlette
    server: RunningServer

    @property
    def account(self) -> Account:
        return self.app.state.account

    def source(self) -> ZoomSource:
        credentials = ZoomCredentials("demo", "demo", "demo", api_url=f"{self.server.url}/v2",
                                      oauth_url=f"{self.server.url}/oauth/token")
        return ZoomSource(ZoomClient(credentials, retry=FAST_ZOOM))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSFiles]:
    files = make_tls_files(tmp_path_factory.mktemp("serve-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", files.ca_file)
        yield files


@pytest.fixture(scope="module")
def salesforce_module(tls: TLSFiles) -> Iterator[Salesforce]:
    app = salesforce_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS))
    server = start_in_thread(app, tls=tls)
    emulator = Salesforce(app, server, tls, None)  # type: ignore[arg-type]
    emulator.reader = emulator.writer()
    yield emulator
    emulator.reader.close()
    server.stop()


@pytest.fixture
def salesforce(salesforce_module: Salesforce) -> Salesforce:
    """The module's emulator with an empty org."""
    salesforce_module.hook("reset")
    return salesforce_module


@pytest.fixture(scope="module")
def zoom() -> Iterator[Zoom]:
    app = zoom_app(ZoomEmulatorConfig(users=4))
    server = start_in_thread(app)
    yield Zoom(app, server)
    server.stop()
    close_app(app)


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


@dataclass
class Service:
    """One receiver as ``zoomforce serve`` builds it, on uvicorn."""

    url: str
    store: StateStore
    worker: InboxWorker
    writer: SalesforceWriter
    server: RunningServer
    client: httpx.Client
    state_path: Path
    stopped: bool = field(default=False)

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(self.url + WEBHOOK_PATH, content=body, headers=headers)

    def deliver(self, event: dict[str, Any], request_id: str | None = None) -> httpx.Response:
        body = serialize(event)
        return self.post(body, signed(body, request_id=request_id))

    def wait_done(self, count: int, timeout: float = DEADLINE) -> None:
        wait_until(lambda: self.store.inbox.counts() == {"done": count},
                   f"{count} events done (inbox: {self.store.inbox.counts()})", timeout)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.client.close()
        self.server.stop()
        assert self.worker.stop(10), "the inbox worker did not stop"
        self.writer.close()
        self.store.close()


CIPHER = StateCipher([StateCipher.generate_key().encode()])  # the operator's ZOOMFORCE_STATE_KEY


@pytest.fixture
def make_service(tmp_path: Path, mapping_set: MappingSet, salesforce_module: Salesforce
                 ) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(*, salesforce_url: str | None = None, start_worker: bool = True, cipher: StateCipher | None = CIPHER,
             **worker_options: Any) -> Service:
        state_path = tmp_path / f"state-{len(made)}.db"
        store = StateStore.open(state_path)
        writer = salesforce_module.writer(salesforce_url)
        worker = InboxWorker(store, EventProcessor(mapping_set, store, writer, cipher=cipher),
                             **{**FAST, **worker_options})
        app = create_app(store, SECRET, None, worker=worker)
        server = start_in_thread(app)
        if start_worker:
            worker.start()
        service = Service(server.url, store, worker, writer, server, httpx.Client(timeout=30), state_path)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()


@pytest.fixture
def service(make_service: Callable[..., Service], salesforce: Salesforce) -> Service:
    return make_service()


# --------------------------------------------------------------------------------------------
# One event, and the same call read by REST


def test_a_signed_call_event_ends_in_salesforce_with_its_ring_time(
    service: Service, salesforce: Salesforce, zoom: Zoom
) -> None:
    event = build_event(zoom.account, "phone.callee_ended", 0)
    call = event["payload"]["object"]
    assert call["call_id"] in zoom.account.call_ids()

    response = service.deliver(event, request_id="req-call-1")
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    service.wait_done(1)

    fields = ("zoom_app__Ring_Start_Time__c, zoom_app__Answer_Start_Time__c, zoom_app__Call_End_Time__c, "
              "zoom_app__Call_ID__c, zoom_app__Callee_Extension_Number__c, zoom_app__Caller_Phone_Number__c, "
              "zoom_app__Call_Duration__c, zoom_app__Signal_Status__c")
    (record,) = salesforce.by_key(CALLS, CALL_KEY, call["call_id"], fields)
    assert record == {
        "zoom_app__Ring_Start_Time__c": sf_time(call["ringing_start_time"]),
        "zoom_app__Answer_Start_Time__c": sf_time(call["answer_start_time"]),
        "zoom_app__Call_End_Time__c": sf_time(call["call_end_time"]),
        "zoom_app__Call_ID__c": call["call_id"],
        "zoom_app__Callee_Extension_Number__c": str(call["callee"]["extension_number"]),
        "zoom_app__Caller_Phone_Number__c": call["caller"]["phone_number"],
        # Not in the event: left for the REST sync, not written as null.
        "zoom_app__Call_Duration__c": None,
        "zoom_app__Signal_Status__c": None,
    }
    assert service.store.dead_letters.find() == []


def test_the_same_call_read_by_rest_lands_on_the_same_record(
    service: Service, salesforce: Salesforce, zoom: Zoom, mapping_set: MappingSet
) -> None:
    account = zoom.account
    first = build_event(account, "phone.callee_ended", 0)  # arrives before the REST sync
    second = build_event(account, "phone.callee_ended", 1)  # arrives after it
    history = {call["call_id"]: call for call in account.calls()}

    assert service.deliver(first).json() == {"status": "accepted"}
    service.wait_done(1)
    source = zoom.source()
    try:
        since = (account.now - timedelta(days=31)).date()  # the whole call history, whatever the hour
        report = SyncRunner(mapping_set, service.store, source, service.writer).run(
            SyncOptions(entities=("calls",), since=since))
    finally:
        source.client.close()
    synced = report.entities["calls"]
    assert (synced.read, synced.written, synced.failed) == (len(history), len(history), 0)
    assert service.deliver(second).json() == {"status": "accepted"}
    service.wait_done(2)

    fields = f"{CALL_KEY}, zoom_app__Ring_Start_Time__c, zoom_app__Call_Duration__c, zoom_app__Signal_Status__c"
    rows = salesforce.rows(CALLS, fields)
    keys = [row[CALL_KEY] for row in rows]
    assert len(keys) == len(set(keys)) == len(history)  # the events added no record of their own
    by_key = {row[CALL_KEY]: row for row in rows}
    for event in (first, second):
        call = history[call_id(event)]
        assert by_key[call["call_id"]] == {
            CALL_KEY: call["call_id"],
            "zoom_app__Ring_Start_Time__c": sf_time(event["payload"]["object"]["ringing_start_time"]),
            "zoom_app__Call_Duration__c": call["duration"],
            "zoom_app__Signal_Status__c": {"answered": "Answered", "connected": "Connected"}[call["call_result"]],
        }
    # The calls no event was sent for have no ring time: REST never writes it, not even as null.
    assert all(row["zoom_app__Ring_Start_Time__c"] is None for key, row in by_key.items()
               if key not in (call_id(first), call_id(second)))


# --------------------------------------------------------------------------------------------
# What is refused


def _forged(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, secret="not-the-secret-token")


def _altered(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = signed(body)
    return body.replace(b'"call_end_time":"', b'"call_end_time":"1'), headers


def _replayed(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, ts=str(int(time.time()) - 3600))  # signed with the secret, an hour ago


@pytest.mark.parametrize("tamper", [_forged, _altered, _replayed], ids=["forged", "altered", "replayed"])
def test_forged_altered_or_replayed_events_get_401_and_change_nothing(
    service: Service, salesforce: Salesforce, zoom: Zoom, tamper: Callable[[bytes], tuple[bytes, dict[str, str]]]
) -> None:
    event = build_event(zoom.account, "phone.caller_ended", 0)
    body, headers = tamper(serialize(event))
    upserts = salesforce.upserts()

    response = service.post(body, headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert service.store.inbox.counts() == {}
    assert service.worker.drain(5) == 0
    assert salesforce.by_key(CALLS, CALL_KEY, call_id(event), CALL_KEY) == []
    assert salesforce.upserts() == upserts
    # The genuine delivery of the same event still goes through.
    assert service.deliver(event).json() == {"status": "accepted"}
    service.wait_done(1)
    assert len(salesforce.by_key(CALLS, CALL_KEY, call_id(event), CALL_KEY)) == 1


def test_url_validation_is_answered_and_nothing_is_kept(service: Service, salesforce: Salesforce) -> None:
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    body = json.dumps({"payload": {"plainToken": plain}, "event_ts": 1654503849680,
                       "event": "endpoint.url_validation"}, separators=(",", ":")).encode()
    response = service.post(body, signed(body))
    assert response.status_code == 200
    expected = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": plain, "encryptedToken": expected}
    assert service.store.inbox.counts() == {}
    forged = service.post(body, signed(body, secret="guess"))
    assert forged.status_code == 401 and "encryptedToken" not in forged.text


def test_a_duplicate_delivery_is_processed_once(service: Service, salesforce: Salesforce, zoom: Zoom) -> None:
    event = build_event(zoom.account, "phone.caller_ended", 1)
    upserts = salesforce.upserts()
    first = service.deliver(event, request_id="req-dup")
    again = service.deliver(event, request_id="req-dup")  # Zoom's redelivery keeps the request id
    other = service.deliver(event, request_id="req-dup-2")  # the same body under another id
    assert [r.json()["status"] for r in (first, again, other)] == ["accepted", "duplicate", "duplicate"]
    service.wait_done(1)
    assert service.worker.drain(5) == 0
    assert salesforce.upserts() - upserts == 1
    assert len(salesforce.by_key(CALLS, CALL_KEY, call_id(event), CALL_KEY)) == 1


def test_events_claimed_together_are_written_in_one_call_and_merged_per_call(
    make_service: Callable[..., Service], salesforce: Salesforce, zoom: Zoom
) -> None:
    service = make_service(start_worker=False)  # drained below, all in one batch
    account = zoom.account
    events = _outage_events(account, callee=2, caller=4, meetings=0)
    # An internal call: both legs are users of the account, so Zoom sends both events, one call id.
    outbound = events[2]
    inbound = build_event(account, "phone.callee_ended", 0)
    inbound["payload"]["object"] |= {"call_id": call_id(outbound), "caller": outbound["payload"]["object"]["caller"]}
    events.append(inbound)
    for number, event in enumerate(events):
        assert service.deliver(event, request_id=f"batch-{number}").json() == {"status": "accepted"}
    upserts = salesforce.upserts()

    assert service.worker.drain(DEADLINE) == len(events)
    assert service.store.inbox.counts() == {"done": len(events)}
    assert salesforce.upserts() - upserts == 1  # one Salesforce call for the batch, not one per event
    fields = f"{CALL_KEY}, zoom_app__Caller_Extension_Number__c, zoom_app__Callee_Extension_Number__c"
    rows = {row[CALL_KEY]: row for row in salesforce.rows(CALLS, fields)}
    assert set(rows) == {call_id(event) for event in events} and len(rows) == len(events) - 1
    merged = rows[call_id(outbound)]  # the two legs' fields together
    assert merged["zoom_app__Caller_Extension_Number__c"] == str(
        outbound["payload"]["object"]["caller"]["extension_number"])
    assert merged["zoom_app__Callee_Extension_Number__c"] == str(
        inbound["payload"]["object"]["callee"]["extension_number"])


# --------------------------------------------------------------------------------------------
# Registrants, under their webinar


def test_a_new_registrant_is_written_under_its_synced_webinar_and_linked_to_its_contact(
    service: Service, salesforce: Salesforce, zoom: Zoom, mapping_set: MappingSet
) -> None:
    event = build_event(zoom.account, "webinar.registration_created", 0)
    webinar, registrant = event["payload"]["object"], event["payload"]["object"]["registrant"]
    contact = salesforce.app.state.store.create(
        "Contact", {"LastName": registrant.get("last_name") or "Registrant", "Email": registrant["email"].upper()})
    source = zoom.source()
    try:
        report = SyncRunner(mapping_set, service.store, source, service.writer).run(
            SyncOptions(entities=("webinars",)))
    finally:
        source.client.close()
    assert report.failed == 0
    (parent,) = salesforce.by_key(WEBINARS, "zoom_app__Webinar_Id__c", str(webinar["id"]), "Id")

    assert service.deliver(event).json() == {"status": "accepted"}
    service.wait_done(1)

    fields = ("zoom_app__First_Name__c, zoom_app__Email__c, zoom_app__Join_Url__c, zoom_app__Status__c, "
              "zoom_app__Zoom_Webinar__c, zoom_app__Zoom_Webinar__r.zoom_app__Webinar_Id__c, Contact__c")
    (record,) = salesforce.by_key(REGISTRANTS, "zoom_app__External_key__c", registrant["id"], fields)
    assert record["zoom_app__Zoom_Webinar__c"] == parent["Id"]
    assert record["zoom_app__Zoom_Webinar__r"] == {"zoom_app__Webinar_Id__c": str(webinar["id"])}
    assert record["Contact__c"] == contact.id  # matched by e-mail, whatever its case
    assert (record["zoom_app__First_Name__c"], record["zoom_app__Email__c"]) == (
        registrant["first_name"], registrant["email"])
    assert record["zoom_app__Join_Url__c"] == registrant["join_url"]
    assert record["zoom_app__Status__c"] == "Approved"
    assert service.store.dead_letters.find() == []


def test_a_registrant_of_a_webinar_not_in_salesforce_is_a_dead_letter_retried_once_it_is(
    service: Service, salesforce: Salesforce, zoom: Zoom, mapping_set: MappingSet
) -> None:
    event = build_event(zoom.account, "webinar.registration_created", 1)
    registrant = event["payload"]["object"]["registrant"]
    assert service.deliver(event).json() == {"status": "accepted"}
    service.wait_done(1)  # Salesforce answered: retrying the event cannot help
    (letter,) = service.store.dead_letters.find("registrants")
    assert (letter.key, letter.code) == (registrant["id"], "INVALID_FIELD")
    assert f"{event['payload']['object']['id']} not found" in letter.message
    assert "tk=***" in json.dumps(letter.record)  # the personal join link's token is masked
    assert registrant["join_url"].split("tk=")[1] not in json.dumps(letter.record) + letter.message
    assert salesforce.by_key(REGISTRANTS, "zoom_app__External_key__c", registrant["id"], "Id") == []
    source = zoom.source()
    try:  # the webinar reaches Salesforce; the dead letter is then mapped again, as the event it came from
        runner = SyncRunner(mapping_set, service.store, source, service.writer)
        assert runner.run(SyncOptions(entities=("webinars",))).failed == 0
        retried = runner.run(SyncOptions(entities=("registrants",), retry_dead_letters=True))
    finally:
        source.client.close()
    assert retried.entities["registrants"].written == 1
    assert service.store.dead_letters.find() == []
    (record,) = salesforce.by_key(REGISTRANTS, "zoom_app__External_key__c", registrant["id"],
                                  "zoom_app__First_Name__c, zoom_app__Zoom_Webinar__r.zoom_app__Webinar_Id__c")
    assert record["zoom_app__First_Name__c"] == registrant["first_name"]
    assert record["zoom_app__Zoom_Webinar__r"] == {"zoom_app__Webinar_Id__c": str(event["payload"]["object"]["id"])}


# --------------------------------------------------------------------------------------------
# Salesforce down, then back


def _outage_events(account: Account, callee: int = 2, caller: int = 4, meetings: int = 4) -> list[dict[str, Any]]:
    """Distinct events of three kinds (the 4-user account has 2 answered inbound calls)."""
    counts = {"phone.callee_ended": callee, "phone.caller_ended": caller, "meeting.ended": meetings}
    events = [build_event(account, kind, n) for kind, count in counts.items() for n in range(count)]
    assert len({serialize(event) for event in events}) == len(events)
    return events


def _keys_written(salesforce: Salesforce, events: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    calls = {row[CALL_KEY] for row in salesforce.rows(CALLS, CALL_KEY)}
    meetings = {row[MEETING_KEY] for row in salesforce.rows(MEETINGS, MEETING_KEY)}
    return calls, meetings


def _expected_keys(events: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    calls = {call_id(e) for e in events if e["event"].startswith("phone.")}
    meetings = {str(e["payload"]["object"]["id"]) for e in events if e["event"] == "meeting.ended"}
    return calls, meetings


def test_a_salesforce_server_down_then_back_loses_nothing(
    make_service: Callable[..., Service], tls: TLSFiles, zoom: Zoom
) -> None:
    app = salesforce_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS))
    server = start_in_thread(app, tls=tls)
    port = int(server.url.rsplit(":", 1)[1])
    outage = Salesforce(app, server, tls, None)  # type: ignore[arg-type]
    service = make_service(salesforce_url=server.url)
    try:
        server.stop()  # Salesforce goes away before the events arrive
        events = _outage_events(zoom.account)
        for number, event in enumerate(events):
            assert service.deliver(event, request_id=f"outage-{number}").json() == {"status": "accepted"}

        def all_failed_twice() -> bool:
            rows = [service.store.inbox.get(n) for n in range(1, len(events) + 1)]
            return all(row is not None and row.status != "done" and row.attempts >= 2 for row in rows)

        wait_until(all_failed_twice, "every event to fail at least twice while Salesforce is down")
        health = service.client.get(service.url + "/healthz").json()
        assert health["inbox"]["done"] == 0 and health["inbox"]["dead"] == 0
        event = service.store.inbox.get(1)
        assert event is not None and event.last_error is not None and event.last_error.startswith(
            ("Unreachable", "RetriesExhausted"))

        server = outage.server = start_in_thread(app, "127.0.0.1", port, tls=tls)  # back, same address
        outage.reader = outage.writer()
        service.wait_done(len(events))
        assert _keys_written(outage, events) == _expected_keys(events)
        assert service.store.dead_letters.find() == []
    finally:
        if outage.reader is not None:
            outage.reader.close()
        server.stop()


def test_salesforce_refusing_every_call_for_a_while_loses_nothing(
    service: Service, salesforce: Salesforce, zoom: Zoom
) -> None:
    salesforce.hook("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": 60})  # 12 attempts of 5 calls
    events = _outage_events(zoom.account, 1, 3, 3)
    for number, event in enumerate(events):
        assert service.deliver(event, request_id=f"refused-{number}").json() == {"status": "accepted"}
    service.wait_done(len(events))
    assert _keys_written(salesforce, events) == _expected_keys(events)
    assert service.store.dead_letters.find() == []
    attempts = [service.store.inbox.get(n).attempts for n in range(1, len(events) + 1)]  # type: ignore[union-attr]
    assert max(attempts) > 1  # they were refused, retried, and written


# --------------------------------------------------------------------------------------------
# A burst


def test_a_burst_of_2000_signed_events_all_end_in_salesforce(service: Service, salesforce: Salesforce) -> None:
    account = Account(users=700)  # enough calls for 2,000 distinct ones
    events = [build_event(account, "phone.callee_ended", n) for n in range(700)]
    events += [build_event(account, "phone.caller_ended", n) for n in range(1300)]
    keys = {call_id(event) for event in events}
    assert len(keys) == 2000
    bodies = [serialize(event) for event in events]

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(16) as pool:

        def send(number: int) -> int:
            body = bodies[number]
            reply = client.post(service.url + WEBHOOK_PATH, content=body,
                                headers=signed(body, request_id=f"burst-{number}"))
            return reply.status_code

        statuses = list(pool.map(send, range(len(bodies))))
    assert statuses == [200] * len(bodies)
    service.wait_done(len(bodies), timeout=120)
    written = [row[CALL_KEY] for row in salesforce.rows(CALLS, CALL_KEY)]
    assert len(written) == len(set(written)) and set(written) == keys
    assert service.store.dead_letters.find() == []


# --------------------------------------------------------------------------------------------
# Secrets


def _state_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists())


def test_no_secret_token_or_meeting_password_in_logs_or_the_state_file(
    service: Service, salesforce: Salesforce, zoom: Zoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = zoom.account
    ended = build_event(account, "meeting.ended", 0)
    ended["payload"]["object"]["password"] = PASSWORD  # should Zoom ever send it: never kept
    created = build_event(account, "meeting.ended", 1)  # no mapping reads meeting.created: not kept at all
    created["event"] = "meeting.created"
    created["payload"]["object"] |= {"password": PASSWORD, "join_url": f"https://zoom.us/j/1?pwd={PASSWORD}"}
    call = build_event(account, "phone.callee_ended", 2)

    salesforce.hook("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": 5})  # one failed attempt, logged
    assert service.deliver(ended, request_id="req-ended").json() == {"status": "accepted"}
    service.wait_done(1)
    assert service.deliver(created, request_id="req-created").json() == {"status": "ignored"}
    assert service.deliver(call, request_id="req-call").json() == {"status": "accepted"}
    body = serialize(call)
    assert service.post(body, signed(body, secret=PASSWORD)).status_code == 401
    assert service.post(b"not json " + PASSWORD.encode(), signed(b"not json " + PASSWORD.encode())).status_code == 400
    validation = serialize({"event": "endpoint.url_validation", "payload": {"plainToken": PASSWORD}})
    assert service.post(validation, signed(validation)).status_code == 200
    service.wait_done(2)
    (meeting,) = salesforce.by_key(MEETINGS, MEETING_KEY, str(ended["payload"]["object"]["id"]),
                                   "zoom_app__Zoom_Meeting_Status__c")
    assert meeting == {"zoom_app__Zoom_Meeting_Status__c": "Ended"}
    service.stop()  # closes the state file: its WAL is folded in

    texts = [" ".join(filter(None, [r.getMessage(), r.exc_text, r.stack_info])) for r in caplog.records]
    assert any("status=retry" in text for text in texts)  # the failure was logged, without values
    for text in texts:
        assert SECRET not in text and PASSWORD not in text
    state = _state_bytes(service.state_path)
    assert b"req-ended" in state  # the file does hold the events
    assert SECRET.encode() not in state
    assert PASSWORD.encode() not in state


# --------------------------------------------------------------------------------------------
# The Zoom emulator's own sender


def test_the_zoom_emulators_webhook_sender_end_to_end(
    service: Service, salesforce: Salesforce
) -> None:
    app = zoom_app(ZoomEmulatorConfig(users=3, webhook_url=service.url + WEBHOOK_PATH, webhook_secret=SECRET))
    server = start_in_thread(app)
    try:
        validation = requests.post(f"{server.url}/_emulator/webhooks/validate", json={}, timeout=30).json()
        assert validation["valid"] is True, validation
        kinds = ["phone.callee_ended", "phone.caller_ended", "meeting.ended"]
        sent = requests.post(f"{server.url}/_emulator/webhooks/send", json={"events": kinds}, timeout=30).json()
        assert [d["state"] for d in sent["sent"]] == ["delivered"] * 3
        service.wait_done(3)
        events = [build_event(app.state.account, kind, 0) for kind in kinds]
        assert _keys_written(salesforce, events) == _expected_keys(events)
    finally:
        server.stop()
        close_app(app)


# --------------------------------------------------------------------------------------------
# The command


def _serve_env(salesforce: Salesforce, **extra: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SF_", "ZOOM_")) and key != "REQUESTS_CA_BUNDLE"}
    env |= {"SF_INSTANCE_URL": salesforce.url, "SF_CLIENT_ID": "demo", "SF_CLIENT_SECRET": "demo",
            "REQUESTS_CA_BUNDLE": salesforce.tls.ca_file, "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET}
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _first_line(process: subprocess.Popen[str], timeout: float = DEADLINE) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        pytest.fail(f"zoomforce serve printed no URL within {timeout} s")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_zoomforce_serve_receives_an_event_and_stops_on_a_signal(
    salesforce: Salesforce, zoom: Zoom, tmp_path: Path, mapping_set: MappingSet, stop: signal.Signals
) -> None:
    state = tmp_path / "serve.db"
    command = [sys.executable, "-m", "engine", "serve", "--port", "0", "--state", str(state),
               "--mappings", str(MAPPINGS)]
    process = subprocess.Popen(command, env=_serve_env(salesforce), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        url = _first_line(process)
        assert url.startswith("http://127.0.0.1:")
        event = build_event(zoom.account, "phone.callee_ended", 0)
        body = serialize(event)
        reply = httpx.post(url + WEBHOOK_PATH, content=body, headers=signed(body, request_id="cli-1"), timeout=30)
        assert reply.json() == {"status": "accepted"}
        wait_until(lambda: len(salesforce.by_key(CALLS, CALL_KEY, call_id(event), CALL_KEY)) == 1,
                   "the event to reach Salesforce")
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=DEADLINE)  # it must not hang
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode in (0, 130), stderr
    assert f"event subscriptions: {', '.join(subscriptions(mapping_set))}" in stderr
    assert SECRET not in stderr
    with StateStore.open(state) as store:
        assert store.inbox.counts() == {"done": 1}


def test_zoomforce_serve_without_the_secret_token_exits_2_naming_it(salesforce: Salesforce, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engine", "serve", "--port", "0", "--state", str(tmp_path / "s.db")],
        env=_serve_env(salesforce, ZOOM_WEBHOOK_SECRET_TOKEN=None), cwd=REPO, capture_output=True, text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 2, result.stderr
    assert "ZOOM_WEBHOOK_SECRET_TOKEN" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "s.db").exists()
