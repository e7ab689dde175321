"""The ``runs`` table: the history of runs (command, entities, options, status, summary).

A run is recorded ``running`` with the process id and host that started it, so that a later run
can tell a run whose process is gone (killed, crashed) from one still going beside it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from engine.sync.state.database import Database, to_json

RunStatus = Literal["running", "ok", "partial", "failed", "interrupted"]
FINAL_RUN_STATUSES: frozenset[str] = frozenset({"ok", "partial", "failed", "interrupted"})


@dataclass(frozen=True)
class RunRecord:
    id: int
    command: str
    entities: list[str]
    options: dict[str, Any]
    status: RunStatus
    started_at: str
    finished_at: str | None
    summary: dict[str, Any] | None
    pid: int | None
    host: str | None


def _run_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        command=row["command"],
        entities=json.loads(row["entities"]),
        options=json.loads(row["options"]),
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        summary=json.loads(row["summary"]) if row["summary"] is not None else None,
        pid=row["pid"],
        host=row["host"],
    )


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        # os.kill(pid, 0) would terminate the process on Windows: we cannot probe, assume gone.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Runs:
    """The runs of a store (``store.runs``)."""

    def __init__(self, database: Database):
        self._db = database

    def start(self, command: str, entities: Sequence[str], options: Mapping[str, Any]) -> int:
        """Record a run as ``running`` now; returns its id."""
        with self._db.transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (command, entities, options, status, started_at, pid, host) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id",
                (command, to_json(list(entities)), to_json(dict(options)), self._db.now(), os.getpid(),
                 socket.gethostname()),
            )
            return int(cursor.fetchall()[0]["id"])

    def finish(self, run_id: int, status: RunStatus, summary: Mapping[str, Any]) -> None:
        if status not in FINAL_RUN_STATUSES:
            raise ValueError(f"a run finishes as one of {sorted(FINAL_RUN_STATUSES)}, not {status!r}")
        self._db.change(
            "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
            (status, self._db.now(), to_json(dict(summary)), run_id),
            f"run {run_id}",
        )

    def get(self, run_id: int) -> RunRecord | None:
        row = self._db.one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run_row(row) if row else None

    def recent(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        return [_run_row(row) for row in self._db.all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    def last_success(self, command_prefix: str = "sync") -> str | None:
        """When the latest run of ``command_prefix`` that wrote everything (status ``ok``, not a dry run) ended."""
        row = self._db.one(
            "SELECT MAX(finished_at) AS at FROM runs WHERE status = 'ok' AND command LIKE ? || '%'",
            (command_prefix,),
        )
        return str(row["at"]) if row and row["at"] else None

    def recover_interrupted(self) -> list[int]:
        """Mark as ``interrupted`` the runs left ``running`` by a process that is gone; their ids.

        A run of this host whose process still lives (another ``sync`` or ``serve``) is left alone;
        so is a run started on another host, which cannot be probed.
        """
        host = socket.gethostname()
        with self._db.transaction():
            rows = self._db.execute("SELECT id, pid, host FROM runs WHERE status = 'running'").fetchall()
            gone = [row["id"] for row in rows if row["host"] in (None, host) and not self._alive(row["pid"])]
            now = self._db.now()
            for run_id in gone:
                self._db.execute("UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ?", (now, run_id))
        return gone

    @staticmethod
    def _alive(pid: int | None) -> bool:
        return pid is not None and _pid_alive(pid)
