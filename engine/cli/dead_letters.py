"""``zoomforce dead-letters``: see, retry, set aside and purge the records that could not be written.

    list     [--entity E] [--code C] [--status open|resolved|discarded|all] [--format text|json]
    show     ID [--format text|json]       the error, every attempt, the kept evidence (secrets as ***)
    retry    [ID ...] [--dry-run]          map with the current mappings and write (all open letters: no ID)
    discard  ID ... --reason TEXT          kept, marked discarded with the reason: never deleted silently
    purge    --older-than DAYS             delete letters resolved or discarded longer ago than that

Each takes ``--state``. Reading commands (list, show, retry --dry-run) work on a copy of the state:
they never change the file. ``retry`` takes the state's run lock, like ``sync`` (exit 3 when
another run holds it), and exits 0 when every letter was written, 1 when some failed again.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.accounts import salesforce_org
from engine.cli.messages import stderr_failures, stderr_progress
from engine.cli.options import (
    MAPPINGS_OPTION,
    STATE_OPTION,
    StateLocation,
    held,
    open_state,
    sigterm_as_interrupt,
)
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings
from engine.errors import ConfigError, InputError, UnknownDeadLetter

if TYPE_CHECKING:
    from engine.sync.state.dead_letters import DeadLetter
    from engine.sync.state.store import StateStore

STATUSES = ("open", "resolved", "discarded", "all")
MESSAGE_WIDTH = 100
FORMAT_OPTION = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="text for people, json for tools.")


def _existing(state_path: StateLocation | None) -> StateLocation:
    """``--state``, else the project file's state, else ``./zoomforce.db``: a file must exist."""
    chosen = load_settings(None, state=state_path).state
    if isinstance(chosen, Path) and not chosen.exists():
        raise InputError(f"no state database at {chosen} (give the one `zoomforce sync --state` writes)")
    return chosen


def _letter(store: StateStore, dead_id: int) -> DeadLetter:
    letter = store.dead_letters.get(dead_id)
    if letter is None:
        raise UnknownDeadLetter(dead_id, store.path)
    return letter


def _one_line(text: str, width: int = MESSAGE_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


@click.group("dead-letters")
def dead_letters_group() -> None:
    """See, retry, set aside and purge the records that could not be read, mapped or written."""


@dead_letters_group.command("list")
@STATE_OPTION
@click.option("--entity", help="Only this entity's letters.")
@click.option("--code", help="Only letters whose latest error has this code (STRING_TOO_LONG, MAPPING_MISSING ...).")
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True,
              help="open: still missing from the target; resolved: written since; discarded: set aside.")
@FORMAT_OPTION
def list_command(state_path: StateLocation | None, entity: str | None, code: str | None, status: str,
                 output_format: str) -> None:
    """The dead letters, oldest first: id, status, entity, key, error code, attempts, latest error."""
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    with open_state(_existing(state_path), dry_run=True) as store:
        letters = store.dead_letters.find(entity, None if status == "all" else status, code)  # type: ignore[arg-type]
    if output_format == "json":
        click.echo(json.dumps({"dead_letters": [d.as_json() for d in letters], "count": len(letters)},
                              ensure_ascii=False))
        return
    if not letters:
        click.echo(f"no dead letters ({status})", err=True)
        return
    rows = [("ID", "STATUS", "ENTITY", "KEY", "CODE", "ATTEMPTS", "UPDATED", "ERROR")]
    rows += [(str(d.id), d.status, d.entity, d.key or "-", d.code, str(d.attempts), d.updated_at,
              _one_line(d.message)) for d in letters]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


@dead_letters_group.command("show")
@click.argument("dead_id", metavar="ID", type=int)
@STATE_OPTION
@FORMAT_OPTION
def show_command(dead_id: int, state_path: StateLocation | None, output_format: str) -> None:
    """One dead letter: its error, every attempt, and the evidence kept (secrets as ***)."""
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    # Deferred for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.secrets import credential_keys, redact

    with open_state(_existing(state_path), dry_run=True) as store:
        letter = _letter(store, dead_id)
        attempts = store.dead_letters.attempts(dead_id)
    evidence = redact(letter.record, credential_keys())
    if output_format == "json":
        document = letter.as_json() | {"record": evidence, "history": [a.as_json() for a in attempts]}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    lines = [f"dead letter {letter.id}: {letter.status}",
             f"entity:   {letter.entity}",
             f"key:      {letter.key or '-'}",
             f"code:     {letter.code}",
             f"error:    {letter.message}",
             f"attempts: {letter.attempts} (first {letter.created_at}, latest {letter.updated_at})"]
    if letter.resolved_at:
        lines.append(f"resolved: {letter.resolved_at} (run {letter.resolved_run_id})")
    if letter.discarded_at:
        lines.append(f"discarded: {letter.discarded_at}: {letter.discard_reason}")
    if attempts:
        lines.append("history:")
        lines += [f"  {a.at}  {a.code}: {_one_line(a.message, 160)}" + (f" (run {a.run_id})" if a.run_id else "")
                  for a in attempts]
    lines.append("evidence (what the mapping reads of the record and its parent):")
    lines += ["  " + line for line in json.dumps(evidence, ensure_ascii=False, indent=2, sort_keys=True).splitlines()]
    click.echo("\n".join(lines))


@dead_letters_group.command("retry")
@click.argument("dead_ids", metavar="[ID]...", nargs=-1, type=int)
@STATE_OPTION
@MAPPINGS_OPTION
@CATALOG_OPTION
@PROJECT_OPTION
@click.option("--dry-run", is_flag=True, help="Show, per letter, what would be created or updated; change nothing.")
@click.option("--summary", "summary_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="As sync's: json prints {entities: {NAME: {read, written, unchanged, failed}}, api_calls}.")
@click.option("--wait", "wait_seconds", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for another run that holds the state's lock; then exit 3.")
def retry_command(dead_ids: tuple[int, ...], state_path: StateLocation | None, mappings_dir: Path | None,
                  catalog_dir: Path | None, project_file: Path | None, dry_run: bool, summary_format: str,
                  wait_seconds: float) -> None:
    """Map the open dead letters (all, or those given) with the current mappings and write them to Salesforce.

    Exit 0 when every one was written, 1 when some failed again (they stay open), 3 when another run
    holds the state's lock.
    """
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    # Deferred for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.cli.connect import salesforce_from_env
    from engine.sync.output import planned_lines, summary_json, summary_text
    from engine.sync.runner import SyncOptions, SyncRunner, default_entities, ordered_entities
    from engine.validate.mapping_set import load_mapping_set

    settings = load_settings(project_file, mappings=mappings_dir, catalog=catalog_dir, state=state_path).usable()
    mapping_set = load_mapping_set([settings.mappings], settings.catalog, settings.languages).raise_if_invalid()
    state_path = _existing(settings.state)
    with open_state(state_path, dry_run=True) as copy:
        entities = _retry_entities(copy, dead_ids, set(default_entities(mapping_set)))
    if not entities:
        click.echo("zoomforce: no open dead letter to retry", err=True)
        if summary_format == "json":
            click.echo(json.dumps({"entities": {}, "api_calls": {"zoom": 0, "salesforce": 0}}))
        return
    salesforce = salesforce_from_env(os.environ, required=not dry_run, api_version=settings.api_version)
    progress = stderr_progress()
    failures = stderr_failures(progress, kept=not dry_run)
    options = SyncOptions(tuple(entities), dry_run=dry_run, retry_dead_letters=True,
                          dead_letter_ids=dead_ids or None)
    try:
        with sigterm_as_interrupt(), open_state(state_path, dry_run) as store, \
                held(store, "dead-letters retry", wait_seconds, org=salesforce_org(os.environ),
                     entities=ordered_entities(mapping_set, entities)):
            report = SyncRunner(mapping_set, store, None, salesforce, progress=progress,
                                failures=failures).run(options)
    finally:
        progress.close()
        failures.close()
        if salesforce is not None:
            salesforce.close()
    for line in planned_lines(report.planned):
        click.echo(line, err=summary_format == "json")
    click.echo(summary_json(report) if summary_format == "json" else summary_text(report), nl=False)
    sys.exit(1 if report.failed else 0)


def _retry_entities(store: StateStore, dead_ids: tuple[int, ...], retryable: set[str]) -> list[str]:
    """The entities whose letters are retried; usage errors for ids that are unknown, not open or not retryable."""
    if not dead_ids:
        return sorted(set(store.dead_letters.counts("open")) & retryable)
    entities: set[str] = set()
    for dead_id in dead_ids:
        letter = _letter(store, dead_id)
        if letter.status != "open":
            raise ConfigError(f"dead letter {dead_id} is {letter.status}, not open: nothing to retry")
        if letter.entity not in retryable:
            raise ConfigError(f"dead letter {dead_id} is of {letter.entity}, which `sync` does not write to "
                              "Salesforce (a disabled mapping, or the reverse flow, which registers it again at its "
                              "next run)")
        entities.add(letter.entity)
    return sorted(entities)


@dead_letters_group.command("discard")
@click.argument("dead_ids", metavar="ID...", nargs=-1, type=int, required=True)
@click.option("--reason", required=True, help="Why it is set aside (kept with it: show, list --format json).")
@STATE_OPTION
def discard_command(dead_ids: tuple[int, ...], reason: str, state_path: StateLocation | None) -> None:
    """Set open dead letters aside with a reason: they are kept and marked discarded, never deleted silently."""
    if not reason.strip():
        raise InputError("--reason: say why the dead letters are set aside")
    with open_state(_existing(state_path)) as store:
        letters = [_letter(store, dead_id) for dead_id in dict.fromkeys(dead_ids)]
        closed = [d for d in letters if d.status != "open"]
        if closed:
            raise ConfigError(f"dead letter {closed[0].id} is {closed[0].status}, not open: only open letters "
                              "are discarded (nothing was changed)")
        store.dead_letters.discard([d.id for d in letters], reason.strip())
    for letter in letters:
        click.echo(f"discarded dead letter {letter.id} ({letter.entity} {letter.key or '-'}, {letter.code})")


@dead_letters_group.command("purge")
@click.option("--older-than", "days", type=click.IntRange(0), required=True, metavar="DAYS",
              help="Delete letters resolved or discarded more than this many days ago. Open ones are kept.")
@STATE_OPTION
def purge_command(days: int, state_path: StateLocation | None) -> None:
    """Delete the dead letters resolved or discarded more than DAYS days ago (retention); open ones stay."""
    before = datetime.now(UTC) - timedelta(days=days)
    with open_state(_existing(state_path)) as store:
        removed = store.dead_letters.purge(before)
    click.echo(f"purged {removed} dead letter(s) resolved or discarded before {_day(before)}")


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
