"""``--log-format text|json`` on every command, and the command line's own lines on standard error.

:func:`add_log_format` gives every command of a group (its subgroups' too) the ``--log-format``
option (or ``ZOOMFORCE_LOG_FORMAT``), processed before the others: it configures
:mod:`engine.logs` for the command. :func:`say` is how a command writes a line to standard error:
as it is in text, as one JSON log record (with its ``event`` and fields) in JSON, so that with
``--log-format json`` every line on standard error is JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from engine import logs

if TYPE_CHECKING:
    from engine.sync.output import FailureLines, LogProgress, ProgressLines

LOGGER = "zoomforce.cli"


def _configure(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    try:
        chosen = logs.chosen_format(value)
        logs.configure(chosen, logs.chosen_level())
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    return chosen


def log_format_option() -> click.Option:
    return click.Option(
        ["--log-format"], type=click.Choice(logs.LOG_FORMATS), envvar=logs.FORMAT_VARIABLE, is_eager=True,
        expose_value=False, callback=_configure,
        help="Standard error as text (default) or JSON lines for a log platform (or ZOOMFORCE_LOG_FORMAT).",
    )


def add_log_format(command: click.Command) -> None:
    """Give ``command`` (and every command under it) the ``--log-format`` option, once."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_log_format(sub)
        return
    if not any(isinstance(p, click.Option) and "--log-format" in p.opts for p in command.params):
        command.params.insert(0, log_format_option())


def say(text: str, *, level: str = "info", event: str = "cli.message", **fields: Any) -> None:
    """A line for the operator on standard error: as is in text, a JSON record with ``event`` in JSON."""
    if logs.is_json():
        import logging  # deferred for start-up speed: configure() imported it already, --help never gets here

        logging.getLogger(LOGGER).log(logging.getLevelName(level.upper()), "%s", text, extra={"event": event, **fields})
    else:
        click.echo(text, err=True)


def stderr_progress() -> ProgressLines | LogProgress:
    """Progress on standard error: lines (a bar on a terminal) in text, ``entity.*`` JSON records in JSON."""
    # Deferred for start-up speed: `zoomforce --help` loads none of the engine.
    import sys

    from engine.sync.output import LogProgress, ProgressLines

    return LogProgress() if logs.is_json() else ProgressLines(sys.stderr, sys.stderr.isatty())


def stderr_failures(progress: ProgressLines | LogProgress | None, *, limit: int | None = 20,
                    kept: bool = True) -> FailureLines:
    """The records that failed on standard error, in text (ending `progress`'s open line); JSON logs have them."""
    # Deferred for start-up speed: `zoomforce --help` loads none of the engine.
    import sys

    from engine.sync.output import FailureLines

    if logs.is_json():  # each failure is a `dead_letter` record already
        return FailureLines(None)
    return FailureLines(sys.stderr, limit=limit, kept=kept,
                        before=progress.close if progress is not None else lambda: None)
