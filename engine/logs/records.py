"""The handler, filters and formatters :func:`engine.logs.configure` installs, on the standard ``logging``.

Apart from :mod:`engine.logs` so that a command that logs nothing (``zoomforce --help``) need not
import ``logging``; :func:`engine.logs.configure` imports this module when it runs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from engine.logs import ROOT_LOGGER, current

# The attributes every LogRecord has; whatever else a record carries came from ``extra`` or the context.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


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
            record.zoomforce_context = dict(current())
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
