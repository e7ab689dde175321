"""What ``zoomforce disclose`` reads: the mapping set and the document-level facts, both validated,
every problem at its line (``MappingInvalid``, exit 2).

The facts are the project file's ``disclosure`` block; with no project file (or none there), the
mappings folder's ``disclosure.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.disclosure.facts import (
    DocumentFacts,
    FactsResult,
    disclosed_sections,
    find_facts_file,
    format_problems,
    load_document_facts,
    mapping_languages,
    set_problems,
)
from engine.errors import MappingInvalid, Problem
from engine.project.project_file import PROJECT_FILE, Project, load_project
from engine.validate.mapping_set import MappingSet, load_mapping_set

FACTS_KEY = "disclosure"


@dataclass(frozen=True)
class DisclosureInputs:
    mapping_set: MappingSet
    facts: DocumentFacts | None
    folder: Path
    facts_file: str | None = None  # where the facts were declared (None: nowhere)


def project_beside(folder: Path) -> Project | None:
    """The project of a mappings folder given alone (``--diff OLD``): a ``zoomforce.yaml`` in it or
    beside it, as a checkout of the base branch has it; None when there is none."""
    for candidate in (folder / PROJECT_FILE, folder.parent / PROJECT_FILE):
        if candidate.is_file():
            return load_project(candidate)
    return None


def facts_result(project: Project | None, folder: Path) -> FactsResult:
    """The document-level facts: the project file's ``disclosure`` block, else the folder's ``disclosure.yaml``."""
    if project is not None and project.document is not None and FACTS_KEY in project.document.data:
        return load_document_facts(project.document, base=(FACTS_KEY,))
    return load_document_facts(find_facts_file(folder))


def load_inputs(folder: Path, *, context: str = "", catalog_dir: Path | None = None, project: Project | None = None,
                languages: tuple[str, ...] = ()) -> DisclosureInputs:
    """The mappings and facts of `folder` (and `project`); MappingInvalid (naming `context`) when either
    does not load."""
    if project is not None and project.problems:
        raise MappingInvalid(sorted(project.problems), context)
    mapping_set = load_mapping_set([folder], catalog_dir, languages)
    facts = facts_result(project, folder)
    problems: list[Problem] = [*mapping_set.problems, *facts.problems]
    problems += set_problems(facts.facts, disclosed_sections(mapping_set), mapping_languages(mapping_set))
    if any(p.severity == "error" for p in problems):
        raise MappingInvalid(sorted(problems), context)
    return DisclosureInputs(mapping_set, facts.facts, folder, facts.file)


def check_format(inputs: DisclosureInputs, output_format: str) -> None:
    """Refuse, at their lines, the facts a format needs but the folder lacks (Fides: a legal basis
    and a retention per declaration, the DPO, the privacy policy, the responsibility, the recipients)."""
    if output_format != "fides":
        return
    if inputs.facts is None:
        where = inputs.folder / "disclosure.yaml"  # or the project file's `disclosure` block
        raise MappingInvalid([Problem(str(where), 1, 1, "the Fides export needs the document-level facts "
                                      "(legal basis, retention, DPO, privacy policy, recipients): declare them here")])
    problems = format_problems(inputs.facts, disclosed_sections(inputs.mapping_set), output_format)
    if problems:
        raise MappingInvalid(problems)
