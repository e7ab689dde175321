"""One run at a time on a state: an exclusive lock that the operating system releases with its holder.

A ``sync`` (and ``dead-letters retry``) takes the lock of its state before it reads anything, and
holds it to the end. A second run on the same state does not start: it exits 3 at once naming the
holder's process id, host and start time (:class:`~engine.errors.LockHeld`), or waits for it up to
``--wait SECONDS``. ``serve`` does not take it: it and a ``sync`` share a state safely, each write
being a short SQLite transaction that waits for the other's (see :mod:`.database`).

For a SQLite state the lock is ``flock`` on ``PATH.lock`` beside the file (on Windows, a byte
range lock). Such a lock belongs to the open file: when the process ends, however it ends (a
crash, SIGKILL, a power cut), the system releases it, so a stale lock cannot stop the next run.
The lock file is never deleted (deleting it while a run holds it would let a second run lock a new
file); it holds one line of JSON saying who holds it, for the message a second run prints.

:class:`RunLock` is the interface, small so that another backend can implement it its own way (a
session-level advisory lock of a database server is released with its session the same way).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from engine.errors import LockHeld, StateError
from engine.sync.state.database import Clock, _utc_now, utc_iso

LOG = logging.getLogger("zoomforce.state")
LOCK_SUFFIX = ".lock"
POLL_SECONDS = 0.2
_INFO_OFFSET = 1  # the holder line starts after byte 0, the byte Windows locks (a locked range cannot be read there)


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as its holder recorded it."""

    pid: int | None
    host: str | None
    started_at: str | None
    command: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "its holder has not said who it is yet"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        since = f", started {self.started_at}" if self.started_at else ""
        what = f" ({self.command})" if self.command else ""
        return f"pid {self.pid}{where}{since}{what}"


class RunLock(Protocol):
    """The run lock of a state: acquire (or LockHeld), release; a context manager."""

    def acquire(self, wait: float = 0.0) -> None: ...

    def release(self) -> None: ...

    def holder(self) -> LockHolder | None: ...

    def __enter__(self) -> RunLock: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...


class _Context:
    def acquire(self, wait: float = 0.0) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()


class NoRunLock(_Context):
    """The lock of a store no other process can open (``":memory:"``): always free."""

    def acquire(self, wait: float = 0.0) -> None:
        return None

    def release(self) -> None:
        return None

    def holder(self) -> LockHolder | None:
        return None


def _try_lock(fd: int) -> bool:
    """Take the lock of `fd` without waiting; False when another open file holds it."""
    if sys.platform == "win32":
        import msvcrt  # deferred: Windows only (a standard-library module, not the engine)

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl  # deferred: POSIX only (a standard-library module, not the engine)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt  # deferred: Windows only (a standard-library module, not the engine)

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl  # deferred: POSIX only (a standard-library module, not the engine)

    fcntl.flock(fd, fcntl.LOCK_UN)


class FileRunLock(_Context):
    """The run lock of a SQLite state at ``state_path``: ``flock`` on ``state_path + ".lock"``."""

    def __init__(self, state_path: str, command: str, *, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self.state_path = state_path
        self.path = state_path + LOCK_SUFFIX
        self.command = command
        self._clock = clock or _utc_now
        self._sleep = sleep
        self._monotonic = monotonic
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds for its holder; LockHeld (exit 3) if it is still held."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StateError(f"state database {self.state_path}: cannot open its lock file {self.path}: "
                             f"{error.strerror}") from error
        deadline = self._monotonic() + max(0.0, wait)
        told = False
        try:
            while not _try_lock(fd):
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    holder = self.holder()
                    raise LockHeld(self.state_path, holder.describe() if holder else "holder unknown", wait)
                if not told:
                    holder = self.holder()
                    LOG.info("state database %s is in use by another run (%s); waiting up to %g s", self.state_path,
                             holder.describe() if holder else "holder unknown", wait,
                             extra={"event": "lock.wait", "wait_seconds": wait})
                    told = True
                self._sleep(min(POLL_SECONDS, remaining))
            self._record(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _record(self, fd: int) -> None:
        line = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": utc_iso(self._clock()),
                           "command": self.command}) + "\n"
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"\n" + line.encode("utf-8"))

    def release(self) -> None:
        """Let the next run in; safe to call twice. The file stays (see the module's docstring)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, _INFO_OFFSET)
            _unlock(fd)
        finally:
            os.close(fd)

    def holder(self) -> LockHolder | None:
        """Who holds the lock, as the holder wrote it; None when the file says nobody (no run, or ended)."""
        for _ in range(10):  # a holder that just took the lock writes its line a moment later
            try:
                with open(self.path, "rb") as file:
                    file.seek(_INFO_OFFSET)
                    text = file.read(4096).decode("utf-8", "replace").strip()
            except OSError:
                return None
            if text:
                break
            self._sleep(0.02)
        else:
            return LockHolder(None, None, None, None)
        try:
            info = json.loads(text)
        except ValueError:
            return LockHolder(None, None, None, None)
        if not isinstance(info, dict):
            return LockHolder(None, None, None, None)
        pid = info.get("pid")
        return LockHolder(pid if isinstance(pid, int) else None, _text(info.get("host")),
                          _text(info.get("started_at")), _text(info.get("command")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
