"""``zoomforce disclose``: the privacy disclosure generated from the mappings, or what changed (--diff)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.messages import say
from engine.cli.options import MAPPINGS_OPTION, write_output
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings


@click.command("disclose")
@MAPPINGS_OPTION
@CATALOG_OPTION
@PROJECT_OPTION
@click.option("--lang", "language", default=None,
              help="Language of the document (en, fr; default: the project's first language, else en).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["markdown", "html", "json", "fides"]),
    default="markdown",
    show_default=True,
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Jinja2 template to use instead of the built-in one (markdown and html).",
)
@click.option(
    "--diff",
    "old_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="List what changed in data handling from the mappings in OLD_DIR.",
)
@click.option("--exit-code", is_flag=True, help="With --diff: exit 1 when anything changed.")
def disclose(
    mappings_dir: Path | None,
    catalog_dir: Path | None,
    project_file: Path | None,
    language: str | None,
    output_format: str,
    output: Path | None,
    template: Path | None,
    old_dir: Path | None,
    exit_code: bool,
) -> None:
    """Generate the privacy disclosure from the mappings, or (--diff) what changed since OLD_DIR."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.disclosure.build import build_disclosure
    from engine.disclosure.diff import diff_mappings, render_diff
    from engine.disclosure.render import render
    from engine.validate.mapping_set import load_mapping_set

    settings = load_settings(project_file, mappings=mappings_dir, catalog=catalog_dir).usable()
    language = language or (settings.languages[0] if settings.languages else "en")
    current = load_mapping_set([settings.mappings], settings.catalog, settings.languages).raise_if_invalid()
    if old_dir is not None:  # the old mappings, checked against the same catalog (the org's, as it is now)
        previous = load_mapping_set([old_dir], settings.catalog).raise_if_invalid()
        changes = diff_mappings(previous, current, language)
        write_output(render_diff(changes, "json" if output_format == "json" else "markdown"), output)
        sys.exit(1 if exit_code and changes else 0)
    write_output(render(build_disclosure(current, language), output_format, template), output)
    if output is not None:
        say(f"zoomforce: disclosure written to {output}", event="disclosure.written", path=str(output))
