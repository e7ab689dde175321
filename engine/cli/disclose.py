"""``zoomforce disclose``: the privacy disclosure generated from the mappings, or what changed (--diff)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.messages import say
from engine.cli.options import MAPPINGS_OPTION, write_output
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings

FORMATS = ("markdown", "html", "json", "fides", "salesforce-permissionset")
DIFF_FORMATS = ("markdown", "json", "html")
TEMPLATE_FORMATS = ("markdown", "html")


def _check_usage(output_format: str, output: Path | None, template: Path | None, old_dir: Path | None,
                 exit_code: bool) -> None:
    if exit_code and old_dir is None:
        raise click.UsageError("--exit-code goes with --diff OLD_DIR")
    if old_dir is not None and output_format not in DIFF_FORMATS:
        raise click.UsageError(f"--diff renders {', '.join(DIFF_FORMATS)}, not --format {output_format}")
    if template is not None and (old_dir is not None or output_format not in TEMPLATE_FORMATS):
        raise click.UsageError("--template replaces the Markdown or HTML disclosure's template, not that of "
                               + ("--diff" if old_dir is not None else f"--format {output_format}"))
    if output_format == "salesforce-permissionset":
        if output is None:
            raise click.UsageError("--format salesforce-permissionset writes Salesforce DX source: give --output DIR")
        if output.exists() and not output.is_dir():
            raise click.UsageError(f"--output {output}: with --format salesforce-permissionset, a folder")
    elif output is not None and output.is_dir():
        raise click.UsageError(f"--output {output} is a folder; --format {output_format} writes one file")


@click.command("disclose")
@MAPPINGS_OPTION
@CATALOG_OPTION
@PROJECT_OPTION
@click.option("--lang", "language", default=None,
              help="Language of the document (en, fr; default: the project's first language, else en).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="The disclosure's format; with --diff, markdown, json or html.")
@click.option("--output", type=click.Path(path_type=Path),
              help="Write to FILE instead of stdout (for salesforce-permissionset: into the folder DIR).")
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Jinja2 template to use instead of the built-in one (markdown and html).",
)
@click.option(
    "--diff",
    "old_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="List every change of the disclosure since the mappings in OLD_DIR.",
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
    _check_usage(output_format, output, template, old_dir, exit_code)
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.disclosure.build import build_disclosure
    from engine.disclosure.diff import diff_disclosures
    from engine.disclosure.diff_render import render_diff
    from engine.disclosure.inputs import check_format, load_inputs, project_beside
    from engine.disclosure.permissionset import write_permission_set
    from engine.disclosure.render import render

    settings = load_settings(project_file, mappings=mappings_dir, catalog=catalog_dir).usable()
    language = language or (settings.languages[0] if settings.languages else "en")
    if old_dir is not None:  # the old side is checked against the same catalog (the org's, as it is now)
        previous = load_inputs(old_dir, context=f"the old side (--diff {old_dir}) does not load",
                               catalog_dir=settings.catalog, project=project_beside(old_dir))
        current = load_inputs(settings.mappings, context=f"the new side ({settings.mappings}) does not load",
                              catalog_dir=settings.catalog, project=settings.project, languages=settings.languages)
        changes = diff_disclosures(previous, current, language)
        write_output(render_diff(changes, output_format), output)
        sys.exit(1 if exit_code and changes.changed else 0)
    inputs = load_inputs(settings.mappings, catalog_dir=settings.catalog, project=settings.project,
                         languages=settings.languages)
    check_format(inputs, output_format)
    disclosure = build_disclosure(inputs.mapping_set, language, inputs.facts)
    if output_format == "salesforce-permissionset":
        assert output is not None
        written = write_permission_set(disclosure, output)
        say(f"zoomforce: permission set written to {written}", event="permissionset.written", path=str(written))
        return
    write_output(render(disclosure, output_format, template), output)
    if output is not None:
        say(f"zoomforce: disclosure written to {output}", event="disclosure.written", path=str(output))
