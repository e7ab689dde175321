"""The disclosure's document-level facts: declared once, validated like mappings, rendered everywhere.

Who is responsible (controller, DPO), which version is in force since when, the privacy policy, how
long each section's data is kept and on which legal basis, who receives it, and where it goes
abroad. They belong to the document rather than to one mapping, so they live in one place: the
``disclosure.yaml`` of the mappings folder, or a ``disclosure`` block of a larger YAML document
(the project file). ``load_document_facts`` reads either, with the same safe loader as the
mappings, and checks it against ``schemas/disclosure-facts.schema.json`` and for meaning; every
problem carries its file, line and column.

    result = load_document_facts(find_facts_file(folder))        # a disclosure.yaml, or None
    result = load_document_facts(project_document, base=("disclosure",))   # a block of a document
    problems = result.problems + set_problems(result.facts, section_keys, languages)
    problems += format_problems(result.facts, section_keys, "fides")       # what Fides needs besides
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.errors import Problem
from engine.language.loader import (
    DOCUMENT_FACTS_FILES,
    LoadedDocument,
    PathKey,
    is_document_facts_file,
    load_yaml_file,
    sub_document,
)
from engine.language.messages import catalog_languages, missing_messages
from engine.language.model import DEFAULT_LANGUAGES, Text
from engine.language.schema_checker import schema_checker
from engine.project.project_file import display_name
from engine.suggest import suggestion
from engine.validate.mapping_set import MappingSet
from engine.validate.schema_check import schema_problems

SCHEMA = "disclosure-facts.schema.json"
LEGAL_BASES = ("consent", "contract", "legal_obligation", "vital_interests", "public_interest", "legitimate_interests")


@dataclass(frozen=True)
class Party:
    name: str
    contact: str
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Retention:
    period: str  # an ISO 8601 duration: P2Y, P6M, P90D
    text: Text | None = None


@dataclass(frozen=True)
class LegalBasis:
    basis: str  # one of LEGAL_BASES
    text: Text | None = None


@dataclass(frozen=True)
class Recipient:
    name: str
    role: str  # controller, processor, sub_processor
    purpose: Text
    location: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Transfer:
    destination: str
    recipients: tuple[str, ...]
    mechanism: str  # adequacy_decision, sccs, bcrs, supplementary_measures, other
    safeguard: Text | None = None


@dataclass(frozen=True)
class DocumentFacts:
    """The facts as declared; ``document`` keeps their positions for later messages."""

    document: LoadedDocument
    languages: tuple[str, ...]
    version: str
    effective_date: str
    controller: Party
    dpo: Party | None = None
    privacy_policy: str | None = None
    responsibility: str | None = None
    retention_default: Retention | None = None
    retention_sections: MappingProxyType[str, Retention] = field(default_factory=lambda: MappingProxyType({}))
    legal_basis_default: LegalBasis | None = None
    legal_basis_sections: MappingProxyType[str, LegalBasis] = field(default_factory=lambda: MappingProxyType({}))
    recipients: tuple[Recipient, ...] = ()
    transfers: tuple[Transfer, ...] = ()

    @property
    def file(self) -> str:
        return self.document.file

    def retention_for(self, section: str) -> Retention | None:
        return self.retention_sections.get(section, self.retention_default)

    def legal_basis_for(self, section: str) -> LegalBasis | None:
        return self.legal_basis_sections.get(section, self.legal_basis_default)

    def problem(self, path: PathKey, message: str, *, at_key: bool = False, severity: str = "error") -> Problem:
        return self.document.problem(path, message, at_key=at_key, severity=severity)


@dataclass
class FactsResult:
    """What loading the facts gave: the facts (None when absent or invalid) and every problem."""

    facts: DocumentFacts | None
    problems: list[Problem]
    file: str | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def find_facts_file(folder: Path) -> Path | None:
    """The ``disclosure.yaml`` (or ``.yml``) of a mappings folder, if it has one."""
    for name in DOCUMENT_FACTS_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def plain_dates(value: Any) -> Any:
    """YAML's dates as the ``YYYY-MM-DD`` text the schema expects (the positions do not change)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain_dates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_dates(item) for item in value]
    return value


def load_document_facts(source: Path | LoadedDocument | None, *, base: PathKey = ()) -> FactsResult:
    """The facts in the file `source`, or in the block at `base` of an already loaded document.

    Never raises for bad input: every problem is in the result, with its line and column.
    """
    if source is None:
        return FactsResult(None, [], None)
    whole = load_yaml_file(source, display_name(source)) if isinstance(source, Path) else source
    if whole.problems:
        return FactsResult(None, list(whole.problems), whole.file)
    document = sub_document(whole, base) if base else whole
    document.data = plain_dates(document.data)
    if not isinstance(document.data, dict):
        problem = document.problem((), "expected a mapping with document, controller and the other disclosure facts")
        return FactsResult(None, [problem], document.file)
    problems = schema_problems(document, schema_checker(SCHEMA))
    if problems:
        return FactsResult(None, problems, document.file)
    facts = _build(document)
    problems = sorted(_meaning_problems(facts))
    return FactsResult(facts if not any(p.severity == "error" for p in problems) else None, problems, document.file)


def _text(value: dict[str, str] | None) -> Text | None:
    return Text.of(value)


def _required_text(value: dict[str, str]) -> Text:
    return Text(MappingProxyType(dict(value)))


def _party(data: dict[str, Any] | None) -> Party | None:
    if data is None:
        return None
    return Party(data["name"], data["contact"], data.get("address"), data.get("url"))


def _build(document: LoadedDocument) -> DocumentFacts:
    data = document.data
    retention = data.get("retention", {})
    legal = data.get("legal_basis", {})

    def retention_of(item: dict[str, Any] | None) -> Retention | None:
        return None if item is None else Retention(item["period"], _text(item.get("text")))

    def basis_of(item: dict[str, Any] | None) -> LegalBasis | None:
        return None if item is None else LegalBasis(item["basis"], _text(item.get("text")))

    controller = _party(data["controller"])
    assert controller is not None  # required by the schema
    return DocumentFacts(
        document=document,
        languages=tuple(data.get("languages", DEFAULT_LANGUAGES)),
        version=data["document"]["version"],
        effective_date=data["document"]["effective_date"],
        controller=controller,
        dpo=_party(data.get("dpo")),
        privacy_policy=data.get("privacy_policy"),
        responsibility=data.get("responsibility"),
        retention_default=retention_of(retention.get("default")),
        retention_sections=MappingProxyType(
            {key: Retention(item["period"], _text(item.get("text")))
             for key, item in retention.get("sections", {}).items()}
        ),
        legal_basis_default=basis_of(legal.get("default")),
        legal_basis_sections=MappingProxyType(
            {key: LegalBasis(item["basis"], _text(item.get("text"))) for key, item in legal.get("sections", {}).items()}
        ),
        recipients=tuple(
            Recipient(r["name"], r["role"], _required_text(r["purpose"]), r.get("location"), r.get("url"))
            for r in data.get("recipients", ())
        ),
        transfers=tuple(
            Transfer(t["destination"], tuple(t["recipients"]), t["mechanism"], _text(t.get("safeguard")))
            for t in data.get("transfers", ())
        ),
    )


def _texts(facts: DocumentFacts) -> Iterator[tuple[PathKey, Text]]:
    for key, retention in (("default", facts.retention_default), *facts.retention_sections.items()):
        if retention is not None and retention.text is not None:
            yield ("retention", "default") if key == "default" else ("retention", "sections", key), retention.text
    for key, legal in (("default", facts.legal_basis_default), *facts.legal_basis_sections.items()):
        if legal is not None and legal.text is not None:
            yield ("legal_basis", "default") if key == "default" else ("legal_basis", "sections", key), legal.text
    for i, recipient in enumerate(facts.recipients):
        yield ("recipients", i, "purpose"), recipient.purpose
    for i, transfer in enumerate(facts.transfers):
        if transfer.safeguard is not None:
            yield ("transfers", i, "safeguard"), transfer.safeguard


def _meaning_problems(facts: DocumentFacts) -> Iterator[Problem]:
    known = catalog_languages()
    for language in facts.languages:
        if language not in known:
            yield facts.problem(("languages",), f"the disclosure has no messages in '{language}' "
                                f"(available: {', '.join(sorted(known))})")
        elif missing := missing_messages(language):
            yield facts.problem(("languages",), f"the '{language}' disclosure messages lack: {', '.join(missing)}")
    for path, text in _texts(facts):
        located: PathKey = (*path, "text") if path[0] in ("retention", "legal_basis") else path
        for language in facts.languages:
            if language not in text.by_language:
                yield facts.problem(located, f"missing the '{language}' translation (languages: "
                                    f"{', '.join(facts.languages)})")
    try:
        dt.date.fromisoformat(facts.effective_date)
    except ValueError:
        yield facts.problem(("document", "effective_date"), f"'{facts.effective_date}' is not a date of the calendar")
    yield from _example_addresses(facts)
    names = [r.name for r in facts.recipients]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield facts.problem(("recipients", i, "name"), f"recipient '{name}' is declared twice")
    for i, transfer in enumerate(facts.transfers):
        for j, name in enumerate(transfer.recipients):
            if name not in names:
                hint = suggestion(name, names)
                yield facts.problem(("transfers", i, "recipients", j),
                                    f"'{name}' is not one of the recipients{hint}")


EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606: reserved for examples


def _is_example(value: str | None) -> bool:
    if not value:
        return False
    host = value.rsplit("@", 1)[-1].split("//", 1)[-1].split("/", 1)[0].lower()
    return host.endswith(".example") or any(host == d or host.endswith("." + d) for d in EXAMPLE_DOMAINS)


def _example_addresses(facts: DocumentFacts) -> Iterator[Problem]:
    found: list[tuple[PathKey, str | None]] = [(("privacy_policy",), facts.privacy_policy)]
    for name, party in (("controller", facts.controller), ("dpo", facts.dpo)):
        if party is not None:
            found += [((name, "contact"), party.contact), ((name, "url"), party.url)]
    for path, value in found:
        if _is_example(value):
            yield facts.problem(path, f"'{value}' is an example address: replace it with your organisation's "
                                "before you publish the disclosure", severity="warning")


def set_problems(facts: DocumentFacts | None, sections: Iterable[str], languages: Iterable[str]) -> list[Problem]:
    """The facts against the mapping set: a retention or legal basis for a section no enabled
    mapping has (a warning: a disabled entity leaves it unused), and a language of the mappings the
    facts lack."""
    if facts is None:
        return []
    keys = sorted(set(sections))
    found: list[Problem] = []
    for block, table in (("retention", facts.retention_sections), ("legal_basis", facts.legal_basis_sections)):
        for key in table:
            if key not in keys:
                hint = suggestion(key, keys) or f" (sections: {', '.join(keys)})"
                message = f"no enabled mapping has the section '{key}', so this {block} is not used{hint}"
                found.append(facts.problem((block, "sections", key), message, at_key=True, severity="warning"))
    for language in sorted(set(languages) - set(facts.languages)):
        found.append(facts.problem(("languages",) if "languages" in facts.document.data else (),
                                   f"the mappings are in '{language}' but the disclosure facts are not "
                                   f"(languages: {', '.join(facts.languages)})"))
    return sorted(found)


def format_problems(facts: DocumentFacts | None, sections: Iterable[str], output_format: str) -> list[Problem]:
    """The facts `output_format` needs besides those every format needs. The Fides manifests fill
    a legal basis and a retention period per privacy declaration (one per section), the DPO, the
    privacy policy, the responsibility and the third parties."""
    if output_format != "fides" or facts is None:
        return []
    found: list[Problem] = []
    for key in sections:
        for block, what, missing in (("legal_basis", "legal basis", facts.legal_basis_for(key) is None),
                                     ("retention", "retention", facts.retention_for(key) is None)):
            if missing:
                declared = block in facts.document.data
                found.append(facts.problem((block,) if declared else (), f"section '{key}' has no {what} ({block}."
                                           f"default or {block}.sections.{key}): the Fides export needs one per "
                                           "declaration", at_key=declared))
    for name, what in (("dpo", "dpo"), ("privacy_policy", "privacy_policy"), ("responsibility", "responsibility"),
                       ("recipients", "third_parties")):
        if not facts.document.data.get(name):
            found.append(facts.problem((), f"'{name}' is not declared: the Fides system needs it for '{what}'"))
    return found


def disclosed_sections(mapping_set: MappingSet) -> list[str]:
    """The section keys of the enabled mappings the disclosure covers, in document order."""
    mappings = sorted((m for m in mapping_set.mappings.values() if m.enabled and m.disclosure),
                      key=lambda m: (m.disclosure.order if m.disclosure else 0, m.entity))
    return list(dict.fromkeys(m.disclosure.section for m in mappings if m.disclosure))


def mapping_languages(mapping_set: MappingSet) -> list[str]:
    return sorted({language for m in mapping_set.mappings.values() if m.enabled for language in m.languages})


def facts_files(paths: Iterable[Path]) -> list[Path]:
    """The facts files among `paths`: a folder's ``disclosure.yaml``, or such a file given itself."""
    found: list[Path] = []
    for path in paths:
        candidate = find_facts_file(path) if path.is_dir() else (path if is_document_facts_file(path) else None)
        if candidate is not None and candidate not in found:
            found.append(candidate)
    return found


def validate_facts(paths: Iterable[Path], mapping_set: MappingSet) -> tuple[list[str], list[Problem]]:
    """What ``zoomforce validate`` adds for the facts among `paths`: their files, and every problem,
    with what a Fides export would still need as warnings."""
    files: list[str] = []
    problems: list[Problem] = []
    sections = disclosed_sections(mapping_set)
    for path in facts_files(paths):
        result = load_document_facts(path)
        files.append(result.file or str(path))
        problems += result.problems
        if not mapping_set.mappings:
            continue  # the facts file alone: nothing to hold its sections and languages against
        problems += set_problems(result.facts, sections, mapping_languages(mapping_set))
        problems += [replace(p, severity="warning") for p in format_problems(result.facts, sections, "fides")]
    return files, problems


def validate_project_facts(document: LoadedDocument | None, mapping_set: MappingSet) -> list[Problem]:
    """What ``zoomforce validate`` adds for a project file's ``disclosure`` block: its problems at their
    lines, and (as warnings) what a Fides export would still need."""
    if document is None or not isinstance(document.data, dict) or "disclosure" not in document.data:
        return []
    result = load_document_facts(document, base=("disclosure",))
    problems = list(result.problems)
    if mapping_set.mappings:
        sections = disclosed_sections(mapping_set)
        problems += set_problems(result.facts, sections, mapping_languages(mapping_set))
        problems += [replace(p, severity="warning") for p in format_problems(result.facts, sections, "fides")]
    return problems
