"""Options and helpers that several commands share: the mappings folder, the state file, output, signals."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from engine.errors import InputError
from engine.resources import DEFAULT_STATE_PATH, default_mappings_dir

if TYPE_CHECKING:
    from engine.sync.state.store import StateStore

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
    default=DEFAULT_STATE_PATH,
    show_default=True,
    help="The SQLite state file: cursors, record hashes, run history, dead letters, webhook inbox.",
)


def resolve_mappings_dir(option: Path | None) -> Path:
    """``--mappings DIR``, else ``./mappings``, else the default mappings shipped with zoomforce."""
    if option is not None:
        return option
    local = Path("mappings")
    return local if local.is_dir() else default_mappings_dir()


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
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def open_state(path: Path, dry_run: bool = False) -> Iterator[StateStore]:
    """The state at ``path``; for a dry run a private copy of it, so that the file stays as it was."""
    # Deferred for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.sync.state.store import StateStore

    store = StateStore.snapshot(path) if dry_run else StateStore.open(path)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def held(store: StateStore, command: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the state's run lock around the block: LockHeld (exit 3) when another run has it."""
    lock = store.run_lock(command)
    lock.acquire(wait_seconds)
    try:
        yield
    finally:
        lock.release()
