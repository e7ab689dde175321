"""Logs made for people and for log platforms, on the standard ``logging`` module.

Every module logs to a ``zoomforce.*`` logger (``zoomforce.zoom``, ``zoomforce.salesforce``,
``zoomforce.sync`` ...) with a plain message and, in ``extra``, the fields a log platform indexes:
``event`` (a stable name such as ``zoom.retry`` or ``dead_letter``), ``entity``, ``counts``,
``wait_seconds``, ``reason`` ... The run id and the entity being synced come from :func:`bound`, a
context the runner opens, so a log call deep in a client needs not know them.

:func:`configure` (called by the command line, ``--log-format`` or ``ZOOMFORCE_LOG_FORMAT``) puts
one handler on standard error:

- ``text``: ``zoomforce: warning: zoom GET /users: HTTP 429 ...``, the shape of zoomforce's other
  messages (records marked ``text_hidden``, such as the start and end of a run, which the progress
  lines and the summary already show, are left out);
- ``json``: one JSON object per line: ``timestamp`` (UTC, milliseconds, ``Z``), ``level``,
  ``logger``, ``event``, ``message``, and every field given (``run_id``, ``entity``, ``counts`` ...).

The ``zoomforce`` loggers log from ``info`` up (``ZOOMFORCE_LOG_LEVEL`` changes it); other
libraries' loggers from ``warning`` up. Nothing logged here may hold a secret: messages name calls,
statuses, codes and keys, never record values (see :mod:`engine.secrets`).

This module imports no layer: every one may use it. It imports ``logging`` only when :func:`configure`
runs (the handler, filters and formatters are in :mod:`engine.logs.records`), so ``zoomforce --help``
loads none of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

LOG_FORMATS = ("text", "json")
FORMAT_VARIABLE = "ZOOMFORCE_LOG_FORMAT"
LEVEL_VARIABLE = "ZOOMFORCE_LOG_LEVEL"
ROOT_LOGGER = "zoomforce"
DEFAULT_LEVEL = "info"

_context: ContextVar[Mapping[str, Any]] = ContextVar("zoomforce_log_context",
                                                                    default=MappingProxyType({}))


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Within the block, every record logged (in this thread or task) carries ``fields`` (None: removed)."""
    merged = {**_context.get(), **fields}
    token = _context.set({key: value for key, value in merged.items() if value is not None})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> Mapping[str, Any]:
    """The fields :func:`bound` set for the current thread or task."""
    return _context.get()


_installed: logging.Handler | None = None
_installed_format: str | None = None


def chosen_format(option: str | None, env: Mapping[str, str] = os.environ) -> str:
    """``--log-format`` if given, else ``ZOOMFORCE_LOG_FORMAT``, else text; ValueError for anything else."""
    value = (option or env.get(FORMAT_VARIABLE, "") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def chosen_level(env: Mapping[str, str] = os.environ) -> int:
    import logging  # deferred for start-up speed: `zoomforce --help` logs nothing

    value = (env.get(LEVEL_VARIABLE, "") or DEFAULT_LEVEL).strip().upper()
    level = logging.getLevelName(value)
    if not isinstance(level, int):
        raise ValueError(f"{LEVEL_VARIABLE} must be debug, info, warning or error, not {value.lower()!r}")
    return level


def configure(log_format: str = "text", level: int | None = None) -> None:
    """One handler on standard error for every logger, in ``log_format``; zoomforce's loggers from ``level``
    (default: info).

    Called again, it replaces the handler it installed before (it never stacks them).
    """
    import logging  # deferred for start-up speed: `zoomforce --help` logs nothing

    from engine.logs.records import ContextFilter, JsonFormatter, StderrHandler, TextFormatter, TextHiddenFilter

    global _installed, _installed_format
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    if log_format != "json":
        handler.addFilter(TextHiddenFilter())
    root.addHandler(handler)
    _installed, _installed_format = handler, log_format
    logging.getLogger(ROOT_LOGGER).setLevel(logging.INFO if level is None else level)


def unconfigure() -> None:
    """Undo :func:`configure`: its handler removed, the zoomforce loggers' level left to their parents."""
    import logging  # deferred for start-up speed: `zoomforce --help` logs nothing

    global _installed, _installed_format
    if _installed is not None:
        logging.getLogger().removeHandler(_installed)
        _installed, _installed_format = None, None
    logging.getLogger(ROOT_LOGGER).setLevel(logging.NOTSET)


def is_json() -> bool:
    """Whether :func:`configure` chose JSON lines (what the command line's own messages follow)."""
    return _installed is not None and _installed_format == "json"
