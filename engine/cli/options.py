"""Options and helpers that several commands share: the mappings folder, the state file, output, signals.

The project file and ``--catalog`` are in :mod:`engine.cli.settings`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from engine.errors import InputError
from engine.resources import DEFAULT_STATE_PATH, STATE_ENV
from engine.resources import is_state_url as is_url

if TYPE_CHECKING:
    from engine.sync.state.store import StateStore

MAPPINGS_OPTION = click.option(
    "--mappings",
    "mappings_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of mapping files (default: the project's, else ./mappings, else the built-in set).",
)
StateLocation = Path | str  # a SQLite file, or a PostgreSQL URL (a str)


def _state_location(ctx: click.Context, param: click.Parameter, value: str | None) -> StateLocation | None:
    """``--state``: a ``postgresql://`` URL as given (a str), anything else a SQLite file (a Path); None when
    not given (the project's state, else ``./zoomforce.db``)."""
    if value is None or value == "":
        return None
    return value if is_url(value) else Path(value)


STATE_OPTION = click.option(
    "--state",
    "state_path",
    envvar=STATE_ENV,
    show_envvar=True,
    default=None,
    callback=_state_location,
    metavar="PATH|URL",
    help=f"The state: a SQLite file, or a PostgreSQL database (postgresql://USER@HOST/DB, the password from "
         f"PGPASSWORD or ~/.pgpass) shared by several processes: cursors, record hashes, runs, dead letters, inbox "
         f"(default: the project's, else ./{DEFAULT_STATE_PATH}).",
)


def read_input(path: str) -> str:
    """The text of FILE, or of standard input for ``-``; InputError (exit 2) when it cannot be read."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc.reason}") from exc


def write_output(text: str, output: Path | None) -> None:
    """`text` to standard output, or to the file `output`."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from exc


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager stopping us) ends the command as Ctrl-C does: cleanly, state closed."""
    import signal  # deferred for start-up speed: only the long-running commands install the handler

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def open_state(path: StateLocation, dry_run: bool = False, schema: str | None = None) -> Iterator[StateStore]:
    """The state at ``path``; for a dry run a private copy of it, so that the file stays as it was."""
    # Deferred for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.sync.state.store import StateStore

    store = StateStore.snapshot(path, schema=schema) if dry_run else StateStore.open(path, schema=schema)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def held(store: StateStore, command: str, wait_seconds: float = 0.0, *, org: str = "", account: str = "",
         entities: Sequence[str] = ()) -> Iterator[None]:
    """Hold the state's run lock around the block: LockHeld (exit 3) when another run has it.

    A PostgreSQL state's lock is per (``org``, ``account``, entity of ``entities``; none: all).
    """
    lock = store.run_lock(command, org=org, account=account, entities=entities)
    lock.acquire(wait_seconds)
    try:
        yield
    finally:
        lock.release()
