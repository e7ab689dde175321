"""What ``zoomforce sync`` shows: progress per entity, the records that failed, the dry-run plan, the summary.

A terminal gets one line per entity redrawn in place (a bar of the records handled so far); a pipe
or a log file gets plain lines: one when an entity ends and, for an entity long enough to report
progress while it is read, one when its first records are in. Nothing is written before a record
is read, so a run that cannot reach Zoom shows the error alone. Secrets never reach here in clear:
the dry run's values come redacted from the runner.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from engine.sync.report import EntityCounts, PlannedChange, SyncReport

LOG = logging.getLogger("zoomforce.sync")

BAR_WIDTH = 24


class ProgressLines:
    """The runner's progress callback, writing to `stream` (standard error)."""

    def __init__(self, stream: TextIO, interactive: bool):
        self.stream = stream
        self.interactive = interactive
        self.current: str | None = None
        self.line_open = False  # a redrawn line without its newline yet

    def __call__(self, entity: str, stage: str, counts: EntityCounts) -> None:
        if self.interactive:
            self._redraw(entity, stage, counts)
        elif stage == "done":
            self.stream.write(f"{entity}: {_counts_text(counts)}\n")
        elif stage == "read" and counts.read and entity != self.current:
            self.current = entity
            self.stream.write(f"{entity}: reading, {counts.read} so far\n")
        self.stream.flush()

    def close(self) -> None:
        """End a line left open by the redraw, so that an error message starts on its own line."""
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False

    def _redraw(self, entity: str, stage: str, counts: EntityCounts) -> None:
        handled = counts.written + counts.unchanged + counts.failed
        total = max(counts.read, 1)
        filled = BAR_WIDTH * min(handled, total) // total if stage != "read" else 0
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        label = "reading" if stage == "read" else "writing" if stage == "write" else "done"
        end = "\n" if stage == "done" else ""
        self.stream.write(f"\r{entity:<14} [{bar}] {label:<8} {_counts_text(counts)}\x1b[K{end}")
        self.line_open = not end


class LogProgress:
    """The runner's progress callback for log platforms: one ``entity.done`` record per entity, with its counts.

    While an entity is read, an ``entity.progress`` record every thousand records read.
    """

    def __call__(self, entity: str, stage: str, counts: EntityCounts) -> None:
        if stage == "done":
            LOG.info("%s: %s", entity, _counts_text(counts),
                     extra={"event": "entity.done", "entity": entity, "counts": counts.as_json(),
                            "text_hidden": True})
        elif stage == "read" and counts.read and counts.read % 1000 == 0:
            LOG.info("%s: reading, %d so far", entity, counts.read,
                     extra={"event": "entity.progress", "entity": entity, "counts": counts.as_json()})

    def close(self) -> None:
        return None


def log_plan(planned: list[PlannedChange]) -> None:
    """The dry run's plan as records (``dry_run.plan``): one per record, its field changes as before/after."""
    for change in planned:
        LOG.info("%s %s %s", change.action, change.entity, change.key,
                 extra={"event": "dry_run.plan", "entity": change.entity, "key": change.key,
                        "action": change.action,
                        "changes": {name: {"before": before, "after": after}
                                    for name, (before, after) in change.changes.items()}})


class FailureLines:
    """The runner's failure callback: one line per failed record on `stream` (standard error).

    ``zoomforce: failed: ENTITY KEY: CODE: REASON``, the first `limit` per entity and error code (None:
    all of them); ``close()`` then says how many more each had. `before` ends an open progress line.
    No `stream` (JSON logs, whose ``dead_letter`` records carry every failure): only counted.
    """

    def __init__(self, stream: TextIO | None, *, limit: int | None = 20, kept: bool = True,
                 before: Callable[[], object] = lambda: None) -> None:
        self.stream = stream
        self.limit = limit
        self.kept = kept
        self.before = before
        self.counts: Counter[tuple[str, str]] = Counter()

    def __call__(self, entity: str, key: str, code: str, reason: str) -> None:
        self.counts[(entity, code)] += 1
        if self.stream is None:
            return
        if self.limit is None or self.counts[(entity, code)] <= self.limit:
            self.before()
            one_line = " ".join(reason.split())
            self.stream.write(f"zoomforce: failed: {entity} {key}: {code}: {one_line}\n")
            self.stream.flush()

    def close(self) -> None:
        """One line per entity and code that had more failures than were shown."""
        if self.stream is None:
            return
        kept = "; every one is kept as a dead letter" if self.kept else ""
        for (entity, code), count in self.counts.items():
            if self.limit is not None and count > self.limit:
                self.before()
                self.stream.write(f"zoomforce: failed: {entity}: {count - self.limit} more {code} failure(s) "
                                  f"not shown ({count} in all{kept})\n")
        self.stream.flush()


def _counts_text(counts: EntityCounts) -> str:
    skipped = f" ({counts.skipped} skipped)" if counts.skipped else ""
    return (f"read {counts.read}, written {counts.written}, unchanged {counts.unchanged}{skipped}, "
            f"failed {counts.failed}")


def summary_text(report: SyncReport) -> str:
    lines = [f"{name}: {_counts_text(counts)}" for name, counts in report.entities.items()]
    calls = report.api_calls
    lines.append(f"api calls: zoom {calls.get('zoom', 0)}, salesforce {calls.get('salesforce', 0)}")
    return "\n".join(lines) + "\n"


def summary_json(report: SyncReport) -> str:
    return json.dumps(report.summary(), ensure_ascii=False) + "\n"


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def planned_lines(planned: list[PlannedChange]) -> list[str]:
    """One line per record the dry run would touch, then one per changed field."""
    lines: list[str] = []
    for change in planned:
        if change.action == "unchanged":
            lines.append(f"unchanged {change.entity} {change.key}")
            continue
        lines.append(f"{'would create' if change.action == 'create' else 'would update'} {change.entity} "
                     f"{change.key}")
        for name, (before, after) in change.changes.items():
            lines.append(f"    {name}: {_value(before)} -> {_value(after)}")
    return lines
