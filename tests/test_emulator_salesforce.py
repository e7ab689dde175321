"""The Salesforce emulator over real HTTPS sockets, driven by the real simple-salesforce client.

Trust in the emulator's CA comes from ``REQUESTS_CA_BUNDLE``, as docs/design.md says clients get it;
verification is never turned off. The object catalogs are the small fixtures under
``tests/fixtures/salesforce_catalog`` so these tests do not move with the shipped catalogs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce, format_external_id
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from starlette.applications import Starlette

from engine.cli.emulator_salesforce import salesforce_command
from engine.emulators.salesforce.app import SalesforceEmulatorConfig, create_app, describe_object
from engine.emulators.salesforce.catalog import load_catalog, normalize_id
from engine.emulators.tls import make_tls_files
from engine.resources import schemas_dir
from engine.serving import RunningServer, TLSFiles, start_in_thread

REPO = Path(__file__).resolve().parents[1]
CATALOG = Path(__file__).resolve().parent / "fixtures" / "salesforce_catalog"
VERSION = "59.0"
WEBINAR = "zoom_app__Zoom_Webinar__c"
REGISTRANT = "zoom_app__Zoom_Webinar_Registrant__c"


@dataclass
class Emulator:
    url: str
    tls: TLSFiles
    app: Starlette
    server: RunningServer

    def hook(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return requests.post(f"{self.url}/_emulator/{path}", json=body or {}, timeout=10).json()

    def token(self) -> str:
        reply = requests.post(f"{self.url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=("demo", "demo"), timeout=10)
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    def client(self) -> Salesforce:
        return Salesforce(instance_url=self.url, session_id=self.token(), version=VERSION,
                          session=requests.Session())


def _start(tls: TLSFiles, **options: Any) -> Emulator:
    app = create_app(SalesforceEmulatorConfig(catalog_dir=CATALOG, **options))
    server = start_in_thread(app, "127.0.0.1", 0, tls=tls)
    return Emulator(server.url, tls, app, server)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("sf-tls"))


@pytest.fixture(scope="module", autouse=True)
def trust_emulator_ca(tls: TLSFiles) -> Iterator[None]:
    """What a user of the emulator does: point requests at the emulator's CA."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
        yield


@pytest.fixture(scope="module")
def emu(tls: TLSFiles, trust_emulator_ca: None) -> Iterator[Emulator]:
    emulator = _start(tls, query_page_size=1000)
    yield emulator
    emulator.server.stop()


@pytest.fixture
def sf(emu: Emulator) -> Salesforce:
    emu.hook("reset")
    return emu.client()


def _error_code(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.content[0]["errorCode"])


def _webinar(sf: Salesforce, webinar_id: str, **fields: Any) -> None:
    body = {"zoom_app__Topic__c": f"Webinar {webinar_id}"} | fields
    assert sf.__getattr__(WEBINAR).upsert(f"zoom_app__Webinar_Id__c/{webinar_id}", body) == 201


def _csv_rows(text: str) -> dict[str, dict[str, str]]:
    return {row["Email"]: row for row in csv.DictReader(io.StringIO(text))}


# ------------------------------------------------------------------------------------ TLS, OAuth


def test_tls_is_trusted_through_requests_ca_bundle_and_refused_without_the_ca(emu: Emulator) -> None:
    assert emu.url.startswith("https://127.0.0.1:")
    assert requests.get(f"{emu.url}/services/data/", timeout=10).status_code == 200
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REQUESTS_CA_BUNDLE")
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{emu.url}/services/data/", timeout=10)
    plain = emu.url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{plain}/services/data/", timeout=10)


def test_token_endpoint_accepts_basic_or_form_credentials_and_refuses_others(emu: Emulator) -> None:
    url = f"{emu.url}/services/oauth2/token"
    basic = requests.post(url, data={"grant_type": "client_credentials"}, auth=("demo", "demo"), timeout=10)
    form = requests.post(url, data={"grant_type": "client_credentials", "client_id": "demo",
                                    "client_secret": "demo"}, timeout=10)
    for reply in (basic, form):
        assert reply.status_code == 200
        body = reply.json()
        assert set(body) == {"access_token", "signature", "scope", "instance_url", "id", "token_type",
                             "issued_at"}
        assert body["instance_url"] == emu.url
        assert body["token_type"] == "Bearer"
    wrong = requests.post(url, data={"grant_type": "client_credentials"}, auth=("demo", "nope"), timeout=10)
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}
    grant = requests.post(url, data={"grant_type": "password"}, auth=("demo", "demo"), timeout=10)
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


class _LoginRedirect(HTTPAdapter):
    """simple-salesforce builds the token URL as https://{domain}.salesforce.com; send it here."""

    def __init__(self, login_root: str, target: str) -> None:
        super().__init__()
        self.login_root = login_root
        self.target = target

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        request.url = (request.url or "").replace(self.login_root, self.target, 1)
        return super().send(request, **kwargs)


def test_simple_salesforce_client_credentials_login_and_refresh_after_expiry(emu: Emulator) -> None:
    session = requests.Session()
    session.mount("https://acme.my.salesforce.com", _LoginRedirect("https://acme.my.salesforce.com", emu.url))
    sf = Salesforce(consumer_key="demo", consumer_secret="demo", domain="acme.my", session=session,
                    version=VERSION)
    assert sf.sf_instance == emu.url.removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Contact")["done"] is True
    emu.hook("expire-sessions")
    assert sf.query("SELECT COUNT() FROM Contact")["done"] is True  # ss logged in again on 401


def test_data_routes_require_a_valid_bearer_token(emu: Emulator) -> None:
    reply = requests.get(f"{emu.url}/services/data/v{VERSION}/sobjects", timeout=10)
    assert reply.status_code == 401
    assert reply.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert re.fullmatch(r"api-usage=\d+/100000", reply.headers["Sforce-Limit-Info"])


def test_expired_session_raises_salesforce_expired_session(emu: Emulator, sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Contact")
    assert emu.hook("expire-sessions")["expired"] >= 1
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Contact")
    assert _error_code(exc) == "INVALID_SESSION_ID"


def test_token_time_to_live(tls: TLSFiles) -> None:
    short = _start(tls, token_ttl=1)
    sf = short.client()
    try:
        sf.query("SELECT Id FROM Contact")
        time.sleep(1.1)
        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT Id FROM Contact")
    finally:
        sf.session.close()  # an idle keep-alive TLS connection would hold up the server's shutdown
        short.server.stop()


# ------------------------------------------------------------------------------------- describe


def test_versions_describe_global_and_describe(sf: Salesforce, emu: Emulator) -> None:
    versions = requests.get(f"{emu.url}/services/data/", timeout=10).json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert names == {"Account", "Contact", WEBINAR, REGISTRANT}
    described = sf.__getattr__(REGISTRANT).describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["zoom_app__Zoom_Webinar__c"]["relationshipName"] == "zoom_app__Zoom_Webinar__r"
    assert fields["zoom_app__External_key__c"]["externalId"] is True
    assert fields["Id"]["type"] == "id" and "x-zoomforce" not in sf.__getattr__(WEBINAR).describe()
    children = sf.__getattr__(WEBINAR).describe()["childRelationships"]
    assert children[0]["childSObject"] == REGISTRANT
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Nope__c.describe()
    assert _error_code(exc) == "NOT_FOUND"


def test_catalog_loader_skips_files_that_are_not_objects(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# not an object\n")
    (tmp_path / "index.json").write_text(json.dumps({"objects": ["Contact"]}))
    (tmp_path / "Contact.json").write_text((CATALOG / "Contact.json").read_text())
    assert [o.name for o in load_catalog(tmp_path).objects()] == ["Contact"]


def test_shipped_catalogs_describe_when_present() -> None:
    catalog_dir = schemas_dir() / "salesforce"
    catalog = load_catalog(catalog_dir) if catalog_dir.is_dir() else None
    if catalog is None or not catalog.objects():
        pytest.skip("schemas/salesforce has no object catalogs yet")
    app = create_app(SalesforceEmulatorConfig())
    for obj in catalog.objects():
        described = describe_object(app.state.emulator, obj, VERSION)
        assert described["name"] == obj.name and described["fields"]


def test_ids_are_18_characters_with_salesforce_checksum() -> None:
    assert normalize_id("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert normalize_id("001D000000IqhSLIAZ") == "001D000000IqhSLIAZ"
    assert normalize_id("001D000000IqhSLXXX") is None
    assert normalize_id("123") is None


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=15, max_size=15))
def test_id_checksum_is_stable_and_tells_case_apart(id15: str) -> None:
    full = normalize_id(id15)
    assert full is not None and len(full) == 18 and full[:15] == id15
    assert normalize_id(full) == full
    swapped = id15.swapcase()
    if swapped != id15:
        assert normalize_id(swapped) != full


# --------------------------------------------------------------------------------------- upsert


def test_upsert_creates_then_updates_with_201_then_200(sf: Salesforce) -> None:
    contact = sf.Contact
    assert contact.upsert("Email/ada@example.com", {"LastName": "Lovelace"}) == 201
    assert contact.upsert("Email/ADA@example.com", {"FirstName": "Ada"}) == 200  # case-insensitive key
    assert contact.api_usage["api-usage"].total == 100000
    record = sf.Contact.get_by_custom_id("Email", "ada@example.com")
    assert record["Name"] == "Ada Lovelace" and record["Email"] == "ada@example.com"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", record["CreatedDate"])
    assert record["attributes"] == {"type": "Contact", "url": f"/services/data/v{VERSION}/sobjects/Contact/"
                                    + record["Id"]}
    assert sf.Contact.get(record["Id"])["Id"] == record["Id"]
    raw = sf.Contact.upsert("Email/ada@example.com", {"Title": "Countess"}, raw_response=True)
    assert raw.json() == {"id": record["Id"], "success": True, "errors": [], "created": False}


def test_upsert_url_decodes_the_external_id(sf: Salesforce) -> None:
    key = format_external_id("zoom_app__Webinar_Id__c", "a b/c@x")
    assert sf.__getattr__(WEBINAR).upsert(key, {"zoom_app__Topic__c": "slashes"}) == 201
    found = sf.query(f"SELECT zoom_app__Webinar_Id__c FROM {WEBINAR}")["records"]
    assert found[0]["zoom_app__Webinar_Id__c"] == "a b/c@x"


def test_upsert_refuses_id_in_body_and_unknown_key_fields(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.upsert("Email/x@example.com", {"Id": "003000000000001", "LastName": "X"})
    assert exc.value.content[0]["message"] == "The Id field should not be specified in the sobject data."
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Contact.upsert("LastName/x", {"FirstName": "X"})
    assert _error_code(missing) == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"LastName": "X", "Foo__c": 1}, "INVALID_FIELD", "No such column 'Foo__c' on sobject of type Contact"),
        ({"LastName": "X" * 81}, "STRING_TOO_LONG", "Last Name: data value too large: " + "X" * 81
         + " (max length=80)"),
        ({"FirstName": "X"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"),
        ({"LastName": "X", "CreatedDate": "2026-01-05T10:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         "Unable to create/update fields: CreatedDate."),
        ({"LastName": "X", "Birthdate": "05/01/2026"}, "JSON_PARSER_ERROR", "Cannot deserialize instance of date"),
        ({"LastName": "X", "AccountId": "nope"}, "MALFORMED_ID", "Account ID: id value of incorrect type: nope"),
        ({"LastName": "X", "AccountId": "001000000000001"}, "INVALID_CROSS_REFERENCE_KEY",
         "invalid cross reference id"),
    ],
)
def test_upsert_validation_errors(sf: Salesforce, body: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.upsert("Email/v@example.com", body)
    assert _error_code(exc) == code
    assert exc.value.content[0]["message"].startswith(message)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"zoom_app__Duration__c": "sixty"}, "JSON_PARSER_ERROR"),
        ({"zoom_app__Start_Time__c": "2026-01-05 10:00:00"}, "JSON_PARSER_ERROR"),
        ({"zoom_app__Start_Time__c": "2026-01-05"}, "JSON_PARSER_ERROR"),
        ({"zoom_app__Start_Time__c": "2026-01-05T10:00:00"}, "JSON_PARSER_ERROR"),
        ({"zoom_app__Setting_Host_Video_On__c": "yes"}, "JSON_PARSER_ERROR"),
        ({"zoom_app__Status__c": "paused"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"zoom_app__Duration__c": 1e19}, "NUMBER_OUTSIDE_VALID_RANGE"),
    ],
)
def test_webinar_type_errors(sf: Salesforce, body: dict[str, Any], code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.__getattr__(WEBINAR).upsert("zoom_app__Webinar_Id__c/1", body)
    assert _error_code(exc) == code


def test_bad_email_is_invalid_email_address(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.__getattr__(REGISTRANT).upsert("zoom_app__External_key__c/r1", {"zoom_app__Email__c": "not-an-email"})
    assert exc.value.content[0] == {"message": "Email: invalid email address: not-an-email",
                                    "errorCode": "INVALID_EMAIL_ADDRESS", "fields": ["zoom_app__Email__c"]}


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-01-05T10:00:00Z", "2026-01-05T10:00:00.000+0000"),
        ("2026-01-05T10:00:00.123Z", "2026-01-05T10:00:00.123+0000"),
        ("2026-01-05T12:00:00+02:00", "2026-01-05T10:00:00.000+0000"),
        ("2026-01-05T05:30:00-0430", "2026-01-05T10:00:00.000+0000"),
    ],
)
def test_datetimes_in_salesforce_formats_are_stored_in_utc(sf: Salesforce, sent: str, stored: str) -> None:
    _webinar(sf, "dt", zoom_app__Start_Time__c=sent, zoom_app__Duration__c="60")
    record = sf.__getattr__(WEBINAR).get_by_custom_id("zoom_app__Webinar_Id__c", "dt")
    assert record["zoom_app__Start_Time__c"] == stored
    assert record["zoom_app__Duration__c"] == 60.0
    assert record["zoom_app__Setting_Host_Video_On__c"] is False  # defaulted on create


def test_several_matches_answer_300(sf: Salesforce) -> None:
    sf.Contact.create({"LastName": "One", "Email": "twin@example.com"})
    sf.Contact.create({"LastName": "Two", "Email": "twin@example.com"})
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Contact.upsert("Email/twin@example.com", {"FirstName": "X"})
    assert len(exc.value.content) == 2 and exc.value.content[0].startswith("/services/data/")


def test_unique_external_id_rejects_duplicates(sf: Salesforce) -> None:
    _webinar(sf, "u1")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.__getattr__(WEBINAR).create({"zoom_app__Webinar_Id__c": "U1"})
    assert _error_code(exc) == "DUPLICATE_VALUE"


# ---------------------------------------------------------------------------------- relationships


def test_relationship_through_parent_external_id(sf: Salesforce) -> None:
    _webinar(sf, "123", zoom_app__Start_Time__c="2026-01-05T10:00:00Z")
    registrants = sf.__getattr__(REGISTRANT)
    body = {"zoom_app__Zoom_Webinar__r": {"zoom_app__Webinar_Id__c": "123"}, "zoom_app__Email__c": "r@example.com"}
    assert registrants.upsert("zoom_app__External_key__c/r1", body) == 201
    rows = sf.query(f"SELECT zoom_app__External_key__c, zoom_app__Zoom_Webinar__r.zoom_app__Webinar_Id__c, "
                    f"zoom_app__Zoom_Webinar__r.zoom_app__Start_Time__c FROM {REGISTRANT}")["records"]
    parent = rows[0]["zoom_app__Zoom_Webinar__r"]
    assert parent["zoom_app__Webinar_Id__c"] == "123"
    assert parent["zoom_app__Start_Time__c"] == "2026-01-05T10:00:00.000+0000"
    assert parent["attributes"]["type"] == WEBINAR
    with pytest.raises(SalesforceMalformedRequest) as exc:
        registrants.upsert("zoom_app__External_key__c/r2",
                           {"zoom_app__Zoom_Webinar__r": {"zoom_app__Webinar_Id__c": "999"}})
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert exc.value.content[0]["message"] == (
        "Foreign key external ID: 999 not found for field zoom_app__Webinar_Id__c in entity zoom_app__Zoom_Webinar__c")


# ------------------------------------------------------------------------------------ Collections


def _collection(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    body = {"allOrNone": all_or_none,
            "records": [{"attributes": {"type": "Contact"}} | record for record in records]}
    return sf.restful("composite/sobjects/Contact/Email", method="PATCH", json=body)


def test_collections_upsert_mixes_good_and_bad_records_in_request_order(sf: Salesforce) -> None:
    first = _collection(sf, [
        {"Email": "good1@example.com", "LastName": "Good"},
        {"Email": "bad1@example.com", "LastName": "Bad", "Foo__c": "x"},
        {"Email": "bad2@example.com", "LastName": "L" * 81},
        {"Email": "bad3@example.com", "FirstName": "NoLast"},
        {"Email": "good2@example.com", "LastName": "Good"},
    ])
    assert [r["success"] for r in first] == [True, False, False, False, True]
    assert [r["created"] for r in first] == [True, False, False, False, True]
    codes = [[e["statusCode"] for e in r["errors"]] for r in first]
    assert codes == [[], ["INVALID_FIELD"], ["STRING_TOO_LONG"], ["REQUIRED_FIELD_MISSING"], []]
    assert first[2]["errors"][0] == {"statusCode": "STRING_TOO_LONG", "fields": ["LastName"],
                                     "message": "Last Name: data value too large: " + "L" * 81 + " (max length=80)"}
    assert all("errorCode" not in e for r in first for e in r["errors"])
    second = _collection(sf, [{"Email": "GOOD1@example.com", "LastName": "Again"},
                              {"Email": "new@example.com", "LastName": "New"}])
    assert [(r["created"], r["success"]) for r in second] == [(False, True), (True, True)]
    assert second[0]["id"] == first[0]["id"]


def test_collections_all_or_none_rolls_back_every_write(sf: Salesforce) -> None:
    sf.Contact.upsert("Email/keep@example.com", {"LastName": "Before"})
    results = _collection(sf, [
        {"Email": "keep@example.com", "LastName": "After"},
        {"Email": "fresh@example.com", "LastName": "Fresh"},
        {"Email": "broken@example.com"},
    ], all_or_none=True)
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.Contact.get_by_custom_id("Email", "keep@example.com")["LastName"] == "Before"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1


def test_collections_limits_and_duplicate_keys(sf: Salesforce) -> None:
    too_many = [{"Email": f"c{i}@example.com", "LastName": "X"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        _collection(sf, too_many)
    assert _error_code(exc) == "EXCEEDED_ID_LIMIT"
    twice = _collection(sf, [{"Email": "d@example.com", "LastName": "A"}, {"Email": "D@example.com", "LastName": "B"},
                             {"LastName": "NoKey"}])
    assert [r["errors"][0]["statusCode"] for r in twice] == [
        "DUPLICATE_EXTERNAL_ID", "DUPLICATE_EXTERNAL_ID", "MISSING_ARGUMENT"]


def test_collections_wrong_json_type_fails_the_whole_request(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        _collection(sf, [{"Email": "ok@example.com", "LastName": "Ok"},
                         {"Email": "date@example.com", "LastName": "X", "Birthdate": "tomorrow"}])
    assert _error_code(exc) == "JSON_PARSER_ERROR"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


# ------------------------------------------------------------------------------------------- SOQL


def test_soql_subset(sf: Salesforce) -> None:
    for n, (last, title) in enumerate([("Alpha", "CEO"), ("beta", None), ("Gamma", "CTO"), ("delta", "CEO")]):
        sf.Contact.create({"LastName": last, "Title": title, "Email": f"{last.lower()}@example.com",
                           "DoNotCall": n % 2 == 0})

    def names(where: str) -> list[str]:
        rows = sf.query(f"SELECT LastName FROM Contact {where}")["records"]
        return [r["LastName"] for r in rows]

    assert names("WHERE LastName = 'ALPHA'") == ["Alpha"]
    assert names("WHERE Title != 'CEO' ORDER BY LastName") == ["beta", "Gamma"]
    assert names("WHERE Title IN ('CEO', 'CTO') ORDER BY LastName DESC") == ["Gamma", "delta", "Alpha"]
    assert names("WHERE Title NOT IN ('CEO')  ORDER BY LastName") == ["beta", "Gamma"]
    assert names("WHERE Title = null") == ["beta"]
    assert names("WHERE DoNotCall = true AND Title = 'CEO'") == ["Alpha"]
    assert names("WHERE (Title = 'CTO' OR LastName LIKE 'b%') AND DoNotCall = true") == ["Gamma"]
    assert names("WHERE Email LIKE '%a@example.com' ORDER BY Title NULLS LAST, LastName LIMIT 2") == ["Alpha", "delta"]
    assert names("WHERE CreatedDate > 2020-01-01T00:00:00Z ORDER BY LastName OFFSET 3") == ["Gamma"]
    assert sf.query("SELECT COUNT() FROM Contact WHERE Title = 'CEO'")["totalSize"] == 2


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Id Contact", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE LastName = 'a' AND Title = 'b' OR Email = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Nope__r.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE DoNotCall = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE LastName = 3", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
    ],
)
def test_soql_errors(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(soql)
    assert _error_code(exc) == code
    assert "ERROR at Row:1:Column:" in exc.value.content[0]["message"]


def test_query_paging_over_4500_records(sf: Salesforce, emu: Emulator) -> None:
    records = [{"Email": f"p{i:05d}@example.com", "LastName": f"P{i:05d}"} for i in range(4500)]
    result = sf.bulk2.Contact.upsert(records=records, external_id_field="Email", wait=0)
    assert result[0]["numberRecordsProcessed"] == 4500 and result[0]["numberRecordsFailed"] == 0
    first = sf.query("SELECT Id, Email FROM Contact ORDER BY Email")
    assert (first["totalSize"], first["done"], len(first["records"])) == (4500, False, 1000)
    assert re.fullmatch(rf"/services/data/v{VERSION}/query/01g\w{{15}}-1000", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["records"][0]["Email"] == "p01000@example.com"
    everything = sf.query_all("SELECT Email FROM Contact ORDER BY Email")
    assert everything["totalSize"] == 4500 and len(everything["records"]) == 4500
    assert [r["Email"] for r in everything["records"]] == sorted(r["Email"] for r in records)
    lazily = [r["Email"] for r in sf.query_all_iter("SELECT Email FROM Contact WHERE Email LIKE 'p0%'")]
    assert len(lazily) == 4500 and len(set(lazily)) == 4500
    assert sf.query("SELECT COUNT() FROM Contact WHERE Email LIKE 'p04%'")["totalSize"] == 500


# ------------------------------------------------------------------------------------ Bulk API 2.0


def test_bulk2_upsert_results_matched_by_external_id(sf: Salesforce) -> None:
    _webinar(sf, "w1")
    sf.Contact.upsert("Email/old@example.com", {"LastName": "Old", "Title": "Keep me", "Phone": "123"})
    records = [
        {"Email": "old@example.com", "LastName": "Older", "Title": "", "Phone": "#N/A", "Birthdate": ""},
        {"Email": "new@example.com", "LastName": "New", "Title": "Fresh", "Phone": "", "Birthdate": "2000-02-29"},
        {"Email": "nolast@example.com", "LastName": "", "Title": "x", "Phone": "", "Birthdate": ""},
        {"Email": "baddate@example.com", "LastName": "D", "Title": "", "Phone": "", "Birthdate": "29/02/2000"},
        {"Email": "long@example.com", "LastName": "L" * 81, "Title": "", "Phone": "", "Birthdate": ""},
    ]
    summary = sf.bulk2.Contact.upsert(records=records, external_id_field="Email", wait=0)
    job_id = summary[0]["job_id"]
    assert (summary[0]["numberRecordsProcessed"], summary[0]["numberRecordsFailed"]) == (5, 3)
    ok = _csv_rows(sf.bulk2.Contact.get_successful_records(job_id))
    failed = _csv_rows(sf.bulk2.Contact.get_failed_records(job_id))
    assert set(ok) == {"old@example.com", "new@example.com"}
    assert (ok["old@example.com"]["sf__Created"], ok["new@example.com"]["sf__Created"]) == ("false", "true")
    assert failed["nolast@example.com"]["sf__Error"] == (
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --")
    assert failed["baddate@example.com"]["sf__Error"].startswith("INVALID_FIELD:Failed to deserialize field")
    assert failed["long@example.com"]["sf__Error"].startswith("STRING_TOO_LONG:Last Name: data value too large")
    assert all(row["sf__Id"] == "" for row in failed.values())
    assert list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_unprocessed_records(job_id)))) == []
    old = sf.Contact.get_by_custom_id("Email", "old@example.com")
    assert (old["LastName"], old["Title"], old["Phone"]) == ("Older", "Keep me", None)  # empty kept, #N/A nulled


def test_bulk2_relationship_columns(sf: Salesforce) -> None:
    _webinar(sf, "w9")
    records = [{"zoom_app__External_key__c": "k1", "zoom_app__Zoom_Webinar__r.zoom_app__Webinar_Id__c": "w9"},
               {"zoom_app__External_key__c": "k2", "zoom_app__Zoom_Webinar__r.zoom_app__Webinar_Id__c": "nope"}]
    job = sf.bulk2.__getattr__(REGISTRANT).upsert(records=records, external_id_field="zoom_app__External_key__c",
                                                   wait=0)[0]["job_id"]
    results = sf.bulk2.__getattr__(REGISTRANT).get_all_ingest_records(job)
    assert [r["zoom_app__External_key__c"] for r in results["successfulRecords"]] == ["k1"]
    assert results["failedRecords"][0]["sf__Error"] == (
        "INVALID_FIELD:Foreign key external ID: nope not found for field zoom_app__Webinar_Id__c in entity "
        "zoom_app__Zoom_Webinar__c:zoom_app__Zoom_Webinar__c --")


def test_bulk2_unknown_column_fails_the_job_and_leaves_rows_unprocessed(sf: Salesforce) -> None:
    with pytest.raises(SalesforceOperationError, match="Field name not found : Nope__c"):
        sf.bulk2.Contact.upsert(records=[{"Email": "u@example.com", "LastName": "U", "Nope__c": "x"}],
                                external_id_field="Email", wait=0)
    jobs = sf.restful("jobs/ingest")["records"]
    failed_job = next(j for j in jobs if j["state"] == "Failed")
    unprocessed = sf.bulk2.Contact.get_unprocessed_records(failed_job["id"])
    assert [row["Email"] for row in csv.DictReader(io.StringIO(unprocessed))] == ["u@example.com"]


def test_bulk2_job_lifecycle_over_plain_requests(emu: Emulator) -> None:
    emu.hook("reset")
    emu.app.state.emulator.bulk.delay = 0.6
    headers = {"Authorization": f"Bearer {emu.token()}"}
    base = f"{emu.url}/services/data/v{VERSION}/jobs/ingest"
    try:
        job = requests.post(base, headers=headers, timeout=10, json={
            "object": "Contact", "operation": "upsert", "externalIdFieldName": "Email", "contentType": "CSV",
            "lineEnding": "CRLF", "columnDelimiter": "COMMA"}).json()
        assert job["state"] == "Open"
        assert job["contentUrl"] == f"services/data/v{VERSION}/jobs/ingest/{job['id']}/batches"
        data = b"Email,LastName\r\nj1@example.com,One\r\nj2@example.com,\r\n"
        upload = requests.put(f"{emu.url}/{job['contentUrl']}", data=data, timeout=10,
                              headers=headers | {"Content-Type": "text/csv"})
        assert upload.status_code == 201 and upload.content == b""
        again = requests.put(f"{emu.url}/{job['contentUrl']}", data=data, timeout=10, headers=headers)
        assert again.json()[0]["errorCode"] == "BULK_API_ERROR"
        closed = requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, timeout=10)
        assert closed.json()["state"] == "UploadComplete"
        seen = _poll_states(f"{base}/{job['id']}", headers)
        assert seen[0] == "UploadComplete" and "InProgress" in seen and seen[-1] == "JobComplete"
        for kind in ("successfulResults/", "failedResults", "unprocessedrecords/", "unprocessedRecords"):
            reply = requests.get(f"{base}/{job['id']}/{kind}", headers=headers, timeout=10)
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
        failed = requests.get(f"{base}/{job['id']}/failedResults/", headers=headers, timeout=10).text
        assert failed.splitlines()[0] == '"sf__Id","sf__Error","Email","LastName"'
        assert requests.delete(f"{base}/{job['id']}", headers=headers, timeout=10).status_code == 204
        assert requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).status_code == 404
    finally:
        emu.app.state.emulator.bulk.delay = 0.0


def _poll_states(url: str, headers: dict[str, str]) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = requests.get(url, headers=headers, timeout=10).json()["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("JobComplete", "Failed", "Aborted"):
            break
        time.sleep(0.05)
    return seen


def test_bulk2_line_ending_mismatch_fails_the_job(emu: Emulator, sf: Salesforce) -> None:
    headers = {"Authorization": f"Bearer {emu.token()}"}
    base = f"{emu.url}/services/data/v{VERSION}/jobs/ingest"
    job = requests.post(base, headers=headers, timeout=10, json={
        "object": "Contact", "operation": "insert", "lineEnding": "LF"}).json()
    requests.put(f"{base}/{job['id']}/batches", data=b"LastName\r\nA\r\nB\r\n", headers=headers, timeout=10)
    requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, timeout=10)
    info = _poll_states(f"{base}/{job['id']}", headers)
    assert info[-1] == "Failed"
    message = requests.get(f"{base}/{job['id']}", headers=headers, timeout=10).json()["errorMessage"]
    assert message.startswith("ClientInputError : LineEnding is invalid")


# --------------------------------------------------------------------------------- failure modes


def test_request_limit_exceeded_is_a_refused_request_and_writes_nothing(emu: Emulator, sf: Salesforce) -> None:
    emu.hook("fail-next", {"errorCode": "REQUEST_LIMIT_EXCEEDED", "count": 1})
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.Contact.upsert("Email/retry@example.com", {"LastName": "Retry"})
    assert _error_code(exc) == "REQUEST_LIMIT_EXCEEDED"
    emu.hook("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": 1})
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.Contact.upsert("Email/retry@example.com", {"LastName": "Retry"})
    assert unavailable.value.status == 503
    assert sf.Contact.upsert("Email/retry@example.com", {"LastName": "Retry"}) == 201  # the retry creates it


def test_fail_rate_is_seeded_and_mixes_503_and_403(tls: TLSFiles) -> None:
    def statuses() -> list[int]:
        flaky = _start(tls, fail_rate=0.5, seed=7)
        try:
            headers = {"Authorization": f"Bearer {flaky.token()}"}
            url = f"{flaky.url}/services/data/v{VERSION}/limits"
            return [requests.get(url, headers=headers, timeout=10).status_code for _ in range(40)]
        finally:
            flaky.server.stop()

    first = statuses()
    assert first == statuses()
    assert {200, 403, 503} <= set(first)


def test_stats_count_routes_and_statuses(emu: Emulator, sf: Salesforce) -> None:
    before = emu.app.state.stats.as_dict()
    sf.Contact.upsert("Email/stats@example.com", {"LastName": "S"})
    after = requests.get(f"{emu.url}/_emulator/stats", timeout=10).json()
    assert after["routes"]["upsert"]["201"] == before["routes"].get("upsert", {}).get("201", 0) + 1
    assert after["api_calls"] > before["api_calls"]


# ------------------------------------------------------------------------------------------ CLI


def test_cli_refuses_a_folder_without_catalogs(tmp_path: Path) -> None:
    result = CliRunner().invoke(salesforce_command, ["--catalog", str(tmp_path)])
    assert result.exit_code == 2 and "no sObject catalog" in result.output


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_prints_url_and_ca_serves_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    code = "from engine.cli.emulator_salesforce import salesforce_command; salesforce_command()"
    args = [sys.executable, "-c", code, "--port", "0", "--catalog", str(CATALOG), "--cert-dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        ca_line = process.stdout.readline().strip()
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", url)
        assert ca_line == f"ca: {tmp_path / 'ca.pem'}"
        reply = requests.get(f"{url}/services/data/", verify=ca_line.removeprefix("ca: "), timeout=10)
        assert reply.status_code == 200
        process.send_signal(stop)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err
