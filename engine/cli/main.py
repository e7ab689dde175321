"""The ``zoomforce`` command line. The only module that imports click.

Every ZoomforceError becomes one readable line on standard error and its exit code (1 for
data errors, 2 for configuration and usage errors); no traceback reaches the user.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from engine import __version__
from engine.errors import InputError, MappingInvalid, RecordError, ZoomforceError
from engine.resources import default_mappings_dir


class ZoomforceGroup(click.Group):
    """Turns zoomforce's typed errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MappingInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(exc.exit_code)
        except ZoomforceError as exc:
            click.echo(f"zoomforce: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("zoomforce: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: still one line, and a distinct exit code
            if os.environ.get("ZOOMFORCE_DEBUG"):
                traceback.print_exc()
            click.echo(f"zoomforce: internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
            ctx.exit(70)


@click.group(cls=ZoomforceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoomforce")
def cli() -> None:
    """Declarative Zoom <-> Salesforce sync whose privacy disclosure is generated from its mappings."""


def resolve_mappings_dir(option: Path | None) -> Path:
    """``--mappings DIR``, else ``./mappings``, else the default mappings shipped with zoomforce."""
    if option is not None:
        return option
    local = Path("mappings")
    return local if local.is_dir() else default_mappings_dir()


@cli.command()
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
    from engine.validate.mapping_set import load_mapping_set
    from engine.validate.report import RENDERERS

    targets = list(paths) or [resolve_mappings_dir(None)]
    result = load_mapping_set(targets, catalog_dir)
    out = RENDERERS[output_format](result.problems)
    if output_format == "text":
        click.echo(out, nl=False, err=False)
        summary = f"{len(result.files)} file(s), {len(result.errors)} error(s), "
        summary += f"{len(result.problems) - len(result.errors)} warning(s)"
        click.echo(summary, err=True)
    else:
        click.echo(out, nl=False)
    sys.exit(0 if result.valid else 1)


def _read_input(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc.reason}") from exc


def _parse_parent(text: str | None) -> Any:
    if text is None:
        return None
    source = _read_input(text[1:]) if text.startswith("@") else text
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise InputError(f"--parent is not JSON: {exc.msg} at column {exc.colno}") from exc


@cli.command("map")
@click.argument("entity")
@click.option("--input", "input_path", default="-", show_default=True, help="JSON or JSON Lines file; - for stdin.")
@click.option(
    "--mappings",
    "mappings_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of mapping files (default ./mappings, else the built-in set).",
)
@click.option(
    "--parent", "parent_json", help="The parent's Zoom record as JSON (or @FILE), e.g. a registrant's webinar."
)
@click.option("--event", "event_type", help="Read a Zoom event notification of this type (the body or its record).")
@click.option("--reveal-secrets", is_flag=True, help="Print secret fields in clear instead of ***.")
@click.option("--run-time", help="The run's time (ISO-8601) for fields of scope 'run'; default now.")
def map_command(
    entity: str,
    input_path: str,
    mappings_dir: Path | None,
    parent_json: str | None,
    event_type: str | None,
    reveal_secrets: bool,
    run_time: str | None,
) -> None:
    """Map Zoom records read from --input (one record, an API response, or JSON Lines) to JSON Lines."""
    from engine.language.expressions import compile_expression
    from engine.language.inputs import read_records
    from engine.language.plan import RunContext, compile_plan, run_batch
    from engine.validate.mapping_set import load_mapping_set

    mapping_set = load_mapping_set([resolve_mappings_dir(mappings_dir)]).raise_if_invalid()
    mapping = mapping_set.get(entity)
    plan = compile_plan(mapping)
    parent = _parse_parent(parent_json)
    if event_type is None:
        records_expression = compile_expression(mapping.source.records) if mapping.source.records else None
        records = read_records(_read_input(input_path), records_expression)
    else:
        from engine.language.inputs import read_event_records

        records, parent = read_event_records(_read_input(input_path), mapping, event_type, parent)
    context = RunContext(parent=parent, run=_run_document(run_time))
    secrets = frozenset() if reveal_secrets else plan.secrets

    def emit(index: int, outcome: Any) -> None:
        if isinstance(outcome, RecordError):
            click.echo(f"zoomforce: error: {outcome}", err=True)
            return
        for warning in outcome.warnings:
            click.echo(f"zoomforce: warning: {plan.entity}: record {index}: {warning}", err=True)
        click.echo(json.dumps(outcome.as_json(secrets), ensure_ascii=False))

    result = run_batch(plan, records, context, on_record=emit, event=event_type)
    if result.errors:
        click.echo(f"zoomforce: {len(result.errors)} of {len(records)} record(s) could not be mapped", err=True)
        sys.exit(1)


@cli.command()
@click.option(
    "--mappings",
    "mappings_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of mapping files (default ./mappings, else the built-in set).",
)
@click.option("--lang", "language", default="en", show_default=True, help="Language of the document (en, fr).")
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
    language: str,
    output_format: str,
    output: Path | None,
    template: Path | None,
    old_dir: Path | None,
    exit_code: bool,
) -> None:
    """Generate the privacy disclosure from the mappings, or (--diff) what changed since OLD_DIR."""
    from engine.validate.mapping_set import load_mapping_set

    current = load_mapping_set([resolve_mappings_dir(mappings_dir)]).raise_if_invalid()
    if old_dir is not None:
        from engine.disclosure.diff import diff_mappings, render_diff

        previous = load_mapping_set([old_dir]).raise_if_invalid()
        changes = diff_mappings(previous, current, language)
        _write(render_diff(changes, "json" if output_format == "json" else "markdown"), output)
        sys.exit(1 if exit_code and changes else 0)
    from engine.disclosure.build import build_disclosure
    from engine.disclosure.render import render

    _write(render(build_disclosure(current, language), output_format, template), output)
    if output is not None:
        click.echo(f"zoomforce: disclosure written to {output}", err=True)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from exc


def _run_document(run_time: str | None) -> dict[str, Any]:
    from datetime import UTC, datetime

    from engine.errors import CoercionError
    from engine.language.coerce import format_sf_datetime, parse_time

    try:
        moment = parse_time(run_time) if run_time else datetime.now(UTC)
    except CoercionError as exc:
        raise InputError(f"--run-time: {exc}") from exc
    return {"run_time": format_sf_datetime(moment)}


def main() -> None:
    cli(prog_name="zoomforce")


def _register_network_commands() -> None:
    from engine.cli.catalog import catalog_group
    from engine.cli.sync import register

    register(cli)
    cli.add_command(catalog_group)


_register_network_commands()


if __name__ == "__main__":
    main()
