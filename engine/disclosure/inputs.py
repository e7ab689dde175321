"""What ``zoomforce disclose`` reads from a mappings folder: the mapping set and the document-level
facts, both validated, every problem at its line (``MappingInvalid``, exit 2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.disclosure.facts import (
    DocumentFacts,
    disclosed_sections,
    find_facts_file,
    format_problems,
    load_document_facts,
    mapping_languages,
    set_problems,
)
from engine.errors import MappingInvalid, Problem
from engine.validate.mapping_set import MappingSet, load_mapping_set


@dataclass(frozen=True)
class DisclosureInputs:
    mapping_set: MappingSet
    facts: DocumentFacts | None
    folder: Path


def load_inputs(folder: Path, *, context: str = "", catalog_dir: Path | None = None) -> DisclosureInputs:
    """The mappings and facts of `folder`; MappingInvalid (naming `context`) when either does not load."""
    mapping_set = load_mapping_set([folder], catalog_dir)
    facts_result = load_document_facts(find_facts_file(folder))
    problems: list[Problem] = [*mapping_set.problems, *facts_result.problems]
    problems += set_problems(facts_result.facts, disclosed_sections(mapping_set), mapping_languages(mapping_set))
    if any(p.severity == "error" for p in problems):
        raise MappingInvalid(sorted(problems), context)
    return DisclosureInputs(mapping_set, facts_result.facts, folder)


def check_format(inputs: DisclosureInputs, output_format: str) -> None:
    """Refuse, at their lines, the facts a format needs but the folder lacks (Fides: a legal basis
    and a retention per declaration, the DPO, the privacy policy, the responsibility, the recipients)."""
    if output_format != "fides":
        return
    if inputs.facts is None:
        where = inputs.folder / "disclosure.yaml"
        raise MappingInvalid([Problem(str(where), 1, 1, "the Fides export needs the document-level facts "
                                      "(legal basis, retention, DPO, privacy policy, recipients): declare them here")])
    problems = format_problems(inputs.facts, disclosed_sections(inputs.mapping_set), output_format)
    if problems:
        raise MappingInvalid(problems)
