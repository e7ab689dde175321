"""One exception hierarchy for zoomforce.

    ZoomforceError                       root; ``exit_code`` tells the CLI what to return
    ├── ConfigError                      exit 2: the configuration cannot be used
    │   ├── MappingInvalid               a mapping set failed validation; carries every Problem
    │   ├── ProjectInvalid               the project file or a Salesforce catalog file is unusable; every Problem
    │   ├── UnknownEntity                ``zoomforce map NAME`` with no mapping of that name
    │   ├── UnknownObject                no Salesforce catalog file for an sObject (also a KeyError)
    │   ├── MissingCredential            an environment variable the command needs is unset
    │   ├── InputError                   the input document is not JSON / JSON Lines
    │   ├── PreflightFailed              the org lacks objects or fields the mappings need (one line each)
    │   ├── StateError                   the state database cannot be opened or written
    │   │   └── StateBoundElsewhere      the state was written for another Salesforce org or Zoom account
    │   └── UnknownDeadLetter            ``zoomforce dead-letters show|retry|discard ID`` with no such ID
    ├── ExpressionError                  a JMESPath expression that does not compile
    │   └── ConditionError               a ``source.where`` SOQL condition zoomforce cannot read
    ├── TransformValueError              a transform cannot handle a value (a ValueError too; becomes EvaluationError)
    ├── RecordError                      exit 1: one source record could not be mapped
    │   ├── MissingValue                 a field whose ``on_missing`` is ``reject`` had no value
    │   ├── CoercionError                a value that cannot become the field's type
    │   │   └── InvalidText              a lone surrogate where text must be exact (e-mail, link, id)
    │   ├── TooLong                      a string over its maximum with ``on_overflow: reject``
    │   ├── EvaluationError              an expression failed on this record (wrong types, ...)
    │   ├── BadLine                      a JSON Lines input line that is not JSON
    │   ├── InputTooDeep                 a record nested deeper than the limit (engine/language/limits.py)
    │   ├── InputTooLarge                a record, string or key over its size limit
    │   ├── NumberTooLarge               an integer with more digits than the limit
    │   ├── InvalidNumber                NaN or Infinity, which JSON has not
    │   └── PathParameterError           a Zoom path parameter (``{meetingId}``) the record cannot fill
    ├── RemoteError                      a remote API refused or failed (Zoom, Salesforce)
    │   ├── Unreachable                  exit 2: no connection to the host (DNS, refused, TLS)
    │   ├── AuthenticationFailed         exit 2: OAuth refused the credentials
    │   ├── ZoomApiError                 Zoom answered an error (``code`` is Zoom's numeric code)
    │   │   └── ZoomNotFound             404 / code 3001, 1001 ...: the object is gone
    │   ├── RetriesExhausted             429 / 5xx / timeouts on every allowed attempt
    │   ├── DailyLimitReached            exit 3: a Zoom daily rate limit stopped the run (state saved)
    │   └── SalesforceApiError           Salesforce refused a whole call (``code``: errorCode)
    ├── RunStopped                       exit 3: the run did not start or stopped, its state saved
    │   └── LockHeld                     another run holds the state's lock (names its pid and start)
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


class ProjectInvalid(ConfigError):
    """The project file (``zoomforce.yaml``) or a Salesforce catalog file cannot be used.

    ``problems`` holds every finding, each at its ``file:line:col``; ``validate`` reports them as it
    reports a mapping's (exit 1), every other command refuses to start (exit 2).
    """

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = str(problems[0]) if problems else "no problems"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


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

    def __init__(self, name: str, suggestions: Iterable[str] = (), folder: str = "schemas/salesforce") -> None:
        self.name = name
        self.suggestions = list(suggestions)
        self.folder = folder
        super().__init__(name)

    def __str__(self) -> str:
        hint = did_you_mean(self.suggestions)
        return f"unknown Salesforce object {self.name!r} (no catalog in {self.folder}){hint}"


class MissingCredential(ConfigError):
    def __init__(self, variable: str, purpose: str):
        self.variable = variable
        super().__init__(f"environment variable {variable} is not set ({purpose})")


class InputError(ConfigError):
    """The input is not one JSON document nor JSON Lines."""


class PreflightFailed(ConfigError):
    """Before any write, the org was found to lack what the enabled mappings need.

    ``lines`` holds one line per missing object or field, each with the command that fixes it.
    """

    def __init__(self, lines: list[str]):
        self.lines = lines
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        super().__init__((lines[0] if lines else "the org lacks what the mappings need") + more)


class StateError(ConfigError):
    """The state database cannot be opened or written (locked, read-only, corrupt); names the file."""


class StateBoundElsewhere(StateError):
    """The state was first used with another Salesforce org or Zoom account: its hashes would hide
    records missing here. ``stored`` and ``current`` map ``salesforce_org`` / ``zoom_account`` to ids."""

    def __init__(self, path: str, stored: dict[str, str], current: dict[str, str]):
        self.path = path
        self.stored = dict(stored)
        self.current = dict(current)
        names = {"salesforce_org": "Salesforce org", "zoom_account": "Zoom account"}
        differ = [f"{names.get(key, key)} {stored[key]}, this run {current[key]}"
                  for key in sorted(stored) if key in current and stored[key] != current[key]]
        super().__init__(
            f"state database {path} was written for another org or account ({'; '.join(differ)}): refusing, "
            "as its record hashes would hide the records missing there; after a sandbox refresh run "
            "`zoomforce sync --full-refresh --rebind`, otherwise give this org its own --state")


class UnknownDeadLetter(ConfigError):
    def __init__(self, dead_id: int, path: str):
        self.dead_id = dead_id
        super().__init__(f"no dead letter {dead_id} in state database {path} (see `zoomforce dead-letters list`)")


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

    @property
    def code(self) -> str:
        """The dead letter's code: ``MAPPING_`` and the kind (``MAPPING_INPUT_TOO_DEEP``)."""
        return "MAPPING_" + self.kind.upper().replace("-", "_")

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


class InputTooDeep(RecordError):
    """A record whose objects and arrays nest deeper than ``MAX_NESTING_DEPTH``."""

    kind = "input-too-deep"


class InputTooLarge(RecordError):
    """A record, string or key over ``MAX_RECORD_SIZE`` or ``MAX_STRING_LENGTH``."""

    kind = "input-too-large"


class NumberTooLarge(RecordError):
    """An integer with more than ``MAX_INTEGER_DIGITS`` digits."""

    kind = "number-too-large"


class InvalidNumber(RecordError):
    """``NaN`` or ``Infinity``: not a JSON number."""

    kind = "invalid-number"


class InvalidText(CoercionError):
    """Text with a lone surrogate where it cannot be repaired: an e-mail address, a link, an id."""

    kind = "invalid-text"


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


class DailyLimitReached(RemoteError):
    """Zoom's daily limit of a rate-limit label is used up (429, ``X-RateLimit-Type: Daily-limit``).

    Waiting is no use before ``resets_at`` (00:00 UTC, Zoom's ``Retry-After``), so the sync stops
    with what it wrote saved (exit 3), and the next run after the reset resumes.
    """

    exit_code = 3

    def __init__(self, message: str, *, category: str | None = None, limit: str | None = None,
                 resets_at: str | None = None, path: str = "") -> None:
        self.category = category
        self.limit = limit
        self.resets_at = resets_at
        self.path = path
        super().__init__("zoom", message, 429, "429")


class SalesforceApiError(RemoteError):
    """Salesforce refused a whole call; ``code`` is its ``errorCode``."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__("salesforce", message, status, code)


class RunStopped(ZoomforceError):
    """The run did not start, or stopped before its end, with its state saved: exit 3.

    An operator's alerting tells it from a failure: nothing is wrong with the data or the
    configuration, the run is to be tried again later (another run holds the lock, a Zoom daily
    limit was reached).
    """

    exit_code = 3


class LockHeld(RunStopped):
    """Another run holds the state's lock; ``holder`` says who, as the lock recorded it."""

    def __init__(self, path: str, holder: str, waited: float = 0.0):
        self.path = path
        self.holder = holder
        self.waited = waited
        after = f" after waiting {waited:g} s" if waited else ""
        hint = "" if waited else "; wait for it with --wait SECONDS"
        super().__init__(f"state database {path} is in use by another run ({holder}){after}: not started{hint}")


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
