"""The privacy disclosure: golden files per format and language, the JSON schema and the model it
exports, the Fides manifests (fideslang's parser and a sample policy), the Salesforce permission
set, statements derived from what the sync does, least privilege, and the seed in French.

Regenerate the golden files after a deliberate change with
`ZOOMFORCE_UPDATE_GOLDEN=1 pytest tests/test_disclose.py` and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

import engine.disclosure.model as model
from engine.cli.main import cli
from engine.disclosure.build import build_disclosure
from engine.disclosure.inputs import DisclosureInputs, load_inputs
from engine.disclosure.model import Disclosure
from engine.disclosure.render import FORMATS, render
from engine.language.plan import compile_plan
from engine.salesforce.catalog import load_catalog
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import FIXTURES, MAPPINGS, REPO, copy_mappings, replace_once
from tests.test_default_mappings import SEED_ITEMS

GOLDEN = REPO / "tests/golden/disclosure"
UPDATE = os.environ.get("ZOOMFORCE_UPDATE_GOLDEN") == "1"
SUFFIX = {"markdown": "md", "html": "html", "json": "json", "fides": "fides.yaml",
          "salesforce-permissionset": "permissionset-meta.xml"}
METADATA = "{http://soap.sforce.com/2006/04/metadata}"


@pytest.fixture(scope="module")
def inputs() -> DisclosureInputs:
    return load_inputs(MAPPINGS)


def disclosure_of(folder: Path, language: str = "en") -> Disclosure:
    found = load_inputs(folder)
    return build_disclosure(found.mapping_set, language, found.facts)


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["disclose", *args])


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("output_format", FORMATS)
def test_golden(inputs: DisclosureInputs, language: str, output_format: str) -> None:
    text = render(build_disclosure(inputs.mapping_set, language, inputs.facts), output_format)
    golden = GOLDEN / f"disclosure.{language}.{SUFFIX[output_format]}"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_json_follows_the_published_schema(inputs: DisclosureInputs, language: str) -> None:
    schema = json.loads((REPO / "schemas/disclosure.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    document = json.loads(render(build_disclosure(inputs.mapping_set, language, inputs.facts), "json"))
    assert [e.message for e in Draft202012Validator(schema).iter_errors(document)] == []
    assert {"sections", "facts", "permissions"} <= set(document)
    for section in document["sections"]:  # the contract's minimum (docs/design.md)
        assert {"entity", "title", "when", "shown_on", "items"} <= set(section)
        for item in section["items"]:
            assert {"label", "source", "target", "category", "secret"} <= set(item)


def _model_classes() -> list[type]:
    return [c for c in vars(model).values()
            if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == model.__name__]


def _json_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _json_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _json_keys(v)}
    return set()


def test_the_json_export_carries_every_attribute_of_the_model(inputs: DisclosureInputs) -> None:
    """What the diff compares (the model) is what the JSON shows: a new attribute cannot escape either."""
    keys = _json_keys(json.loads(render(build_disclosure(inputs.mapping_set, "en", inputs.facts), "json")))
    attributes = {f.name for c in _model_classes() for f in dataclasses.fields(c) if f.metadata.get("model", True)}
    assert attributes - {"language"} <= keys
    for language in ("en", "fr"):  # and every attribute has a name in the diff's words
        messages = build_disclosure(inputs.mapping_set, language, inputs.facts).messages
        assert sorted(a for a in attributes if f"attr_{a}" not in messages) == []


def test_the_document_carries_the_facts_in_every_format(inputs: DisclosureInputs) -> None:
    for language, version, controller in (("en", "Version 1.0, in effect from 15 January 2026", "Data controller"),
                                          ("fr", "Version 1.0, en vigueur depuis le 15 janvier 2026",
                                           "Responsable du traitement")):
        disclosure = build_disclosure(inputs.mapping_set, language, inputs.facts)
        for output_format in ("markdown", "html"):
            text = render(disclosure, output_format)
            for expected in (version, controller, "Example Corp", "dpo@example.com", "https://www.example.com/privacy",
                             "Salesforce, Inc.", "Example Hosting SAS", "United States"):
                assert expected in text, (language, output_format, expected)
    document = json.loads(render(build_disclosure(inputs.mapping_set, "fr", inputs.facts), "json"))
    assert document["facts"]["effective_date"] == "2026-01-15"
    calls = next(s for s in document["sections"] if s["key"] == "phone_calls")
    assert calls["retention"] == {"period": "P1Y", "text": "après l’appel"}
    assert calls["legal_basis"]["basis"] == "legitimate_interests"


def test_without_facts_the_document_says_so_and_fides_refuses(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    (folder / "disclosure.yaml").unlink()
    result = _run("--mappings", str(folder))
    assert result.exit_code == 0 and "The document-level facts" in result.stdout and "not declared" in result.stdout
    fides = _run("--mappings", str(folder), "--format", "fides")
    assert fides.exit_code == 2
    where = folder / "disclosure.yaml"
    assert fides.stderr.startswith(f"{where}:1:1: error: the Fides export needs the document-level")


def test_fides_needs_a_legal_basis_for_each_declaration(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    text = (folder / "disclosure.yaml").read_text(encoding="utf-8")
    start, end = text.index("legal_basis:\n  default:\n"), text.index("  sections:\n    user_information:\n      basis")
    (folder / "disclosure.yaml").write_text(text[:start] + "legal_basis:\n" + text[end:], encoding="utf-8")
    assert _run("--mappings", str(folder)).exit_code == 0  # Markdown says "not declared"
    result = _run("--mappings", str(folder), "--format", "fides")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.endswith("disclosure.yaml:51:1: error: legal_basis: section 'meeting_page' has no legal basis "
                          "(legal_basis.default or legal_basis.sections.meeting_page): the Fides export needs one "
                          "per declaration")


# ---- Fides ------------------------------------------------------------------------------------------


def _write_fides(disclosure: Disclosure, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zoomforce.yml").write_text(render(disclosure, "fides"), encoding="utf-8")
    shutil.copy(FIXTURES / "disclosure" / "fides_policy.yml", folder / "policy.yml")
    return folder


def test_fides_manifests_load_with_fideslangs_parser_and_fill_every_fact(inputs: DisclosureInputs,
                                                                         tmp_path: Path) -> None:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY
    from fideslang.manifests import ingest_manifests
    from fideslang.parse import load_manifests_into_taxonomy
    from fideslang.relationships import get_referenced_missing_keys

    disclosure = build_disclosure(inputs.mapping_set, "en", inputs.facts)
    taxonomy = load_manifests_into_taxonomy(ingest_manifests(str(_write_fides(disclosure, tmp_path / "fides"))))
    default_keys = {item.fides_key for kind in ("data_category", "data_use", "data_subject")
                    for item in getattr(DEFAULT_TAXONOMY, kind)}
    # only references into Fides's own taxonomy and default organisation, which every Fides server has
    assert get_referenced_missing_keys(taxonomy) <= default_keys | {"default_organization"}
    system = next(s for s in taxonomy.system if s.fides_key == "zoomforce")
    assert {s.fides_key for s in taxonomy.system} == {"zoomforce", "zoom", "salesforce"}
    assert system.dpo == "Data Protection Officer, Example Corp <dpo@example.com>"
    assert str(system.privacy_policy) == "https://www.example.com/privacy"
    assert [str(getattr(r, "value", r)) for r in system.responsibility] == ["Controller"]
    assert system.dataset_references == ["zoomforce_salesforce"]
    assert {f.fides_key for f in system.ingress or []} == {"zoom", "salesforce"}
    assert {f.fides_key for f in system.egress or []} == {"zoom", "salesforce"}
    assert system.does_international_transfers and system.legal_basis_for_transfers == ["Adequacy Decision"]
    sections = [s for s in disclosure.sections if s.items]
    assert len(system.privacy_declarations) == len(sections)
    for declaration in system.privacy_declarations:
        assert declaration.legal_basis_for_processing is not None, declaration.name
        assert declaration.retention_period, declaration.name
        assert declaration.third_parties and declaration.data_shared_with_third_parties, declaration.name
        assert declaration.dataset_references == ["zoomforce_salesforce"], declaration.name
        assert declaration.ingress and declaration.egress, declaration.name
    phone = next(d for d in system.privacy_declarations if d.name == "Zoom Phone call details")
    assert (phone.ingress, phone.egress, phone.retention_period) == (["zoom"], ["salesforce"], "P1Y")
    reverse = next(d for d in system.privacy_declarations if d.name.startswith("Contact or lead"))
    basis = str(getattr(reverse.legal_basis_for_processing, "value", reverse.legal_basis_for_processing))
    assert (reverse.ingress, reverse.egress, basis) == (["salesforce"], ["zoom"], "Consent")
    (dataset,) = taxonomy.dataset
    collections = {c.name: {f.name: f.data_categories for f in c.fields} for c in dataset.collections}
    written = {access.object for access in disclosure.permissions.fields if access.categories}
    assert set(collections) == written
    event = collections["zoom_app__Zoom_Event__c"]
    assert event["zoom_app__Zoom_Meeting_Password__c"] == ["user.authorization.password"]
    assert collections["Contact"]["Email"] == ["user.contact.email"]
    known = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    assert {c for fields in collections.values() for cats in fields.values() for c in cats or []} <= known


def _matches(keys: list[str], rule: Any) -> bool:
    """A Fides policy rule's matcher (ANY, ALL, NONE, OTHER) over a taxonomy hierarchy: a key matches a
    rule value when it is that value or under it."""
    def under(key: str, value: str) -> bool:
        return key == value or key.startswith(value + ".")

    hits = [k for k in keys if any(under(k, v) for v in rule.values)]
    return {"ANY": bool(hits), "ALL": len(hits) == len(keys) and bool(keys), "NONE": not hits,
            "OTHER": len(hits) < len(keys)}[rule.matches.value]


def _violations(folder: Path) -> list[str]:
    """The sample policy evaluated as ``fides evaluate`` does: a declaration violates a rule when its
    categories, use and subjects all match it."""
    from fideslang.manifests import ingest_manifests
    from fideslang.parse import load_manifests_into_taxonomy

    taxonomy = load_manifests_into_taxonomy(ingest_manifests(str(folder)))
    (policy,) = taxonomy.policy
    found = []
    for system in taxonomy.system:
        for declaration in system.privacy_declarations:
            for rule in policy.rules:
                if (_matches(declaration.data_categories, rule.data_categories)
                        and _matches([declaration.data_use], rule.data_uses)
                        and _matches(declaration.data_subjects, rule.data_subjects)):
                    found.append(f"{system.fides_key}: {declaration.name}: {rule.name}")
    return found


def test_the_fides_export_passes_a_sample_policy_and_fails_it_when_a_section_turns_to_marketing(
        inputs: DisclosureInputs, tmp_path: Path) -> None:
    disclosure = build_disclosure(inputs.mapping_set, "en", inputs.facts)
    assert _violations(_write_fides(disclosure, tmp_path / "ok")) == []
    folder = copy_mappings(tmp_path / "marketing")
    replace_once(folder / "meetings.yaml", "  data_use: essential.service\n",
                 "  data_use: marketing.communications.email\n")
    assert _violations(_write_fides(disclosure_of(folder), tmp_path / "bad")) == [
        "zoomforce: Meetings: No personal data for marketing or advertising"]


FIDES = os.environ.get("ZOOMFORCE_FIDES") or shutil.which("fides")


@pytest.mark.skipif(FIDES is None, reason="the fides CLI (ethyca-fides) is not installed: it pins pydantic and pulls "
                    "in about 200 packages, so it is not in the test extra; set ZOOMFORCE_FIDES=/path/to/fides to run")
def test_fides_local_evaluate_passes(inputs: DisclosureInputs, tmp_path: Path) -> None:
    assert FIDES is not None
    folder = _write_fides(build_disclosure(inputs.mapping_set, "en", inputs.facts), tmp_path / "fides")
    done = subprocess.run([FIDES, "--local", "evaluate", "."], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "FIDES__CONFIG_PATH": ""}, check=False)
    assert done.returncode == 0 and "Evaluation passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    marketing = copy_mappings(tmp_path / "marketing")
    replace_once(marketing / "meetings.yaml", "  data_use: essential.service\n",
                 "  data_use: marketing.communications.email\n")
    bad = _write_fides(disclosure_of(marketing), tmp_path / "bad")
    failed = subprocess.run([FIDES, "--local", "evaluate", "."], cwd=bad, capture_output=True, text=True, check=False)
    assert failed.returncode != 0


# ---- the Salesforce permission set --------------------------------------------------------------------


def _expected_access(folder: Path) -> tuple[dict[str, tuple[bool, bool, bool]], dict[str, tuple[bool, bool]]]:
    """What the permission set must grant, worked out from the mapping files directly."""
    mapping_set = load_mapping_set([folder]).raise_if_invalid()
    objects: dict[str, tuple[bool, bool, bool]] = {}
    fields: dict[str, tuple[bool, bool]] = {}

    def grant(sobject: str, name: str, edit: bool) -> None:
        found = load_catalog(sobject).field(name)
        assert found is not None, (sobject, name)
        if found.nillable or found.type == "boolean":  # a required field has no field permission
            key = f"{sobject}.{found.name}"
            fields[key] = (True, edit or fields.get(key, (True, False))[1])

    for mapping in mapping_set.mappings.values():
        if not mapping.enabled or mapping.disclosure is None:
            continue
        if mapping.target.system == "salesforce" and mapping.target.object:
            sobject = mapping.target.object
            objects[sobject] = (True, True, True)
            for spec in mapping.enabled_fields:
                grant(sobject, spec.target, True)
            if mapping.parent:
                relation = load_catalog(sobject).by_relationship(mapping.parent.relationship)
                assert relation is not None
                grant(sobject, relation.name, True)
                parent = mapping_set.get(mapping.parent.entity).target.object
                assert parent
                objects.setdefault(parent, (True, False, False))
                grant(parent, mapping.parent.key, False)
            for link in mapping.links:
                grant(sobject, link.target, True)
                objects.setdefault(link.object, (True, False, False))
                grant(link.object, link.match, False)
        if mapping.source.system == "salesforce":
            for sobject in mapping.source.objects:
                objects.setdefault(sobject, (True, False, False))
                for name in ("FirstName", "LastName", "Email"):  # the reverse flow's expressions and its where
                    grant(sobject, name, False)
    return objects, fields


def _granted(xml: str) -> tuple[dict[str, tuple[bool, bool, bool]], dict[str, tuple[bool, bool]]]:
    root = ET.fromstring(xml)
    assert root.tag == f"{METADATA}PermissionSet"

    def flag(element: ET.Element, name: str) -> bool:
        return element.findtext(f"{METADATA}{name}") == "true"

    objects = {}
    for element in root.iter(f"{METADATA}objectPermissions"):
        assert not flag(element, "allowDelete") and not flag(element, "viewAllRecords")
        assert not flag(element, "modifyAllRecords")
        objects[element.findtext(f"{METADATA}object") or ""] = (
            flag(element, "allowRead"), flag(element, "allowCreate"), flag(element, "allowEdit"))
    fields = {element.findtext(f"{METADATA}field") or "": (flag(element, "readable"), flag(element, "editable"))
              for element in root.iter(f"{METADATA}fieldPermissions")}
    assert not list(root.iter(f"{METADATA}userPermissions"))
    return objects, fields


def test_the_permission_set_grants_exactly_what_the_mappings_need(tmp_path: Path) -> None:
    out = tmp_path / "force-app" / "main" / "default"
    result = _run("--mappings", str(MAPPINGS), "--format", "salesforce-permissionset", "--output", str(out))
    assert result.exit_code == 0, result.output
    written = out / "permissionsets" / "Zoomforce_Integration.permissionset-meta.xml"
    assert result.stderr == f"zoomforce: permission set written to {written}\n"
    objects, fields = _granted(written.read_text(encoding="utf-8"))
    assert (objects, fields) == _expected_access(MAPPINGS)
    assert "Contact.LastName" not in fields  # required: no field permission exists
    assert fields["zoom_app__Zoom_Webinar_Registrant__c.zoom_app__Zoom_Webinar__c"] == (True, True)
    assert fields["zoom_app__Zoom_Webinar__c.zoom_app__Webinar_Id__c"] == (True, True)
    assert fields["Contact.Email"] == (True, False) and objects["Contact"] == (True, False, False)


def test_the_permission_set_follows_the_mappings(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "calls.yaml", "entity: calls\n", "entity: calls\nenabled: false\n")
    replace_once(folder / "meetings.yaml", "    to: zoom_app__Host_Id__c\n",
                 "    to: zoom_app__Host_Id__c\n    enabled: false\n")
    replace_once(folder / "registrations.yaml", "where: Email != null", "where: Email != null AND Phone != null")
    objects, fields = _granted(render(disclosure_of(folder), "salesforce-permissionset"))
    assert (objects, fields) == _expected_access_with_phone(folder)
    assert "zoom_app__Zoom_Call_Log__c" not in objects
    assert "zoom_app__Zoom_Event__c.zoom_app__Host_Id__c" not in fields
    assert fields["Contact.Phone"] == (True, False)  # read only to select: granted, and said so
    disclosure = disclosure_of(folder)
    (selection,) = disclosure.section("salesforce_contacts").selections  # type: ignore[union-attr]
    assert selection.selection_only == ("Phone",)
    markdown = render(disclosure, "markdown")
    assert "`Contact.Phone` | yes | no | read to select the records | none |" in markdown


Access = tuple[dict[str, tuple[bool, bool, bool]], dict[str, tuple[bool, bool]]]


def _expected_access_with_phone(folder: Path) -> Access:
    objects, fields = _expected_access(folder)
    fields.update({"Contact.Phone": (True, False), "Lead.Phone": (True, False)})
    return objects, fields


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "salesforce-permissionset"], "--format salesforce-permissionset writes Salesforce DX source"),
        (["--format", "fides", "--diff", str(MAPPINGS)], "--diff renders markdown, json, html, not --format fides"),
        (["--format", "salesforce-permissionset", "--diff", str(MAPPINGS)], "--diff renders markdown, json, html"),
        (["--exit-code"], "--exit-code goes with --diff OLD_DIR"),
        (["--format", "json", "--template", str(MAPPINGS / "users.yaml")], "--template replaces the Markdown or HTML"),
    ],
)
def test_unsupported_combinations_are_usage_errors(args: list[str], message: str) -> None:
    result = _run("--mappings", str(MAPPINGS), *args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_the_permission_set_needs_a_folder(tmp_path: Path) -> None:
    a_file = tmp_path / "x.xml"
    a_file.write_text("", encoding="utf-8")
    result = _run("--mappings", str(MAPPINGS), "--format", "salesforce-permissionset", "--output", str(a_file))
    assert result.exit_code == 2 and "a folder" in result.stderr
    markdown = _run("--mappings", str(MAPPINGS), "--output", str(tmp_path))
    assert markdown.exit_code == 2 and "is a folder" in markdown.stderr


# ---- statements true to behaviour --------------------------------------------------------------------


def test_what_is_read_is_said_as_the_mapping_reads_it(inputs: DisclosureInputs) -> None:
    disclosure = build_disclosure(inputs.mapping_set, "en", inputs.facts)
    users = disclosure.section("user_information")
    meetings = disclosure.section("meeting_page")
    assert users is not None and meetings is not None
    assert users.reading[0].startswith("At each synchronisation, zoomforce reads every record that `GET /users` "
                                       "lists with `status=active`, then each one in full with `GET /users/{userId}`")
    assert meetings.reading[0].startswith("At each synchronisation, zoomforce reads every record that "
                                          "`GET /users/{userId}/meetings` lists with `type=scheduled`, between the "
                                          "dates of `--since` and `--until` when a run gives them, for each "
                                          "record read for “User information”")
    assert "page_size" not in " ".join(r for s in disclosure.sections for r in s.reading)
    assert meetings.when == "At each synchronisation, for every scheduled meeting of the account's active users"
    (selection,) = disclosure.sections[-1].selections
    assert selection.words == "every `Contact` and `Lead` record for which `Email` is filled in"
    french = build_disclosure(inputs.mapping_set, "fr", inputs.facts)
    assert french.sections[-1].selections[0].words == (
        "chaque enregistrement `Contact` et `Lead` pour lequel `Email` est renseigné")
    text = render(french, "markdown")
    assert "« Informations sur l’utilisateur »" in text and "- **Personnes sélectionnées** : " in text


def test_link_labels_and_field_descriptions_are_rendered(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "meetings.yaml", "    label: {en: Meeting topic, fr: Sujet de la réunion}\n",
                 "    label: {en: Meeting topic, fr: Sujet de la réunion}\n"
                 "    description: {en: As the host typed it XYZ, fr: Tel que l’hôte l’a saisi XYZ}\n")
    for language, link, description in (
            ("en", "The Lead with the registrant's e-mail address", "As the host typed it XYZ"),
            ("fr", "Le prospect ayant l’adresse e-mail de l’inscrit", "Tel que l’hôte l’a saisi XYZ")):
        disclosure = disclosure_of(folder, language)
        for output_format in ("markdown", "html", "json"):
            text = render(disclosure, output_format)
            assert link in text.replace("&#39;", "'"), (language, output_format)
            assert description in text.replace("&#39;", "'"), (language, output_format)


def test_one_item_per_salesforce_field_and_per_source_value(inputs: DisclosureInputs) -> None:
    disclosure = build_disclosure(inputs.mapping_set, "en", inputs.facts)
    start = disclosure.item("zoom_app__Zoom_Event__c.zoom_app__Zoom_Meeting_Start_Time__c")
    assert start is not None
    assert [(f.entity, f.label) for f in start.fields] == [
        ("meetings", "Meeting start time"), ("past_meetings", "Actual start time")]
    after = disclosure.section("event_page")
    assert after is not None
    assert start not in after.items and after.mention(start.key) is not None  # listed once, mentioned after the meeting
    call = disclosure.item("zoom_app__Zoom_Call_Log__c.zoom_app__Calllog_Unique_ID__c")
    assert call is not None and [t.field for t in call.targets] == ["zoom_app__Calllog_Unique_ID__c",
                                                                    "zoom_app__Call_ID__c"]
    assert [i.label for i in disclosure.items].count("Call ID") == 1
    keys = [i.key for i in disclosure.items]
    assert len(keys) == len(set(keys))
    targets = [t.name for i in disclosure.items for t in i.targets]
    assert len(targets) == len(set(targets))


def test_least_privilege_is_shown(inputs: DisclosureInputs) -> None:
    from engine.zoom.schemas import load_source_index

    disclosure = build_disclosure(inputs.mapping_set, "en", inputs.facts)
    permissions = disclosure.permissions
    index = load_source_index()
    granted = {s.scope for s in permissions.scopes}
    for operation in permissions.operations:
        endpoint = index.endpoint(operation.operation)
        assert endpoint is not None and operation.scope in endpoint.scopes_granular
        assert len(granted & set(endpoint.scopes_granular)) == 1  # one of Zoom's alternatives, not all
        if operation.operation.startswith("GET "):
            assert ":write" not in (operation.scope or "")
    for grant in permissions.scopes:
        assert grant.justifications, grant.scope
        assert grant.operations or grant.events, grant.scope
    assert all(e.scope for e in permissions.events)
    registrants = next(o for o in permissions.operations if o.operation == "GET /webinars/{webinarId}/registrants")
    assert registrants.entities == ("registrants", "registrations")  # the reverse flow lists who is registered
    meeting = next(s for s in permissions.scopes if s.scope == "meeting:read:meeting:admin")
    assert "meeting.ended" in meeting.events and "Meeting topic" in meeting.fields


def test_a_recordings_mapping_in_the_after_meeting_section_appears_there_with_its_permissions(
        tmp_path: Path) -> None:
    """A stand-in for the cloud recordings mapping (it lands with the integrator issue): any mapping of
    the after-meeting section is shown there, in both languages, with its category and permissions."""
    folder = copy_mappings(tmp_path)
    shutil.copy(FIXTURES / "disclosure" / "cloud_recordings.yaml", folder / "cloud_recordings.yaml")
    for language, label in (("en", "Cloud recording's meeting UUID"), ("fr", "UUID de la réunion de l’enregistrement")):
        disclosure = disclosure_of(folder, language)
        after = disclosure.section("event_page")
        assert after is not None
        item = next(i for i in after.items if i.label == label)
        assert item.category == "user.unique_id" and item.fields[0].entity == "cloud_recordings"
        text = render(disclosure, "markdown")
        section = text[text.index(f"### {after.title}"):]
        assert f"- {label}\n" in section[:section.index("\n### ")]
    permissions = disclosure_of(folder).permissions
    operation = next(o for o in permissions.operations if "cloud_recordings" in o.entities)
    grant = next(g for g in permissions.scopes if g.scope == operation.scope)
    assert "find the cloud recording of a meeting that has taken place" in grant.justifications
    assert "Cloud recording's meeting UUID" in grant.fields
    _, fields = _granted(render(disclosure_of(folder), "salesforce-permissionset"))
    assert fields["zoom_app__Zoom_Event__c.zoom_app__UUID__c"] == (True, True)


# ---- HTML, escaping, languages, templates -------------------------------------------------------------


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
        if tag in ("link", "script", "img") or (tag == "a" and (values.get("href") or "").startswith("http")
                                                 and "example" not in (values.get("href") or "")
                                                 and "zoom.us" not in (values.get("href") or "")
                                                 and "salesforce.com" not in (values.get("href") or "")):
            self.external.append(tag)


def test_html_is_self_contained_with_landmarks_headings_and_captions(inputs: DisclosureInputs) -> None:
    outline = _Outline()
    outline.feed(render(build_disclosure(inputs.mapping_set, "fr", inputs.facts), "html"))
    assert outline.lang == "fr"
    assert outline.tags.count("h1") == 1 and outline.tags.count("h2") >= 7
    assert outline.tags.count("table") == outline.tags.count("caption") > len(inputs.mapping_set.mappings)
    assert {"header", "nav", "main", "footer"} <= set(outline.tags)
    assert "style" in outline.tags and outline.external == []


def test_html_escapes_labels_and_wraps_identifiers_at_underscores(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "meetings.yaml", "en: Meeting topic,", "en: Topic <b>&</b>,")
    html = render(disclosure_of(folder), "html")
    assert "Topic &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html
    wrapped = "zoom_<wbr>app__<wbr>Zoom_<wbr>Event__<wbr>c.<wbr>zoom_<wbr>app__<wbr>Meeting_<wbr>Topic__<wbr>c"
    assert f"<code>{wrapped}</code>" in html


NEW_FIELD = """
  - from: timezone
    to: zoom_app__Meeting_Type__c
    type: string
    label: {en: Meeting time zone XYZ, fr: Fuseau horaire de la réunion XYZ}
    category: system.operations
"""


def test_a_new_field_appears_in_every_format(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    with (folder / "meetings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(NEW_FIELD)
    for language, label in (("en", "Meeting time zone XYZ"), ("fr", "Fuseau horaire de la réunion XYZ")):
        disclosure = disclosure_of(folder, language)
        for output_format in ("markdown", "html", "json"):
            assert label in render(disclosure, output_format), (language, output_format)
    for output_format in ("json", "fides", "salesforce-permissionset"):
        assert "zoom_app__Meeting_Type__c" in render(disclosure_of(folder), output_format), output_format


def test_disabling_a_field_removes_it_from_disclosure_and_map(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "meetings.yaml", "    to: zoom_app__Host_Id__c\n",
                 "    to: zoom_app__Host_Id__c\n    enabled: false\n")
    disclosure = disclosure_of(folder)
    for output_format in FORMATS:
        assert "zoom_app__Host_Id__c" not in render(disclosure, output_format), output_format
    assert "Host's Zoom user ID" not in render(disclosure, "markdown")
    plan = compile_plan(load_mapping_set([folder]).get("meetings"))
    assert "zoom_app__Host_Id__c" not in plan.map_record({"id": 1, "host_id": "h"}).record


def test_disabling_an_entity_removes_its_section(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "calls.yaml", "entity: calls\n", "entity: calls\nenabled: false\n")
    document = json.loads(render(disclosure_of(folder), "json"))
    assert "phone_calls" not in [s["key"] for s in document["sections"]]
    assert "phone.callee_ended" not in document["permissions"]["zoom_events"]
    assert "phone:read:list_call_logs:admin" not in document["permissions"]["zoom_scopes"]


def test_every_seed_item_has_its_french_counterpart(inputs: DisclosureInputs) -> None:
    french = render(build_disclosure(inputs.mapping_set, "fr", inputs.facts), "markdown")
    for seed_text, entity, target in SEED_ITEMS:
        field = next(f for f in inputs.mapping_set.get(entity).enabled_fields if f.target == target)
        assert f"- {field.label.get('fr')}" in french, (seed_text, entity, target)


def test_french_uses_zooms_own_words(inputs: DisclosureInputs) -> None:
    french = render(build_disclosure(inputs.mapping_set, "fr", inputs.facts), "markdown")
    english = render(build_disclosure(inputs.mapping_set, "en", inputs.facts), "markdown")
    assert "Code secret de la réunion" in french and "hôte" in french
    assert "Mot de passe" not in french and "organisateur" not in french
    assert "### Attendee information" in english and "Meeting passcode" in english


def test_cli_disclose_french_to_file_and_template(tmp_path: Path) -> None:
    out = tmp_path / "disclosure.md"
    result = _run("--mappings", str(MAPPINGS), "--lang", "fr", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("# Sécurité et confidentialité")
    template = tmp_path / "mine.j2"
    template.write_text("{{ m.document_title }}: {{ d.sections | length }} sections, v{{ d.facts.version }}\n",
                        encoding="utf-8")
    custom = _run("--mappings", str(MAPPINGS), "--template", str(template))
    mappings = load_mapping_set([MAPPINGS]).mappings.values()
    sections = len({m.disclosure.section for m in mappings if m.enabled and m.disclosure})
    assert custom.stdout == f"Security and privacy of the Zoom integration for Salesforce: {sections} sections, v1.0\n"


def test_unknown_language_is_a_one_line_error() -> None:
    result = _run("--mappings", str(MAPPINGS), "--lang", "de")
    assert result.exit_code == 2
    assert result.stderr == "zoomforce: error: no disclosure messages for language 'de' (available: en, fr)\n"


def test_a_mapping_language_without_messages_fails_validate(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "calls.yaml", "entity: calls\n", "entity: calls\nlanguages: [en, fr, de]\n")
    problems = [str(p) for p in load_mapping_set([folder]).errors]
    assert any("the disclosure has no messages in 'de' (available: en, fr)" in p for p in problems)
    assert any("missing the 'de' translation" in p for p in problems)


def test_the_golden_fides_manifest_is_yaml_with_both_manifest_kinds() -> None:
    data = yaml.safe_load((GOLDEN / "disclosure.en.fides.yaml").read_text(encoding="utf-8"))
    assert set(data) == {"system", "dataset"}
