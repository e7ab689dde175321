"""Load and validate a set of mapping files: YAML -> JSON Schema -> model -> meaning.

``load_mapping_set(paths)`` never raises for bad input: every problem of every file is collected
(``MappingSet.problems``), and the files that passed become ``Mapping`` models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import MappingInvalid, Problem, UnknownEntity
from engine.language import limits
from engine.language.loader import LoadedDocument, iter_mapping_files, load_yaml_file
from engine.language.model import Mapping, build_mapping
from engine.suggest import close_matches
from engine.validate.checks import CHECKS, CheckContext
from engine.validate.schema_check import schema_problems


@dataclass
class MappingSet:
    mappings: dict[str, Mapping] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    catalog_dir: Path | None = None  # the Salesforce catalog the mappings were checked against (None: the shipped one)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def raise_if_invalid(self) -> MappingSet:
        if not self.valid:
            raise MappingInvalid(self.problems)
        return self

    def get(self, entity: str) -> Mapping:
        if entity not in self.mappings:
            close = close_matches(entity, self.mappings)
            raise UnknownEntity(entity, sorted(self.mappings), close[0] if close else None)
        return self.mappings[entity]


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_document(path: Path) -> tuple[LoadedDocument, Mapping | None]:
    document = load_yaml_file(path, _display_name(path))
    if document.problems:
        return document, None
    if not isinstance(document.data, dict):
        document.problems.append(document.problem((), "expected a mapping with entity, source, target, fields"))
        return document, None
    fields = document.data.get("fields")
    if isinstance(fields, list) and len(fields) > limits.MAX_FIELDS:
        document.problems.append(document.problem(("fields",), f"{len(fields)} fields, more than "
                                                  f"{limits.MAX_FIELDS} ({limits.limit_text('MAX_FIELDS')})",
                                                  at_key=True))
        return document, None
    document.problems.extend(schema_problems(document))
    if document.problems:
        return document, None
    return document, build_mapping(document)


def _sibling_entities(paths: list[Path], loaded: dict[Path, LoadedDocument]) -> frozenset[str]:
    """Entity names declared by the mapping files beside the given ones (for cross-references).

    Read with the same bounded loader as the files themselves (a hostile sibling is no worse).
    """
    folders = {p.parent if p.is_file() else p for p in paths}
    names: set[str] = set()
    for folder in folders:
        for candidate in iter_mapping_files([folder]) if folder.is_dir() else ():
            document = loaded.get(candidate.resolve()) or load_yaml_file(candidate)
            data = document.data
            if isinstance(data, dict) and isinstance(data.get("entity"), str):
                names.add(data["entity"])
    return frozenset(names)


def load_mapping_set(
    paths: list[Path], catalog_dir: Path | None = None, languages: tuple[str, ...] = ()
) -> MappingSet:
    """Load and validate the mappings; `catalog_dir` replaces the shipped Salesforce catalog, and
    every mapping must give its texts in each of `languages` (the project's)."""
    result = MappingSet(catalog_dir=catalog_dir)
    models: list[Mapping] = []
    loaded: dict[Path, LoadedDocument] = {}
    for path in iter_mapping_files(paths):
        document, mapping = _load_document(path)
        loaded[path.resolve()] = document
        result.files.append(document.file)
        result.problems.extend(document.problems)
        if mapping is not None:
            models.append(mapping)
    for mapping in models:
        if mapping.entity in result.mappings:
            other = result.mappings[mapping.entity]
            result.problems.append(
                mapping.document.problem(("entity",), f"entity '{mapping.entity}' is also defined in {other.file}")
            )
            continue
        result.mappings[mapping.entity] = mapping
    context = CheckContext(result.mappings, _sibling_entities(paths, loaded), catalog_dir, languages)
    for mapping in result.mappings.values():
        for check in CHECKS:
            for finding in check(mapping, context):
                result.problems.append(
                    mapping.document.problem(
                        finding.path,
                        finding.message,
                        at_key=finding.at_key,
                        severity=finding.severity,
                        offset=finding.offset,
                    )
                )
    result.problems.sort()
    return result
