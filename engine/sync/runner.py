"""``zoomforce sync``: read Zoom as the mappings declare, keep Salesforce up to date.

The runner walks the mapping graph parent before child (a registrant's webinar is read and written
before the registrant), maps every record with its compiled plan, skips a record whose mapped form
has the hash last confirmed by Salesforce, links people to Contacts by e-mail, and upserts the rest
by external id. Every record that cannot be read, mapped or written is kept as a dead letter with
its error code (secrets redacted) and the others go on.

Resuming rests on one rule (see :mod:`engine.sync.state.store`): hashes and the cursor move are committed
together, only after Salesforce answered for the batch. A run killed anywhere re-reads what was not
committed; upserts by external id make re-sending harmless, so nothing is lost and nothing doubles.

Before reading anything, the run checks that the state was written for the Salesforce org and the
Zoom account it talks to (:mod:`engine.sync.state.binding`), binding them at first use. A dry run
writes nowhere: it calls no writing endpoint of Salesforce or Zoom, and is given a snapshot of the
state (:meth:`~engine.sync.state.store.StateStore.snapshot`) rather than the file.

A Zoom daily rate limit (``DailyLimitReached``) stops the run cleanly: the records of the entity
being read that were mapped already are written (its cursor does not move), the run is recorded
``interrupted`` with the reason, and the report carries the error for the command to exit 3. The
next run, after the limit resets, reads again and skips what this one wrote.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine import logs, metrics
from engine.errors import ConfigError, DailyLimitReached, RecordError, StateError
from engine.language.coerce import format_sf_datetime
from engine.language.model import Mapping
from engine.language.plan import MappedRecord, Plan, RunContext, secret_names
from engine.language.projection import Tree
from engine.salesforce.writer import SalesforceWriter
from engine.secrets import scrub_message
from engine.sync.pipeline import PendingRecord, WritePipeline, record_key
from engine.sync.preflight import OrgDescribes, preflight
from engine.sync.read_ahead import ReadAhead
from engine.sync.report import EntityCounts, Failures, Progress, SyncReport, no_failures, no_progress
from engine.sync.retained import retain, retained_trees
from engine.sync.reverse_flow import register_for_webinar
from engine.sync.state.binding import SALESFORCE_ORG, ZOOM_ACCOUNT
from engine.sync.state.database import utc_iso
from engine.sync.state.record_hashes import payload_hash
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from engine.zoom.reader import SourceFailure, SourceItem, SourceSkipped, Window, ZoomSource

LOG = logging.getLogger("zoomforce.sync")
DEFAULT_WINDOW_DAYS = 30
WRITE_BATCH = 5000  # mapped records held before they are written (the cursor moves after the last batch)
READ_AHEAD = 1000  # records of an entity read ahead of its writing, at most (engine.sync.read_ahead): what memory holds


@dataclass(frozen=True)
class SyncOptions:
    entities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    dry_run: bool = False
    retry_dead_letters: bool = False
    webinar: str | None = None
    full_refresh: bool = False  # ignore the stored hashes of the entities asked for: write every record
    rebind: bool = False  # bind the state to this org and account, forgetting every hash (with full_refresh)
    reset_cursors: bool = False  # read the asked entities from --since (or the default window), not their cursor
    dead_letter_ids: tuple[int, ...] | None = None  # retry only these dead letters (retry_dead_letters)

    def __post_init__(self) -> None:
        if (self.rebind or self.reset_cursors) and not self.full_refresh:
            flag = "--rebind" if self.rebind else "--reset-cursors"
            raise ConfigError(f"{flag} goes with --full-refresh (sync --full-refresh {flag})")
        if self.full_refresh and self.retry_dead_letters:
            raise ConfigError("--full-refresh and --retry-dead-letters do not go together: the retry writes every "
                              "dead letter it can map anyway")


def stopped_by(limit: DailyLimitReached) -> DailyLimitReached:
    """The error a run stopped by a Zoom daily limit ends with: what happened and when to run again."""
    after = limit.resets_at or "00:00 UTC"
    message = str(limit).partition(": ")[2]  # without the "zoom HTTP 429 [429]" the error adds again
    return DailyLimitReached(f"{message}. The run stopped; what it wrote is saved: run it again after {after}",
                             category=limit.category, limit=limit.limit, resets_at=limit.resets_at, path=limit.path)


@dataclass(frozen=True)
class EntityRead:
    """What one entity of a run reads: its window, its details read within max_age, its plan."""

    entity: str
    window: Window | None
    fresh: dict[str, str] | None  # key -> signal hash of the details read within max_age; None: read each
    salt: str  # the mapping's fingerprint, part of each signal hash
    run: dict[str, Any]  # the run-scope values its fields read (``run_time``)
    plan: Plan


@dataclass(frozen=True)
class ReadResult:
    """One item read of an entity, in its order: a record read (and its mapping), a skipped or a failed read."""

    index: int
    item: SourceItem | SourceFailure | SourceSkipped
    outcome: MappedRecord | RecordError | None  # None for a skipped or a failed read


# ---- the order of the graph ----------------------------------------------------------------------


def parent_of(mapping: Mapping) -> str | None:
    """The entity whose records this one is read under (and, in Salesforce, points at)."""
    return mapping.source.parent or (mapping.parent.entity if mapping.parent else None)


def dependencies(mapping: Mapping) -> list[str]:
    """Every entity synced before this one: the one it is read under, its Salesforce parent, its links'."""
    names = [mapping.source.parent, mapping.parent.entity if mapping.parent else None,
             *(link.entity for link in mapping.links)]
    return [name for name in dict.fromkeys(names) if name]


def ordered_entities(mapping_set: MappingSet, wanted: Iterable[str]) -> list[str]:
    """`wanted` and the entities they depend on, each after those it depends on; ties in name order."""
    chosen: set[str] = set()
    queue = list(wanted)
    while queue:
        name = queue.pop()
        if name not in chosen:
            chosen.add(name)
            queue += dependencies(mapping_set.get(name))
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ConfigError(f"mappings: the parent relation of '{name}' forms a cycle")
        visiting.add(name)
        for dependency in dependencies(mapping_set.get(name)):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in sorted(chosen):
        visit(name)
    return order


def written_entities(mapping_set: MappingSet, wanted: Iterable[str]) -> set[str]:
    """`wanted`, the parents their Salesforce records point at (a registrant's webinar), and the
    entities whose records their links find (a campaign member's campaign), with theirs in turn.

    A parent the entity is only read under (a meeting's user) is read, not written.
    """
    written: set[str] = set()
    queue = list(wanted)
    while queue:
        name = queue.pop()
        if name in written:
            continue
        written.add(name)
        mapping = mapping_set.get(name)
        queue += [mapping.parent.entity] if mapping.parent is not None else []
        queue += [link.entity for link in mapping.links if link.entity]
    return written


def mapping_fingerprint(mapping: Mapping) -> str:
    """A digest of everything `mapping` says: a detail read under another mapping is not trusted."""
    text = re.sub(r" at 0x[0-9a-f]+", "", repr(mapping))  # a sentinel's address differs from run to run
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_entities(mapping_set: MappingSet) -> list[str]:
    """Every enabled mapping that reads Zoom and writes Salesforce."""
    return sorted(
        name for name, m in mapping_set.mappings.items()
        if m.enabled and m.source.system == "zoom" and m.target.system == "salesforce"
    )


# ---- the runner ----------------------------------------------------------------------------------


class SyncRunner:
    """One sync: reads Zoom (or, in the reverse flow, Salesforce) as the mappings declare and hands the
    mapped records to the write pipeline it shares with ``serve``."""

    def __init__(
        self,
        mapping_set: MappingSet,
        store: StateStore,
        zoom: ZoomSource | None,
        salesforce: SalesforceWriter | None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress = no_progress,
        failures: Failures = no_failures,
    ):
        self.mapping_set = mapping_set
        self.store = store
        self.zoom = zoom
        self.salesforce = salesforce
        self.now = now
        self.progress = progress
        self.pipeline = WritePipeline(mapping_set, store, salesforce, progress=progress, failures=failures)
        # per entity, what its children still read of its records (engine.sync.retained): a leaf keeps nothing
        self.read_records: dict[str, list[dict[str, Any]]] = {}
        self.retained: dict[str, Tree | None] = {}
        self.write_batch = WRITE_BATCH
        self.refreshed: set[str] = set()
        self.read_ahead = READ_AHEAD
        self.reading: dict[str, EntityRead] = {}  # per entity of the run: what it reads, decided before any read
        self.ahead: ReadAhead[ReadResult] | None = None  # while a throttled run reads: the entities read ahead

    # ---- the whole run ---------------------------------------------------------------------

    def run(self, options: SyncOptions) -> SyncReport:
        wanted = list(options.entities) or default_entities(self.mapping_set)
        for name in wanted:
            if not self.mapping_set.get(name).enabled:  # UnknownEntity, with a suggestion, for a typo
                raise ConfigError(f"{name}: the mapping is disabled (enabled: false): neither synced nor disclosed")
        reverse = [n for n in wanted if self.mapping_set.get(n).source.system == "salesforce"]
        forward = [n for n in wanted if n not in reverse]
        if reverse and not options.webinar:
            raise ConfigError(f"{reverse[0]}: the reverse flow registers people for one webinar: give --webinar ID")
        self._warn_unbounded(wanted, options)
        self._authenticate(options)
        self._check_binding(options)
        if self.salesforce is not None and not options.dry_run:  # before Zoom is read, before any write
            preflight(self.mapping_set, [*written_entities(self.mapping_set, forward), *reverse],
                      OrgDescribes(self.salesforce))
        if not options.dry_run:
            self.store.runs.recover_interrupted()
        report = SyncReport()
        command = "sync --retry-dead-letters" if options.retry_dead_letters else "sync"
        run_options = {"since": str(options.since or ""), "until": str(options.until or ""),
                       "dry_run": options.dry_run, "webinar": options.webinar,
                       "full_refresh": options.full_refresh, "rebind": options.rebind,
                       "reset_cursors": options.reset_cursors}
        report.run_id = None if options.dry_run else self.store.runs.start(command, wanted, run_options)
        self.pipeline.run_id = report.run_id
        self.refreshed = set(forward) if options.full_refresh else set()
        if options.reset_cursors:
            for entity in forward:
                self.store.cursors.clear(entity)
        started = time.monotonic()
        status = "failed"
        with logs.bound(run_id=report.run_id, dry_run=options.dry_run or None):
            LOG.info("run %s started: %s %s", report.run_id or "(dry)", command, " ".join(wanted),
                     extra={"event": "run.start", "command": command, "entities": wanted, "text_hidden": True})
            try:
                if options.retry_dead_letters:
                    self._retry_dead_letters(forward, report, options)
                else:
                    written = written_entities(self.mapping_set, forward)
                    order = ordered_entities(self.mapping_set, written)
                    self.retained = retained_trees(self.mapping_set, order)
                    with ExitStack() as run_scope:  # a response two of these mappings read is read once
                        if self.zoom is not None:
                            run_scope.enter_context(self.zoom.run(self.mapping_set.get(e) for e in order))
                            self._plan_reads(order, options, run_scope)
                        for entity in order:
                            with logs.bound(entity=entity):
                                self._sync_entity(entity, entity in written, options, report)
                for entity in reverse:
                    if self.zoom is None:
                        raise ConfigError(f"{entity}: the reverse flow needs both Salesforce and Zoom credentials")
                    counts = report.entities.setdefault(entity, EntityCounts())
                    with logs.bound(entity=entity):
                        register_for_webinar(self.pipeline, self.zoom.client, entity, str(options.webinar), counts,
                                             options.dry_run, report, self.now())
                status = "partial" if report.failed else "ok"
            except DailyLimitReached as exc:
                status = "interrupted"
                report.stopped = stopped_by(exc)
            except KeyboardInterrupt:
                status = "interrupted"
                raise
            finally:
                self._count_calls(report)
                self._finish(report, command, status, time.monotonic() - started)
        return report

    def _finish(self, report: SyncReport, command: str, status: str, seconds: float) -> None:
        """Record the run's end: its row, its metrics, one ``run.finish`` record with the counts."""
        if report.run_id is not None:
            summary = report.summary() | ({"stopped": str(report.stopped)} if report.stopped else {})
            self.store.runs.finish(report.run_id, status, summary)  # type: ignore[arg-type]
        for entity, counts in report.entities.items():
            metrics.count_records(entity, counts.as_json())
        metrics.RUN_DURATION.labels(command).set(seconds)
        LOG.info("run %s finished: %s in %.1f s", report.run_id or "(dry)", status, seconds,
                 extra={"event": "run.finish", "command": command, "status": status,
                        "duration_seconds": round(seconds, 3), "counts": report.summary()["entities"],
                        "api_calls": report.api_calls, "text_hidden": True})

    def _authenticate(self, options: SyncOptions) -> None:
        """Both logins first: wrong credentials are a configuration error before anything is read."""
        if self.zoom is not None:
            self.zoom.client.authenticate()
        if self.salesforce is not None and not options.dry_run:
            self.salesforce.authenticate()

    def identities(self, options: SyncOptions) -> dict[str, str]:
        """The ids the state is bound to, of what this run talks to (a dry run without Salesforce: Zoom only)."""
        ids: dict[str, str] = {}
        if self.zoom is not None:
            ids[ZOOM_ACCOUNT] = self.zoom.client.credentials.account_id
        if self.salesforce is not None:
            ids[SALESFORCE_ORG] = self.salesforce.org_id()
        return ids

    def _check_binding(self, options: SyncOptions) -> None:
        """Refuse a state written for another org or account (exit 2); bind it at first use, or rebind."""
        self.store.check_binding(self.identities(options), rebind=options.rebind)

    def _count_calls(self, report: SyncReport) -> None:
        report.api_calls = {
            "zoom": self.zoom.client.api_calls if self.zoom else 0,
            "salesforce": self.salesforce.api_calls if self.salesforce else 0,
        }

    # ---- one entity ------------------------------------------------------------------------

    def window(self, mapping: Mapping, options: SyncOptions) -> Window | None:
        """The date window the entity's listing is read in; None when it is read whole.

        An incremental listing (a dated history: calls, past meetings) is read from ``--since``, else
        from its cursor, else from ``DEFAULT_WINDOW_DAYS`` ago, up to ``--until`` or today. Another one
        (scheduled meetings, webinars) is bounded only by what ``--since`` / ``--until`` give.
        """
        listing = mapping.source.listing
        if listing is None or not listing.windowed:
            return None
        if not listing.window_incremental:
            if options.since is None and options.until is None:
                return None
            return Window(options.since, options.until)
        until = options.until or self.now().date()
        cursor = self.store.cursors.get(mapping.entity)
        if options.since is not None:
            since = options.since
        elif cursor:
            try:
                since = date.fromisoformat(cursor[:10])
            except ValueError:
                raise StateError(f"state database {self.store.path}: the cursor of {mapping.entity} is not a date "
                                 f"({cursor[:40]!r}); give --since DATE to read from a date of your choice") from None
        else:
            since = until - timedelta(days=DEFAULT_WINDOW_DAYS)
        return Window(min(since, until), until)

    def bounded(self, entity: str) -> bool:
        """Whether ``--since`` / ``--until`` bound what is read of ``entity``: its own listing, or a parent's."""
        current: str | None = entity
        while current is not None:
            mapping = self.mapping_set.get(current)
            if mapping.source.system != "zoom":
                return False
            if mapping.source.listing is not None and mapping.source.listing.windowed:
                return True
            current = mapping.source.parent
        return False

    def _warn_unbounded(self, wanted: Sequence[str], options: SyncOptions) -> None:
        if (options.since is None and options.until is None) or options.retry_dead_letters:
            return
        for entity in wanted:
            if self.bounded(entity):
                continue
            source = self.mapping_set.get(entity).source
            listing = source.listing.endpoint if source.listing else (source.endpoint or "its Salesforce query")
            LOG.warning("%s: --since/--until do not apply: its listing (%s) cannot be bounded in time; every record "
                        "is read", entity, listing,
                        extra={"event": "window.unbounded", "entity": entity, "listing": listing})

    def _sync_entity(self, entity: str, write: bool, options: SyncOptions, report: SyncReport) -> None:
        if self.zoom is None:
            raise ConfigError("sync needs Zoom credentials")
        mapping = self.mapping_set.get(entity)
        plan = self.pipeline.plan(entity)
        counts = report.entities.setdefault(entity, EntityCounts()) if write else EntityCounts()
        keep = not options.dry_run  # a dry run files no dead letter either
        reading = self.reading[entity]
        pending: list[PendingRecord] = []
        signals: dict[int, tuple[str, str]] = {}  # position in pending -> its detail read's key and signal hash
        keep_hashes = entity not in self.refreshed

        def flush() -> None:
            """Write the records mapped so far (an entity only read is not written: they are let go)."""
            if write:
                self.pipeline.link(mapping, pending, keep_hashes=keep_hashes)
                self.pipeline.write(mapping, plan, pending, counts, options.dry_run, report, None,
                                    keep_hashes=keep_hashes)
                if signals and not options.dry_run:
                    self._remember_details(entity, pending, signals, report.run_id)
            pending.clear()
            signals.clear()

        self.progress(entity, "read", counts)
        reads = self.ahead.take(entity) if self.ahead is not None else self._produce(entity)
        try:
            self._take_reads(mapping, plan, reads, counts, keep, pending, signals, flush)
        except DailyLimitReached:
            if write and pending:  # keep what was read before the limit: written now, the cursor stays
                self.pipeline.link(mapping, pending, keep_hashes=keep_hashes)
                self.pipeline.write(mapping, plan, pending, counts, options.dry_run, report, None,
                                    keep_hashes=keep_hashes)
            raise
        if not write:
            if counts.failed:  # a parent that could not be read hides its children: the run must say so
                report.entities[entity] = counts
            return
        self.pipeline.link(mapping, pending, keep_hashes=keep_hashes)
        window = reading.window
        listing = mapping.source.listing
        keeps_cursor = listing is not None and listing.window_incremental
        cursor = window.until.isoformat() if keeps_cursor and window is not None and window.until else None
        self.pipeline.write(mapping, plan, pending, counts, options.dry_run, report, cursor,
                            keep_hashes=keep_hashes)
        if signals and not options.dry_run:
            self._remember_details(entity, pending, signals, report.run_id)
        self.progress(entity, "done", counts)

    # ---- reading: every entity's read planned first, then read (ahead, with a throttle) -------

    def _plan_reads(self, order: Sequence[str], options: SyncOptions, run_scope: ExitStack) -> None:
        """What each entity of `order` reads (its window, its fresh details), decided before anything is
        read; with a throttled client, each is then read ahead in a thread of its own (:mod:`engine.sync.read_ahead`):
        an entity read under no other at once, one read under a parent once the parent is read."""
        self.reading = {}
        for entity in order:
            mapping = self.mapping_set.get(entity)
            fresh = self._fresh_details(mapping)
            self.reading[entity] = EntityRead(
                entity, self.window(mapping, options), fresh,
                mapping_fingerprint(mapping) if fresh is not None else "",
                {"run_time": format_sf_datetime(self.now())}, self.pipeline.plan(entity))
        self.ahead = None
        assert self.zoom is not None
        if self.zoom.workers <= 1:  # one request at a time: read in turn, in the writer's thread
            return
        self.ahead = run_scope.enter_context(ReadAhead[ReadResult](order, self.read_ahead))
        for entity in order:
            if self.mapping_set.get(entity).source.parent not in self.reading:
                self._start_reading(entity)

    def _start_reading(self, entity: str) -> None:
        assert self.ahead is not None
        with logs.bound(entity=entity):
            self.ahead.start(entity, lambda: self._produce(entity))

    def _produce(self, entity: str) -> Generator[ReadResult, None, None]:
        """Read and map every record of `entity`, keeping of each what the entities read under it need;
        once all are read, those entities start reading (when read ahead)."""
        assert self.zoom is not None
        mapping = self.mapping_set.get(entity)
        reading = self.reading[entity]
        parent = mapping.source.parent
        parents = self.read_records.get(parent, []) if parent else None
        keeps_whole = entity not in self.retained  # outside a run's order: kept as read
        tree = self.retained.get(entity)
        kept: list[dict[str, Any]] = []

        def keep_source(record: dict[str, Any]) -> None:
            cut = record if keeps_whole else retain(record, tree)
            if cut is not None:
                kept.append(cut)

        for index, item in enumerate(self.zoom.read(mapping, parents, reading.window, reading.fresh, reading.salt)):
            if isinstance(item, SourceSkipped):  # unchanged since its last detail read: no call at all
                keep_source(item.record)
                yield ReadResult(index, item, None)
                continue
            if isinstance(item, SourceFailure):
                yield ReadResult(index, item, None)
                continue
            outcome = self._map(reading.plan, item, reading.run, index)
            if not isinstance(outcome, RecordError):
                keep_source(item.record)
            yield ReadResult(index, item, outcome)
        self.read_records[entity] = kept
        if self.ahead is not None:
            for child in self.reading:
                if self.mapping_set.get(child).source.parent == entity:
                    self._start_reading(child)

    def _take_reads(
        self, mapping: Mapping, plan: Plan, reads: Iterable[ReadResult], counts: EntityCounts, keep: bool,
        pending: list[PendingRecord], signals: dict[int, tuple[str, str]], flush: Callable[[], None],
    ) -> None:
        """The records read of `mapping`, in order: the mapped ones into `pending`, the others dead letters."""
        entity = mapping.entity
        secrets = secret_names(mapping)
        batched = mapping.source.parent is not None
        last_parent: object = None
        for read in reads:
            item, index, outcome = read.item, read.index, read.outcome
            if len(pending) >= self.write_batch and (not batched or item.parent is not last_parent):
                # flat memory: written per batch, of parents for an entity read under one (a record listed
                # twice under one parent, a rejoin, stays in one batch, where the last listed is the one written)
                flush()
            last_parent = item.parent
            counts.read += 1
            if isinstance(item, SourceSkipped):  # unchanged since its last detail read: no call at all
                counts.unchanged += 1
                continue
            listed = {"listing": item.listing} if item.listing else {}
            evidence = self.pipeline.evidence(mapping, item.record, item.parent, **listed)
            if isinstance(item, SourceFailure):
                key = plan.key_of(item.record)
                self.pipeline.dead(entity, key, item.code, item.message, evidence, index, secrets, counts, keep)
                continue
            assert outcome is not None  # a record read is mapped, or its error says why not
            if isinstance(outcome, RecordError):
                key = plan.key_of(item.record)
                self.pipeline.dead(entity, key, outcome.code, str(outcome), evidence, index, secrets, counts, keep)
                continue
            if item.signal is not None:
                signals[len(pending)] = item.signal
            pending.append(PendingRecord(record_key(outcome, plan), outcome, evidence, index))
            if counts.read % 100 == 0:
                self.progress(entity, "read", counts)

    def _fresh_details(self, mapping: Mapping) -> dict[str, str] | None:
        """The keys read in detail within the listing's ``max_age``, with their signal hash; None: read each."""
        listing = mapping.source.listing
        if listing is None or not listing.detail_signals or listing.detail_max_age is None:
            return None
        if mapping.entity in self.refreshed:  # --full-refresh reads every item in detail again
            return {}
        since = self.now() - timedelta(seconds=listing.detail_max_age)
        return self.store.detail_reads.fresh(mapping.entity, utc_iso(since))

    def _remember_details(self, entity: str, pending: list[PendingRecord], signals: dict[int, tuple[str, str]],
                          run_id: int | None) -> None:
        """The detail reads whose record Salesforce now holds (its hash confirmed): not read again within max_age."""
        states = self.store.hashes.states(entity, (pending[position].key for position in signals))
        confirmed = []
        for position, signal in signals.items():
            state = states.get(pending[position].key)
            if state is not None and state.payload_hash == payload_hash(pending[position].mapped.record):
                confirmed.append((*signal, pending[position].key))
        self.store.detail_reads.remember(entity, confirmed, utc_iso(self.now()), run_id)

    def _map(self, plan: Plan, item: SourceItem, run: dict[str, Any], index: int) -> MappedRecord | RecordError:
        try:
            return plan.map_record(item.record, RunContext(parent=item.parent, run=run), listing=item.listing,
                                   checked=item.checked)
        except RecordError as exc:
            return exc.located(index, plan.entity)

    # ---- retrying dead letters ---------------------------------------------------------------

    def _retry_dead_letters(self, entities: Sequence[str], report: SyncReport, options: SyncOptions) -> None:
        """Map each open dead letter's source record again (the mapping may be fixed) and write it.

        A dry run shows the plan of each (create or update, field by field) and changes nothing:
        no letter resolved, none counted as one more attempt.
        """
        run = {"run_time": format_sf_datetime(self.now())}
        dry_run = options.dry_run
        for entity in ordered_entities(self.mapping_set, entities):
            letters = self.store.dead_letters.find(entity, ids=options.dead_letter_ids)
            if not letters:
                continue
            mapping = self.mapping_set.get(entity)
            full = self.pipeline.plan(entity)
            # Dead letters keep secrets as *** (and links as ?pwd=***): the retry leaves those fields out,
            # and the next sync, whose record then differs from the hash kept now, writes them from Zoom.
            plan = replace(full, fields=tuple(f for f in full.fields if f.target not in full.secrets),
                           skip_masked=True)
            counts = report.entities.setdefault(entity, EntityCounts())
            secrets = secret_names(mapping)
            pending: list[PendingRecord] = []
            for letter in letters:
                if letter.code.startswith("ZOOM_") or letter.code == "MISSING_KEY":
                    LOG.warning("%s: dead letter %d (%s) keeps only a summary of the record: the next sync reads "
                                "it from Zoom again", entity, letter.id, letter.code,
                                extra={"event": "dead_letter.not_retried", "entity": entity,
                                       "dead_letter": letter.id})
                    continue  # only a summary was kept: the next sync reads the record from Zoom again
                counts.read += 1
                source = letter.record.get("source")
                event = letter.record.get("event")  # a dead letter of an event notification is mapped as one
                listing = letter.record.get("listing")  # and one of a named listing as a record of it
                try:
                    mapped = plan.map_record(source, RunContext(parent=letter.record.get("parent"), run=run),
                                             event=event if isinstance(event, str) else None,
                                             listing=listing if isinstance(listing, str) else None)
                except RecordError as exc:
                    counts.failed += 1
                    LOG.warning("%s: dead letter %d still cannot be mapped: %s", entity, letter.id, exc,
                                extra={"event": "dead_letter.retry_failed", "entity": entity,
                                       "dead_letter": letter.id, "text_hidden": True})
                    self.pipeline.failures(entity, letter.key or f"record {letter.source_index}", exc.code,
                                           scrub_message(str(exc), letter.record, secrets))
                    if not dry_run:
                        self.store.dead_letters.bump(letter.id, exc.code, str(exc),
                                                     report.run_id)
                    continue
                # The letter is resolved when Salesforce confirms the write, in the same commit (its key
                # may differ now that the mapping changed); a failure keeps it open.
                pending.append(PendingRecord(record_key(mapped, plan), mapped, letter.record, letter.source_index or 0,
                                             letter.id))
            self.pipeline.link(mapping, pending, keep_hashes=entity not in self.refreshed)
            self.pipeline.write(mapping, plan, pending, counts, dry_run, report, None, keep_hashes=False)
