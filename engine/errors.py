"""One exception hierarchy for zoomforce.

    ZoomforceError                       root; ``exit_code`` tells the CLI what to return
    ├── ConfigError                      exit 2: the configuration cannot be used
    │   ├── MappingInvalid               a mapping set failed validation; carries every Problem
    │   ├── UnknownEntity                ``zoomforce map NAME`` with no mapping of that name
    │   ├── UnknownObject                no Salesforce catalog file for an sObject (also a KeyError)
    │   ├── MissingCredential            an environment variable the command needs is unset
    │   ├── InputError                   the input document is not JSON / JSON Lines
    │   └── StateError                   the state database cannot be opened or written
    ├── ExpressionError                  a JMESPath expression that does not compile
    │   └── ConditionError               a ``source.where`` SOQL condition zoomforce cannot read
    ├── TransformValueError              a transform cannot handle a value (a ValueError too; becomes EvaluationError)
    ├── RecordError                      exit 1: one source record could not be mapped
    │   ├── MissingValue                 a field whose ``on_missing`` is ``reject`` had no value
    │   ├── CoercionError                a value that cannot become the field's type
    │   ├── TooLong                      a string over its maximum with ``on_overflow: reject``
    │   ├── EvaluationError              an expression failed on this record (wrong types, ...)
    │   ├── BadLine                      a JSON Lines input line that is not JSON
    │   └── PathParameterError           a Zoom path parameter (``{meetingId}``) the record cannot fill
    ├── RemoteError                      a remote API refused or failed (Zoom, Salesforce)
    │   ├── Unreachable                  exit 2: no connection to the host (DNS, refused, TLS)
    │   ├── AuthenticationFailed         exit 2: OAuth refused the credentials
    │   ├── ZoomApiError                 Zoom answered an error (``code`` is Zoom's numeric code)
    │   │   └── ZoomNotFound             404 / code 3001, 1001 ...: the object is gone
    │   ├── RetriesExhausted             429 / 5xx / timeouts on every allowed attempt
    │   └── SalesforceApiError           Salesforce refused a whole call (``code``: errorCode)
    ├── WebhookRejected                  a webhook delivery refused before anything was kept (``status``)
    └── PermanentEventError              a stored event that retrying cannot help: it goes to ``dead``

Every error carries the path into the document it is about: a mapping error its file, line,
column and key path (``fields[3].from``); a record error the record's index and the target field.
The CLI prints ``str(error)``: one line a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Literal

from engine.suggest import did_you_mean

Severity = Literal["error", "warning"]


class ZoomforceError(Exception):
    """Root of every error zoomforce raises on purpose."""

    exit_code = 1


class ConfigError(ZoomforceError):
    """The configuration (mappings, flags, environment) cannot be used."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of ``validate``, located in a mapping file.

    ``path`` is the key path inside the document (``fields[3].from``); ``line`` and ``column`` are
    1-based and point at the offending key or value.
    """

    file: str
    line: int
    column: int
    message: str
    path: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {where}{self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


class MappingInvalid(ConfigError):
    """A mapping set failed validation; ``problems`` holds every finding, errors and warnings.
    ``context`` says which set, when a command loads more than one (``disclose --diff``)."""

    def __init__(self, problems: list[Problem], context: str = ""):
        self.problems = problems
        self.context = context
        errors = [p for p in problems if p.severity == "error"]
        first = str(errors[0]) if errors else "no errors"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__((f"{context}: " if context else "") + first + more)


class UnknownEntity(ConfigError):
    def __init__(self, entity: str, known: list[str], suggestion: str | None = None):
        self.entity = entity
        self.known = known
        hint = did_you_mean([suggestion] if suggestion else [])
        names = ", ".join(known) or "none"
        super().__init__(f"no mapping for entity '{entity}' (known: {names}){hint}")


class UnknownObject(ConfigError, KeyError):
    """No catalog file for this sObject; ``suggestions`` are the known objects named like it.

    Also a KeyError (the catalog is looked up by name), so ``except KeyError`` keeps catching it.
    """

    def __init__(self, name: str, suggestions: Iterable[str] = ()) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        super().__init__(name)

    def __str__(self) -> str:
        hint = did_you_mean(self.suggestions)
        return f"unknown Salesforce object {self.name!r} (no catalog in schemas/salesforce){hint}"


class MissingCredential(ConfigError):
    def __init__(self, variable: str, purpose: str):
        self.variable = variable
        super().__init__(f"environment variable {variable} is not set ({purpose})")


class InputError(ConfigError):
    """The input is not one JSON document nor JSON Lines."""


class StateError(ConfigError):
    """The state database cannot be opened or written (locked, read-only, corrupt); names the file."""


class ExpressionError(ZoomforceError):
    """A JMESPath expression that does not compile, or calls a function wrongly.

    ``kind`` follows the JMESPath compliance suite: ``syntax``, ``unknown-function``,
    ``invalid-arity``, ``invalid-type``, ``invalid-value``.
    """

    def __init__(self, expression: str, message: str, kind: str = "syntax", column: int | None = None):
        self.expression = expression
        self.kind = kind
        self.column = column
        super().__init__(message)


class ConditionError(ExpressionError):
    """A reverse flow's ``source.where`` that is not a SOQL condition zoomforce can read (``column`` is 1-based)."""


class TransformValueError(ZoomforceError, ValueError):
    """A transform function got a value it cannot handle (an unparseable time, a value not in a table).

    Raised inside JMESPath evaluation; the runtime turns it into an EvaluationError that names the
    record and the field.
    """


@dataclass
class RecordError(ZoomforceError):
    """A record that could not be mapped. The batch goes on; this one is reported and counted."""

    reason: str
    field: str = ""
    index: int | None = None
    entity: str = ""
    source: str = ""
    details: dict[str, object] = dataclass_field(default_factory=dict)

    kind = "record"

    def __post_init__(self) -> None:
        super().__init__(self.reason)

    def located(self, index: int, entity: str) -> RecordError:
        self.index = index
        self.entity = entity
        return self

    def __str__(self) -> str:
        parts = []
        if self.entity:
            parts.append(self.entity)
        if self.index is not None:
            parts.append(f"record {self.index}")
        if self.field:
            origin = f" (from {self.source})" if self.source else ""
            parts.append(f"field {self.field}{origin}")
        return ": ".join([*parts, self.reason])

    def as_json(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "index": self.index,
            "field": self.field,
            "from": self.source,
            "kind": self.kind,
            "reason": self.reason,
        }


class MissingValue(RecordError):
    kind = "missing"


class CoercionError(RecordError):
    kind = "type"


class TooLong(RecordError):
    kind = "too-long"


class EvaluationError(RecordError):
    kind = "evaluation"


class BadLine(RecordError):
    """A JSON Lines line that is not JSON: reported at its index, the other lines are still mapped."""

    kind = "input"


class PathParameterError(RecordError):
    """A Zoom endpoint's path parameter (``{meetingId}``) is missing, null, or neither a string nor an integer."""

    kind = "path-parameter"


class RemoteError(ZoomforceError):
    """A remote API failed or refused; ``code`` is its own error code where it gave one."""

    def __init__(self, system: str, message: str, status: int | None = None, code: str | None = None):
        self.system = system
        self.status = status
        self.code = code
        detail = f" [{code}]" if code else ""
        status_text = f" HTTP {status}" if status else ""
        super().__init__(f"{system}{status_text}{detail}: {message}")


class Unreachable(RemoteError):
    """The host cannot be reached at all: a configuration problem (wrong URL, no network)."""

    exit_code = 2


class AuthenticationFailed(RemoteError):
    """The OAuth endpoint refused the credentials (or the session could not be renewed)."""

    exit_code = 2


class ZoomApiError(RemoteError):
    """Zoom answered with an error body ``{"code": N, "message": ...}``."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None, path: str = ""):
        self.path = path
        super().__init__("zoom", f"{path}: {message}" if path else message, status, code)


class ZoomNotFound(ZoomApiError):
    """The Zoom object does not exist (deleted meeting, user without Zoom Phone ...)."""


class RetriesExhausted(RemoteError):
    """Every allowed attempt met a retryable failure (429, 5xx, timeout, reset)."""


class SalesforceApiError(RemoteError):
    """Salesforce refused a whole call; ``code`` is its ``errorCode``."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__("salesforce", message, status, code)


class WebhookRejected(ZoomforceError):
    """A delivery refused before anything was kept: ``status`` is the HTTP answer, ``reason`` its text."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"HTTP {status}: {reason}")


class PermanentEventError(ZoomforceError):
    """Raised by a processor when retrying the event cannot help (unknown type, invalid payload).

    The event goes to ``dead`` on the first such failure instead of using up its attempts.
    """
