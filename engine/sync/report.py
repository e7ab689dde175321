"""What a sync reports: counts per entity, the dry-run plan, API calls; and how progress and failures are told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import DailyLimitReached


@dataclass
class EntityCounts:
    read: int = 0
    written: int = 0
    unchanged: int = 0  # nothing to write: as last written, the same record twice, or skipped
    failed: int = 0
    skipped: int = 0  # of `unchanged`: left out by a link's `on_unmatched: skip`

    def as_json(self) -> dict[str, int]:
        return {"read": self.read, "written": self.written, "unchanged": self.unchanged, "failed": self.failed}


@dataclass(frozen=True)
class PlannedChange:
    """What ``--dry-run`` reports for one record: create, update or unchanged, and the field changes."""

    entity: str
    key: str
    action: str
    changes: dict[str, tuple[Any, Any]]


@dataclass
class SyncReport:
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=lambda: {"zoom": 0, "salesforce": 0})
    planned: list[PlannedChange] = field(default_factory=list)
    run_id: int | None = None
    stopped: DailyLimitReached | None = None  # the run stopped early, its state saved (exit 3)

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.entities.values())

    def summary(self) -> dict[str, Any]:
        return {"entities": {n: c.as_json() for n, c in self.entities.items()}, "api_calls": dict(self.api_calls)}


class Progress(Protocol):
    """Told, per entity, each stage (read, write, done) with the counts so far."""

    def __call__(self, entity: str, stage: str, counts: EntityCounts) -> None: ...


def no_progress(entity: str, stage: str, counts: EntityCounts) -> None:
    return None


class Failures(Protocol):
    """Told each record that failed: its entity, its key (``record N`` when it has none), the error code
    and the reason, secrets already scrubbed out."""

    def __call__(self, entity: str, key: str, code: str, reason: str) -> None: ...


def no_failures(entity: str, key: str, code: str, reason: str) -> None:
    return None
