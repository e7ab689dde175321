"""The commands that talk to Zoom and Salesforce: ``sync``, ``serve``, ``demo`` and ``emulator``.

Kept apart from :mod:`engine.cli.main` (validate, map, disclose: no network) so that each module
stays small; :func:`register` adds them to the ``zoomforce`` group. Errors are the typed ones of
:mod:`engine.errors`: the group turns each into one line and its exit code.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from engine.errors import ConfigError, InputError
from engine.sync.state.database import DEFAULT_PATH

if TYPE_CHECKING:
    from engine.validate.mapping_set import MappingSet

MAPPINGS_OPTION = click.option(
    "--mappings",
    "mappings_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of mapping files (default ./mappings, else the built-in set).",
)
STATE_OPTION = click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    help="The SQLite state file: cursors, record hashes, run history, dead letters, webhook inbox.",
)


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
    for name in entities:
        mapping = mapping_set.get(name)  # UnknownEntity, with a suggestion
        if mapping.source.system == "salesforce" and not webinar:
            raise ConfigError(f"{name}: the reverse flow registers people for one webinar: give --webinar ID")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager stopping us) ends the command as Ctrl-C does: cleanly, state closed."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("sync")
@click.argument("entities", nargs=-1)
@MAPPINGS_OPTION
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
def sync_command(
    entities: tuple[str, ...], mappings_dir: Path | None, state_path: Path, since: str | None, until: str | None,
    dry_run: bool, summary_format: str, retry_dead_letters: bool, webinar: str | None, bulk_threshold: int,
) -> None:
    """Read Zoom as the mappings declare and upsert into Salesforce. Exit 0 all written, 1 some failed."""
    from engine.cli.connect import salesforce_from_env, zoom_from_env
    from engine.cli.main import resolve_mappings_dir
    from engine.sync.output import ProgressLines, planned_lines, summary_json, summary_text
    from engine.sync.runner import SyncOptions, SyncRunner
    from engine.sync.state.store import StateStore
    from engine.validate.mapping_set import load_mapping_set

    first, last = _window(since, until)
    mapping_set = load_mapping_set([resolve_mappings_dir(mappings_dir)]).raise_if_invalid()
    check_entities(mapping_set, entities, webinar)
    options = SyncOptions(entities, first, last, dry_run, retry_dead_letters, webinar)
    zoom = zoom_from_env(os.environ)
    try:
        salesforce = salesforce_from_env(os.environ, bulk_threshold, required=not dry_run)
    except ConfigError:
        zoom.client.close()
        raise
    progress = ProgressLines(sys.stderr, sys.stderr.isatty())
    try:
        with sigterm_as_interrupt(), StateStore.open(state_path) as store:
            report = SyncRunner(mapping_set, store, zoom, salesforce, progress=progress).run(options)
    finally:
        progress.close()
        zoom.client.close()
        if salesforce is not None:
            salesforce.close()
    plan_to_stderr = summary_format == "json"
    for line in planned_lines(report.planned):
        click.echo(line, err=plan_to_stderr)
    click.echo(summary_json(report) if summary_format == "json" else summary_text(report), nl=False)
    sys.exit(1 if report.failed else 0)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@MAPPINGS_OPTION
@STATE_OPTION
@click.option("--max-attempts", type=click.IntRange(1), default=20, show_default=True,
              help="Attempts at processing one event before it is set aside as dead (kept in the inbox).")
def serve_command(host: str, port: int, mappings_dir: Path | None, state_path: Path, max_attempts: int) -> None:
    """Receive Zoom event notifications at POST /zoom/webhook and sync them through the mappings."""
    from engine.cli.connect import check_listen, salesforce_from_env
    from engine.cli.main import resolve_mappings_dir
    from engine.errors import MissingCredential
    from engine.serve.app import WEBHOOK_PATH, create_app
    from engine.serve.events import EventProcessor, subscriptions
    from engine.serve.worker import InboxWorker
    from engine.serving import serve_foreground
    from engine.sync.state.store import StateStore
    from engine.validate.mapping_set import load_mapping_set

    secret = os.environ.get("ZOOM_WEBHOOK_SECRET_TOKEN", "")
    if not secret.strip():
        raise MissingCredential("ZOOM_WEBHOOK_SECRET_TOKEN", "the secret token that signs Zoom's event notifications")
    mapping_set = load_mapping_set([resolve_mappings_dir(mappings_dir)]).raise_if_invalid()
    check_listen(host, port)
    salesforce = salesforce_from_env(os.environ)
    assert salesforce is not None
    store = StateStore.open(state_path)
    worker = InboxWorker(store, EventProcessor(mapping_set, store, salesforce), max_attempts=max_attempts,
                         backoff_max=600.0)
    app = create_app(store, secret, None, worker=worker)

    def announce(url: str) -> None:
        click.echo(url)
        click.echo(f"webhook: {url}{WEBHOOK_PATH}", err=True)
        click.echo(f"event subscriptions: {', '.join(subscriptions(mapping_set))}", err=True)
        sys.stdout.flush()

    requeued = store.inbox.requeue_dead()
    if requeued:
        click.echo(f"zoomforce: {requeued} event(s) set aside after too many failed attempts are tried again", err=True)
    worker.start()
    try:
        with sigterm_as_interrupt():
            serve_foreground(app, host, port, announce)
    finally:
        worker.stop()
        salesforce.close()
        store.close()


@click.command("demo")
@click.option("--users", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Users of the synthetic Zoom account (each has meetings, webinars and calls).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="State file (default: a temporary one, so every demo starts afresh).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("zoomforce-disclosure.md"),
              show_default=True, help="Where the privacy disclosure is written.")
@click.option("--lang", "language", default="en", show_default=True, help="Language of the disclosure (en, fr).")
@click.option("--summary", "summary_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def demo_command(users: int, state_path: Path | None, output: Path, language: str, summary_format: str) -> None:
    """Run the whole sync on this machine, no account needed: local Zoom and Salesforce emulators."""
    from engine.cli.demo import run_demo
    from engine.sync.output import ProgressLines, summary_json, summary_text

    progress = ProgressLines(sys.stderr, sys.stderr.isatty())
    try:
        with sigterm_as_interrupt():
            result = run_demo(users=users, state_path=state_path, output=output, language=language,
                              progress=progress, say=lambda line: click.echo(line, err=True))
    finally:
        progress.close()
    click.echo(summary_json(result.report) if summary_format == "json" else summary_text(result.report), nl=False)
    click.echo(f"zoomforce: disclosure written to {output}", err=True)
    sys.exit(1 if result.report.failed else 0)


class LazyGroup(click.Group):
    """A group whose commands are imported when one is used, so that `zoomforce validate` starts fast."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, name = self.lazy[cmd_name]
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group("emulator", cls=LazyGroup, lazy={
    "zoom": ("engine.cli.emulator_zoom", "zoom_command"),
    "salesforce": ("engine.cli.emulator_salesforce", "salesforce_command"),
})
def emulator_group() -> None:
    """Local emulators of the Zoom and Salesforce APIs on 127.0.0.1 (for tests and the demo)."""


def register(group: click.Group) -> None:
    """Add the network commands to the ``zoomforce`` group."""
    for command in (sync_command, serve_command, demo_command, emulator_group):
        group.add_command(command)
