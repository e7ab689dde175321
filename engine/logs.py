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

This module imports no layer: every one may use it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
FORMAT_VARIABLE = "ZOOMFORCE_LOG_FORMAT"
LEVEL_VARIABLE = "ZOOMFORCE_LOG_LEVEL"
ROOT_LOGGER = "zoomforce"
DEFAULT_LEVEL = "info"

# The attributes every LogRecord has; whatever else a record carries came from ``extra`` or the context.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
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


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record: the bound context, then its own ``extra``."""
    found = dict(getattr(record, "zoomforce_context", None) or {})
    found.update({key: value for key, value in vars(record).items()
                  if key not in _STANDARD and key != "zoomforce_context"})
    return found


class TextHiddenFilter(logging.Filter):
    """Drops the records that say, for log platforms, what text output already shows (``text_hidden``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "text_hidden", False)


class ContextFilter(logging.Filter):
    """Copies the bound context into each record as it is logged (in the logging thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "zoomforce_context"):
            record.zoomforce_context = dict(_context.get())
        return True


def timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, event, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = fields_of(record)
        document: dict[str, Any] = {
            "timestamp": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": fields.pop("event", None) or _default_event(record),
            "message": record.getMessage(),
        }
        fields.pop("text_hidden", None)
        for key, value in fields.items():
            document.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            document.setdefault("error", f"{type(error).__name__}: {error}")
        return json.dumps(document, ensure_ascii=False, default=str, separators=(",", ":"))


def _default_event(record: logging.LogRecord) -> str:
    name = record.name.removeprefix(ROOT_LOGGER + ".") if record.name != ROOT_LOGGER else "zoomforce"
    return f"{name}.{record.levelname.lower()}"


class TextFormatter(logging.Formatter):
    """``zoomforce: LEVEL: message``: the shape of zoomforce's other lines on standard error."""

    def format(self, record: logging.LogRecord) -> str:
        return f"zoomforce: {record.levelname.lower()}: {record.getMessage()}"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (a test runner may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_installed: logging.Handler | None = None


def chosen_format(option: str | None, env: Mapping[str, str] = os.environ) -> str:
    """``--log-format`` if given, else ``ZOOMFORCE_LOG_FORMAT``, else text; ValueError for anything else."""
    value = (option or env.get(FORMAT_VARIABLE, "") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def chosen_level(env: Mapping[str, str] = os.environ) -> int:
    value = (env.get(LEVEL_VARIABLE, "") or DEFAULT_LEVEL).strip().upper()
    level = logging.getLevelName(value)
    if not isinstance(level, int):
        raise ValueError(f"{LEVEL_VARIABLE} must be debug, info, warning or error, not {value.lower()!r}")
    return level


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """One handler on standard error for every logger, in ``log_format``; zoomforce's loggers from ``level``.

    Called again, it replaces the handler it installed before (it never stacks them).
    """
    global _installed
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    if log_format != "json":
        handler.addFilter(TextHiddenFilter())
    root.addHandler(handler)
    _installed = handler
    logging.getLogger(ROOT_LOGGER).setLevel(level)


def unconfigure() -> None:
    """Undo :func:`configure`: its handler removed, the zoomforce loggers' level left to their parents."""
    global _installed
    if _installed is not None:
        logging.getLogger().removeHandler(_installed)
        _installed = None
    logging.getLogger(ROOT_LOGGER).setLevel(logging.NOTSET)


def is_json() -> bool:
    """Whether :func:`configure` chose JSON lines (what the command line's own messages follow)."""
    return _installed is not None and isinstance(_installed.formatter, JsonFormatter)
