"""The disclosure's document-level facts (``mappings/disclosure.yaml``): loaded with positions,
checked against their schema and for meaning, each problem at its file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.disclosure.facts import (
    find_facts_file,
    format_problems,
    load_document_facts,
    set_problems,
)
from engine.language.loader import iter_mapping_files, load_yaml_text
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import MAPPINGS, copy_mappings, replace_once

SECTIONS = [
    "user_information", "meeting_page", "event_page", "webinar_page", "webinar_registrants",
    "webinar_participants", "webinar_panelists", "phone_calls", "salesforce_contacts",
]


def _problems(folder: Path) -> list[str]:
    result = load_document_facts(find_facts_file(folder))
    return [f"{p.line}:{p.column}: {p.severity}: {p.path}: {p.message}" for p in result.problems]


def test_the_default_facts_load_with_only_the_example_addresses_to_replace() -> None:
    result = load_document_facts(find_facts_file(MAPPINGS))
    assert result.facts is not None and result.errors == []
    assert [p.path for p in result.problems] == ["controller.contact", "dpo.contact", "privacy_policy"]
    assert all("is an example address" in p.message for p in result.problems)
    facts = result.facts
    assert (facts.version, facts.effective_date) == ("1.0", "2026-01-15")  # a YAML date becomes its text
    assert facts.retention_for("phone_calls") is not None and facts.retention_for("phone_calls").period == "P1Y"
    assert facts.retention_for("webinar_page") == facts.retention_default
    assert facts.legal_basis_for("salesforce_contacts").basis == "consent"  # type: ignore[union-attr]
    assert set_problems(facts, SECTIONS, ["en", "fr"]) == []
    assert format_problems(facts, SECTIONS, "fides") == []


def test_the_facts_file_is_not_a_mapping() -> None:
    assert MAPPINGS / "disclosure.yaml" not in list(iter_mapping_files([MAPPINGS]))
    assert "disclosure" not in load_mapping_set([MAPPINGS]).mappings


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    period: P2Y\n", "    period: two years\n",
         "28:13: error: retention.default.period: \"two years\" does not match"),
        ("    period: P1Y\n", "    period: P1Y6H\n", "46:15: error: retention.sections.phone_calls.period:"),
        ("  effective_date: 2026-01-15\n", "  effective_date: 2026-02-30\n",
         "12:19: error: document.effective_date: '2026-02-30' cannot be read: day is out of range for month"),
        ("  effective_date: 2026-01-15\n", "  effective_date: '2026-02-30'\n",
         "12:19: error: document.effective_date: '2026-02-30' is not a date of the calendar"),
        ("  effective_date: 2026-01-15\n", "  effective_date: January 2026\n",
         "12:19: error: document.effective_date: \"January 2026\" does not match"),
        ("    basis: consent\n", "    basis: consnet\n",
         "64:14: error: legal_basis.sections.salesforce_contacts.basis: expected one of consent, contract, "
         "legal_obligation, vital_interests, public_interest, legitimate_interests; got \"consnet\"; "
         "did you mean 'consent'?"),
        ("        fr: après l’appel\n", "",
         "48:9: error: retention.sections.phone_calls.text: missing the 'fr' translation"),
        ('    recipients: ["Salesforce, Inc.", "Zoom Video Communications, Inc."]\n',
         '    recipients: ["Salesforce", "Zoom Video Communications, Inc."]\n',
         "93:18: error: transfers[0].recipients[0]: 'Salesforce' is not one of the recipients; "
         "did you mean 'Salesforce, Inc.'?"),
        ("  contact: dpo@example.com\n", "  contact: the DPO\n",
         "21:12: error: dpo.contact: \"the DPO\" does not match"),
        ("privacy_policy: https://www.example.com/privacy\n", "privacy_policy: www.example.com/privacy\n",
         "23:17: error: privacy_policy: \"www.example.com/privacy\" does not match"),
        ("  version: \"1.0\"\n", "  version: 1.0\n",
         "11:12: error: document.version: expected a string, got a number 1.0"),
        ("controller:\n", "controler:\n",
         "14:1: error: controler: unknown key 'controler'; did you mean 'controller'?"),
    ],
)
def test_bad_facts_are_errors_at_their_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "disclosure.yaml", old, new)
    problems = _problems(folder)
    assert any(p.startswith(expected) for p in problems), problems


def test_the_facts_against_the_mappings(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "disclosure.yaml", "    phone_calls:\n      period: P1Y\n",
                 "    phone_cals:\n      period: P1Y\n")
    facts = load_document_facts(find_facts_file(folder)).facts
    problems = [str(p) for p in set_problems(facts, SECTIONS, ["en", "fr", "de"])]
    assert any(p.endswith("45:5: warning: retention.sections.phone_cals: no enabled mapping has the section "
                          "'phone_cals', so this retention is not used; did you mean 'phone_calls'?")
               for p in problems), problems
    assert any("the mappings are in 'de' but the disclosure facts are not (languages: en, fr)" in p for p in problems)


def test_fides_needs_a_legal_basis_and_a_retention_per_declaration(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    text = (folder / "disclosure.yaml").read_text(encoding="utf-8")
    start, end = text.index("legal_basis:\n  default:\n"), text.index("  sections:\n    user_information:\n      basis")
    (folder / "disclosure.yaml").write_text(text[:start] + "legal_basis:\n" + text[end:], encoding="utf-8")
    facts = load_document_facts(find_facts_file(folder)).facts
    problems = [str(p) for p in format_problems(facts, SECTIONS, "fides")]
    assert len(problems) == len(SECTIONS) - 2, problems  # all but the two with their own legal basis
    assert problems[0].endswith("51:1: error: legal_basis: section 'meeting_page' has no legal basis "
                                "(legal_basis.default or legal_basis.sections.meeting_page): the Fides export "
                                "needs one per declaration")
    assert format_problems(facts, SECTIONS, "markdown") == []


def test_a_disclosure_block_of_a_larger_document_points_into_that_file() -> None:
    text = (MAPPINGS / "disclosure.yaml").read_text(encoding="utf-8")
    indented = "".join(f"  {line}" if line.strip() else line for line in text.splitlines(keepends=True))
    project = "mappings: ./mappings\ndisclosure:\n" + indented.replace("period: P2Y", "period: 2y")
    result = load_document_facts(load_yaml_text(project, "zoomforce.yaml"), base=("disclosure",))
    (problem,) = result.problems
    where = (problem.file, problem.line, problem.column, problem.path)
    assert where == ("zoomforce.yaml", 30, 15, "retention.default.period")


def test_validate_reports_the_facts_with_the_mappings(tmp_path: Path) -> None:
    folder = copy_mappings(tmp_path)
    replace_once(folder / "disclosure.yaml", "    period: P2Y\n", "    period: two years\n")
    result = CliRunner().invoke(cli, ["validate", str(folder), "--format", "json"])
    assert result.exit_code == 1
    errors = [e for e in json.loads(result.stdout)["errors"] if e["severity"] == "error"]
    assert [(Path(e["file"]).name, e["line"], e["column"], e["path"]) for e in errors] == [
        ("disclosure.yaml", 28, 13, "retention.default.period"),
    ]
    text = CliRunner().invoke(cli, ["validate", str(MAPPINGS)])
    files = len(list(MAPPINGS.glob("*.yaml")))  # the mappings and their folder's facts
    assert text.exit_code == 0 and f"{files} file(s), 0 error(s), 4 warning(s)" in text.stderr
