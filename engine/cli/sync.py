"""``zoomforce sync``: read Zoom as the mappings declare and keep Salesforce up to date.

Errors are the typed ones of :mod:`engine.errors`: the group turns each into one line and its exit code.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.accounts import salesforce_org, select_account
from engine.cli.messages import stderr_failures, stderr_progress
from engine.cli.options import MAPPINGS_OPTION, STATE_OPTION, StateLocation, held, open_state, sigterm_as_interrupt
from engine.cli.settings import CATALOG_OPTION, PROJECT_OPTION, load_settings
from engine.errors import ConfigError, InputError

if TYPE_CHECKING:
    from engine.validate.mapping_set import MappingSet


def _date(value: str | None, option: str) -> date | None:
    """A date ``YYYY-MM-DD`` (an ISO-8601 time is taken as its date); anything else is a usage error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).date()
    except ValueError as exc:
        raise InputError(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from exc


def _window(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    first, last = _date(since, "--since"), _date(until, "--until")
    if first is not None and last is not None and first > last:
        raise InputError(f"--since {first} is after --until {last}")
    return first, last


def check_entities(mapping_set: MappingSet, entities: tuple[str, ...], webinar: str | None) -> None:
    """Usage errors of the entity list, before any credential is read: the user fixes these first."""
    if webinar is not None and webinar.strip() in (".", ".."):
        raise ConfigError(f"--webinar {webinar!r}: not a webinar id (a dot segment would name another endpoint)")
    for name in entities:
        mapping = mapping_set.get(name)  # UnknownEntity, with a suggestion
        if mapping.source.system == "salesforce" and not webinar:
            raise ConfigError(f"{name}: the reverse flow registers people for one webinar: give --webinar ID")


@click.command("sync")
@click.argument("entities", nargs=-1)
@MAPPINGS_OPTION
@CATALOG_OPTION
@PROJECT_OPTION
@STATE_OPTION
@click.option("--since", help="Read from this date (YYYY-MM-DD) instead of each entity's cursor.")
@click.option("--until", help="Read up to this date (YYYY-MM-DD); default today (UTC).")
@click.option("--dry-run", is_flag=True, help="Map and report per record (create, update, unchanged); write nothing.")
@click.option("--summary", "summary_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: {entities: {NAME: {read, written, unchanged, failed}}, api_calls: {zoom, salesforce}}; "
                   "standard output is then that one document (a dry run's plan goes to standard error).")
@click.option("--retry-dead-letters", is_flag=True, help="Map and write the open dead letters again, and only them.")
@click.option("--webinar", help="The Zoom webinar the reverse flow (registrations) registers people for.")
@click.option("--bulk-threshold", type=click.IntRange(1), default=2000, show_default=True,
              help="From this many records of one object in a run, write through Bulk API 2.0.")
@click.option("--full-refresh", is_flag=True,
              help="Ignore the stored hashes of the entities synced: write every record again (dead letters and "
                   "cursors are kept).")
@click.option("--rebind", is_flag=True,
              help="With --full-refresh: bind the state to this Salesforce org and Zoom account (after a sandbox "
                   "refresh) and forget every stored hash.")
@click.option("--reset-cursors", is_flag=True,
              help="With --full-refresh: read the entities from --since (or the default window), not their cursor.")
@click.option("--wait", "wait_seconds", type=click.FloatRange(0), default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for another run that holds the state's lock; then exit 3.")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Write the run's metrics there in the Prometheus text format (node_exporter's textfile collector).")
@click.option("--account", "account_name", metavar="NAME",
              help="Sync this one of several Zoom accounts: its credentials (NAME_ZOOM_ACCOUNT_ID, ...) and its own "
                   "part of the state.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Zoom requests in flight at once (fan-out reads: details, includes, children per parent).")
@click.option("--zoom-plan", default=None, metavar="PLAN",
              help="The Zoom account's plan, whose rate limits per label bound the reads: free, pro or business "
                   "(default: the project file's zoom.plan, else pro).")
def sync_command(
    entities: tuple[str, ...], mappings_dir: Path | None, catalog_dir: Path | None, project_file: Path | None,
    state_path: StateLocation | None, since: str | None, until: str | None,
    dry_run: bool, summary_format: str, retry_dead_letters: bool, webinar: str | None, bulk_threshold: int,
    full_refresh: bool, rebind: bool, reset_cursors: bool, wait_seconds: float, metrics_file: Path | None,
    account_name: str | None, concurrency: int, zoom_plan: str | None,
) -> None:
    """Read Zoom as the mappings declare and upsert into Salesforce.

    Exit 0 all written, 1 some records failed (kept as dead letters), 2 configuration, 3 another run holds
    the state's lock (or a Zoom daily limit stopped the run, its state saved).
    """
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine import logs, metrics
    from engine.cli.connect import salesforce_from_env, zoom_from_env
    from engine.sync.observe import observe_state
    from engine.sync.output import log_plan, planned_lines, summary_json, summary_text
    from engine.sync.runner import SyncOptions, SyncRunner, default_entities, ordered_entities
    from engine.validate.mapping_set import load_mapping_set
    from engine.zoom.throttle import DEFAULT_PLAN

    first, last = _window(since, until)
    settings = load_settings(project_file, mappings=mappings_dir, catalog=catalog_dir, state=state_path).usable()
    mapping_set = load_mapping_set([settings.mappings], settings.catalog, settings.languages).raise_if_invalid()
    check_entities(mapping_set, entities, webinar)
    options = SyncOptions(entities, first, last, dry_run, retry_dead_letters, webinar, full_refresh, rebind,
                          reset_cursors)
    account = select_account(account_name, os.environ, settings.project.accounts)
    # credentials first: a missing one is told before the state is touched
    plan = zoom_plan or settings.project.zoom_plan or DEFAULT_PLAN  # the option, else the project, else pro
    zoom = zoom_from_env(account.environ, concurrency=concurrency, plan=plan)
    try:
        salesforce = salesforce_from_env(os.environ, bulk_threshold, required=not dry_run,
                                         api_version=settings.api_version)
    except ConfigError:
        zoom.client.close()
        raise
    progress = stderr_progress()
    failures = stderr_failures(progress, kept=not dry_run)
    try:
        # A dry run works on a copy of the state: nothing it does can reach the file. A real run takes
        # the state's lock before anything is read, so that a second run stops at once (exit 3).
        # A PostgreSQL state's lock is per (org, account, entity): the entities and those they are read under.
        work = ordered_entities(mapping_set, entities or default_entities(mapping_set))
        with sigterm_as_interrupt(), open_state(account.state(settings.state), dry_run, account.schema) as store, \
                held(store, f"sync {' '.join(entities)}".strip(), wait_seconds, org=salesforce_org(os.environ),
                     account=account.name, entities=work):
            try:
                report = SyncRunner(mapping_set, store, zoom, salesforce, progress=progress,
                                    failures=failures).run(options)
            finally:  # a run that stopped half-way has metrics too: what it did, and the state's gauges
                if metrics_file is not None:
                    observe_state(store)
                    metrics.write_textfile(metrics_file)
    finally:
        progress.close()
        failures.close()
        zoom.client.close()
        if salesforce is not None:
            salesforce.close()
    plan_to_stderr = summary_format == "json"
    if plan_to_stderr and logs.is_json():
        log_plan(report.planned)  # standard error holds JSON lines only
    else:
        for line in planned_lines(report.planned):
            click.echo(line, err=plan_to_stderr)
    click.echo(summary_json(report) if summary_format == "json" else summary_text(report), nl=False)
    if report.stopped is not None:  # a Zoom daily limit: what was done is printed and saved; exit 3
        raise report.stopped
    sys.exit(1 if report.failed else 0)
