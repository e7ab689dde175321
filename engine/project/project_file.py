"""The project file, ``zoomforce.yaml``, at the root of an integrator's repository.

It names the mappings folder, the Salesforce catalog folder, the state, the languages of the
disclosure, the Salesforce API version, and the disclosure's document-level facts (``disclosure``,
an object kept as it is for the disclosure to read). Its schema is ``schemas/project.schema.json``.

    path = find_project_file(Path.cwd(), explicit=None, env=os.environ)
    project = load_project(path)        # Project.none() when path is None
    project.problems                    # every problem at file:line:col; empty when usable

A command finds the file by walking up from the working directory to the root of the repository
(the first folder with a ``.git``) or of the file system; ``--project FILE`` or
``ZOOMFORCE_PROJECT`` name it instead. Paths in the file are relative to the file's folder.
Loading never raises for bad input: every problem is collected, with its position.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from engine.errors import Problem
from engine.language.loader import LoadedDocument, SourceMap, load_yaml_file
from engine.language.schema_checker import SchemaChecker, schema_checker
from engine.resources import is_state_url

PROJECT_FILE = "zoomforce.yaml"
PROJECT_ENV = "ZOOMFORCE_PROJECT"
SCHEMA_FILE = "project.schema.json"
DEFAULT_STATE = "zoomforce.db"  # beside the project file, when it names none
DEFAULT_MAPPINGS = "mappings"  # beside the project file, when it names none and that folder exists
_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Project:
    """What a project file sets; None (or empty) for what it leaves to the defaults."""

    file: Path | None = None
    display: str = ""
    mappings: Path | None = None
    catalog: Path | None = None
    state: Path | str | None = None  # a SQLite file, or a PostgreSQL URL as written
    languages: tuple[str, ...] = ()
    api_version: str | None = None
    zoom_plan: str | None = None  # the rate limits `sync` keeps (`zoom: {plan: ...}`); --zoom-plan wins
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)  # `sync --account NAME`
    problems: tuple[Problem, ...] = ()
    document: LoadedDocument | None = field(default=None, compare=False, repr=False)  # positions of the keys

    @classmethod
    def none(cls) -> Project:
        """No project file: every command keeps its built-in defaults."""
        return cls()

    @property
    def disclosure(self) -> Mapping[str, Any]:
        """The ``disclosure`` block as written (its positions are in `document`); empty when there is none."""
        data = self.document.data if self.document is not None else None
        block = data.get("disclosure") if isinstance(data, dict) else None
        return MappingProxyType(dict(block)) if isinstance(block, dict) else _EMPTY

    @property
    def root(self) -> Path | None:
        return self.file.parent if self.file is not None else None

    def problems_except(self, *keys: str) -> list[Problem]:
        """The problems, leaving out those about the given top-level keys (``catalog pull`` creates its folder)."""
        return [p for p in self.problems if p.path.split(".")[0].split("[")[0] not in keys]


def project_checker() -> SchemaChecker:
    return schema_checker(SCHEMA_FILE)  # checked against the meta-schema in tests/test_schemas_valid.py


def find_project_file(start: Path, explicit: Path | None = None, env: Mapping[str, str] = os.environ) -> Path | None:
    """The project file: `explicit`, else ``$ZOOMFORCE_PROJECT``, else the nearest ``zoomforce.yaml``
    from `start` up to the repository's root (a folder with ``.git``) or the file system's."""
    if explicit is not None:
        return explicit
    named = (env.get(PROJECT_ENV) or "").strip()
    if named:
        return Path(named)
    folder = start.resolve()
    while True:
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent


def display_name(path: Path) -> str:
    """`path` as messages name it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _is_empty(path: Path) -> bool:
    """A file with nothing but comments: a project that keeps every default."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) is None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False


def load_project(path: Path | None) -> Project:
    """The project at `path` (``Project.none()`` for None), with every problem of the file."""
    if path is None:
        return Project.none()
    display = display_name(path)
    if path.is_file() and _is_empty(path):
        return _project(path.resolve(), display, LoadedDocument(display, {}, SourceMap()))
    if path.is_dir():
        return Project(file=None, display=display, problems=(
            Problem(display, 1, 1, f"is a folder: --project and {PROJECT_ENV} name the project file "
                                   f"({PROJECT_FILE}) itself"),))
    document = load_yaml_file(path, display)
    if document.problems:
        return Project(file=path.resolve(), display=display, problems=tuple(document.problems))
    if not isinstance(document.data, dict):
        problem = document.problem((), "expected a mapping of settings (mappings, catalog, state, languages, ...)")
        return Project(file=path.resolve(), display=display, problems=(problem,))
    problems = project_checker().problems(document)
    if problems:
        return Project(file=path.resolve(), display=display, problems=tuple(problems))
    return _project(path.resolve(), display, document)


def _project(file: Path, display: str, document: LoadedDocument) -> Project:
    data: dict[str, Any] = document.data
    root = file.parent
    problems: list[Problem] = []

    def folder(key: str) -> Path | None:
        if key not in data:
            return None
        resolved = (root / str(data[key])).resolve()
        if not resolved.is_dir():
            what = "is not a folder" if resolved.exists() else "does not exist"
            problems.append(document.problem((key,), f"{key} folder '{data[key]}' {what} (looked for {resolved})"))
        return resolved

    mappings, catalog = folder("mappings"), folder("catalog")
    if mappings is None and (root / DEFAULT_MAPPINGS).is_dir():
        mappings = root / DEFAULT_MAPPINGS
    written = str(data.get("state", DEFAULT_STATE))
    # A PostgreSQL URL as written, for the state layer to open; anything else a file beside this one.
    state: Path | str = written if is_state_url(written) else (root / written).resolve()
    return Project(
        file=file,
        display=display,
        mappings=mappings,
        catalog=catalog,
        state=state,
        languages=tuple(data.get("languages", ())),
        api_version=(data.get("salesforce") or {}).get("api_version"),
        zoom_plan=(data.get("zoom") or {}).get("plan"),
        accounts=MappingProxyType({str(name): MappingProxyType(dict(value or {}))
                                   for name, value in (data.get("accounts") or {}).items()}),
        problems=tuple(problems),
        document=document,
    )
