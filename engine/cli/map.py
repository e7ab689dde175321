"""``zoomforce map``: Zoom records (one, an API response, or JSON Lines) through a mapping, to JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from engine.cli.messages import say
from engine.cli.options import MAPPINGS_OPTION, read_input
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings
from engine.errors import CoercionError, InputError, RecordError


def _parse_parent(text: str | None) -> Any:
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    if text is None:
        return None
    from engine.language.safe_json import check_record, loads  # deferred: start-up speed

    source = read_input(text[1:]) if text.startswith("@") else text
    try:
        parent = loads(source)
        check_record(parent)
    except json.JSONDecodeError as exc:
        raise InputError(f"--parent is not JSON: {exc.msg} at column {exc.colno}") from exc
    except RecordError as exc:
        raise InputError(f"--parent: {exc.reason}") from exc
    return parent


@click.command("map")
@click.argument("entity")
@click.option("--input", "input_path", default="-", show_default=True, help="JSON or JSON Lines file; - for stdin.")
@MAPPINGS_OPTION
@CATALOG_OPTION
@PROJECT_OPTION
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
    catalog_dir: Path | None,
    project_file: Path | None,
    parent_json: str | None,
    event_type: str | None,
    reveal_secrets: bool,
    run_time: str | None,
) -> None:
    """Map Zoom records read from --input (one record, an API response, or JSON Lines) to JSON Lines."""
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.language.expressions import compile_expression
    from engine.language.inputs import read_event_records
    from engine.language.plan import RunContext, compile_plan
    from engine.language.streaming import iter_certified_records, map_each
    from engine.validate.mapping_set import load_mapping_set

    settings = load_settings(project_file, mappings=mappings_dir, catalog=catalog_dir).usable()
    mapping_set = load_mapping_set([settings.mappings], settings.catalog, settings.languages).raise_if_invalid()
    mapping = mapping_set.get(entity)
    plan = compile_plan(mapping)
    parent = _parse_parent(parent_json)
    records: Iterable[tuple[Any, bool]]  # each with whether its document is certified (no record check)
    if event_type is None:  # streamed: each record is mapped and written as its line is read
        records_expression = compile_expression(mapping.source.records) if mapping.source.records else None
        records = iter_certified_records(_input_lines(input_path), records_expression)
    else:
        found, parent = read_event_records(read_input(input_path), mapping, event_type, parent)
        records = ((record, False) for record in found)
    context = RunContext(parent=parent, run=_run_document(run_time))
    secrets = None if reveal_secrets else plan.secrets

    def emit(index: int, outcome: Any) -> None:
        if isinstance(outcome, RecordError):
            say(f"zoomforce: error: {outcome}", level="error", event="record.error", **outcome.as_json())
            return
        for warning in outcome.warnings:
            say(f"zoomforce: warning: {plan.entity}: record {index}: {warning}", level="warning",
                event="record.warning", entity=plan.entity, index=index)
        click.echo(json.dumps(outcome.as_json(secrets), ensure_ascii=False))

    # `source.each`: a recorded meeting's files, each one mapped with its meeting as parent
    each = mapping.source.each if event_type is None else None
    count, failed = map_each(plan, records, context, emit, event=event_type, each=each)
    if failed:
        say(f"zoomforce: {failed} of {count} record(s) could not be mapped", level="error",
            event="map.failed", failed=failed, records=count)
        sys.exit(1)


def _input_lines(path: str) -> Iterator[str]:
    """The lines of FILE or of standard input (``-``), read as they are needed; InputError if unreadable."""
    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        yield from stream
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    finally:
        if stream is not sys.stdin:
            stream.close()


def _run_document(run_time: str | None) -> dict[str, Any]:
    from engine.language.coerce import format_sf_datetime, parse_time  # deferred: start-up speed

    try:
        moment = parse_time(run_time) if run_time else datetime.now(UTC)
    except CoercionError as exc:
        raise InputError(f"--run-time: {exc}") from exc
    return {"run_time": format_sf_datetime(moment)}
