"""Fidelity of the Salesforce emulator: measured against real exchanges, real describes, real clients.

The recorded exchanges (``tests/fixtures/salesforce_recorded/``, real CumulusCI cassettes) are
replayed against the emulator, over HTTPS through simple-salesforce's session, and every answer is
compared with the recorded one: the status code, and the shape (keys and types, error arrays,
``attributes``), with each recorded record id standing for the id the emulator gave that record
(the same record must keep the same id over the exchanges). Describes are compared key for key
with the recorded real ones. Then one test per difference the emulator had with Salesforce, each
of which failed before the emulator was fixed: Bulk API 2.0 rows that repeat an external id,
Collections create and update, Composite, ``updateOnly``, ``/limits/`` and the daily request
limit, OFFSET bounds, date literals, GROUP BY with COUNT.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from engine.emulators.salesforce.app import SalesforceEmulatorConfig, create_app
from engine.emulators.salesforce.catalog import normalize_id
from engine.emulators.tls import make_tls_files
from engine.resources import schemas_dir
from engine.serving import RunningServer, TLSFiles, start_in_thread
from tests.helpers import FIXTURES, REFERENCE

RECORDED = FIXTURES / "salesforce_recorded"
VERSION = "59.0"
WEBINAR = "zoom_app__Zoom_Webinar__c"
KEY = "zoom_app__Webinar_Id__c"


# ------------------------------------------------------------------------------------- fixtures


@dataclass
class Org:
    """A running Salesforce emulator and simple-salesforce logged in to it."""

    server: RunningServer
    url: str
    sf: Salesforce = field(init=False)

    def __post_init__(self) -> None:
        token = requests.post(f"{self.url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=("demo", "demo"), timeout=10).json()["access_token"]
        self.sf = Salesforce(instance_url=self.url, session_id=token, version=VERSION, session=requests.Session())

    def send(self, method: str, path: str, body: Any = None) -> requests.Response:
        """One raw request, as a recorded one was sent (``path`` from ``/services/data/...``)."""
        return self.sf.session.request(method, self.url + path, json=body, headers=self.sf.headers, timeout=10)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSFiles]:
    files = make_tls_files(tmp_path_factory.mktemp("sf-fidelity-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", files.ca_file)
        yield files


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped catalogs and the Opportunity the recorded exchanges create."""
    folder = tmp_path_factory.mktemp("sf-fidelity-catalog")
    for path in (schemas_dir() / "salesforce").glob("*.json"):
        shutil.copy(path, folder)
    shutil.copy(RECORDED / "catalog" / "Opportunity.json", folder)
    return folder


def start_org(tls: TLSFiles, catalog: Path, **options: Any) -> Org:
    app = create_app(SalesforceEmulatorConfig(catalog_dir=catalog, **options))
    server = start_in_thread(app, "127.0.0.1", 0, tls=tls)
    return Org(server, server.url)


@pytest.fixture
def org(tls: TLSFiles, catalog: Path) -> Iterator[Org]:
    running = start_org(tls, catalog)
    yield running
    running.server.stop()


# ------------------------------------------------------------------------ the recorded exchanges


class Ids:
    """Each recorded record id and the id the emulator gave the same record."""

    def __init__(self) -> None:
        self.actual: dict[str, str] = {}

    def substitute(self, value: Any) -> Any:
        """A recorded request with the recorded ids it names replaced by the emulator's."""
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return self.actual.get(value, value) if isinstance(value, str) else value

    def match(self, recorded: str, actual: Any, where: str) -> list[str]:
        if not isinstance(actual, str) or normalize_id(actual) != actual or actual[:3] != recorded[:3]:
            return [f"{where}: {actual!r} is not an id of the kind of {recorded!r}"]
        known = self.actual.setdefault(recorded, actual)
        if known != actual:
            return [f"{where}: the record recorded as {recorded} was {known}, now {actual}"]
        if list(self.actual.values()).count(actual) > 1:
            return [f"{where}: {actual} answers for two recorded records"]
        return []


EXACT_KEYS = frozenset({"success", "created", "errorCode", "statusCode", "httpStatusCode", "referenceId"})


def differences(recorded: Any, actual: Any, ids: Ids, where: str = "$") -> list[str]:
    """How `actual` differs from `recorded` in shape: keys, types, list lengths, ids, flags and codes."""
    if isinstance(recorded, str) and normalize_id(recorded) == recorded and len(recorded) == 18:
        return ids.match(recorded, actual, where)
    if type(recorded) is not type(actual):
        return [f"{where}: {type(actual).__name__} where Salesforce answered {type(recorded).__name__}"]
    if isinstance(recorded, dict):
        found = [f"{where}: no key {k!r}" for k in recorded if k not in actual]
        found += [f"{where}: key {k!r} Salesforce did not answer" for k in actual if k not in recorded]
        for key in recorded.keys() & actual.keys():
            if key in EXACT_KEYS and recorded[key] != actual[key]:
                found.append(f"{where}.{key}: {actual[key]!r} where Salesforce answered {recorded[key]!r}")
            else:
                found += differences(recorded[key], actual[key], ids, f"{where}.{key}")
        return found
    if isinstance(recorded, list):
        if len(recorded) != len(actual):
            return [f"{where}: {len(actual)} items where Salesforce answered {len(recorded)}"]
        return [d for i, (r, a) in enumerate(zip(recorded, actual, strict=True))
                for d in differences(r, a, ids, f"{where}[{i}]")]
    return []


def recorded_interactions() -> list[dict[str, Any]]:
    document = json.loads((RECORDED / "rest-recorded.cumulusci.json").read_text(encoding="utf-8"))
    interactions: list[dict[str, Any]] = document["interactions"]
    return interactions


def test_every_recorded_exchange_is_answered_as_salesforce_answered(org: Org) -> None:
    interactions = recorded_interactions()
    assert len(interactions) == 5
    ids = Ids()
    for number, interaction in enumerate(interactions):
        request, recorded = interaction["request"], interaction["response"]
        path = urlsplit(request["uri"]).path.replace("/vxx.0/", f"/v{VERSION}/")
        reply = org.send(request["method"], path, ids.substitute(request.get("body")))
        where = f"exchange {number} ({request['method']} {path})"
        assert reply.status_code == recorded["status"], (where, reply.text)
        assert differences(recorded["body"], reply.json(), ids) == [], where
    assert len(ids.actual) == 20  # an Account, 17 Contacts, 2 Opportunities: each its own id throughout


def test_the_comparison_finds_a_missing_key_a_wrong_flag_and_an_id_that_changed() -> None:
    ids = Ids()
    recorded = [{"id": "0037e00001WZ30qAAD", "success": True, "errors": [], "created": True}]
    assert differences(recorded, [{"id": "0037e0000000001AAA", "success": True, "errors": []}], ids) == [
        "$[0]: no key 'created'"]
    assert differences(recorded, [{"id": "0037e0000000001AAA", "success": True, "errors": [], "created": False}],
                       ids) == ["$[0].created: False where Salesforce answered True"]
    assert differences(recorded, [{"id": "0037e0000000002AAA", "success": True, "errors": [], "created": True}],
                       ids) == ["$[0].id: the record recorded as 0037e00001WZ30qAAD was 0037e0000000001AAA, now "
                                "0037e0000000002AAA"]
    assert differences(recorded, [{"id": "0017e0000000001AAA", "success": True, "errors": [], "created": True}],
                       Ids())[0].endswith("is not an id of the kind of '0037e00001WZ30qAAD'")


# ------------------------------------------------------------------------------------- describes


def reference_describe(name: str) -> dict[str, Any]:
    described: dict[str, Any] = json.loads((REFERENCE / "salesforce" / f"describe.{name}.cumulusci.json")
                                           .read_text(encoding="utf-8"))
    return {k: v for k, v in described.items() if not k.startswith("x-")}


@pytest.mark.parametrize("sobject", ["Account", "Contact", "Event", "Lead"])
def test_describes_have_the_keys_a_real_describe_has(org: Org, sobject: str) -> None:
    real = reference_describe(sobject)
    ours = org.sf.__getattr__(sobject).describe()
    # the Contact, Event and Lead recordings are of a newer API than Account's, which lacks three keys
    assert set(ours) == set(reference_describe("Contact")) >= set(real)
    real_field_keys = {key for f in real["fields"] for key in f}
    assert all(set(f) == real_field_keys for f in ours["fields"]), sobject
    if sobject in ("Contact", "Lead"):  # the urls an object has vary (Event's series, Account's defaults)
        assert set(ours["urls"]) == set(real["urls"])
    real_child_keys = {key for c in real["childRelationships"] for key in c}
    assert all(set(c) == real_child_keys for c in ours["childRelationships"])
    assert [set(r) for r in ours["recordTypeInfos"]] == [set(r) for r in real["recordTypeInfos"]][:1]
    # what the catalog says of a field wins: the real Email is an idLookup email of 80 characters
    if sobject == "Contact":
        email = next(f for f in ours["fields"] if f["name"] == "Email")
        real_email = next(f for f in real["fields"] if f["name"] == "Email")
        assert {k: email[k] for k in ("type", "length", "idLookup", "soapType", "nillable")} == {
            k: real_email[k] for k in ("type", "length", "idLookup", "soapType", "nillable")}


def test_the_global_describe_has_the_keys_of_a_real_one(org: Org) -> None:
    real = json.loads((RECORDED / "describe-global.cumulusci.json").read_text(encoding="utf-8"))
    ours = org.sf.describe()
    assert set(ours) == {k for k in real if not k.startswith("x-")}
    real_keys = {key for entry in real["sobjects"] for key in entry}
    assert all(set(entry) == real_keys for entry in ours["sobjects"])
    real_urls = {frozenset(entry["urls"]) for entry in real["sobjects"]}
    assert all(frozenset(entry["urls"]) in real_urls for entry in ours["sobjects"])


# ------------------------------------------------------------------------------ Bulk API 2.0


def bulk_job(org: Org, csv_text: str, operation: str = "upsert") -> dict[str, str]:
    """A Bulk API 2.0 ingest job of ``csv_text`` on the webinar object, over plain requests: its results."""
    base = f"/services/data/v{VERSION}/jobs/ingest"
    body = {"object": WEBINAR, "operation": operation, "contentType": "CSV", "lineEnding": "LF"}
    if operation == "upsert":
        body["externalIdFieldName"] = KEY
    job = org.send("POST", base, body).json()
    headers = org.sf.headers | {"Content-Type": "text/csv"}
    assert org.sf.session.put(f"{org.url}{base}/{job['id']}/batches", data=csv_text.encode(), headers=headers,
                              timeout=10).status_code == 201
    org.send("PATCH", f"{base}/{job['id']}", {"state": "UploadComplete"})
    for _ in range(500):
        info = org.send("GET", f"{base}/{job['id']}").json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            break
    return {kind: org.send("GET", f"{base}/{job['id']}/{kind}/").text for kind in ("successfulResults",
                                                                                     "failedResults")}


def test_bulk_rows_that_repeat_an_external_id_fail_every_one_as_salesforce_fails_them(org: Org) -> None:
    results = bulk_job(org, f"{KEY},zoom_app__Topic__c\nw1,First\nw2,Only\nW1,Second\n")
    failed = list(csv.DictReader(io.StringIO(results["failedResults"])))
    succeeded = list(csv.DictReader(io.StringIO(results["successfulResults"])))
    assert sorted(row[KEY] for row in failed) == ["W1", "w1"]  # external ids are case-insensitive
    assert {row["sf__Error"].split(":")[0] for row in failed} == {"DUPLICATE_EXTERNAL_ID"}
    assert [row[KEY] for row in succeeded] == ["w2"]
    stored = org.sf.query(f"SELECT {KEY} FROM {WEBINAR}")["records"]
    assert [r[KEY] for r in stored] == ["w2"]  # neither duplicate was written


def test_bulk_updates_that_repeat_an_id_fail_every_one(org: Org) -> None:
    created = org.sf.__getattr__(WEBINAR).create({KEY: "w9", "zoom_app__Topic__c": "T"})["id"]
    results = bulk_job(org, f"Id,zoom_app__Topic__c\n{created},A\n{created[:15]},B\n", operation="update")
    failed = list(csv.DictReader(io.StringIO(results["failedResults"])))
    assert [row["sf__Error"].split(":")[0] for row in failed] == ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]


# ------------------------------------------------------------------- Collections and Composite


def test_collections_create_and_update_answer_per_record_with_no_id_on_failure(org: Org) -> None:
    created = org.sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "Acme"},
        {"attributes": {"type": "Contact"}, "LastName": "Ng", "Email": "ng@example.com"},
        {"attributes": {"type": "Contact"}, "FirstName": "No last name"}]})
    assert [sorted(r) for r in created] == [["errors", "id", "success"]] * 2 + [["errors", "success"]]
    assert created[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    account, contact = created[0]["id"], created[1]["id"]
    updated = org.sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "Id": contact, "AccountId": account},
        {"attributes": {"type": "Contact"}, "LastName": "No id"}]})
    assert updated[0] == {"id": contact, "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert org.sf.Contact.get(contact)["AccountId"] == account
    rolled_back = org.sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Account"}, "Name": "Kept?"}, {"attributes": {"type": "Contact"}}]})
    assert [r["errors"][0]["statusCode"] for r in rolled_back] == ["ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                                                    "REQUIRED_FIELD_MISSING"]
    assert org.sf.query("SELECT COUNT() FROM Account WHERE Name = 'Kept?'")["totalSize"] == 0
    deleted = org.sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{contact},{contact}"})
    assert [r["success"] for r in deleted] == [True, False]


def test_composite_runs_subrequests_in_order_with_references_and_all_or_none(org: Org) -> None:
    answer = org.sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Account", "referenceId": "acme",
         "body": {"Name": "Acme"}},
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Contact", "referenceId": "ng",
         "body": {"LastName": "Ng", "AccountId": "@{acme.id}"}},
        {"method": "GET", "referenceId": "check",
         "url": f"/services/data/v{VERSION}/query?q=SELECT+Account.Name+FROM+Contact+WHERE+Id='@{{ng.id}}'"}]})
    answer = answer["compositeResponse"]
    assert [a["httpStatusCode"] for a in answer] == [201, 201, 200]
    assert answer[0]["httpHeaders"]["Location"].endswith(answer[0]["body"]["id"])
    assert answer[2]["body"]["records"][0]["Account"]["Name"] == "Acme"
    halted = org.sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Account", "referenceId": "a",
         "body": {"Name": "Rolled back"}},
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Contact", "referenceId": "c", "body": {}}]})
    codes = [(a["httpStatusCode"], a["body"][0]["errorCode"]) for a in halted["compositeResponse"]]
    assert codes == [(400, "PROCESSING_HALTED"), (400, "REQUIRED_FIELD_MISSING")]
    assert org.sf.query("SELECT COUNT() FROM Account WHERE Name = 'Rolled back'")["totalSize"] == 0


def test_upsert_with_update_only_does_not_create(org: Org) -> None:
    webinar = org.sf.__getattr__(WEBINAR)
    with pytest.raises(SalesforceResourceNotFound):
        webinar.upsert(f"{KEY}/w1?updateOnly=true", {"zoom_app__Topic__c": "Nope"})
    assert org.sf.query(f"SELECT COUNT() FROM {WEBINAR}")["totalSize"] == 0
    assert webinar.upsert(f"{KEY}/w1", {"zoom_app__Topic__c": "One"}) == 201
    assert webinar.upsert(f"{KEY}/w1?updateOnly=true", {"zoom_app__Topic__c": "Two"}) == 200


# ---------------------------------------------------------------------------------------- limits


def test_limits_answer_as_simple_salesforce_asks_and_count_requests_down(org: Org) -> None:
    first = org.sf.limits()  # GET limits/ (with the trailing slash)
    assert len(first) > 40 and {"DailyApiRequests", "DailyBulkApiBatches", "DataStorageMB"} <= set(first)
    assert all(set(v) >= {"Max", "Remaining"} for v in first.values())
    assert first["PermissionSets"]["CreateCustom"] == {"Max": 1000, "Remaining": 1000}
    org.sf.query(f"SELECT COUNT() FROM {WEBINAR}")
    second = org.sf.limits()
    assert second["DailyApiRequests"]["Remaining"] == first["DailyApiRequests"]["Remaining"] - 2
    bulk_job(org, f"{KEY}\nw1\n")
    assert org.sf.limits()["DailyBulkApiBatches"]["Remaining"] == first["DailyBulkApiBatches"]["Remaining"] - 1


def test_the_daily_request_limit_refuses_with_request_limit_exceeded(tls: TLSFiles, catalog: Path) -> None:
    limited = start_org(tls, catalog, api_limit=3)
    try:
        limited.sf.limits()
        limited.sf.query(f"SELECT COUNT() FROM {WEBINAR}")
        assert limited.sf.limits()["DailyApiRequests"] == {"Max": 3, "Remaining": 0}
        with pytest.raises(SalesforceRefusedRequest) as refused:
            limited.sf.query(f"SELECT COUNT() FROM {WEBINAR}")
        assert refused.value.content == [{"message": "TotalRequests Limit exceeded.",
                                          "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        assert refused.value.status == 403
    finally:
        limited.server.stop()


# ------------------------------------------------------------------------------------------ SOQL


def test_offset_stops_at_2000_as_salesforce_does(org: Org) -> None:
    assert org.sf.query(f"SELECT Id FROM {WEBINAR} LIMIT 5 OFFSET 2000")["records"] == []
    with pytest.raises(SalesforceMalformedRequest) as refused:
        org.sf.query(f"SELECT Id FROM {WEBINAR} LIMIT 5 OFFSET 2001")
    assert refused.value.content[0]["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"


def test_date_literals_select_by_day(org: Org) -> None:
    webinar = org.sf.__getattr__(WEBINAR)
    now = datetime.now(UTC)
    for key, days in (("w-today", 0), ("w-3-ago", -3), ("w-40-ago", -40), ("w-next", 2)):
        moment = (now + timedelta(days=days)).isoformat(timespec="milliseconds")
        webinar.upsert(f"{KEY}/{key}", {"zoom_app__Start_Time__c": moment})

    def keys(where: str) -> list[str]:
        return sorted(r[KEY] for r in org.sf.query(f"SELECT {KEY} FROM {WEBINAR} WHERE {where}")["records"])

    if now.hour not in (0, 23):  # a boundary of the UTC day would move the rows between days
        assert keys("zoom_app__Start_Time__c = TODAY") == ["w-today"]
        assert keys("zoom_app__Start_Time__c = LAST_N_DAYS:7") == ["w-3-ago", "w-today"]
        assert keys("zoom_app__Start_Time__c < LAST_N_DAYS:30") == ["w-40-ago"]
        assert keys("zoom_app__Start_Time__c = NEXT_N_DAYS:5") == ["w-next"]
        assert keys("zoom_app__Start_Time__c > TODAY") == ["w-next"]
    assert keys("CreatedDate = TODAY OR CreatedDate = YESTERDAY") == ["w-3-ago", "w-40-ago", "w-next", "w-today"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        org.sf.query(f"SELECT Id FROM {WEBINAR} WHERE zoom_app__Topic__c = TODAY")
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_group_by_with_count_finds_duplicates_as_a_user_would(org: Org) -> None:
    for n, email in enumerate(["a@example.com", "A@example.com", "b@example.com", "c@example.com"]):
        org.sf.Contact.create({"LastName": f"P{n}", "Email": email})
    soql = "SELECT Email, COUNT(Id) n FROM Contact GROUP BY Email HAVING COUNT(Id) > 1"
    assert org.sf.query(soql)["records"] == [{"attributes": {"type": "AggregateResult"}, "Email": "a@example.com",
                                              "n": 2}]
    ordered = org.sf.query("SELECT Email, COUNT(Id) FROM Contact GROUP BY Email ORDER BY COUNT(Id) DESC, Email")
    assert ordered["totalSize"] == 3
    assert [(r["Email"].lower(), r["expr0"]) for r in ordered["records"]] == [
        ("a@example.com", 2), ("b@example.com", 1), ("c@example.com", 1)]
    assert org.sf.query("SELECT COUNT(Id), COUNT(Email) FROM Contact")["records"][0] | {} == {
        "attributes": {"type": "AggregateResult"}, "expr0": 4, "expr1": 4}
    with pytest.raises(SalesforceMalformedRequest) as refused:
        org.sf.query("SELECT LastName, COUNT(Id) FROM Contact GROUP BY Email")
    assert "Field must be grouped or aggregated: LastName" in refused.value.content[0]["message"]


def test_the_command_takes_api_limit(tmp_path: Path, catalog: Path) -> None:
    code = "from engine.cli.emulator_salesforce import salesforce_command; salesforce_command()"
    args = [sys.executable, "-c", code, "--api-limit", "1", "--catalog", str(catalog), "--cert-dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        ca = process.stdout.readline().strip().removeprefix("ca: ")
        token = requests.post(f"{url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=("demo", "demo"), verify=ca, timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        first, second = (requests.get(f"{url}/services/data/v{VERSION}/limits/", headers=headers, verify=ca,
                                      timeout=10) for _ in range(2))
        assert first.json()["DailyApiRequests"] == {"Max": 1, "Remaining": 0}
        assert (second.status_code, second.json()[0]["errorCode"]) == (403, "REQUEST_LIMIT_EXCEEDED")
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
