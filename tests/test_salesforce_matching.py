"""Records without an external id (CampaignMember): found by the fields that identify them, updated or created,
never doubled; SOQL built from data escaped, never raw. Against the Salesforce emulator over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from starlette.applications import Starlette

from engine.emulators.salesforce.app import SalesforceEmulatorConfig, create_app
from engine.emulators.tls import make_tls_files
from engine.salesforce.matching import lookup_query
from engine.salesforce.soql import soql_like_pattern, soql_literal, soql_quote
from engine.salesforce.writer import SalesforceCredentials, SalesforceWriter
from engine.serving import RunningServer, start_in_thread
from tests.helpers import ORG_WITH_ADDITIONS

MEMBER = "CampaignMember"
KEYS = ["CampaignId", "ContactId"]


class Org:
    def __init__(self, app: Starlette, server: RunningServer) -> None:
        self.app, self.server = app, server

    @property
    def store(self) -> Any:
        return self.app.state.emulator.org

    def writer(self) -> SalesforceWriter:
        return SalesforceWriter(SalesforceCredentials(self.server.url, client_id="demo", client_secret="demo"),
                                sleep=lambda seconds: None)

    def create(self, sobject: str, body: dict[str, Any]) -> str:
        result = self.store.create(sobject, body)
        assert result.success, result.errors
        return str(result.id)

    def rows(self, sobject: str) -> list[dict[str, Any]]:
        return list(self.store.records(sobject))

    def route(self, name: str) -> int:
        stats = requests.get(f"{self.server.url}/_emulator/stats", timeout=10).json()
        return sum(stats["routes"].get(name, {}).values())


@pytest.fixture(scope="module")
def org_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    tls = make_tls_files(tmp_path_factory.mktemp("match-tls"))
    app = create_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS))
    server = start_in_thread(app, tls=tls)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
        yield Org(app, server)
    server.stop()


@pytest.fixture()
def org(org_server: Org) -> Org:
    requests.post(f"{org_server.server.url}/_emulator/reset", timeout=10).raise_for_status()
    return org_server


def test_members_are_created_then_updated_never_doubled(org: Org) -> None:
    campaign = org.create("Campaign", {"Name": "Launch webinar"})
    ada = org.create("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})
    alan = org.create("Contact", {"LastName": "Turing", "Email": "alan@example.com"})
    with org.writer() as writer:
        first = writer.match_upsert(MEMBER, KEYS, [
            {"CampaignId": campaign, "ContactId": ada, "Status": "Registered"},
            {"CampaignId": campaign, "ContactId": alan, "Status": "Registered"},
            {"CampaignId": campaign, "ContactId": ada, "Status": "Attended"},  # the same person again
        ])
        assert [(r.success, r.created) for r in first] == [(True, True), (True, True), (True, True)]
        assert first[0].id == first[2].id != first[1].id
        assert first[0].external_id == f"CampaignId={campaign};ContactId={ada}"
        rows = org.rows(MEMBER)
        assert len(rows) == 2
        assert {r["ContactId"]: r["Status"] for r in rows} == {ada: "Attended", alan: "Registered"}
        again = writer.match_upsert(MEMBER, KEYS, [{"CampaignId": campaign, "ContactId": alan, "Status": "Attended"}])
        assert (again[0].success, again[0].created, again[0].id) == (True, False, first[1].id)
        unchanged = writer.match_upsert(MEMBER, KEYS, [{"CampaignId": campaign, "ContactId": ada}])
        assert (unchanged[0].success, unchanged[0].created, unchanged[0].id) == (True, False, first[0].id)
    assert len(org.rows(MEMBER)) == 2
    assert {r["ContactId"]: r["Status"] for r in org.rows(MEMBER)} == {ada: "Attended", alan: "Attended"}


def test_a_refused_record_fails_alone_and_its_code_is_kept(org: Org) -> None:
    campaign = org.create("Campaign", {"Name": "Launch webinar"})
    ada = org.create("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})
    with org.writer() as writer:
        results = writer.match_upsert(MEMBER, KEYS, [
            {"CampaignId": campaign, "ContactId": ada, "Status": "Registered"},
            {"CampaignId": campaign, "ContactId": ada[:-3] + "ZZZ", "Status": "Registered"},
        ])
    assert results[0].success and not results[1].success
    assert results[1].errors[0][0] in ("MALFORMED_ID", "INVALID_CROSS_REFERENCE_KEY", "INVALID_ID_FIELD")


def test_values_with_quotes_backslashes_and_wildcards_match_only_themselves(org: Org) -> None:
    tricky = ["O'Brien's \\ launch", "50% off_now", "a\"b"]
    decoys = ["O'Brien's \\\\ launch", "50X offYnow", "ab"]
    for name in decoys:
        org.create("Campaign", {"Name": name, "Type": "Webinar"})
    with org.writer() as writer:
        found = writer.find_ids("Campaign", "Name", tricky)
        assert found == {}, "no decoy matches a value it only resembles"
        made = writer.match_upsert("Campaign", ["Name", "Type"], [{"Name": n, "Type": "Webinar"} for n in tricky])
        assert all(r.success and r.created for r in made)
        again = writer.match_upsert("Campaign", ["Name", "Type"], [{"Name": n, "Type": "Webinar"} for n in tricky])
        assert [r.id for r in again] == [r.id for r in made] and not any(r.created for r in again)
        assert writer.find_ids("Campaign", "Name", tricky) == {n: r.id for n, r in zip(tricky, made, strict=True)}
    assert sorted(r["Name"] for r in org.rows("Campaign")) == sorted(decoys + tricky)


def test_soql_literals_are_escaped() -> None:
    assert soql_quote("O'Brien \\ x\n") == "'O\\'Brien \\\\ x\\n'"
    assert soql_like_pattern("50%_") == "'50\\%\\_'"
    assert [soql_literal(v) for v in (None, True, 3, 2.5, "x'")] == ["null", "true", "3", "2.5", "'x\\''"]
    query = lookup_query("CampaignMember", KEYS, [{"CampaignId": "701'", "ContactId": "003\\"}])
    assert query == ("SELECT Id, CampaignId, ContactId FROM CampaignMember WHERE CampaignId IN ('701\\'') AND "
                     "ContactId IN ('003\\\\') ORDER BY CreatedDate, Id")


def test_many_members_go_in_collections_of_200_and_lookups_in_chunks(org: Org) -> None:
    campaign = org.create("Campaign", {"Name": "Big webinar"})
    contacts = [org.create("Contact", {"LastName": f"Person {n}", "Email": f"p{n}@example.com"}) for n in range(450)]
    creates_before = org.route("collections_create")
    with org.writer() as writer:
        results = writer.match_upsert(MEMBER, KEYS, [{"CampaignId": campaign, "ContactId": c} for c in contacts])
    assert all(r.success and r.created for r in results)
    assert org.route("collections_create") - creates_before == 3
    assert len(org.rows(MEMBER)) == 450
