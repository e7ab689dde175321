"""The privacy disclosure: golden files per format and language, schema and fideslang validation,
the property that the mappings alone decide what is disclosed, the diff, and the seed in French.

Regenerate the golden files after a deliberate change with
`ZOOMFORCE_UPDATE_GOLDEN=1 pytest tests/test_disclose.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from engine.cli.main import cli
from engine.disclosure.build import build_disclosure
from engine.disclosure.diff import diff_mappings, render_diff
from engine.disclosure.render import FORMATS, render
from engine.language.plan import compile_plan
from engine.validate.mapping_set import MappingSet, load_mapping_set
from tests.helpers import MAPPINGS, REPO
from tests.test_default_mappings import SEED_ITEMS

GOLDEN = REPO / "tests/golden/disclosure"
UPDATE = os.environ.get("ZOOMFORCE_UPDATE_GOLDEN") == "1"
SUFFIX = {"markdown": "md", "html": "html", "json": "json", "fides": "fides.yaml"}


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    return load_mapping_set([MAPPINGS]).raise_if_invalid()


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("output_format", FORMATS)
def test_golden(mapping_set: MappingSet, language: str, output_format: str) -> None:
    text = render(build_disclosure(mapping_set, language), output_format)
    golden = GOLDEN / f"disclosure.{language}.{SUFFIX[output_format]}"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_json_follows_the_published_schema(mapping_set: MappingSet, language: str) -> None:
    schema = json.loads((REPO / "schemas/disclosure.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    document = json.loads(render(build_disclosure(mapping_set, language), "json"))
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(document)]
    assert errors == []


def test_fides_manifest_validates_with_fideslang(mapping_set: MappingSet) -> None:
    from fideslang.models import Taxonomy

    manifest = yaml.safe_load(render(build_disclosure(mapping_set, "en"), "fides"))
    taxonomy = Taxonomy.model_validate(manifest)
    (system,) = taxonomy.system
    assert system.fides_key == "zoomforce"
    assert len(system.privacy_declarations) == sum(m.enabled for m in mapping_set.mappings.values())
    categories = {c for d in system.privacy_declarations for c in d.data_categories}
    assert {"user.authorization.password", "user.contact.email", "user.unique_id"} <= categories
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    known = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    assert categories <= known


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.lang: str | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in ("link", "script", "img") or (tag == "a" and (values.get("href") or "").startswith("http")):
            self.external.append(tag)


def test_html_is_self_contained_with_headings_and_tables(mapping_set: MappingSet) -> None:
    outline = _Outline()
    outline.feed(render(build_disclosure(mapping_set, "fr"), "html"))
    assert outline.lang == "fr"
    assert outline.tags.count("h1") == 1 and outline.tags.count("h2") >= 3
    assert outline.tags.count("table") == sum(m.enabled for m in mapping_set.mappings.values())
    assert "style" in outline.tags and outline.external == []


def test_html_escapes_labels(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "meetings.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("en: Meeting topic", "en: Topic <b>&</b>"), "utf-8")
    html = render(build_disclosure(load_mapping_set([folder]).raise_if_invalid(), "en"), "html")
    assert "Topic &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, folder)
    return folder


NEW_FIELD = """
  - from: timezone
    to: zoom_app__Meeting_Type__c
    type: string
    label: {en: Meeting time zone XYZ, fr: Fuseau horaire de la réunion XYZ}
    category: system.operations
"""


def test_a_new_field_appears_in_every_format(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "meetings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(NEW_FIELD)
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    for language, label in (("en", "Meeting time zone XYZ"), ("fr", "Fuseau horaire de la réunion XYZ")):
        disclosure = build_disclosure(mapping_set, language)
        for output_format in ("markdown", "html", "json"):
            assert label in render(disclosure, output_format), (language, output_format)
    assert "zoom_app__Meeting_Type__c" in render(build_disclosure(mapping_set, "en"), "json")


def test_disabling_a_field_removes_it_from_disclosure_and_map(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "meetings.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("    to: zoom_app__Host_Id__c\n", "    to: zoom_app__Host_Id__c\n    enabled: false\n"), "utf-8"
    )
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    for output_format in FORMATS:
        assert "zoom_app__Host_Id__c" not in render(build_disclosure(mapping_set, "en"), output_format)
    assert "Host's Zoom user ID" not in render(build_disclosure(mapping_set, "en"), "markdown")
    plan = compile_plan(mapping_set.get("meetings"))
    assert "zoom_app__Host_Id__c" not in plan.map_record({"id": 1, "host_id": "h"}).record


def test_disabling_an_entity_removes_its_section(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "calls.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("entity: calls\n", "entity: calls\nenabled: false\n"), "utf-8"
    )
    document = json.loads(render(build_disclosure(load_mapping_set([folder]).raise_if_invalid(), "en"), "json"))
    assert "phone_calls" not in [s["key"] for s in document["sections"]]
    assert "phone.callee_ended" not in document["permissions"]["zoom_events"]


def test_every_seed_item_has_its_french_counterpart(mapping_set: MappingSet) -> None:
    french = render(build_disclosure(mapping_set, "fr"), "markdown")
    for seed_text, entity, target in SEED_ITEMS:
        field = next(f for f in mapping_set.get(entity).enabled_fields if f.target == target)
        assert f"- {field.label.get('fr')}" in french, (seed_text, entity, target)


def test_diff_names_added_removed_and_retargeted(tmp_path: Path, mapping_set: MappingSet) -> None:
    folder = _copy(tmp_path)
    meetings = folder / "meetings.yaml"
    text = meetings.read_text(encoding="utf-8") + NEW_FIELD
    text = text.replace("    to: zoom_app__Host_Id__c\n", "    to: zoom_app__UUID__c\n")
    meetings.write_text(text, encoding="utf-8")
    calls = folder / "calls.yaml"
    calls_text = calls.read_text(encoding="utf-8")
    start = calls_text.index("  - from: call_id\n    to: zoom_app__Call_ID__c\n")
    end = calls_text.index("  - from: callee_ext_number\n")
    calls.write_text(calls_text[:start] + calls_text[end:], encoding="utf-8")
    changes = diff_mappings(mapping_set, load_mapping_set([folder]).raise_if_invalid())
    kinds = {(c.change, c.field) for c in changes}
    assert ("added", "zoom_app__Zoom_Event__c.zoom_app__Meeting_Type__c") in kinds
    assert ("removed", "zoom_app__Zoom_Call_Log__c.zoom_app__Call_ID__c") in kinds
    retargeted = next(c for c in changes if c.change == "retargeted")
    assert (retargeted.old, retargeted.new) == (
        "zoom_app__Zoom_Event__c.zoom_app__Host_Id__c",
        "zoom_app__Zoom_Event__c.zoom_app__UUID__c",
    )
    markdown = render_diff(changes, "markdown")
    assert "**retargeted**" in markdown and "**added**" in markdown and "**removed**" in markdown
    assert json.loads(render_diff(changes, "json"))["changed"] is True


def test_diff_reports_category_secret_and_scope_changes(tmp_path: Path, mapping_set: MappingSet) -> None:
    folder = _copy(tmp_path)
    path = folder / "meetings.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "    category: user.unique_id\n", "    category: user.contact.email\n"
    )
    path.write_text(text, encoding="utf-8")
    changes = diff_mappings(mapping_set, load_mapping_set([folder]).raise_if_invalid())
    assert [(c.change, c.old, c.new) for c in changes] == [("category", "user.unique_id", "user.contact.email")]


def test_cli_diff_exit_code(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = _copy(tmp_path)
    same = runner.invoke(cli, ["disclose", "--mappings", str(folder), "--diff", str(MAPPINGS), "--exit-code"])
    assert same.exit_code == 0 and "No change in data handling." in same.stdout
    with (folder / "meetings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(NEW_FIELD)
    changed = runner.invoke(
        cli, ["disclose", "--mappings", str(folder), "--diff", str(MAPPINGS), "--exit-code", "--format", "json"]
    )
    assert changed.exit_code == 1
    assert json.loads(changed.stdout)["changes"][0]["change"] == "added"


def test_cli_disclose_french_to_file_and_template(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "disclosure.md"
    result = runner.invoke(cli, ["disclose", "--mappings", str(MAPPINGS), "--lang", "fr", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("# Sécurité et confidentialité")
    template = tmp_path / "mine.j2"
    template.write_text("{{ m.document_title }}: {{ d.sections | length }} sections\n", encoding="utf-8")
    custom = runner.invoke(cli, ["disclose", "--mappings", str(MAPPINGS), "--template", str(template)])
    sections = sum(m.enabled for m in load_mapping_set([MAPPINGS]).mappings.values())
    assert custom.stdout == f"Security and privacy of the Zoom integration for Salesforce: {sections} sections\n"


def test_unknown_language_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["disclose", "--mappings", str(MAPPINGS), "--lang", "de"])
    assert result.exit_code == 2
    assert result.stderr == "zoomforce: error: no disclosure messages for language 'de' (available: en, fr)\n"


def test_a_mapping_language_without_messages_fails_validate(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "calls.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("entity: calls\n", "entity: calls\nlanguages: [en, fr, de]\n"), "utf-8"
    )
    problems = [str(p) for p in load_mapping_set([folder]).errors]
    assert any("the disclosure has no messages in 'de' (available: en, fr)" in p for p in problems)
    assert any("missing the 'de' translation" in p for p in problems)


def test_scopes_are_least_privilege_and_follow_the_mappings(tmp_path: Path, mapping_set: MappingSet) -> None:
    from engine.zoom.schemas import load_source_index

    permissions = build_disclosure(mapping_set, "en").permissions
    index = load_source_index()
    granted = set(permissions.zoom_scopes)
    for name in permissions.zoom_endpoints:
        endpoint = index.endpoint(name)
        assert endpoint is not None, name
        chosen = granted & set(endpoint.scopes_granular)
        assert len(chosen) == 1, (name, chosen)  # exactly one of Zoom's alternatives, not all of them
        if name.startswith("GET "):
            assert not any(":write" in s for s in chosen), name
    assert "phone:read:list_call_logs:admin" in granted
    assert "user:read:admin" in permissions.zoom_classic_scopes and "user:write:admin" not in granted

    folder = _copy(tmp_path)
    calls = folder / "calls.yaml"
    calls.write_text(calls.read_text(encoding="utf-8").replace("entity: calls\n", "entity: calls\nenabled: false\n", 1))
    without_calls = build_disclosure(load_mapping_set([folder]).raise_if_invalid(), "en").permissions
    assert "phone:read:list_call_logs:admin" not in without_calls.zoom_scopes
    changes = diff_mappings(mapping_set, load_mapping_set([folder]).raise_if_invalid())
    assert ("scope_removed", "phone:read:list_call_logs:admin") in {(c.change, c.old) for c in changes}
