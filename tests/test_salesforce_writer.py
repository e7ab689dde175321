"""The Salesforce writer against the Salesforce emulator, over real HTTPS sockets, with real simple-salesforce.

Trust in the emulator's CA comes from ``REQUESTS_CA_BUNDLE``; verification is never turned off. Waits go
through an injected ``sleep`` that only records the delays, so no test waits. The object catalogs are the
small fixtures under ``tests/fixtures/salesforce_catalog``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession
from starlette.applications import Starlette

from engine.emulators.salesforce.app import ORG_ID, SalesforceEmulatorConfig, create_app
from engine.emulators.tls import make_tls_files
from engine.errors import (
    AuthenticationFailed,
    ConfigError,
    MissingCredential,
    RetriesExhausted,
    SalesforceApiError,
    Unreachable,
)
from engine.salesforce.auth import MAX_ATTEMPTS, Connection
from engine.salesforce.bulk import BulkUpsert, encode_rows, parse_error_cell
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter, UpsertResult, soql_quote
from engine.serving import RunningServer, start_in_thread

CATALOG = Path(__file__).resolve().parent / "fixtures" / "salesforce_catalog"
CLIENT_ID = "zoomforce-test-client"
SECRET = "Sekr1t-client-VALUE-93kq"
TOKEN_MARK = ORG_ID[:15] + "!"  # every access token the emulator issues starts so
WEBINAR = "zoom_app__Zoom_Webinar__c"
REGISTRANT = "zoom_app__Zoom_Webinar_Registrant__c"
KEY = "zoom_app__External_key__c"
PARENT = "zoom_app__Zoom_Webinar__r"


@dataclass
class Emulator:
    url: str
    app: Starlette
    server: RunningServer

    def hook(self, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = requests.post(f"{self.url}/_emulator/{path}", json=body or {}, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def route(self, name: str, status: int = 200) -> int:
        stats = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()
        return int(stats["routes"].get(name, {}).get(str(status), 0))

    def token(self) -> str:
        reply = requests.post(f"{self.url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=(CLIENT_ID, SECRET), timeout=10)
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    def credentials(self, **options: Any) -> SalesforceCredentials:
        values = {"client_id": CLIENT_ID, "client_secret": SECRET} | options
        return SalesforceCredentials(self.url, **values)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    tls = make_tls_files(tmp_path_factory.mktemp("sf-writer-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
        app = create_app(SalesforceEmulatorConfig(catalog_dir=CATALOG, client_id=CLIENT_ID, client_secret=SECRET))
        server = start_in_thread(app, "127.0.0.1", 0, tls=tls)
        yield Emulator(server.url, app, server)
        server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_writer(emu: Emulator, sleeps: list[float]) -> Iterator[Callable[..., SalesforceWriter]]:
    emu.hook("reset")
    made: list[SalesforceWriter] = []

    def make(credentials: SalesforceCredentials | None = None, **options: Any) -> SalesforceWriter:
        writer = SalesforceWriter(credentials or emu.credentials(), sleep=sleeps.append, **options)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close()


@pytest.fixture
def writer(make_writer: Callable[..., SalesforceWriter]) -> SalesforceWriter:
    return make_writer()


def _contacts(n: int, prefix: str = "c") -> list[dict[str, Any]]:
    return [{"Email": f"{prefix}{i:04d}@example.com", "LastName": f"Last {i}"} for i in range(n)]


def _codes(result: UpsertResult) -> list[str]:
    return [code for code, _ in result.errors]


# ------------------------------------------------------------------------------------ credentials


def test_credentials_from_env_and_their_repr_hides_secrets() -> None:
    url = "https://acme.my.salesforce.com"
    token = SalesforceCredentials.from_env({"SF_INSTANCE_URL": url + "/", "SF_ACCESS_TOKEN": "00D!tok"})
    assert (token.instance_url, token.access_token, token.client_id) == (url, "00D!tok", None)
    client = SalesforceCredentials.from_env({"SF_INSTANCE_URL": url, "SF_CLIENT_ID": "id", "SF_CLIENT_SECRET": SECRET})
    assert client.can_renew and client.token_url == url + "/services/oauth2/token"
    assert SECRET not in repr(client) and "00D!tok" not in repr(token)
    assert repr(client) == (f"SalesforceCredentials(instance_url='{url}', access_token=None, client_id='id', "
                            "client_secret='***', api_version='59.0')")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SF_INSTANCE_URL"),
        ({"SF_INSTANCE_URL": "https://x.my.salesforce.com"}, "SF_ACCESS_TOKEN"),
        ({"SF_INSTANCE_URL": "https://x.my.salesforce.com", "SF_CLIENT_ID": "id"}, "SF_CLIENT_SECRET"),
        ({"SF_INSTANCE_URL": "https://x.my.salesforce.com", "SF_CLIENT_SECRET": "s", "SF_ACCESS_TOKEN": ""},
         "SF_CLIENT_ID"),
    ],
)
def test_missing_credentials_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(MissingCredential) as exc:
        SalesforceCredentials.from_env(env)
    assert exc.value.variable == variable
    assert str(exc.value).startswith(f"environment variable {variable} is not set")


def test_plain_http_instance_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be an https:// URL"):
        SalesforceCredentials.from_env({"SF_INSTANCE_URL": "http://127.0.0.1:8080", "SF_ACCESS_TOKEN": "t"})


# ---------------------------------------------------------------------------- sObject Collections


def test_upsert_creates_then_updates_in_input_order(writer: SalesforceWriter) -> None:
    records = [{"Email": "b@example.com", "LastName": "B"}, {"Email": "a@example.com", "LastName": "A"},
               {"Email": "c@example.com", "LastName": "C", "Title": None, "Birthdate": date(1990, 5, 17)}]
    first = writer.upsert("Contact", "Email", records)
    assert [(r.external_id, r.success, r.created) for r in first] == [
        ("b@example.com", True, True), ("a@example.com", True, True), ("c@example.com", True, True)]
    again = writer.upsert("Contact", "Email", [{"Email": "A@example.com", "FirstName": "Ann"}, records[0]])
    assert [(r.success, r.created) for r in again] == [(True, False), (True, False)]
    assert [r.id for r in again] == [first[1].id, first[0].id]
    stored = {r["Email"].lower(): r for r in writer.query("SELECT Id, Email, FirstName, LastName FROM Contact")}
    assert stored["a@example.com"] == {"Id": first[1].id, "Email": "A@example.com", "FirstName": "Ann",
                                       "LastName": "A"}  # no "attributes"; LastName kept: absent means unchanged
    assert stored["c@example.com"]["Id"] == first[2].id
    assert [r["Birthdate"] for r in writer.query("SELECT Birthdate FROM Contact WHERE Email = 'c@example.com'")] == [
        "1990-05-17"]
    assert writer.api_calls == 4


def test_per_record_errors_keep_their_status_code_and_the_rest_succeed(writer: SalesforceWriter) -> None:
    results = writer.upsert("Contact", "Email", [
        {"Email": "good1@example.com", "LastName": "Good"},
        {"Email": "field@example.com", "LastName": "X", "Foo__c": "x"},
        {"Email": "long@example.com", "LastName": "L" * 81},
        {"Email": "required@example.com", "FirstName": "NoLast"},
        {"LastName": "NoKey"},
        {"Email": "good2@example.com", "LastName": "Good"},
    ])
    assert [r.success for r in results] == [True, False, False, False, False, True]
    assert [_codes(r) for r in results] == [
        [], ["INVALID_FIELD"], ["STRING_TOO_LONG"], ["REQUIRED_FIELD_MISSING"], ["MISSING_ARGUMENT"], []]
    assert results[1].errors[0][1] == "No such column 'Foo__c' on sobject of type Contact"
    assert results[3].errors == (("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"),)
    assert results[4] == UpsertResult("", False, False, None, (("MISSING_ARGUMENT", "Email not specified"),))
    assert results[2].id is None and not results[2].created
    assert writer.api_calls == 1  # the record without a key is never sent
    emails = sorted(r["Email"] for r in writer.query("SELECT Email FROM Contact"))
    assert emails == ["good1@example.com", "good2@example.com"]


def test_450_records_take_three_collections_calls(emu: Emulator, writer: SalesforceWriter) -> None:
    before = emu.route("collections_upsert")
    results = writer.upsert("Contact", "Email", _contacts(450))
    assert len(results) == 450 and all(r.success and r.created for r in results)
    assert [r.external_id for r in results] == [f"c{i:04d}@example.com" for i in range(450)]
    assert writer.api_calls == 3
    assert emu.route("collections_upsert") - before == 3


def test_a_call_refused_as_a_whole_fails_each_of_its_records(make_writer: Callable[..., SalesforceWriter],
                                                             sleeps: list[float]) -> None:
    writer = make_writer(batch_size=2)
    results = writer.upsert("Contact", "Email", [
        {"Email": "ok1@example.com", "LastName": "Ok"},
        {"Email": "date@example.com", "LastName": "X", "Birthdate": "tomorrow"},
        {"Email": "ok2@example.com", "LastName": "Ok"},
    ])
    assert [r.success for r in results] == [False, False, True]
    assert _codes(results[0]) == _codes(results[1]) == ["JSON_PARSER_ERROR"]
    assert "HTTP 400 [JSON_PARSER_ERROR]: collections upsert: " in results[0].errors[0][1]
    unknown_key = writer.upsert("Contact", "LastName", [{"LastName": "A"}, {"LastName": "B"}])
    assert [_codes(r) for r in unknown_key] == [["NOT_FOUND"], ["NOT_FOUND"]]
    assert (writer.api_calls, sleeps) == (3, [])  # refusals that a retry would not change are not retried


# ------------------------------------------------------------------------------------ Bulk API 2.0


def _registrant(n: int, **fields: Any) -> dict[str, Any]:
    return {KEY: f"r{n:03d}", "zoom_app__Email__c": f"r{n}@example.com", "zoom_app__Last_Name__c": f"Last {n}",
            PARENT: {"zoom_app__Webinar_Id__c": "w1"}} | fields


def test_bulk_upsert_matches_results_back_by_external_id(
        emu: Emulator, make_writer: Callable[..., SalesforceWriter], sleeps: list[float]) -> None:
    setup = make_writer()
    assert all(r.success for r in setup.upsert(WEBINAR, "zoom_app__Webinar_Id__c",
                                               [{"zoom_app__Webinar_Id__c": "w1", "zoom_app__Topic__c": "One"}]))
    kept = setup.upsert(REGISTRANT, KEY, [_registrant(0, zoom_app__First_Name__c="Old"), _registrant(40)])
    assert all(r.success for r in kept)
    tricky = 'Zoë "Q", Jr.\nII'
    records = [_registrant(n) for n in range(1, 120)]
    records[0:0] = [{KEY: "r000", "zoom_app__First_Name__c": None}]  # null the first name, keep the rest
    records[10] = _registrant(10, zoom_app__Email__c="not-an-email")
    records[20] = _registrant(20, zoom_app__First_Name__c="F" * 41)
    records[30] = _registrant(30, **{PARENT: {"zoom_app__Webinar_Id__c": "nope"}})
    records[40] = _registrant(40, **{PARENT: None})  # clear the lookup
    records[50] = _registrant(50, zoom_app__Last_Name__c=tricky)
    records[60] = _registrant(60, zoom_app__Last_Name__c="First of two")
    records.append(_registrant(60, zoom_app__Last_Name__c="Second of two"))
    records.append({"zoom_app__Last_Name__c": "no key"})
    writer = make_writer(bulk_threshold=50)
    before = emu.route("bulk_create")

    results = writer.upsert(REGISTRANT, KEY, records)

    assert emu.route("bulk_create") - before == 1
    assert writer.api_calls == 7 + len(sleeps)  # create, upload, close, a poll at once and one per sleep, 3 results
    assert [r.external_id for r in results] == [r.get(KEY, "") for r in records]
    failures = {i: _codes(r) for i, r in enumerate(results) if not r.success}
    assert failures == {10: ["INVALID_EMAIL_ADDRESS"], 20: ["STRING_TOO_LONG"], 30: ["INVALID_FIELD"],
                        121: ["MISSING_ARGUMENT"]}
    assert results[30].errors[0][1] == ("Foreign key external ID: nope not found for field zoom_app__Webinar_Id__c "
                                        "in entity zoom_app__Zoom_Webinar__c")
    assert (results[0].created, results[40].created, results[1].created) == (False, False, True)
    # the same key twice: sent once, the last listed (Salesforce would fail both rows of the job)
    assert (results[60].superseded, results[120].superseded, results[120].created) == (True, False, True)
    assert results[60].success and results[60].id == results[120].id and not results[60].created
    assert results[0].id == kept[0].id and results[1].id is not None
    soql = (f"SELECT {KEY}, zoom_app__First_Name__c, zoom_app__Last_Name__c, {PARENT}.zoom_app__Webinar_Id__c "
            f"FROM {REGISTRANT}")
    stored = {r[KEY]: r for r in writer.query(soql)}
    assert stored["r000"] == {KEY: "r000", "zoom_app__First_Name__c": None, "zoom_app__Last_Name__c": "Last 0",
                              PARENT: {"zoom_app__Webinar_Id__c": "w1"}}
    assert stored["r040"][PARENT] is None
    assert stored["r050"]["zoom_app__Last_Name__c"] == tricky
    assert stored["r060"]["zoom_app__Last_Name__c"] == "Second of two"
    assert len(stored) == 117  # r000 to r119 but the three that failed


def test_bulk_job_that_fails_as_a_whole_fails_every_record(make_writer: Callable[..., SalesforceWriter]) -> None:
    writer = make_writer(bulk_threshold=2)
    results = writer.upsert("Contact", "Email", [{"Email": "a@example.com", "LastName": "A", "Nope__c": "x"},
                                                 {"Email": "b@example.com", "LastName": "B"}])
    assert [r.success for r in results] == [False, False]
    assert results[0].errors == (("BULK_JOB_FAILED", "InvalidBatch : Field name not found : Nope__c"),)
    assert writer.upsert("Contact", "LastName", [{"LastName": "A"}, {"LastName": "B"}])[1].errors[0][0] == (
        "INVALIDJOB")  # job creation refused: the external id field is not one


def test_bulk_2500_records_then_query_pages_over_next_records_url(writer: SalesforceWriter) -> None:
    start = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    records = [{"zoom_app__Webinar_Id__c": f"p{i:05d}", "zoom_app__Topic__c": f"Topic, {i}",
                "zoom_app__Setting_Host_Video_On__c": i % 2 == 0, "zoom_app__Duration__c": 30 + i % 7,
                "zoom_app__Start_Time__c": start + timedelta(minutes=i)} for i in range(2500)]
    results = writer.upsert(WEBINAR, "zoom_app__Webinar_Id__c", records)  # default threshold 2000: bulk
    assert all(r.success and r.created for r in results)
    calls = writer.api_calls
    rows = list(writer.query(f"SELECT zoom_app__Webinar_Id__c, zoom_app__Setting_Host_Video_On__c, "
                             f"zoom_app__Start_Time__c, zoom_app__Duration__c FROM {WEBINAR} "
                             "ORDER BY zoom_app__Webinar_Id__c"))
    assert writer.api_calls - calls == 2  # 2000 a page
    assert len(rows) == 2500 and rows[1] == {
        "zoom_app__Webinar_Id__c": "p00001", "zoom_app__Setting_Host_Video_On__c": False,
        "zoom_app__Start_Time__c": "2026-01-05T10:01:00.000+0000", "zoom_app__Duration__c": 31.0}
    assert [r["zoom_app__Webinar_Id__c"] for r in rows] == [f"p{i:05d}" for i in range(2500)]


# ----------------------------------------------------------------------------------- CSV and errors


def test_csv_encoding_of_nulls_booleans_relationships_and_quotes() -> None:
    header, rows = encode_rows([
        {"K__c": "1", "Name": 'a "b", c', "Flag__c": True, "Rel__r": {"Ext__c": "p1"}},
        {"K__c": "2", "Name": None, "Flag__c": False, "Rel__r": None, "Note__c": ""},
        {"K__c": "3"},
    ])
    assert header == ["K__c", "Name", "Flag__c", "Rel__r.Ext__c", "Note__c"]
    assert rows == [["1", 'a "b", c', "true", "p1", ""], ["2", "#N/A", "false", "#N/A", "#N/A"],
                    ["3", "", "", "", ""]]
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    assert list(csv.reader(io.StringIO(text.getvalue()))) == [header, *rows]


def test_bulk_error_cells_are_split_into_codes_and_messages() -> None:
    assert parse_error_cell("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --") == (
        ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"),)
    assert parse_error_cell("INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:-- "
                            "STRING_TOO_LONG:Name: data value too large: x (max length=1):Name --") == (
        ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"),
        ("STRING_TOO_LONG", "Name: data value too large: x (max length=1)"))
    assert parse_error_cell("") == (("UNKNOWN", "Salesforce gave no reason"),)


# ------------------------------------------------------------------------------ sessions and OAuth


def test_expired_session_is_renewed_once_with_client_credentials(emu: Emulator, writer: SalesforceWriter) -> None:
    tokens = emu.route("oauth_token")
    assert writer.upsert("Contact", "Email", _contacts(1))[0].created
    emu.hook("expire-sessions")
    assert writer.upsert("Contact", "Email", _contacts(2))[1].created
    assert emu.route("oauth_token") - tokens == 2  # the first token, and one renewal
    assert writer.api_calls == 3  # upsert, the refused 401, the upsert again


def test_a_given_token_is_used_and_renewed_when_client_credentials_are_there_too(
        emu: Emulator, make_writer: Callable[..., SalesforceWriter]) -> None:
    tokens = emu.route("oauth_token")
    writer = make_writer(emu.credentials(access_token=emu.token()))
    assert writer.upsert("Contact", "Email", _contacts(1))[0].success
    assert emu.route("oauth_token") - tokens == 1  # the test's own token only
    emu.hook("expire-sessions")
    assert writer.upsert("Contact", "Email", _contacts(1))[0].success
    assert emu.route("oauth_token") - tokens == 2


def test_an_expired_bare_token_is_authentication_failed(emu: Emulator,
                                                        make_writer: Callable[..., SalesforceWriter]) -> None:
    token = emu.token()
    writer = make_writer(SalesforceCredentials(emu.url, access_token=token))
    assert writer.upsert("Contact", "Email", _contacts(1))[0].success
    emu.hook("expire-sessions")
    with pytest.raises(AuthenticationFailed) as exc:
        writer.upsert("Contact", "Email", _contacts(1))
    assert (exc.value.status, exc.value.code) == (401, "INVALID_SESSION_ID")
    assert "SF_CLIENT_ID and SF_CLIENT_SECRET" in str(exc.value) and token not in str(exc.value)
    assert str(exc.value).startswith("salesforce HTTP 401 [INVALID_SESSION_ID]: collections upsert: ")
    assert isinstance(exc.value.__cause__, SalesforceExpiredSession)
    with pytest.raises(AuthenticationFailed):
        list(writer.query("SELECT Id FROM Contact"))


def test_a_renewed_session_refused_too_names_the_call(emu: Emulator, sleeps: list[float]) -> None:
    def always_expired(sf: Any) -> None:
        raise SalesforceExpiredSession(f"{emu.url}/services/data", 401, "query", [{"errorCode": "INVALID_SESSION_ID"}])

    connection = Connection(emu.credentials(), timeout=10, sleep=sleeps.append, logger=logging.getLogger("test"))
    try:
        with pytest.raises(AuthenticationFailed) as exc:
            connection.call("query", always_expired)
    finally:
        connection.close()
    assert str(exc.value) == ("salesforce HTTP 401 [INVALID_SESSION_ID]: query: the renewed session was refused too "
                              "(INVALID_SESSION_ID)")
    assert isinstance(exc.value.__cause__, SalesforceExpiredSession)


def test_a_refused_call_names_the_call(writer: SalesforceWriter) -> None:
    with pytest.raises(SalesforceApiError) as exc:
        writer.describe("No_Such_Object__c")
    assert str(exc.value) == "salesforce HTTP 404 [NOT_FOUND]: describe: The requested resource does not exist"
    assert exc.value.__cause__ is not None
    with pytest.raises(SalesforceApiError, match=r"^salesforce HTTP 400 \[INVALID_FIELD\]: query: "):
        list(writer.query("SELECT Nope__c FROM Contact"))


def test_wrong_client_secret_is_authentication_failed_without_the_secret(
        emu: Emulator, make_writer: Callable[..., SalesforceWriter], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-secret-XYZ-771"
    writer = make_writer(emu.credentials(client_secret=wrong))
    with pytest.raises(AuthenticationFailed) as exc:
        writer.upsert("Contact", "Email", _contacts(1))
    assert str(exc.value) == (f"salesforce HTTP 400 [invalid_client]: OAuth client credentials refused by "
                              f"{emu.url}/services/oauth2/token: invalid client credentials")
    assert wrong not in str(exc.value) and wrong not in caplog.text
    assert writer.api_calls == 0


# ------------------------------------------------------------------------------------- retries


def test_503_403_limit_and_lock_are_retried_with_backoff(emu: Emulator, writer: SalesforceWriter,
                                                          sleeps: list[float]) -> None:
    list(writer.query("SELECT Id FROM Contact LIMIT 1"))  # authenticate first
    for code, count in [("SERVER_UNAVAILABLE", 2), ("REQUEST_LIMIT_EXCEEDED", 1), ("UNABLE_TO_LOCK_ROW", 1)]:
        emu.hook("fail-next", {"errorCode": code, "count": count})
    results = writer.upsert("Contact", "Email", _contacts(3))
    assert [r.success for r in results] == [True, True, True]
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert writer.api_calls == 1 + 5
    assert emu.route("collections_upsert", 503) >= 2 and emu.route("collections_upsert", 403) >= 1


def test_retries_are_bounded(emu: Emulator, writer: SalesforceWriter, sleeps: list[float]) -> None:
    list(writer.query("SELECT Id FROM Contact LIMIT 1"))
    emu.hook("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": MAX_ATTEMPTS})
    with pytest.raises(RetriesExhausted) as exc:
        writer.upsert("Contact", "Email", _contacts(1))
    assert (exc.value.status, exc.value.code) == (503, "SERVER_UNAVAILABLE")
    assert len(sleeps) == MAX_ATTEMPTS - 1 and writer.api_calls == 1 + MAX_ATTEMPTS
    assert list(writer.query("SELECT Id FROM Contact")) == []


def test_refused_connection_is_unreachable_naming_the_url(make_writer: Callable[..., SalesforceWriter],
                                                          sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    writer = make_writer(SalesforceCredentials(url, access_token="token"))
    with pytest.raises(Unreachable, match=f"cannot connect to {url}"):
        writer.upsert("Contact", "Email", _contacts(1))
    assert len(sleeps) == MAX_ATTEMPTS - 1
    oauth = make_writer(SalesforceCredentials(url, client_id="id", client_secret=SECRET))
    with pytest.raises(Unreachable, match=f"cannot connect to {url}/services/oauth2/token"):
        list(oauth.query("SELECT Id FROM Contact"))


def test_untrusted_certificate_is_unreachable(emu: Emulator, make_writer: Callable[..., SalesforceWriter],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    writer = make_writer(SalesforceCredentials(emu.url, access_token="token"))
    with pytest.raises(Unreachable, match=r"^salesforce: collections upsert: TLS handshake with https://127\.0\.0\.1"):
        writer.upsert("Contact", "Email", _contacts(1))
    oauth = make_writer(emu.credentials())
    with pytest.raises(Unreachable) as exc:
        list(oauth.query("SELECT Id FROM Contact"))
    assert str(exc.value).startswith(f"salesforce: OAuth token request to {emu.url}/services/oauth2/token: "
                                     f"TLS handshake with {emu.url} failed")
    assert isinstance(exc.value.__cause__, requests.exceptions.SSLError)


# ----------------------------------------------------------------------------------- look-ups


def test_find_ids_quotes_values_and_chunks_the_in_list(writer: SalesforceWriter) -> None:
    people = [{"Email": "o'brien@example.com", "LastName": "O'Brien"},
              {"Email": "slash@example.com", "LastName": "Back\\slash"},
              {"Email": "quote@example.com", "LastName": 'Say "hi"\n'}, *_contacts(250)]
    ids = [r.id for r in writer.upsert("Contact", "Email", people)]
    calls = writer.api_calls
    found = writer.find_ids("Contact", "Email", ["O'Brien@Example.com", "nobody@example.com",
                                                 "x') OR (Email != 'y"])
    assert found == {"O'Brien@Example.com": ids[0]}
    assert writer.find_ids("Contact", "LastName", ["O'Brien", "Back\\slash", 'Say "hi"\n', "Back"]) == {
        "O'Brien": ids[0], "Back\\slash": ids[1], 'Say "hi"\n': ids[2]}
    emails = [p["Email"] for p in people[3:]]
    calls = writer.api_calls
    assert writer.find_ids("Contact", "Email", emails) == dict(zip(emails, ids[3:], strict=True))
    assert writer.api_calls - calls == 2  # 200 values per IN (...)
    assert soql_quote("O'Brien\\") == "'O\\'Brien\\\\'"
    with pytest.raises(ValueError, match="not a Salesforce API name"):
        writer.find_ids("Contact", "Email) OR (Id", ["x"])


class _Answers:
    """A connection and client in one whose REST calls answer in turn; None is what simple-salesforce's
    ``restful`` gives for an empty answer (204, or an empty JSON body)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def call(self, what: str, fn: Callable[[Any], Any], *, idempotent: bool = True) -> Any:
        return fn(self)

    def restful(self, path: str, method: str = "GET", **options: Any) -> Any:
        return self.answers.pop(0)


def test_an_empty_describe_answer_is_a_refused_call(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = SalesforceWriter(SalesforceCredentials("https://org.example", access_token="token"))
    monkeypatch.setattr(writer, "_connection", _Answers(None))
    with pytest.raises(SalesforceApiError, match=r"describe Contact: Salesforce answered without a describe"):
        writer.describe("Contact")


def test_an_empty_bulk_poll_answer_is_no_news() -> None:
    connection: Any = _Answers(None, {"state": "JobComplete"})
    bulk = BulkUpsert(connection, "Contact", "Email", poll_interval=1.0, sleep=lambda seconds: None,
                      logger=logging.getLogger("test"))
    assert bulk._wait("750000000000001") == {"state": "JobComplete"}
    assert connection.answers == []


# ------------------------------------------------------------------------------------- logging


def test_logs_hold_no_secret_token_or_record_value(emu: Emulator, writer: SalesforceWriter,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    writer.upsert("Contact", "Email", [{"Email": "private.person@example.com", "LastName": "Privatename"}])
    emu.hook("expire-sessions")
    emu.hook("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": 1})
    results = writer.upsert("Contact", "Email", [{"Email": "private.person@example.com", "LastName": "L" * 81}])
    assert _codes(results[0]) == ["STRING_TOO_LONG"]
    writer.find_ids("Contact", "Email", ["private.person@example.com"])
    assert SECRET not in caplog.text and TOKEN_MARK not in caplog.text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("zoomforce.")]
    assert any("renewing" in m for m in ours) and any("SERVER_UNAVAILABLE" in m for m in ours)
    assert any("STRING_TOO_LONG 1" in m for m in ours)
    assert not [m for m in ours if "private.person" in m or "Privatename" in m or "LLLL" in m]


# ---- one record per key --------------------------------------------------------------------------


def test_keys_listed_twice_are_sent_once_the_last_listed_on_both_paths(
        emu: Emulator, make_writer: Callable[..., SalesforceWriter]) -> None:
    for threshold in (1000, 3):  # Collections, then one Bulk job (which would fail both rows of a key)
        emu.hook("reset")
        writer = make_writer(bulk_threshold=threshold)
        records = [{KEY: "r1", "zoom_app__Last_Name__c": "First"}, {KEY: "r2", "zoom_app__Last_Name__c": "Only"},
                   {KEY: "R1", "zoom_app__Last_Name__c": "Last"}]  # external ids compare without case
        describes = emu.route("describe")
        results = writer.upsert(REGISTRANT, KEY, records)
        assert [(r.success, r.superseded) for r in results] == [(True, True), (True, False), (True, False)]
        assert results[0].id == results[2].id and results[0].external_id == "r1"
        stored = {r[KEY]: r["zoom_app__Last_Name__c"] for r in writer.query(f"SELECT {KEY}, zoom_app__Last_Name__c "
                                                                             f"FROM {REGISTRANT}")}
        assert stored == {"R1": "Last", "r2": "Only"}
        # keys that differ only in case met: the org's describe said how it compares them, once a writer
        assert emu.route("describe") == describes + 1
        writer.upsert(REGISTRANT, KEY, records)
        assert emu.route("describe") == describes + 1


def test_a_case_sensitive_external_id_keeps_keys_that_differ_in_case_apart(
        tmp_path: Path, make_writer: Callable[..., SalesforceWriter], monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    path = catalog / f"{REGISTRANT}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for field in document["fields"]:
        if field["name"] == KEY:
            field["caseSensitive"] = True  # "unique, case-sensitive" in the org's setup
    path.write_text(json.dumps(document), encoding="utf-8")
    app = create_app(SalesforceEmulatorConfig(catalog_dir=catalog, client_id=CLIENT_ID, client_secret=SECRET))
    tls = make_tls_files(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
    server = start_in_thread(app, "127.0.0.1", 0, tls=tls)
    try:
        writer = make_writer(SalesforceCredentials(server.url, client_id=CLIENT_ID, client_secret=SECRET),
                             bulk_threshold=2)
        results = writer.upsert(REGISTRANT, KEY, [{KEY: "abc"}, {KEY: "ABC"}])
        assert [(r.success, r.superseded, r.created) for r in results] == [(True, False, True), (True, False, True)]
        assert results[0].id != results[1].id
    finally:
        server.stop()
