"""The emulators spoken to by clients nobody here wrote: zoomus for Zoom, simple-salesforce's own
``bulk2`` and ``limits()`` for Salesforce, over real sockets.

A client written against the real services has to work against the emulators unchanged; where
it does not, either the emulator or the client departs from the services, and the test says
which (zoomus sends a UUID with one inner ``/`` unencoded, a path Zoom cannot route either).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from engine.emulators.salesforce.app import SalesforceEmulatorConfig, create_app
from engine.emulators.tls import make_tls_files
from engine.serving import start_in_thread
from tests.helpers import FIXTURES
from tests.test_emulator_zoom import ACCOUNT, Zoom, start_zoom

zoomus = pytest.importorskip("zoomus", reason="zoomus is in the test extra: pip install -e '.[test]'")

WEBINAR = "zoom_app__Zoom_Webinar__c"
REGISTRANT = "zoom_app__Zoom_Webinar_Registrant__c"
KEY = "zoom_app__Webinar_Id__c"


# ------------------------------------------------------------------------------------------ zoomus


@pytest.fixture(scope="module")
def zoom() -> Iterator[Zoom]:
    running = start_zoom()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(zoom: Zoom) -> Any:
    """zoomus's Server-to-Server OAuth client, pointed at the emulator."""
    return zoomus.ZoomClient("demo", "demo", "demo", base_uri=f"{zoom.url}/v2", oauth_uri=f"{zoom.url}/oauth/token")


def test_zoomus_logs_in_and_lists_users_meetings_and_webinars(client: Any) -> None:
    assert client.config["token"]  # its POST /oauth/token, form body and Basic auth, was accepted
    users = client.user.list(page_size=300).json()
    assert [u["id"] for u in users["users"]] == ACCOUNT.user_ids()
    host = ACCOUNT.user_at(0)
    assert client.user.get(id=host.email).json()["id"] == host.id
    meetings = client.meeting.list(user_id=host.id).json()["meetings"]
    assert [m["id"] for m in meetings] == [m.id for m in host.meetings]
    detail = client.meeting.get(id=host.meetings[0].id).json()
    assert (detail["id"], detail["uuid"]) == (host.meetings[0].id, host.meetings[0].uuid)
    webinars = client.webinar.list(user_id=host.id).json()["webinars"]
    assert [w["id"] for w in webinars] == [w.id for w in host.webinars]
    panelists = client.webinar.list_panelists(id=host.webinars[0].id).json()
    assert panelists["total_records"] == len(host.webinars[0].panelists)


def test_zoomus_reads_past_meetings_by_uuid_double_encoding_where_zoom_asks_it(client: Any) -> None:
    plain = next(m for m in ACCOUNT.all_meetings() if m.past and "/" not in m.uuid)
    leading = next(m for m in ACCOUNT.all_meetings() if m.past and m.uuid.startswith("/"))
    for meeting in (plain, leading):  # zoomus double-encodes one beginning with "/"
        reply = client.past_meeting.get_participants(meeting_id=meeting.uuid)
        assert reply.status_code == 200, reply.text
        assert [r["user_id"] for r in reply.json()["participants"]] == [r["user_id"] for r in meeting.participants]
    inner = next(m for m in ACCOUNT.all_meetings()
                 if m.past and "/" in m.uuid[1:] and not m.uuid.startswith("/") and "//" not in m.uuid)
    unencoded = client.past_meeting.get(meeting_id=inner.uuid)
    assert unencoded.status_code == 404  # zoomus leaves it unencoded: "/" splits the path, for Zoom as here


def test_zoomus_creates_a_meeting_and_reads_it_back(zoom: Zoom, client: Any) -> None:
    zoom.hook("reset")
    host = ACCOUNT.user_at(0)
    reply = client.meeting.create(user_id=host.id, topic="Réunion zoomus", type=2, duration=30,
                                  start_time=datetime(2025, 3, 10, 9, 30))
    assert reply.status_code == 201, reply.text
    meeting = client.meeting.get(id=reply.json()["id"]).json()
    assert (meeting["topic"], meeting["duration"], meeting["start_time"]) == ("Réunion zoomus", 30,
                                                                                "2025-03-10T09:30:00Z")
    listed = client.meeting.list(user_id=host.id, page_size=300).json()["meetings"]
    assert reply.json()["id"] in [m["id"] for m in listed]


def test_zoomus_registers_for_a_webinar_and_the_registrant_is_listed(zoom: Zoom, client: Any) -> None:
    zoom.hook("reset")
    webinar = ACCOUNT.user_at(0).webinars[0]
    reply = client.webinar.register(id=webinar.id, email="olu@example.com", first_name="Olúwaseun",
                                    last_name="Okafor")
    assert reply.status_code == 201, reply.text
    listed = client.webinar.get_registrants(id=webinar.id, page_size=300).json()["registrants"]
    assert reply.json()["registrant_id"] in [r["id"] for r in listed]


def test_zoomus_sees_zooms_429_for_a_fourth_registration_of_one_person_in_a_day(zoom: Zoom, client: Any) -> None:
    zoom.hook("reset")
    webinar = ACCOUNT.user_at(0).webinars[0]
    statuses = [client.webinar.register(id=webinar.id, email="same@example.com", first_name="S",
                                        last_name="Ame").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


# ------------------------------------------------------------------------------ simple-salesforce


@pytest.fixture(scope="module")
def sf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Salesforce]:
    tls = make_tls_files(tmp_path_factory.mktemp("third-party-tls"))
    app = create_app(SalesforceEmulatorConfig(catalog_dir=FIXTURES / "salesforce_catalog"))
    server = start_in_thread(app, "127.0.0.1", 0, tls=tls)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
        token = requests.post(f"{server.url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=("demo", "demo"), timeout=10).json()["access_token"]
        yield Salesforce(instance_url=server.url, session_id=token, version="59.0", session=requests.Session())
    server.stop()


def test_simple_salesforce_bulk2_upserts_and_reads_its_results(sf: Salesforce) -> None:
    rows = [{KEY: f"w{n}", "zoom_app__Topic__c": f"Webinar {n}"} for n in range(25)]
    (job,) = sf.bulk2.__getattr__(WEBINAR).upsert(records=rows, external_id_field=KEY, wait=0)
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (25, 0)
    results = sf.bulk2.__getattr__(WEBINAR).get_all_ingest_records(job["job_id"])
    assert sorted(r[KEY] for r in results["successfulRecords"]) == sorted(r[KEY] for r in rows)
    assert all(r["sf__Created"] == "true" for r in results["successfulRecords"])
    assert sf.query(f"SELECT COUNT() FROM {WEBINAR}")["totalSize"] == 25


def test_simple_salesforce_bulk2_sees_both_rows_of_a_repeated_key_fail(sf: Salesforce) -> None:
    rows = [{KEY: "dup", "zoom_app__Topic__c": "First"}, {KEY: "dup", "zoom_app__Topic__c": "Second"},
            {KEY: "one", "zoom_app__Topic__c": "Only"}]
    (job,) = sf.bulk2.__getattr__(WEBINAR).upsert(records=rows, external_id_field=KEY, wait=0)
    assert job["numberRecordsFailed"] == 2
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.__getattr__(WEBINAR).get_failed_records(job["job_id"]))))
    assert [(r[KEY], r["sf__Error"].split(":")[0]) for r in failed] == [("dup", "DUPLICATE_EXTERNAL_ID")] * 2


def test_simple_salesforce_limits_counts_the_days_requests_down(sf: Salesforce) -> None:
    before = sf.limits()
    sf.query(f"SELECT COUNT() FROM {REGISTRANT}")
    after = sf.limits()
    assert after["DailyApiRequests"]["Max"] == before["DailyApiRequests"]["Max"] == 100_000
    assert after["DailyApiRequests"]["Remaining"] == before["DailyApiRequests"]["Remaining"] - 2
    assert {"DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DataStorageMB", "FileStorageMB",
            "SingleEmail"} <= set(after)
