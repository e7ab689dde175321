"""``zoomforce validate``: check mapping files, with ``FILE:LINE:COL`` errors, as text, JSON or annotations."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.options import resolve_mappings_dir


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--catalog",
    "catalog_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Salesforce object catalog to check against (e.g. from `zoomforce catalog pull`); default the shipped one.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: FILE:LINE:COL lines; json: {valid, errors}; github: workflow annotations.",
)
def validate(paths: tuple[Path, ...], catalog_dir: Path | None, output_format: str) -> None:
    """Check mapping files or folders (default ./mappings). Exit 0 valid, 1 errors, 2 usage."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.disclosure.facts import validate_facts
    from engine.validate.mapping_set import load_mapping_set
    from engine.validate.report import RENDERERS

    targets = list(paths) or [resolve_mappings_dir(None)]
    result = load_mapping_set(targets, catalog_dir)
    facts_files, facts_problems = validate_facts(targets, result)
    problems = sorted(result.problems + facts_problems)
    errors = [p for p in problems if p.severity == "error"]
    out = RENDERERS[output_format](problems)
    if output_format == "text":
        click.echo(out, nl=False, err=False)
        summary = f"{len(result.files) + len(facts_files)} file(s), {len(errors)} error(s), "
        summary += f"{len(problems) - len(errors)} warning(s)"
        click.echo(summary, err=True)
    else:
        click.echo(out, nl=False)
    sys.exit(1 if errors else 0)
