"""The project file (zoomforce.yaml): found by walking up, read by every command that loads mappings,
checked at file:line:col; `--catalog DIR` on every such command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli.connect import salesforce_from_env
from engine.cli.main import cli
from engine.cli.settings import load_settings
from engine.project.project_file import PROJECT_ENV, find_project_file, load_project
from engine.resources import schemas_dir
from tests.helpers import MAPPINGS, replace_once

SHIPPED_CATALOG = schemas_dir() / "salesforce"
AGENDA = '''
  - from: agenda
    to: Agenda__c
    type: string
    label: {en: Meeting agenda, fr: Ordre du jour de la réunion}
    category: user.content
'''


def make_project(root: Path, text: str = "mappings: mappings\ncatalog: catalog\n") -> Path:
    """A project at `root`: the default mappings, the shipped catalog, and a zoomforce.yaml."""
    shutil.copytree(MAPPINGS, root / "mappings")
    shutil.copytree(SHIPPED_CATALOG, root / "catalog")
    (root / "zoomforce.yaml").write_text(text, encoding="utf-8")
    return root


def add_agenda(root: Path, declare: bool) -> None:
    """Map the meeting agenda to a custom field, declared in the project's catalog or not."""
    path = root / "mappings" / "meetings.yaml"
    path.write_text(path.read_text(encoding="utf-8") + AGENDA, encoding="utf-8")
    if declare:
        catalog = root / "catalog" / "zoom_app__Zoom_Event__c.json"
        data = json.loads(catalog.read_text(encoding="utf-8"))
        data["fields"].append({"name": "Agenda__c", "label": "Agenda", "type": "textarea", "length": 32768,
                               "x-zoomforce-added": "the meeting's agenda, shown on the event page"})
        catalog.write_text(json.dumps(data, indent=2), encoding="utf-8")


def run(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Result:
    monkeypatch.chdir(cwd)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli, args)


# ---- finding and reading the file -----------------------------------------------------------------


def test_the_project_file_is_found_by_walking_up_and_not_past_the_repository(tmp_path: Path) -> None:
    (tmp_path / "zoomforce.yaml").write_text("{}\n", encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_file(deep, env={}) == tmp_path / "zoomforce.yaml"
    (tmp_path / "a" / ".git").mkdir()
    assert find_project_file(deep, env={}) is None, "a project above the repository is not this repository's"
    other = tmp_path / "other.yaml"
    assert find_project_file(deep, env={PROJECT_ENV: str(other)}) == other
    assert find_project_file(deep, explicit=tmp_path / "x.yaml", env={PROJECT_ENV: str(other)}) == tmp_path / "x.yaml"


def test_paths_are_relative_to_the_project_file_and_unset_keys_keep_the_defaults(tmp_path: Path) -> None:
    root = make_project(tmp_path / "acme", "mappings: mappings\ncatalog: catalog\nlanguages: [fr, en]\n"
                                           "salesforce: {api_version: '62.0'}\ndisclosure: {company: ACME}\n")
    project = load_project(root / "zoomforce.yaml")
    assert project.problems == ()
    assert (project.mappings, project.catalog, project.state) == (
        (root / "mappings").resolve(), (root / "catalog").resolve(), (root / "zoomforce.db").resolve())
    assert (project.languages, project.api_version, dict(project.disclosure)) == (("fr", "en"), "62.0",
                                                                                 {"company": "ACME"})
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "zoomforce.yaml").write_text("# every default\n", encoding="utf-8")
    assert load_project(empty / "zoomforce.yaml").problems == ()


def test_an_unknown_key_and_a_missing_folder_are_reported_at_their_line_and_column(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch
                                                                                  ) -> None:
    root = make_project(tmp_path, "mappings: mappings\ncatalog: catalog\nstate_file: x.db\n")
    monkeypatch.chdir(root)
    problems = load_project(root / "zoomforce.yaml").problems
    assert [(p.file, p.line, p.column) for p in problems] == [("zoomforce.yaml", 3, 1)]
    assert "unknown key 'state_file'" in problems[0].message and "did you mean 'state'" in problems[0].message
    (root / "zoomforce.yaml").write_text("mappings: mappings\ncatalog: nowhere\n", encoding="utf-8")
    problems = load_project(root / "zoomforce.yaml").problems
    assert [(p.line, p.column, p.path) for p in problems] == [(2, 10, "catalog")]
    assert "catalog folder 'nowhere' does not exist" in problems[0].message


def test_validate_reports_project_problems_with_exit_1_and_the_other_commands_refuse_with_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path, "mappings: mappings\ncatalog: catalog\nlangauges: [en]\n")
    checked = run(["validate"], root, monkeypatch)
    assert checked.exit_code == 1
    line = "zoomforce.yaml:3:1: error: langauges: unknown key 'langauges'; did you mean 'languages'?"
    assert [shown for shown in checked.stdout.splitlines() if ": error: " in shown] == [line]
    for command in (["map", "meetings"], ["disclose"], ["sync", "--dry-run"], ["serve"], ["catalog", "missing"],
                    ["disclose", "--diff", str(MAPPINGS)], ["catalog", "pull"]):
        refused = run(command, root, monkeypatch)
        assert refused.exit_code == 2, (command, refused.output)
        assert refused.stderr.splitlines() == [line], command


def test_a_catalog_file_that_does_not_parse_is_one_line_at_its_position(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path)
    (root / "catalog" / "Contact.json").write_text('{"name": "Contact",\n  "fields": [,]}\n', encoding="utf-8")
    checked = run(["validate", "--format", "json"], root, monkeypatch)
    assert checked.exit_code == 1
    errors = json.loads(checked.stdout)["errors"]
    assert errors[0]["file"] == "catalog/Contact.json" and (errors[0]["line"], errors[0]["column"]) == (2, 14)
    assert errors[0]["message"].startswith("not JSON: ")
    refused = run(["map", "meetings"], root, monkeypatch)
    assert refused.exit_code == 2 and refused.stderr.startswith("catalog/Contact.json:2:14: error: not JSON")
    no_project = tmp_path / "elsewhere"
    no_project.mkdir()
    direct = run(["map", "meetings", "--catalog", str(root / "catalog")], no_project, monkeypatch)
    assert direct.exit_code == 2 and "Contact.json:2:14: error: not JSON" in direct.stderr


def test_every_command_reads_the_project_and_takes_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "acme")
    add_agenda(root, declare=True)
    meeting = json.dumps({"id": 85746065432, "topic": "Weekly", "agenda": "1. numbers"})
    sub = root / "mappings"
    checked = run(["validate"], sub, monkeypatch)  # from a subfolder: the project is found above
    assert checked.exit_code == 0, checked.output
    mapped = run(["map", "meetings"], root, monkeypatch)
    mapped = CliRunner().invoke(cli, ["map", "meetings"], input=meeting)
    assert mapped.exit_code == 0, mapped.output
    assert json.loads(mapped.stdout)["record"]["Agenda__c"] == "1. numbers"
    disclosed = CliRunner().invoke(cli, ["disclose", "--format", "json"])
    assert disclosed.exit_code == 0, disclosed.output
    assert "Agenda__c" in disclosed.stdout
    diff = CliRunner().invoke(cli, ["disclose", "--diff", str(MAPPINGS)])
    assert diff.exit_code == 0 and "Agenda__c" in diff.stdout, diff.output
    # Without the project (elsewhere), the same folder fails on the field, and --catalog is the way through.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plain = run(["map", "meetings", "--mappings", str(sub)], elsewhere, monkeypatch)
    assert plain.exit_code == 2 and "'Agenda__c' is not a field of zoom_app__Zoom_Event__c" in plain.stderr
    for command in (["map", "meetings"], ["disclose"], ["disclose", "--diff", str(MAPPINGS)]):
        given = CliRunner().invoke(cli, [*command, "--mappings", str(sub), "--catalog", str(root / "catalog")],
                                   input=meeting)
        assert given.exit_code == 0, (command, given.output)
    for command in (["sync"], ["serve"], ["catalog", "missing"]):
        helped = CliRunner().invoke(cli, [*command, "--help"])
        assert "--catalog" in helped.stdout and "--project" in helped.stdout, command


def test_an_unknown_field_names_the_catalog_file_and_the_two_ways_out(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path)
    add_agenda(root, declare=False)
    checked = run(["validate", "--format", "json"], root, monkeypatch)
    assert checked.exit_code == 1
    (error,) = [e for e in json.loads(checked.stdout)["errors"] if e["severity"] == "error"]
    assert error["file"] == "mappings/meetings.yaml" and error["path"].endswith(".to")
    message = error["message"]
    assert "'Agenda__c' is not a field of zoom_app__Zoom_Event__c in catalog/zoom_app__Zoom_Event__c.json" in message
    assert "zoomforce catalog pull" in message and "zoomforce catalog missing --out DIR" in message


def test_the_project_languages_are_required_of_every_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path, "languages: [en, fr, de]\n")
    replace_once(root / "mappings" / "users.yaml", "entity: users\n", "entity: users\nlanguages: [en, fr]\n")
    checked = run(["validate", "--format", "json"], root, monkeypatch)
    assert checked.exit_code == 1
    errors = [e for e in json.loads(checked.stdout)["errors"] if "project's languages" in e["message"]]
    assert {e["file"] for e in errors} == {f"mappings/{p.name}" for p in MAPPINGS.glob("*.yaml")
                                           if p.name != "disclosure.yaml"}  # the facts: not a mapping
    users = next(e for e in errors if e["file"] == "mappings/users.yaml")
    lines = (root / "mappings" / "users.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[users["line"] - 1].startswith("languages:")
    fr = make_project(tmp_path / "fr", "languages: [fr, en]\n")
    monkeypatch.chdir(fr)
    disclosed = CliRunner().invoke(cli, ["disclose"])
    assert disclosed.exit_code == 0 and disclosed.stdout.startswith("# Sécurité"), disclosed.stdout[:80]


def test_settings_take_options_over_the_project_over_the_defaults(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "acme", "mappings: mappings\ncatalog: catalog\nstate: var/state.db\n"
                                           "salesforce: {api_version: '62.0'}\n")
    monkeypatch.chdir(root)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    settings = load_settings(None)
    assert (settings.state, settings.catalog, settings.api_version) == (
        (root / "var" / "state.db").resolve(), (root / "catalog").resolve(), "62.0")
    other = tmp_path / "other-state.db"
    assert load_settings(None, state=other, catalog=SHIPPED_CATALOG).state == other
    bare = tmp_path / "bare"
    bare.mkdir()
    monkeypatch.chdir(bare)
    defaults = load_settings(None)
    assert (defaults.project.file, defaults.catalog, defaults.state) == (None, None, Path("zoomforce.db"))
    monkeypatch.setenv(PROJECT_ENV, str(root / "zoomforce.yaml"))
    assert load_settings(None).catalog == (root / "catalog").resolve()
    env = {"SF_INSTANCE_URL": "https://org.example.com", "SF_ACCESS_TOKEN": "t"}
    writer = salesforce_from_env(env, api_version=settings.api_version)
    assert writer is not None and writer.credentials.api_version == "62.0"


def test_a_project_named_on_the_command_line_that_does_not_exist_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(["validate", "--project", "nope.yaml"], tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "nope.yaml:1:1: error: cannot read: No such file or directory" in result.stdout
    folder = run(["map", "meetings", "--project", str(tmp_path)], tmp_path, monkeypatch)
    assert folder.exit_code == 2 and "is a folder" in folder.stderr
