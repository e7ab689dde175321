"""The background processor of the webhook inbox: claim due events, run them, retry the failures.

The receiver (:mod:`engine.serve.app`) only stores events and answers Zoom; this worker does the
slow part (mapping, writing to Salesforce) in a daemon thread, so an outage of Salesforce costs
nothing but delay:

    claim up to ``batch`` due events (leased for ``lease_seconds``; each claim is an attempt)
      -> processor(event) returns  -> inbox.done
      -> raises PermanentEventError -> inbox.dead at once (retrying cannot help)
      -> raises anything else       -> inbox.failed, due again after a jittered exponential
                                       backoff; after ``max_attempts`` attempts -> inbox.dead

A processor that also has ``process_batch(events)`` gets the claimed events together (so that it
can write them to Salesforce in one call rather than one call per event) and answers, per inbox
id, None (done) or the exception its event failed with, which is then handled as above.

While a batch is processed its leases are renewed every third of a lease, so a slow batch keeps
its events; a worker that dies stops renewing them. Delivery to the processor is at least once: an
event whose lease expires (the process was killed, or hung) is claimed again, and so is one whose ``inbox.done``
could not be written. The processor must therefore be idempotent, which an upsert by external id
is. Duplicates from Zoom itself never get this far: the inbox drops them on arrival.

Logs (logger ``zoomforce.webhook``) name the event id, its type, the outcome and the exception's
class, never its message nor the body: both may carry payload values such as meeting passwords.
The full error text is kept in the inbox row (``last_error``) for inspection.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from engine.errors import PermanentEventError, StateError
from engine.secrets import mask_link
from engine.sync.state.inbox import InboxEvent
from engine.sync.state.store import StateStore

Processor = Callable[[InboxEvent], None]
BatchOutcomes = Mapping[int, BaseException | None]  # inbox id -> None (done) or why it failed
Outcome = Literal["done", "retry", "dead"]

LOGGER_NAME = "zoomforce.webhook"
MAX_ERROR_TEXT = 500


def backoff_seconds(attempt: int, base: float, maximum: float, rand: Callable[[], float] = random.random) -> float:
    """How long to wait after failed attempt number ``attempt`` (1-based) before the next one.

    Exponential (``base * 2 ** (attempt - 1)``), capped at ``maximum``, with "equal jitter": half
    of it fixed and half random, so retries of many events after one outage spread out instead of
    arriving together, and no retry comes sooner than half the nominal delay.
    """
    ceiling = min(maximum, base * 2.0 ** min(max(attempt - 1, 0), 64))
    return ceiling / 2 + rand() * ceiling / 2


def _error_text(error: BaseException) -> str:
    """The text kept in the inbox row: class and message, credential links masked, cut to a bounded length."""
    message = mask_link(str(error))
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text[:MAX_ERROR_TEXT]


class InboxWorker:
    """Processes the inbox of ``store`` with ``processor``: in a daemon thread, or by :meth:`drain`."""

    def __init__(
        self,
        store: StateStore,
        processor: Processor,
        *,
        batch: int = 50,
        lease_seconds: float = 60,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        idle_wait: float = 0.5,
        logger: logging.Logger | None = None,
        rand: Callable[[], float] = random.random,
    ):
        if batch < 1 or max_attempts < 1:
            raise ValueError(f"batch and max_attempts must be at least 1, not {batch} and {max_attempts}")
        if lease_seconds <= 0 or idle_wait <= 0 or backoff_base < 0 or backoff_max < 0:
            raise ValueError("lease_seconds and idle_wait must be positive, backoff_base and backoff_max not negative")
        self._store = store
        self._processor = processor
        self._batch = batch
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._idle_wait = idle_wait
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._rand = rand
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._control = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def processor(self) -> Processor:
        return self._processor

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the daemon thread; does nothing when it already runs."""
        with self._control:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="zoomforce-inbox", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to stop after its current batch and wait up to ``timeout`` s; True if it stopped.

        Events claimed once it was asked to stop are given back at once (``inbox.release``); events of a
        batch it could not finish in ``timeout`` are claimed again, by any replica, when their lease ends.
        """
        with self._control:
            thread = self._thread
            self._stopping.set()
            self._wakeup.set()
            if thread is None:
                return True
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
            return True

    def wake(self) -> None:
        """An event arrived: look at the inbox now rather than after ``idle_wait``."""
        self._wakeup.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()  # before the claim: a wake() after this point is seen by the next claim
            try:
                claimed, _ = self._process_batch()
            except StateError as error:
                self._log.error("webhook inbox: cannot read or update the state database: %s", error)
                claimed = 0
            except Exception as error:  # keep the thread alive; the events' leases bring them back
                self._log.error("webhook inbox: worker error %s", type(error).__name__)
                claimed = 0
            if not claimed:
                self._wakeup.wait(self._idle_wait)

    # ---- processing ------------------------------------------------------------------------

    def drain(self, deadline_seconds: float) -> int:
        """Process in this thread until no event is due or ``deadline_seconds`` passed.

        Events waiting for a retry whose time has not come are not due: they are left for later.
        Returns how many events were finished (done or dead) by this call.
        """
        deadline = time.monotonic() + deadline_seconds
        finished = 0
        while time.monotonic() < deadline:
            claimed, done = self._process_batch()
            finished += done
            if not claimed:
                break
        return finished

    def _process_batch(self) -> tuple[int, int]:
        """Claim one batch and process it; (events claimed, events finished). The log is emptied after it."""
        events = self._store.inbox.claim(self._batch, self._lease_seconds, self._max_attempts)
        if events and self._stopping.is_set():  # stopping (SIGTERM): give them back to the other replicas now
            self._store.inbox.release(event.id for event in events)
            return 0, 0
        for buried in self._store.inbox.dead_with_body():  # an expired lease with no attempts left, an old state
            self._bury(buried, buried.last_error or "no attempts left")
        renewing = self._renew_leases(events)
        try:
            return self._process(events)
        finally:
            if renewing is not None:
                renewing.set()
            if events:
                self._store.checkpoint()

    def _renew_leases(self, events: Sequence[InboxEvent]) -> threading.Event | None:
        """Renew the batch's leases every third of a lease until the returned event is set (the batch settled)."""
        if not events:
            return None
        settled = threading.Event()
        ids = [event.id for event in events]

        def renew() -> None:
            while not settled.wait(self._lease_seconds / 3):
                try:
                    self._store.inbox.extend(ids, self._lease_seconds)
                except StateError as error:  # the lease runs out then, and the events are taken again
                    self._log.warning("webhook inbox: cannot renew the batch's leases: %s", error)

        threading.Thread(target=renew, name="zoomforce-inbox-lease", daemon=True).start()
        return settled

    def _process(self, events: Sequence[InboxEvent]) -> tuple[int, int]:
        together: Callable[[Sequence[InboxEvent]], BatchOutcomes] | None = getattr(
            self._processor, "process_batch", None)
        if events and together is not None:
            try:
                outcomes = together(events)
            except Exception as error:  # the whole batch failed: each event is retried (or buried)
                outcomes = dict.fromkeys((event.id for event in events), error)
            missing = RuntimeError("the batch processor gave no outcome for this event")
            finished = sum(1 for event in events if self._settle(event, outcomes.get(event.id, missing)) != "retry")
        else:  # one at a time, each settled before the next starts
            finished = sum(1 for event in events if self._settle(event, self._run_one(event)) != "retry")
        return len(events), finished

    def _run_one(self, event: InboxEvent) -> BaseException | None:
        try:
            self._processor(event)
        except Exception as error:
            return error
        return None

    def _settle(self, event: InboxEvent, error: BaseException | None) -> Outcome:
        if error is None:
            self._store.inbox.done(event.id)
            return self._report(event, "done")
        if isinstance(error, PermanentEventError) or event.attempts >= self._max_attempts:
            self._bury(event, _error_text(error))
            return self._report(event, "dead", error)
        delay = backoff_seconds(event.attempts, self._backoff_base, self._backoff_max, self._rand)
        self._store.inbox.failed(event.id, _error_text(error), delay)
        return self._report(event, "retry", error, delay)

    def _bury(self, event: InboxEvent, reason: str) -> None:
        """Dead: the processor files what the event held as dead letters (``bury``), and the body is dropped."""
        bury: Callable[[InboxEvent, str], None] | None = getattr(self._processor, "bury", None)
        with self._store.transaction():
            if bury is not None:
                try:
                    with self._store.transaction():
                        bury(event, reason)
                except StateError:
                    raise
                except Exception as error:  # its dead letters are lost, not the worker: say so
                    self._log.error("webhook event not kept as a dead letter: type=%s id=%s error=%s",
                                    event.event_type, event.event_id, type(error).__name__)
            self._store.inbox.dead(event.id, reason)

    def _report(
        self, event: InboxEvent, outcome: Outcome, error: BaseException | None = None, delay: float = 0.0
    ) -> Outcome:
        if outcome == "done":
            self._log.info(
                "webhook event processed: type=%s id=%s status=done attempt=%d",
                event.event_type,
                event.event_id,
                event.attempts,
            )
        elif outcome == "retry":
            self._log.warning(
                "webhook event failed: type=%s id=%s status=retry attempt=%d/%d error=%s retry_in=%.1fs",
                event.event_type,
                event.event_id,
                event.attempts,
                self._max_attempts,
                type(error).__name__,
                delay,
            )
        else:
            self._log.error(
                "webhook event given up: type=%s id=%s status=dead attempt=%d/%d error=%s",
                event.event_type,
                event.event_id,
                event.attempts,
                self._max_attempts,
                type(error).__name__,
            )
        return outcome
