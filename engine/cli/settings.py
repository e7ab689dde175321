"""What a command runs with: its own options, else the project file (``zoomforce.yaml``), else the defaults.

Every command that loads mappings takes ``--project FILE`` (or ``ZOOMFORCE_PROJECT``; by default
the nearest ``zoomforce.yaml`` from the working directory up) and ``--catalog DIR``. With no project
file, today's defaults hold: ``./mappings`` (else the built-in set), the shipped catalog,
``./zoomforce.db``. ``validate`` reports the project's problems with the mappings' (exit 1); the
other commands refuse a project they cannot use with ``ProjectInvalid`` (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.errors import Problem, ProjectInvalid
from engine.resources import default_mappings_dir

if TYPE_CHECKING:
    from engine.project.project_file import Project

DEFAULT_STATE = Path("zoomforce.db")

PROJECT_OPTION = click.option(
    "--project",
    "project_file",
    type=click.Path(path_type=Path),
    envvar="ZOOMFORCE_PROJECT",
    help="The project file (default: the nearest zoomforce.yaml from the working directory up; "
         "also ZOOMFORCE_PROJECT).",
)
CATALOG_OPTION = click.option(
    "--catalog",
    "catalog_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Salesforce object catalog to check the mappings against (default: the project's, else the shipped one).",
)


@dataclass(frozen=True)
class Settings:
    """The folders and files one command uses, each from its option, the project or the default."""

    project: Project
    mappings: Path
    catalog: Path | None  # None: the catalog shipped with zoomforce
    state: Path | str  # a SQLite file, or a PostgreSQL URL
    languages: tuple[str, ...] = ()
    api_version: str | None = None
    problems: list[Problem] = field(default_factory=list)  # the project file's and the catalog's

    def usable(self) -> Settings:
        """These settings, or ProjectInvalid (exit 2) with every problem of the project and its catalog."""
        if self.problems:
            raise ProjectInvalid(self.problems)
        return self


def load_settings(
    project_file: Path | None,
    *,
    mappings: Path | None = None,
    catalog: Path | None = None,
    state: Path | str | None = None,
    creates_catalog: bool = False,
) -> Settings:
    """The settings of a command from its options and the project file it finds.

    `creates_catalog` (``catalog pull``): the project's catalog folder is written, not read: that it does
    not exist yet, or holds a file that is not JSON, is not a problem.
    """
    # Deferred for start-up speed: `zoomforce --help` loads none of the engine (nor jsonschema).
    from engine.project.project_file import find_project_file, load_project
    from engine.salesforce.catalog import catalog_problems

    project = load_project(find_project_file(Path.cwd(), project_file))
    problems = project.problems_except("catalog") if creates_catalog else list(project.problems)
    chosen_catalog = catalog or project.catalog
    if chosen_catalog is not None and chosen_catalog.is_dir() and not creates_catalog:
        problems += catalog_problems(chosen_catalog)
    return Settings(
        project=project,
        mappings=mappings or project.mappings or _local_mappings(),
        catalog=chosen_catalog,
        state=state or project.state or DEFAULT_STATE,
        languages=project.languages,
        api_version=project.api_version,
        problems=problems,
    )


def _local_mappings() -> Path:
    local = Path("mappings")
    return local if local.is_dir() else default_mappings_dir()
