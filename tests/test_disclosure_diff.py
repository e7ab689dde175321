"""``zoomforce disclose --diff OLD``: a review gate that misses nothing and reports nothing else.

The rule: a change to the mappings or the document-level facts that changes any rendered output of
``disclose`` (any format, any language) is reported, and nothing else is. The property test
mutates copies of the default mappings at random (every key of the language that reaches the
disclosure, and keys that do not) and checks that the outputs differ exactly when the diff is not
empty; the other tests name the changes a compliance reviewer tried, through the real command.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.cli.main import cli
from engine.disclosure.build import build_disclosure
from engine.disclosure.diff import diff_disclosures
from engine.disclosure.inputs import DisclosureInputs, load_inputs
from engine.disclosure.render import FORMATS, render
from engine.errors import MappingInvalid
from tests.helpers import MAPPINGS, REPO, copy_mappings, replace_once


def _diff(folder: Path, *options: str) -> Any:
    return CliRunner().invoke(cli, ["disclose", "--mappings", str(folder), "--diff", str(MAPPINGS), "--exit-code",
                                    *options])


# ---- what a compliance reviewer tried ----------------------------------------------------------------

NEW_EVENT = [
    ("calls.yaml", "    - event: phone.caller_ended\n",
     "    - event: phone.caller_ended\n    - event: phone.callee_missed\n"),
    ("calls.yaml", "    on_missing: reject\n    events: {phone.callee_ended: call_id, phone.caller_ended: call_id}\n",
     "    on_missing: reject\n"
     "    events: {phone.callee_ended: call_id, phone.caller_ended: call_id, phone.callee_missed: call_id}\n"),
    ("calls.yaml", "    phone.caller_ended: phone:read:list_call_logs:admin\n",
     "    phone.caller_ended: phone:read:list_call_logs:admin\n"
     "    phone.callee_missed: phone:read:list_call_logs:admin\n"),
]

TRIED: dict[str, tuple[list[tuple[str, str, str]], str, str]] = {
    # name: (edits, kind of change reported, text the Markdown names it with)
    "purpose rewritten for marketing": (
        [("meetings.yaml", "    en: to show the meeting's details and let its host start it from Salesforce",
          "    en: to market our products to everyone who attends")],
        "section", "**purpose**: “to show the meeting's details and let its host start it from Salesforce” → "
                   "“to market our products to everyone who attends”"),
    "data use changed to marketing": (
        [("meetings.yaml", "  data_use: essential.service\n", "  data_use: marketing.communications.email\n")],
        "section", "**data use**: `essential.service` → `marketing.communications.email`"),
    "a data subject added": (
        [("calls.yaml", "  data_subjects: [customer, employee]\n",
          "  data_subjects: [customer, employee, prospect]\n")],
        "section", "**data subjects**: added `prospect`"),
    "a field relabelled": (
        [("meetings.yaml", "label: {en: Meeting topic, fr:", "label: {en: Subject, fr:")],
        "item", "› label**: “Meeting topic” → “Subject”"),
    "a field's description changed": (
        [("meetings.yaml", "label: {en: Meeting topic, fr: Sujet de la réunion}\n",
          "label: {en: Meeting topic, fr: Sujet de la réunion}\n    description: {en: As typed, fr: Tel que saisi}\n")],
        "item", "› description**: none → “As typed”"),
    "a new event subscription": (NEW_EVENT, "event", "## New Zoom event subscription: `phone.callee_missed`"),
    "the reverse flow's selection widened": (
        [("registrations.yaml", "where: Email != null", "where: Phone != null")],
        "section", "**who is selected › `registrations` › condition**: `Email != null` → `Phone != null`"),
    "a classic scope change": (
        [("calls.yaml", "  endpoint: GET /phone/call_history\n  records: call_logs\n  list:\n    endpoint: "
          "GET /phone/call_history\n    records: call_logs\n    params: {page_size: 300}\n",
          "  endpoint: GET /phone/users/{userId}/call_history\n  records: call_logs\n  parent: users\n  list:\n"
          "    endpoint: GET /phone/users/{userId}/call_history\n    records: call_logs\n"
          "    params: {userId: id, page_size: 300}\n"),
         # the user's call history lacks these two: they are read from what it has instead
         ("calls.yaml", "  - from: duration\n", "  - from: answer_time\n"),
         ("calls.yaml", "  - from: call_result\n", "  - from: result\n")],
        "scope", "**classic scope**: removed `phone_call_log:read:admin`; added `phone:read:admin`"),
}


@pytest.mark.parametrize("name", list(TRIED))
def test_each_change_a_reviewer_tried_fails_the_gate_and_is_named(tmp_path: Path, name: str) -> None:
    edits, kind, text = TRIED[name]
    folder = copy_mappings(tmp_path)
    for file, old, new in edits:
        replace_once(folder / file, old, new)
    result = _diff(folder)
    assert result.exit_code == 1, result.output
    assert text in result.stdout, result.stdout
    changes = json.loads(_diff(folder, "--format", "json").stdout)["changes"]
    assert kind in {c["kind"] for c in changes}


def test_an_added_item_shows_what_a_reviewer_approves(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    with (folder / "meetings.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n  - from: timezone\n    to: zoom_app__Meeting_Type__c\n    type: string\n"
                     "    label: {en: Meeting time zone, fr: Fuseau horaire}\n    category: user.content\n")
    result = _diff(folder)
    assert result.exit_code == 1
    entry = result.stdout[result.stdout.index("## New item: Meeting time zone"):].split("\n## ")[0]
    for expected in ("- label: “Meeting time zone”", "- section: “Meetings”",
                     "- Sources: meetings: `GET /meetings/{meetingId}` `timezone`",
                     "- Targets: `zoom_app__Zoom_Event__c.zoom_app__Meeting_Type__c`",
                     "- data category: `user.content`", "- data use: `essential.service`",
                     "- data subjects: `customer`, `employee`", "- secret: no", "- real time: no"):
        assert expected in entry, entry
    assert "## New Salesforce field access: `zoom_app__Zoom_Event__c.zoom_app__Meeting_Type__c`" in result.stdout


def test_the_diff_renders_in_french_as_html_and_as_json(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "meetings.yaml", "  data_use: essential.service\n",
                 "  data_use: marketing.communications.email\n")
    french = _diff(folder, "--lang", "fr")
    assert french.exit_code == 1
    assert french.stdout.startswith("# Modifications de la déclaration\n")
    assert "## Modifié (section) : Réunions" in french.stdout
    assert "- **utilisation des données** : `essential.service` → `marketing.communications.email`" in french.stdout
    assert "change(s)" not in french.stdout and "Changed" not in french.stdout
    html = _diff(folder, "--format", "html", "--lang", "fr")
    assert html.exit_code == 1 and html.stdout.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert "<caption>Ce qui a changé</caption>" in html.stdout
    assert "<code>marketing.<wbr>communications.<wbr>" in html.stdout
    document = json.loads(_diff(folder, "--format", "json").stdout)
    schema = json.loads((REPO / "schemas/disclosure-diff.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert [e.message for e in Draft202012Validator(schema).iter_errors(document)] == []
    (change,) = document["changes"]
    assert (change["kind"], change["key"], change["change"]) == ("section", "meeting_page", "changed")
    assert change["attributes"] == [{"attribute": ["data_use"], "name": "data use", "language": None,
                                     "before": "essential.service", "after": "marketing.communications.email"}]


def test_a_change_in_one_language_only_is_reported_in_that_language(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "meetings.yaml", "fr: Sujet de la réunion}", "fr: Objet de la réunion}")
    result = _diff(folder)  # an English diff of a French-only change
    assert result.exit_code == 1
    assert "› label** (in French): “Sujet de la réunion” → “Objet de la réunion”" in result.stdout


def test_no_change_exits_0_and_says_so_in_each_language(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    with (folder / "meetings.yaml").open("a", encoding="utf-8") as handle:
        handle.write("# a comment changes nothing the disclosure says\n")
    replace_once(folder / "meetings.yaml", "    max_length: 255\n", "    max_length: 200\n")
    english = _diff(folder)
    assert english.exit_code == 0
    assert "No change: the disclosure is the same in every format and language." in english.stdout
    french = _diff(folder, "--lang", "fr")
    assert french.exit_code == 0 and "Aucune modification" in french.stdout
    assert json.loads(_diff(folder, "--format", "json").stdout)["changed"] is False


def test_the_facts_are_diffed_too_and_an_unchanged_version_is_flagged(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "disclosure.yaml", "    period: P1Y\n", "    period: P5Y\n")
    result = _diff(folder)
    assert result.exit_code == 1
    assert "**retention › period**: 1 year (P1Y) → 5 years (P5Y)" in result.stdout
    assert "The document's version did not change" in result.stdout
    replace_once(folder / "disclosure.yaml", '  version: "1.0"\n', '  version: "1.1"\n')
    bumped = _diff(folder)
    assert "From version 1.0 to version 1.1 of the document." in bumped.stdout
    assert "did not change" not in bumped.stdout


@pytest.mark.parametrize("side", ["old", "new"])
def test_a_side_that_does_not_load_is_named_and_exits_2(tmp_path: Path, side: str) -> None:
    broken = copy_mappings(tmp_path / "broken")
    replace_once(broken / "meetings.yaml", "  - from: topic\n", "  - from: topic_name\n")
    good = copy_mappings(tmp_path / "good")
    old, new = (broken, good) if side == "old" else (good, broken)
    result = CliRunner().invoke(cli, ["disclose", "--mappings", str(new), "--diff", str(old), "--exit-code"])
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    expected = f"the old side (--diff {old}) does not load" if side == "old" else f"the new side ({new}) does not load"
    assert first == f"zoomforce: error: {expected}"
    assert any("meetings.yaml" in line and "topic_name" in line for line in result.stderr.splitlines()[1:])


# ---- the property: the outputs differ exactly when the diff reports a change --------------------------

Documents = dict[str, Any]  # file name -> its YAML data
Mutation = Callable[[Documents, st.DataObject], None]


def _field(
    docs: Documents, data: st.DataObject, file: str, eligible: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    fields: list[dict[str, Any]] = [f for f in docs[file]["fields"] if eligible(f)]
    chosen: dict[str, Any] = data.draw(st.sampled_from(fields))
    return chosen


def _mapping(docs: Documents, data: st.DataObject) -> dict[str, Any]:
    chosen: dict[str, Any] = docs[data.draw(st.sampled_from([n for n in sorted(docs) if n != "disclosure.yaml"]))]
    return chosen


def _text(data: st.DataObject) -> str:
    return data.draw(st.sampled_from(["changed", "changé XYZ", "Nouveau texte", "Another text"]))


def _language(data: st.DataObject) -> str:
    return data.draw(st.sampled_from(["en", "fr"]))


def _unshared(spec: dict[str, Any]) -> bool:
    """In webinars.yaml no two fields read one value and no other mapping writes its object, so any field
    but a credential (which must stay secret) may change its category."""
    return not spec["category"].startswith("user.authorization")


def _optional(spec: dict[str, Any]) -> bool:
    return spec.get("on_missing") != "reject"  # the upsert key's field must stay


def m_label(docs: Documents, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(_mapping(docs, data)["fields"]))
    spec["label"][_language(data)] += " " + _text(data)


def m_description(docs: Documents, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(_mapping(docs, data)["fields"]))
    spec["description"] = {"en": "Described " + _text(data), "fr": "Décrit " + _text(data)}


def m_category(docs: Documents, data: st.DataObject) -> None:
    spec = _field(docs, data, "webinars.yaml", _unshared)
    spec["category"] = data.draw(st.sampled_from(
        [c for c in ("system.operations", "user.content", "user.name") if c != spec["category"]]))


def m_secret(docs: Documents, data: st.DataObject) -> None:
    _field(docs, data, "meetings.yaml", lambda f: f["to"] in (
        "zoom_app__Meeting_Topic__c", "zoom_app__Duration_mins__c", "zoom_app__Host_Id__c"))["secret"] = True


def m_disable_field(docs: Documents, data: st.DataObject) -> None:
    file = data.draw(st.sampled_from(["meetings.yaml", "webinars.yaml", "registrants.yaml"]))
    _field(docs, data, file, _optional)["enabled"] = False


def m_source(docs: Documents, data: st.DataObject) -> None:
    spec = _field(docs, data, "webinars.yaml", lambda f: f["from"] in ("topic", "agenda"))
    spec["from"] = f"coalesce({spec['from']})"


def m_disable_entity(docs: Documents, data: st.DataObject) -> None:
    docs[data.draw(st.sampled_from(["calls.yaml", "panelists.yaml", "participants.yaml", "registrations.yaml"]))][
        "enabled"] = False


def m_entity_description(docs: Documents, data: st.DataObject) -> None:
    _mapping(docs, data)["description"][_language(data)] = _text(data)


def m_section_text(docs: Documents, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(["title", "when", "shown_on", "purpose"]))
    _mapping(docs, data)["disclosure"][key][_language(data)] = _text(data)


def m_data_use(docs: Documents, data: st.DataObject) -> None:
    disclosure = _mapping(docs, data)["disclosure"]
    disclosure["data_use"] = data.draw(st.sampled_from(
        [u for u in ("marketing.communications.email", "analytics.reporting") if u != disclosure["data_use"]]))


def m_data_subjects(docs: Documents, data: st.DataObject) -> None:
    _mapping(docs, data)["disclosure"]["data_subjects"] = data.draw(st.sampled_from([["customer"],
                                                                                     ["visitor", "employee"]]))


def m_order(docs: Documents, data: st.DataObject) -> None:
    docs["calls.yaml"]["disclosure"]["order"] = data.draw(st.sampled_from([5, 35, 70]))


def m_link_label(docs: Documents, data: st.DataObject) -> None:
    link = data.draw(st.sampled_from(docs["registrants.yaml"]["links"] + docs["participants.yaml"]["links"]))
    link["label"][_language(data)] = _text(data)


def m_justification(docs: Documents, data: st.DataObject) -> None:
    scopes = _mapping(docs, data)["permissions"]["scopes"]
    scopes[data.draw(st.sampled_from(sorted(scopes)))][_language(data)] = _text(data)


def m_where(docs: Documents, data: st.DataObject) -> None:
    docs["registrations.yaml"]["source"]["where"] = data.draw(
        st.sampled_from(["Phone != null", "Email != null AND HasOptedOutOfEmail = false"]))


def m_list_filter(docs: Documents, data: st.DataObject) -> None:
    docs["users.yaml"]["source"]["list"]["params"]["status"] = "inactive"


def m_facts(docs: Documents, data: st.DataObject) -> None:
    facts = docs["disclosure.yaml"]
    choice = data.draw(st.sampled_from(["version", "date", "controller", "retention", "basis", "recipient",
                                        "transfer", "responsibility"]))
    if choice == "version":
        facts["document"]["version"] = "2.0"
    elif choice == "date":
        facts["document"]["effective_date"] = "2026-03-01"
    elif choice == "controller":
        facts["controller"]["name"] = "Another Corp"
    elif choice == "retention":
        facts["retention"]["default"]["period"] = data.draw(st.sampled_from(["P1Y", "P18M"]))
    elif choice == "basis":
        facts["legal_basis"]["default"]["basis"] = data.draw(st.sampled_from(["consent", "contract"]))
    elif choice == "recipient":
        facts["recipients"][0]["purpose"][_language(data)] = _text(data)
    elif choice == "transfer":
        facts["transfers"][0]["mechanism"] = "sccs"
    else:
        facts["responsibility"] = "processor"


# Keys that reach no output: the diff must stay silent about them.
def m_silent(docs: Documents, data: st.DataObject) -> None:
    choice = data.draw(st.sampled_from(["max_length", "on_missing", "page_size", "optional", "type"]))
    if choice == "max_length":
        docs["meetings.yaml"]["fields"][1]["max_length"] = 200
    elif choice == "on_missing":
        docs["webinars.yaml"]["fields"][3]["on_missing"] = "null"
    elif choice == "page_size":
        docs["users.yaml"]["source"]["list"]["params"]["page_size"] = 100
    elif choice == "optional":
        docs["users.yaml"]["source"]["include"][0]["optional"] = True
    else:
        docs["calls.yaml"]["fields"][4].pop("type", None)


MUTATIONS: list[Mutation] = [
    m_label, m_description, m_category, m_secret, m_disable_field, m_source, m_disable_entity, m_entity_description,
    m_section_text, m_data_use, m_data_subjects, m_order, m_link_label, m_justification, m_where, m_list_filter,
    m_facts, m_silent,
]


@cache
def _documents() -> dict[str, Any]:
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(MAPPINGS.glob("*.yaml"))}


def _outputs(inputs: DisclosureInputs) -> dict[tuple[str, str], str]:
    return {(language, output_format): render(build_disclosure(inputs.mapping_set, language, inputs.facts),
                                              output_format)
            for language in ("en", "fr") for output_format in FORMATS}


@cache
def _defaults() -> tuple[DisclosureInputs, dict[tuple[str, str], str]]:
    inputs = load_inputs(MAPPINGS)
    return inputs, _outputs(inputs)


def _check(tmp: Path, docs: Documents) -> tuple[bool, bool] | None:
    """(whether any output differs from the defaults', whether the diff reports a change); None when
    the mutated mappings do not validate (a combination that makes two writers of one field disagree)."""
    folder = tmp / "mappings"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in docs.items():
        (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        inputs = load_inputs(folder)
    except MappingInvalid:
        return None
    old_inputs, old_outputs = _defaults()
    differs = _outputs(inputs) != old_outputs
    return differs, diff_disclosures(old_inputs, inputs, "en").changed


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.__name__ for m in MUTATIONS])
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_each_key_reaches_the_diff_exactly_when_it_reaches_an_output(
        tmp_path_factory: pytest.TempPathFactory, mutation: Mutation, data: st.DataObject) -> None:
    docs = copy.deepcopy(_documents())
    mutation(docs, data)
    outcome = _check(tmp_path_factory.mktemp("m"), docs)
    assert outcome is not None, "each mutation alone keeps the mappings valid"
    differs, changed = outcome
    assert differs == changed
    assert differs is (mutation is not m_silent)  # each key of the catalogue reaches an output, or none


@settings(max_examples=6, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), chosen=st.lists(st.sampled_from(MUTATIONS), min_size=2, max_size=3))
def test_random_mutations_change_an_output_exactly_when_the_diff_reports_one(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, chosen: list[Mutation]) -> None:
    docs = copy.deepcopy(_documents())
    for mutation in chosen:
        mutation(docs, data)
    outcome = _check(tmp_path_factory.mktemp("m"), docs)
    if outcome is not None:
        differs, changed = outcome
        assert differs == changed


def test_the_unmutated_documents_round_trip_to_the_same_outputs(tmp_path: Path) -> None:
    """The property tests rewrite every file with yaml.safe_dump: that alone changes nothing."""
    assert _check(tmp_path, copy.deepcopy(_documents())) == (False, False)
