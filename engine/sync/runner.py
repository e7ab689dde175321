"""``zoomforce sync``: read Zoom as the mappings declare, keep Salesforce up to date.

The runner walks the mapping graph parent before child (a registrant's webinar is read and written
before the registrant), maps every record with its compiled plan, skips a record whose mapped form
has the hash last confirmed by Salesforce, links people to Contacts by e-mail, and upserts the rest
by external id. Every record that cannot be read, mapped or written is kept as a dead letter with
its error code (secrets redacted) and the others go on.

Resuming rests on one rule (see :mod:`engine.sync.state.store`): hashes and the cursor move are committed
together, only after Salesforce answered for the batch. A run killed anywhere re-reads what was not
committed; upserts by external id make re-sending harmless, so nothing is lost and nothing doubles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine.errors import ConfigError, RecordError
from engine.language.coerce import format_sf_datetime
from engine.language.model import Mapping
from engine.language.plan import MappedRecord, Plan, RunContext, secret_names
from engine.salesforce.writer import SalesforceWriter
from engine.secrets import scrub_message
from engine.sync.pipeline import PendingRecord, WritePipeline, record_key
from engine.sync.preflight import OrgDescribes, preflight
from engine.sync.report import EntityCounts, Failures, Progress, SyncReport, no_failures, no_progress
from engine.sync.reverse_flow import register_for_webinar
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from engine.zoom.reader import SourceFailure, SourceItem, Window, ZoomSource

DEFAULT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class SyncOptions:
    entities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    dry_run: bool = False
    retry_dead_letters: bool = False
    webinar: str | None = None


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
        self.read_records: dict[str, list[dict[str, Any]]] = {}

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
        self._authenticate(options)
        if self.salesforce is not None and not options.dry_run:  # before Zoom is read, before any write
            preflight(self.mapping_set, [*written_entities(self.mapping_set, forward), *reverse],
                      OrgDescribes(self.salesforce))
        self.store.runs.recover_interrupted()
        report = SyncReport()
        command = "sync --retry-dead-letters" if options.retry_dead_letters else "sync"
        run_options = {"since": str(options.since or ""), "until": str(options.until or ""),
                       "dry_run": options.dry_run, "webinar": options.webinar}
        report.run_id = None if options.dry_run else self.store.runs.start(command, wanted, run_options)
        self.pipeline.run_id = report.run_id
        status = "failed"
        try:
            if options.retry_dead_letters:
                self._retry_dead_letters(forward, report)
            else:
                written = written_entities(self.mapping_set, forward)
                for entity in ordered_entities(self.mapping_set, written):
                    self._sync_entity(entity, entity in written, options, report)
            for entity in reverse:
                if self.zoom is None:
                    raise ConfigError(f"{entity}: the reverse flow needs both Salesforce and Zoom credentials")
                counts = report.entities.setdefault(entity, EntityCounts())
                register_for_webinar(self.pipeline, self.zoom.client, entity, str(options.webinar), counts,
                                     options.dry_run, report, self.now())
            status = "partial" if report.failed else "ok"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            self._count_calls(report)
            if report.run_id is not None:
                self.store.runs.finish(report.run_id, status, report.summary())  # type: ignore[arg-type]
        return report

    def _authenticate(self, options: SyncOptions) -> None:
        """Both logins first: wrong credentials are a configuration error before anything is read."""
        if self.zoom is not None:
            self.zoom.client.authenticate()
        if self.salesforce is not None and not options.dry_run:
            self.salesforce.authenticate()

    def _count_calls(self, report: SyncReport) -> None:
        report.api_calls = {
            "zoom": self.zoom.client.api_calls if self.zoom else 0,
            "salesforce": self.salesforce.api_calls if self.salesforce else 0,
        }

    # ---- one entity ------------------------------------------------------------------------

    def window(self, mapping: Mapping, options: SyncOptions) -> Window | None:
        listing = mapping.source.listing
        if listing is None or not listing.window_from:
            return None
        until = options.until or self.now().date()
        cursor = self.store.cursors.get(mapping.entity)
        if options.since is not None:
            since = options.since
        elif cursor:
            since = date.fromisoformat(cursor[:10])
        else:
            since = until - timedelta(days=DEFAULT_WINDOW_DAYS)
        return Window(min(since, until), until)

    def _sync_entity(self, entity: str, write: bool, options: SyncOptions, report: SyncReport) -> None:
        if self.zoom is None:
            raise ConfigError("sync needs Zoom credentials")
        mapping = self.mapping_set.get(entity)
        plan = self.pipeline.plan(entity)
        counts = report.entities.setdefault(entity, EntityCounts()) if write else EntityCounts()
        keep = not options.dry_run  # a dry run files no dead letter either
        parent = mapping.source.parent
        parents = self.read_records.get(parent, []) if parent else None
        window = self.window(mapping, options)
        context_run = {"run_time": format_sf_datetime(self.now())}
        kept: list[dict[str, Any]] = []
        pending: list[PendingRecord] = []
        secrets = secret_names(mapping)
        self.progress(entity, "read", counts)
        for index, item in enumerate(self.zoom.read(mapping, parents, window)):
            counts.read += 1
            listed = {"listing": item.listing} if item.listing else {}
            evidence = self.pipeline.evidence(mapping, item.record, item.parent, **listed)
            if isinstance(item, SourceFailure):
                key = plan.key_of(item.record)
                self.pipeline.dead(entity, key, item.code, item.message, evidence, index, secrets, counts, keep)
                continue
            outcome = self._map(plan, item, context_run, index)
            if isinstance(outcome, RecordError):
                key = plan.key_of(item.record)
                self.pipeline.dead(entity, key, f"MAPPING_{outcome.kind.upper()}", str(outcome), evidence, index,
                                   secrets, counts, keep)
                continue
            kept.append(item.record)
            pending.append(PendingRecord(record_key(outcome, plan), outcome, evidence, index))
            if counts.read % 100 == 0:
                self.progress(entity, "read", counts)
        self.read_records[entity] = kept
        if not write:
            if counts.failed:  # a parent that could not be read hides its children: the run must say so
                report.entities[entity] = counts
            return
        self.pipeline.link(mapping, pending)
        cursor = window.until.isoformat() if window else None
        self.pipeline.write(mapping, plan, pending, counts, options.dry_run, report, cursor)
        self.progress(entity, "done", counts)

    def _map(self, plan: Plan, item: SourceItem, run: dict[str, Any], index: int) -> MappedRecord | RecordError:
        try:
            return plan.map_record(item.record, RunContext(parent=item.parent, run=run), listing=item.listing)
        except RecordError as exc:
            return exc.located(index, plan.entity)

    # ---- retrying dead letters ---------------------------------------------------------------

    def _retry_dead_letters(self, entities: Sequence[str], report: SyncReport) -> None:
        """Map each open dead letter's source record again (the mapping may be fixed) and write it."""
        run = {"run_time": format_sf_datetime(self.now())}
        for entity in ordered_entities(self.mapping_set, entities):
            letters = self.store.dead_letters.find(entity)
            if not letters:
                continue
            mapping = self.mapping_set.get(entity)
            full = self.pipeline.plan(entity)
            # Dead letters keep secrets as ***: the retry leaves those fields out, and the next sync,
            # whose record then differs from the hash kept now, writes them from Zoom.
            plan = replace(full, fields=tuple(f for f in full.fields if f.target not in full.secrets))
            counts = report.entities.setdefault(entity, EntityCounts())
            secrets = secret_names(mapping)
            pending: list[PendingRecord] = []
            for letter in letters:
                if letter.code.startswith("ZOOM_") or letter.code == "MISSING_KEY":
                    continue  # only a summary was kept: the next sync reads the record from Zoom again
                counts.read += 1
                source = letter.record.get("source")
                event = letter.record.get("event")  # a dead letter of an event notification is mapped as one
                listing = letter.record.get("listing")  # and one of a named listing as a record of it
                try:
                    mapped = plan.map_record(source, RunContext(parent=letter.record.get("parent"), run=run),
                                             event if isinstance(event, str) else None,
                                             listing if isinstance(listing, str) else None)
                except RecordError as exc:
                    counts.failed += 1
                    code = f"MAPPING_{exc.kind.upper()}"
                    self.pipeline.failures(entity, letter.key or f"record {letter.source_index}", code,
                                           scrub_message(str(exc), letter.record, secrets))
                    self.store.dead_letters.bump(letter.id, code, str(exc))
                    continue
                # The letter is resolved when Salesforce confirms the write, in the same commit (its key
                # may differ now that the mapping changed); a failure keeps it open.
                pending.append(PendingRecord(record_key(mapped, plan), mapped, letter.record, letter.source_index or 0,
                                             letter.id))
            self.pipeline.link(mapping, pending)
            self.pipeline.write(mapping, plan, pending, counts, False, report, None, keep_hashes=False)
