"""``zoomforce validate``: check mapping files, with ``FILE:LINE:COL`` errors, as text, JSON or annotations.

The project file (``zoomforce.yaml``) and the Salesforce catalog it names are checked too: their
problems are reported with the mappings' and, like them, make the exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.messages import say
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@CATALOG_OPTION
@PROJECT_OPTION
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: FILE:LINE:COL lines; json: {valid, errors}; github: workflow annotations.",
)
def validate(paths: tuple[Path, ...], catalog_dir: Path | None, project_file: Path | None, output_format: str) -> None:
    """Check mapping files or folders (default: the project's, else ./mappings). Exit 0 valid, 1 errors, 2 usage."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.disclosure.facts import validate_facts, validate_project_facts
    from engine.validate.mapping_set import MappingSet, load_mapping_set
    from engine.validate.report import RENDERERS

    settings = load_settings(project_file, catalog=catalog_dir)
    project_broken = bool(settings.project.problems)
    targets = list(paths) or [settings.mappings]
    if project_broken and not paths:  # the project names no usable folder: nothing else to check
        result = MappingSet()
    else:
        result = load_mapping_set(targets, settings.catalog, settings.languages)
    facts_files, facts_problems = validate_facts(targets, result)
    if not project_broken:  # the project file's `disclosure` block, at its lines
        facts_problems += validate_project_facts(settings.project.document, result)
    problems = sorted([*settings.problems, *result.problems, *facts_problems])
    files = len(result.files) + len(facts_files) + (1 if settings.project.file is not None or project_broken else 0)
    errors = [p for p in problems if p.severity == "error"]
    out = RENDERERS[output_format](problems)
    if output_format == "text":
        click.echo(out, nl=False, err=False)
        summary = f"{files} file(s), {len(errors)} error(s), {len(problems) - len(errors)} warning(s)"
        say(summary, event="validate.summary", files=files, errors=len(errors),
            warnings=len(problems) - len(errors))
    else:
        click.echo(out, nl=False)
    sys.exit(1 if errors else 0)
