"""The org as the package ships it, and what it lacks: the Salesforce emulator's stock org, the sync's and
serve's pre-flight, `catalog pull` merging what is declared ahead of the org, `catalog missing` and its DX source.

Everything talks over real sockets to the emulators on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.salesforce.app import create_app as salesforce_app
from engine.emulators.tls import make_tls_files
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app
from engine.emulators.zoom.app import create_app as zoom_app
from engine.project.project_file import PROJECT_ENV
from engine.serving import RunningServer, start_in_thread
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS

# What Zoom's package lacks of the default mappings (the README lists the same five).
ADDITIONS = [
    "zoom_app__Zoom_Webinar_Attendee__c.Contact__c",
    "zoom_app__Zoom_Webinar_Registrant__c.Contact__c",
    "zoom_app__Zoom_Webinar_Registrant__c.Lead__c",
    "zoom_app__Zoom_Voice_User__c.Zoom_PMI_Password__c",
    "zoom_app__Zoom_Voice_User__c.Zoom_Add_On_Licenses__c",
]
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}


@dataclass
class Org:
    url: str
    running: RunningServer

    def describe_names(self, sobject: str, token: str) -> set[str]:
        reply = requests.get(f"{self.url}/services/data/v59.0/sobjects/{sobject}/describe",
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
        reply.raise_for_status()
        return {f["name"] for f in reply.json()["fields"]}

    def token(self) -> str:
        reply = requests.post(f"{self.url}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"}, timeout=30)
        reply.raise_for_status()
        return str(reply.json()["access_token"])


@dataclass
class Orgs:
    stock: Org
    additions: Org
    zoom_url: str
    zoom_app: object
    ca_file: str


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orgs]:
    tls = make_tls_files(tmp_path_factory.mktemp("org-tls"))
    stock = start_in_thread(salesforce_app(SalesforceEmulatorConfig()), tls=tls)
    additions = start_in_thread(salesforce_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS)), tls=tls)
    zoom = zoom_app(ZoomEmulatorConfig(users=2))
    zoom_server = start_in_thread(zoom)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", tls.ca_file)
        yield Orgs(Org(stock.url, stock), Org(additions.url, additions), zoom_server.url, zoom, tls.ca_file)
    for server in (stock, additions, zoom_server):
        server.stop()
    close_app(zoom)  # type: ignore[arg-type]


def point_at(monkeypatch: pytest.MonkeyPatch, orgs: Orgs, org: Org) -> None:
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.delenv("SF_ACCESS_TOKEN", raising=False)
    for name, value in {
        "SF_INSTANCE_URL": org.url, "SF_CLIENT_ID": "demo", "SF_CLIENT_SECRET": "demo",
        "REQUESTS_CA_BUNDLE": orgs.ca_file, "ZOOM_ACCOUNT_ID": "demo", "ZOOM_CLIENT_ID": "demo",
        "ZOOM_CLIENT_SECRET": "demo", "ZOOM_API_URL": f"{orgs.zoom_url}/v2",
        "ZOOM_OAUTH_URL": f"{orgs.zoom_url}/oauth/token", "ZOOM_WEBHOOK_SECRET_TOKEN": "whsec",
    }.items():
        monkeypatch.setenv(name, value)


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def zoom_api_requests(orgs: Orgs) -> int:
    stats = requests.get(f"{orgs.zoom_url}/_emulator/stats", timeout=30).json()
    return sum(v for k, v in stats["requests"].items() if not k.startswith("POST /oauth"))


# ---- the stock org ----------------------------------------------------------------------------------------


def test_the_stock_org_has_the_package_as_zoom_ships_it_and_a_catalog_serves_its_own_fields(orgs: Orgs) -> None:
    for name in ADDITIONS:
        sobject, field = name.split(".")
        assert field not in orgs.stock.describe_names(sobject, orgs.stock.token())
        assert field in orgs.additions.describe_names(sobject, orgs.additions.token())
    assert "zoom_app__Meeting_Topic__c" in orgs.stock.describe_names("zoom_app__Zoom_Event__c", orgs.stock.token())


def test_a_catalog_serves_its_custom_fields_and_not_those_declared_absent(tmp_path: Path) -> None:
    folder = tmp_path / "org"
    shutil.copytree(ORG_WITH_ADDITIONS, folder)
    path = folder / "zoom_app__Zoom_Event__c.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["fields"] += [{"name": "Agenda__c", "type": "textarea", "length": 32768},
                       {"name": "Later__c", "type": "string", "length": 80, "x-zoomforce-added": "soon",
                        "x-zoomforce-absent": "2026-01-01"}]
    path.write_text(json.dumps(data), encoding="utf-8")
    describe = salesforce_app(SalesforceEmulatorConfig(catalog_dir=folder)).state.emulator.org.object(
        "zoom_app__Zoom_Event__c")
    assert describe.field("Agenda__c") is not None and describe.field("Later__c") is None


# ---- pre-flight ----------------------------------------------------------------------------------------------


def test_a_sync_of_the_full_set_against_the_stock_org_is_refused_before_zoom_is_read(
        orgs: Orgs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    point_at(monkeypatch, orgs, orgs.stock)
    monkeypatch.chdir(tmp_path)
    requests.post(f"{orgs.zoom_url}/_emulator/reset", timeout=30)
    result = invoke(["sync", "--mappings", str(MAPPINGS), "--state", str(tmp_path / "s.db")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == len(ADDITIONS), lines
    for name, line in zip(ADDITIONS, lines, strict=True):
        assert line.startswith(f"zoomforce: error: the org lacks {name} ["), line
        assert "zoomforce catalog missing --out DIR, then sf project deploy start --source-dir DIR" in line
        assert "mappings/" in line and ".yaml:" in line
    assert zoom_api_requests(orgs) == 0, "the pre-flight comes before Zoom is read"
    only_meetings = invoke(["sync", "meetings", "--mappings", str(MAPPINGS), "--state", str(tmp_path / "m.db")])
    assert only_meetings.exit_code == 0, only_meetings.output  # what meetings need, the stock org has


def test_serve_is_refused_at_start_by_the_same_pre_flight(orgs: Orgs, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    point_at(monkeypatch, orgs, orgs.stock)
    result = invoke(["serve", "--port", "0", "--mappings", str(MAPPINGS), "--state", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    lacking = [line for line in result.stderr.splitlines() if "the org lacks" in line]
    assert {line.split("the org lacks ")[1].split(" [")[0] for line in lacking} == {
        "zoom_app__Zoom_Webinar_Registrant__c.Contact__c", "zoom_app__Zoom_Webinar_Registrant__c.Lead__c",
    }  # what the mappings that events feed write (registrants; participants are read by sync only)


# ---- catalog missing ------------------------------------------------------------------------------------------


def test_catalog_missing_lists_every_missing_field_with_its_type_and_writes_dx_source(
        orgs: Orgs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    point_at(monkeypatch, orgs, orgs.stock)
    monkeypatch.chdir(tmp_path)
    listed = invoke(["catalog", "missing", "--mappings", str(MAPPINGS), "--format", "json", "--exit-code"])
    assert listed.exit_code == 1
    gaps = json.loads(listed.stdout)["missing"]
    assert [f"{g['object']}.{g['field']}" for g in gaps] == ADDITIONS
    types = {g["field"]: g["type"] for g in gaps}
    assert types["Zoom_PMI_Password__c"] == "Text (Encrypted)(175)" and types["Lead__c"] == "Lookup(Lead)"
    assert gaps[3]["needed_by"] == [{"entity": "users", "use": "written", "at": gaps[3]["needed_by"][0]["at"]}]
    out = tmp_path / "additions"
    written = invoke(["catalog", "missing", "--mappings", str(MAPPINGS), "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert f"sf project deploy start --source-dir {out}" in written.stderr
    project = json.loads((out / "sfdx-project.json").read_text(encoding="utf-8"))
    assert project["packageDirectories"] == [{"path": "force-app/main/default", "default": True}]
    objects = out / "force-app" / "main" / "default" / "objects"
    files = sorted(str(p.relative_to(objects)) for p in objects.rglob("*.xml"))
    assert files == sorted(f"{n.split('.')[0]}/fields/{n.split('.')[1]}.field-meta.xml" for n in ADDITIONS)
    lead = ET.parse(objects / "zoom_app__Zoom_Webinar_Registrant__c" / "fields" / "Lead__c.field-meta.xml")
    assert [lead.findtext(f"md:{k}", namespaces=NS) for k in ("fullName", "type", "referenceTo")] == [
        "Lead__c", "Lookup", "Lead"]
    pmi = ET.parse(objects / "zoom_app__Zoom_Voice_User__c" / "fields" / "Zoom_PMI_Password__c.field-meta.xml")
    assert [pmi.findtext(f"md:{k}", namespaces=NS) for k in ("type", "length", "maskType")] == [
        "EncryptedText", "175", "all"]
    point_at(monkeypatch, orgs, orgs.additions)
    complete = invoke(["catalog", "missing", "--mappings", str(MAPPINGS), "--exit-code"])
    assert complete.exit_code == 0 and complete.stdout == ""
    assert "every object and field" in complete.stderr


def test_inside_a_dx_project_the_source_goes_into_the_folder_given(orgs: Orgs, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    point_at(monkeypatch, orgs, orgs.stock)
    (tmp_path / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "force-app"}]}', encoding="utf-8")
    out = tmp_path / "force-app" / "main" / "default"
    result = invoke(["catalog", "missing", "users", "--mappings", str(MAPPINGS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "objects" / "zoom_app__Zoom_Voice_User__c" / "fields").iterdir()) == [
        "Zoom_Add_On_Licenses__c.field-meta.xml", "Zoom_PMI_Password__c.field-meta.xml"]
    assert "from inside your Salesforce DX project" in result.stderr


def test_a_field_no_catalog_declares_is_proposed_from_its_mapping(orgs: Orgs, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    point_at(monkeypatch, orgs, orgs.additions)
    mappings = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, mappings)
    path = mappings / "meetings.yaml"
    path.write_text(path.read_text(encoding="utf-8") + (
        "\n  - from: agenda\n    to: Agenda__c\n    type: string\n    max_length: 2000\n"
        "    label: {en: Agenda, fr: Ordre du jour}\n    category: user.content\n"), encoding="utf-8")
    result = invoke(["catalog", "missing", "--mappings", str(mappings), "--format", "json"])
    assert result.exit_code == 0, result.output
    (gap,) = json.loads(result.stdout)["missing"]
    assert (gap["object"], gap["field"], gap["type"]) == ("zoom_app__Zoom_Event__c", "Agenda__c",
                                                          "Long Text Area(2000)")


# ---- catalog pull merges ---------------------------------------------------------------------------------------


def test_pull_keeps_declared_fields_marked_absent_until_the_org_has_them(orgs: Orgs, monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(ORG_WITH_ADDITIONS, catalog)
    point_at(monkeypatch, orgs, orgs.stock)
    pulled = invoke(["catalog", "pull", "--mappings", str(MAPPINGS), "--catalog", str(catalog)])
    assert pulled.exit_code == 0, pulled.output
    assert "kept 2 declared field(s) the org has not got yet: Zoom_Add_On_Licenses__c, Zoom_PMI_Password__c" in (
        pulled.stderr)
    voice = json.loads((catalog / "zoom_app__Zoom_Voice_User__c.json").read_text(encoding="utf-8"))
    assert "live describe" in voice["x-zoomforce"]["origin"]
    assert voice["x-zoomforce"]["upsert_key"] == "zoom_app__Web_User_Id__c"
    pmi = next(f for f in voice["fields"] if f["name"] == "Zoom_PMI_Password__c")
    assert pmi["x-zoomforce-added"] and pmi["x-zoomforce-absent"]
    checked = invoke(["validate", str(MAPPINGS), "--catalog", str(catalog)])
    assert checked.exit_code == 0, checked.output  # a declared field passes validate before it exists
    gaps = invoke(["catalog", "missing", "--mappings", str(MAPPINGS), "--catalog", str(catalog), "--format",
                   "json"])
    assert [f"{g['object']}.{g['field']}" for g in json.loads(gaps.stdout)["missing"]] == ADDITIONS
    point_at(monkeypatch, orgs, orgs.additions)
    again = invoke(["catalog", "pull", "--mappings", str(MAPPINGS), "--catalog", str(catalog)])
    assert again.exit_code == 0 and "kept" not in again.stderr
    voice = json.loads((catalog / "zoom_app__Zoom_Voice_User__c.json").read_text(encoding="utf-8"))
    pmi = next(f for f in voice["fields"] if f["name"] == "Zoom_PMI_Password__c")
    assert pmi["x-zoomforce-added"] and "x-zoomforce-absent" not in pmi


def test_pull_writes_into_the_project_catalog_by_default(orgs: Orgs, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    point_at(monkeypatch, orgs, orgs.additions)
    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    (tmp_path / "zoomforce.yaml").write_text("catalog: org-catalog\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    pulled = invoke(["catalog", "pull", "Contact"])
    assert pulled.exit_code == 0, pulled.output
    assert pulled.stdout.strip().endswith("org-catalog/Contact.json")
    assert (tmp_path / "org-catalog" / "Contact.json").is_file()


def test_a_failure_aimed_at_one_route_spares_the_others(orgs: Orgs) -> None:
    hook = requests.post(f"{orgs.stock.url}/_emulator/fail-next", json={
        "errorCode": "SERVER_UNAVAILABLE", "count": 1, "route": "query"}, timeout=30)
    assert hook.json() == {"forced": "SERVER_UNAVAILABLE", "count": 1, "route": "query"}
    headers = {"Authorization": f"Bearer {orgs.stock.token()}"}
    base = f"{orgs.stock.url}/services/data/v59.0"
    assert requests.get(f"{base}/sobjects/Contact/describe", headers=headers, timeout=30).status_code == 200
    assert requests.get(f"{base}/query", params={"q": "SELECT Id FROM Contact"}, headers=headers,
                        timeout=30).status_code == 503
    assert requests.get(f"{base}/query", params={"q": "SELECT Id FROM Contact"}, headers=headers,
                        timeout=30).status_code == 200
    unknown = requests.post(f"{orgs.stock.url}/_emulator/fail-next", json={"route": "nope"}, timeout=30)
    assert unknown.status_code == 400
