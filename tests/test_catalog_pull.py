"""``zoomforce catalog pull`` against the Salesforce emulator, then ``validate --catalog`` on what it wrote.

The emulator serves the shipped catalog as its org's describes, so a pull must validate the
default mappings as the shipped catalog does; an org that lacks a field must fail them at the line
of the `to` that writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.catalog import catalog_objects
from engine.cli.main import cli
from engine.emulators.salesforce.app import SalesforceEmulatorConfig, create_app
from engine.emulators.tls import make_tls_files
from engine.serving import RunningServer, start_in_thread
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    tls = make_tls_files(tmp_path_factory.mktemp("catalog-tls"))
    server = start_in_thread(create_app(SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS)), tls=tls)
    yield server, tls.ca_file
    server.stop()


@pytest.fixture()
def env(org: tuple[RunningServer, str], monkeypatch: pytest.MonkeyPatch) -> None:
    server, ca_file = org
    monkeypatch.setenv("SF_INSTANCE_URL", server.url)
    monkeypatch.setenv("SF_CLIENT_ID", "demo")
    monkeypatch.setenv("SF_CLIENT_SECRET", "demo")
    monkeypatch.delenv("SF_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)


def test_the_objects_pulled_are_those_the_mappings_write_link_and_read() -> None:
    names = catalog_objects(load_mapping_set([MAPPINGS]))
    assert {"zoom_app__Zoom_Event__c", "zoom_app__Zoom_Call_Log__c", "Contact", "Lead"} <= set(names)
    assert "Account" not in names


def test_a_pulled_catalog_validates_the_mappings_and_a_missing_field_fails_at_its_line(env: None, tmp_path: Path
                                                                                      ) -> None:
    runner = CliRunner()
    out = tmp_path / "catalog"
    pulled = runner.invoke(cli, ["catalog", "pull", "--mappings", str(MAPPINGS), "--out", str(out)])
    assert pulled.exit_code == 0, pulled.output
    files = sorted(p.name for p in out.glob("*.json"))
    assert files == sorted(f"{n}.json" for n in catalog_objects(load_mapping_set([MAPPINGS])))
    event = json.loads((out / "zoom_app__Zoom_Event__c.json").read_text(encoding="utf-8"))
    assert "live describe" in event["x-zoomforce"]["origin"]
    valid = runner.invoke(cli, ["validate", str(MAPPINGS), "--catalog", str(out), "--format", "json"])
    assert valid.exit_code == 0, valid.output
    event["fields"] = [f for f in event["fields"] if f["name"] != "zoom_app__Meeting_Topic__c"]
    (out / "zoom_app__Zoom_Event__c.json").write_text(json.dumps(event), encoding="utf-8")
    invalid = runner.invoke(cli, ["validate", str(MAPPINGS), "--catalog", str(out), "--format", "json"])
    assert invalid.exit_code == 1
    errors = [e for e in json.loads(invalid.stdout)["errors"] if e["severity"] == "error"]
    assert len(errors) == 1
    lines = (MAPPINGS / "meetings.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[errors[0]["line"] - 1].strip() == "to: zoom_app__Meeting_Topic__c"
    assert "'zoom_app__Meeting_Topic__c' is not a field of zoom_app__Zoom_Event__c" in errors[0]["message"]


def test_pull_without_salesforce_credentials_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                                                ) -> None:
    for name in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_CLIENT_ID", "SF_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["catalog", "pull", "Contact", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "SF_INSTANCE_URL" in result.stderr
