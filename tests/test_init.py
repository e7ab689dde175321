"""`zoomforce init`: an integrator's repository that validates where it lands, and this repository's
pre-commit hook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.project.project_file import PROJECT_ENV
from engine.resources import schemas_dir
from tests.helpers import MAPPINGS, REPO

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)
ADDITIONS = {("users.yaml", "Zoom_PMI_Password__c"), ("users.yaml", "Zoom_Add_On_Licenses__c"),
             ("registrants.yaml", "Contact__c"), ("registrants.yaml", "Lead__c"), ("participants.yaml", "Contact__c")}


def run(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(cwd)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    return CliRunner().invoke(cli, args)


def test_init_scaffolds_a_repository_that_validates_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = run(["init", "acme"], tmp_path, monkeypatch)
    assert made.exit_code == 0, made.output
    acme = tmp_path / "acme"
    expected = {"zoomforce.yaml", ".gitignore", ".pre-commit-config.yaml", ".github/workflows/zoomforce.yml",
                "schemas/mapping.schema.json", "schemas/project.schema.json"}
    assert expected <= {str(p.relative_to(acme)) for p in acme.rglob("*") if p.is_file()}
    assert sorted(p.name for p in (acme / "mappings").iterdir()) == sorted(
        p.name for p in MAPPINGS.glob("*.yaml") if p.name != "disclosure.yaml"), "the facts go to the project file"
    project = yaml.safe_load((acme / "zoomforce.yaml").read_text(encoding="utf-8"))
    facts = yaml.safe_load((MAPPINGS / "disclosure.yaml").read_text(encoding="utf-8"))
    assert project["disclosure"] == facts, "the project file's disclosure block holds the default facts"
    assert sorted(p.name for p in (acme / "salesforce-catalog").glob("*.json")) == sorted(
        p.name for p in (schemas_dir() / "salesforce").glob("*.json"))
    for path in [acme / "zoomforce.yaml", *(acme / "mappings").glob("*.yaml")]:
        (target,) = MODELINE.findall(path.read_text(encoding="utf-8"))
        assert (path.parent / target).resolve().is_file(), f"{path.name}: its $schema modeline reaches nothing"
    checked = run(["validate", "--format", "json"], acme / "mappings", monkeypatch)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["valid"]
    project = yaml.safe_load((acme / "zoomforce.yaml").read_text(encoding="utf-8"))
    assert project["mappings"] == "mappings" and project["catalog"] == "salesforce-catalog"
    disclosed = run(["disclose"], acme, monkeypatch)
    assert disclosed.exit_code == 0 and "**Version 1.0, in effect from 15 January 2026**" in disclosed.stdout
    assert "zoomforce.db" in (acme / ".gitignore").read_text(encoding="utf-8").splitlines()
    workflow = yaml.safe_load((acme / ".github/workflows/zoomforce.yml").read_text(encoding="utf-8"))
    steps = " ".join(str(step.get("run", "")) for step in workflow["jobs"]["check"]["steps"])
    assert "zoomforce validate --format github" in steps
    assert 'zoomforce disclose --diff "$RUNNER_TEMP/base/mappings"' in steps and "GITHUB_BASE_REF" in steps
    hooks = yaml.safe_load((acme / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks["repos"][0]["hooks"]
    assert (hook["id"], hook["entry"]) == ("zoomforce-validate", "zoomforce validate")
    assert re.search(hook["files"], "mappings/meetings.yaml") and not re.search(hook["files"], "README.md")


def test_init_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "notes.txt").write_text("mine\n", encoding="utf-8")
    refused = run(["init", "acme"], tmp_path, monkeypatch)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == "zoomforce: error: acme is not empty: give a new or empty folder, or --force to " \
                                     "write into it"
    assert not (tmp_path / "acme" / "zoomforce.yaml").exists()
    forced = run(["init", "acme", "--force"], tmp_path, monkeypatch)
    assert forced.exit_code == 0
    assert (tmp_path / "acme" / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (tmp_path / "acme" / "zoomforce.yaml").is_file()
    here = tmp_path / "here"
    here.mkdir()
    assert run(["init"], here, monkeypatch).exit_code == 0 and (here / "zoomforce.yaml").is_file()


def test_without_additions_switches_off_exactly_what_the_package_lacks(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    made = run(["init", "acme", "--without-additions"], tmp_path, monkeypatch)
    assert made.exit_code == 0, made.output
    acme = tmp_path / "acme"
    checked = run(["validate", "--format", "json"], acme, monkeypatch)
    assert checked.exit_code == 0, checked.output
    switched = set()
    for path in (acme / "mappings").glob("*.yaml"):
        original = yaml.safe_load((MAPPINGS / path.name).read_text(encoding="utf-8"))
        changed = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert changed.get("enabled", True) == original.get("enabled", True), path.name
        for key in ("fields", "links"):
            for before, after in zip(original.get(key, []), changed.get(key, []), strict=True):
                if before.get("enabled", True) != after.get("enabled", True):
                    assert after["enabled"] is False
                    switched.add((path.name, after["to"]))
    assert switched == ADDITIONS
    assert "Zoom's package lacks" in (acme / "mappings" / "users.yaml").read_text(encoding="utf-8")
    disclosed = run(["disclose", "--format", "json"], acme, monkeypatch)
    assert disclosed.exit_code == 0
    assert "Zoom_PMI_Password__c" not in disclosed.stdout, "switched off: out of the disclosure too"


def test_this_repository_ships_the_validate_hook() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert (hook["id"], hook["entry"], hook["language"]) == ("zoomforce-validate", "zoomforce validate", "python")
    assert re.search(hook["files"], "mappings/meetings.yaml")
    assert re.search(hook["files"], "integration/mappings/users.yml")
    assert not re.search(hook["files"], "zoomforce.yaml") and not re.search(hook["files"], "docs/mappings.md")
