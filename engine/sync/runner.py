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

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from engine.errors import ConfigError, RecordError
from engine.language.coerce import format_sf_datetime
from engine.language.expressions import compile_expression, evaluate_or_none
from engine.language.model import Mapping
from engine.language.plan import MappedRecord, Plan, RunContext, compile_plan, secret_names
from engine.language.projection import Tree, project, read_tree
from engine.salesforce.writer import SalesforceWriter, UpsertResult
from engine.secrets import redact_fields, scrub_message
from engine.sync.state.record_hashes import WrittenItem, payload_hash
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from engine.zoom.reader import SourceFailure, SourceItem, Window, ZoomSource

LOG = logging.getLogger("zoomforce.sync")
COLLECTION_SIZE = 200
DEFAULT_WINDOW_DAYS = 30
@dataclass
class EntityCounts:
    read: int = 0
    written: int = 0
    unchanged: int = 0
    failed: int = 0

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

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.entities.values())

    def summary(self) -> dict[str, Any]:
        return {"entities": {n: c.as_json() for n, c in self.entities.items()}, "api_calls": dict(self.api_calls)}


@dataclass(frozen=True)
class SyncOptions:
    entities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    dry_run: bool = False
    retry_dead_letters: bool = False
    webinar: str | None = None


class Progress(Protocol):
    def __call__(self, entity: str, stage: str, counts: EntityCounts) -> None: ...


def _no_progress(entity: str, stage: str, counts: EntityCounts) -> None:
    return None


# ---- the order of the graph ----------------------------------------------------------------------


def parent_of(mapping: Mapping) -> str | None:
    """The entity whose records this one is read under (and, in Salesforce, points at)."""
    return mapping.source.parent or (mapping.parent.entity if mapping.parent else None)


def ordered_entities(mapping_set: MappingSet, wanted: Iterable[str]) -> list[str]:
    """`wanted` and the ancestors they are read under, parents first; ties in name order."""
    chosen: set[str] = set()
    for name in wanted:
        current: str | None = name
        while current is not None and current not in chosen:
            chosen.add(current)
            current = parent_of(mapping_set.get(current))
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ConfigError(f"mappings: the parent relation of '{name}' forms a cycle")
        visiting.add(name)
        parent = parent_of(mapping_set.get(name))
        if parent is not None:
            visit(parent)
        visiting.discard(name)
        order.append(name)

    for name in sorted(chosen):
        visit(name)
    return order


def written_entities(mapping_set: MappingSet, wanted: Iterable[str]) -> set[str]:
    """`wanted` and the parents their Salesforce records point at (a registrant's webinar).

    A parent the entity is only read under (a meeting's user) is read, not written.
    """
    written = set(wanted)
    for name in list(written):
        mapping = mapping_set.get(name)
        while mapping.parent is not None:
            written.add(mapping.parent.entity)
            mapping = mapping_set.get(mapping.parent.entity)
    return written


def default_entities(mapping_set: MappingSet) -> list[str]:
    """Every enabled mapping that reads Zoom and writes Salesforce."""
    return sorted(
        name for name, m in mapping_set.mappings.items()
        if m.enabled and m.source.system == "zoom" and m.target.system == "salesforce"
    )


def record_key(mapped: MappedRecord, plan: Plan) -> str:
    """The state's key of a record: its upsert key value (with the field when there are fallbacks)."""
    (field_name, value), = mapped.upsert_key.items()
    return str(value) if len(plan.upsert_keys) <= 1 else f"{field_name}={value}"


def field_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    before = before or {}
    return {name: (before.get(name), value) for name, value in after.items() if before.get(name) != value}


# ---- the runner ----------------------------------------------------------------------------------


@dataclass
class PendingRecord:
    """A mapped record waiting to be written, with what a dead letter of it would keep."""

    key: str
    mapped: MappedRecord
    evidence: dict[str, Any]
    index: int
    dead_letter_id: int | None = None


class SyncRunner:
    """One sync: a mapping set, a Zoom source, a Salesforce writer and the state store."""

    def __init__(
        self,
        mapping_set: MappingSet,
        store: StateStore,
        zoom: ZoomSource | None,
        salesforce: SalesforceWriter | None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress = _no_progress,
    ):
        self.mapping_set = mapping_set
        self.store = store
        self.zoom = zoom
        self.salesforce = salesforce
        self.now = now
        self.progress = progress
        self.plans: dict[str, Plan] = {}
        self.read_records: dict[str, list[dict[str, Any]]] = {}
        self.run_id: int | None = None
        self.trees: dict[str, tuple[Tree, Tree]] = {}

    def evidence(self, mapping: Mapping, record: Any, parent: Any, **extra: Any) -> dict[str, Any]:
        """What a dead letter keeps of a record: only what the mapping reads of it and of its parent."""
        if mapping.entity not in self.trees:
            self.trees[mapping.entity] = read_tree(mapping)
        record_tree, parent_tree = self.trees[mapping.entity]
        return {"source": project(record, record_tree), "parent": project(parent, parent_tree), **extra}

    def plan(self, entity: str) -> Plan:
        if entity not in self.plans:
            self.plans[entity] = compile_plan(self.mapping_set.get(entity))
        return self.plans[entity]

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
        self.store.runs.recover_interrupted()
        report = SyncReport()
        command = "sync --retry-dead-letters" if options.retry_dead_letters else "sync"
        run_options = {"since": str(options.since or ""), "until": str(options.until or ""),
                       "dry_run": options.dry_run, "webinar": options.webinar}
        report.run_id = None if options.dry_run else self.store.runs.start(command, wanted, run_options)
        self.run_id = report.run_id
        status = "failed"
        try:
            if options.retry_dead_letters:
                self._retry_dead_letters(forward, report)
            else:
                written = written_entities(self.mapping_set, forward)
                for entity in ordered_entities(self.mapping_set, written):
                    self._sync_entity(entity, entity in written, options, report)
            if reverse:
                from engine.sync.reverse_flow import register_for_webinar

                for entity in reverse:
                    counts = report.entities.setdefault(entity, EntityCounts())
                    register_for_webinar(self, entity, str(options.webinar), counts, options.dry_run, report)
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
        plan = self.plan(entity)
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
            if isinstance(item, SourceFailure):
                key = plan.key_of(item.record)
                evidence = self.evidence(mapping, item.record, item.parent)
                self._dead(entity, key, item.code, item.message, evidence, index, secrets, counts, keep)
                continue
            outcome = self._map(plan, item, context_run, index)
            if isinstance(outcome, RecordError):
                key = plan.key_of(item.record)
                self._dead(entity, key, f"MAPPING_{outcome.kind.upper()}", str(outcome),
                           self.evidence(mapping, item.record, item.parent), index,
                           secrets, counts, keep)
                continue
            kept.append(item.record)
            pending.append(PendingRecord(record_key(outcome, plan), outcome,
                                         self.evidence(mapping, item.record, item.parent), index))
            if counts.read % 100 == 0:
                self.progress(entity, "read", counts)
        self.read_records[entity] = kept
        if not write:
            if counts.failed:  # a parent that could not be read hides its children: the run must say so
                report.entities[entity] = counts
            return
        self.link(mapping, pending)
        cursor = window.until.isoformat() if window else None
        self.write(mapping, plan, pending, counts, options.dry_run, report, cursor)
        self.progress(entity, "done", counts)

    def _map(self, plan: Plan, item: SourceItem, run: dict[str, Any], index: int) -> MappedRecord | RecordError:
        try:
            return plan.map_record(item.record, RunContext(parent=item.parent, run=run))
        except RecordError as exc:
            return exc.located(index, plan.entity)

    def _dead(
        self, entity: str, key: str | None, code: str, message: str, evidence: dict[str, Any], index: int | None,
        secrets: frozenset[str], counts: EntityCounts, write: bool,
    ) -> None:
        counts.failed += 1
        safe = scrub_message(message, evidence, secrets)
        LOG.warning("%s: record %s: %s: %s", entity, index if key is None else key, code, safe)
        if write:
            self.store.dead_letters.add(entity, key, code, message, evidence, self.run_id, index, secret_fields=secrets)

    # ---- links: people found by e-mail -----------------------------------------------------

    def link(self, mapping: Mapping, pending: Sequence[PendingRecord]) -> None:
        """Fill each link's lookup field with the Id of the Contact or Lead matched by value."""
        if not mapping.links or self.salesforce is None or not pending:
            return
        for link in mapping.links:
            expression = compile_expression(link.source)
            wanted: dict[int, str] = {}
            for position, item in enumerate(pending):
                value = evaluate_or_none(expression, item.evidence.get("source"))
                if isinstance(value, str) and value.strip():
                    wanted[position] = value.strip().lower()
            if not wanted:
                continue
            found = {k.lower(): v for k, v in self.salesforce.find_ids(link.object, link.match, set(wanted.values()))
                     .items()}
            for position, value in wanted.items():
                if value in found:
                    pending[position].mapped.record[link.target] = found[value]

    # ---- writing ---------------------------------------------------------------------------

    def write(
        self, mapping: Mapping, plan: Plan, pending: list[PendingRecord], counts: EntityCounts, dry_run: bool,
        report: SyncReport, cursor: str | None, *, keep_hashes: bool = True,
    ) -> None:
        entity = mapping.entity
        changed: list[PendingRecord] = []
        seen: set[str] = set()
        states = self.store.hashes.states(entity, (item.key for item in pending)) if keep_hashes or dry_run else {}
        for item in pending:
            if item.key in seen:
                counts.unchanged += 1  # the same record listed twice (a user's and a co-host's list)
                continue
            seen.add(item.key)
            state = states.get(item.key)
            if keep_hashes and state is not None and state.payload_hash == payload_hash(item.mapped.record):
                counts.unchanged += 1
                if dry_run:
                    report.planned.append(PlannedChange(entity, item.key, "unchanged", {}))
                continue
            if dry_run:
                before = state.snapshot() if state else None
                after = redact_fields(item.mapped.record, plan.secrets)
                action = "update" if state else "create"
                report.planned.append(PlannedChange(entity, item.key, action, field_changes(before, after)))
                counts.written += 1
                continue
            changed.append(item)
        if dry_run:
            return
        if self.salesforce is None:
            raise ConfigError("sync needs Salesforce credentials")
        groups: dict[str, list[PendingRecord]] = {}
        for item in changed:
            (key_field,) = item.mapped.upsert_key
            groups.setdefault(key_field, []).append(item)
        secrets = secret_names(mapping)
        batches = [batch for key_field, items in groups.items() for batch in self._batches(key_field, items)]
        for number, (key_field, batch) in enumerate(batches):
            last = number == len(batches) - 1
            records = [item.mapped.record for item in batch]
            results = self.salesforce.upsert(str(plan.object), key_field, records)
            self._settle(entity, plan, batch, results, counts, secrets, cursor if last else None, report.run_id)
            self.progress(entity, "write", counts)
        if not batches and cursor is not None:
            self.store.cursors.set(entity, cursor, report.run_id)

    def _batches(self, key_field: str, items: list[PendingRecord]) -> Iterable[tuple[str, list[PendingRecord]]]:
        assert self.salesforce is not None
        if len(items) >= self.salesforce.bulk_threshold:
            yield key_field, items  # one Bulk API 2.0 job
            return
        for start in range(0, len(items), COLLECTION_SIZE):
            yield key_field, items[start:start + COLLECTION_SIZE]

    def _settle(
        self, entity: str, plan: Plan, batch: list[PendingRecord], results: list[UpsertResult], counts: EntityCounts,
        secrets: frozenset[str], cursor: str | None, run_id: int | None,
    ) -> None:
        """The checkpoint of one confirmed batch: hashes, dead letters and the cursor in one commit."""
        written: list[WrittenItem] = []
        with self.store.transaction():
            for item, result in zip(batch, results, strict=True):
                if result.success:
                    counts.written += 1
                    written.append(WrittenItem.of(item.key, item.mapped.record, result.id, plan.secrets))
                    if item.dead_letter_id is not None:
                        self.store.dead_letters.resolve(item.dead_letter_id, run_id)
                    continue
                code, message = result.errors[0] if result.errors else ("UNKNOWN", "Salesforce gave no reason")
                detail = "; ".join(f"{c}: {m}" for c, m in result.errors) or message
                counts.failed += 1
                if item.dead_letter_id is not None:
                    self.store.dead_letters.bump(item.dead_letter_id, code, detail)
                else:
                    evidence = {**item.evidence, "record": item.mapped.record}
                    self.store.dead_letters.add(entity, item.key, code, detail, evidence, run_id, item.index,
                                                secret_fields=secrets)
            self.store.commit_batch(entity, written, cursor, run_id)

    # ---- retrying dead letters ---------------------------------------------------------------

    def _retry_dead_letters(self, entities: Sequence[str], report: SyncReport) -> None:
        """Map each open dead letter's source record again (the mapping may be fixed) and write it."""
        run = {"run_time": format_sf_datetime(self.now())}
        for entity in ordered_entities(self.mapping_set, entities):
            letters = self.store.dead_letters.find(entity)
            if not letters:
                continue
            mapping = self.mapping_set.get(entity)
            full = self.plan(entity)
            # Dead letters keep secrets as ***: the retry leaves those fields out, and the next sync,
            # whose record then differs from the hash kept now, writes them from Zoom.
            plan = replace(full, fields=tuple(f for f in full.fields if f.target not in full.secrets))
            counts = report.entities.setdefault(entity, EntityCounts())
            pending: list[PendingRecord] = []
            for letter in letters:
                if letter.code.startswith("ZOOM_") or letter.code == "MISSING_KEY":
                    continue  # only a summary was kept: the next sync reads the record from Zoom again
                counts.read += 1
                source = letter.record.get("source")
                event = letter.record.get("event")  # a dead letter of an event notification is mapped as one
                try:
                    mapped = plan.map_record(source, RunContext(parent=letter.record.get("parent"), run=run),
                                             event if isinstance(event, str) else None)
                except RecordError as exc:
                    counts.failed += 1
                    self.store.dead_letters.bump(letter.id, f"MAPPING_{exc.kind.upper()}", str(exc))
                    continue
                # The letter is resolved when Salesforce confirms the write, in the same commit (its key
                # may differ now that the mapping changed); a failure keeps it open.
                pending.append(PendingRecord(record_key(mapped, plan), mapped, letter.record, letter.source_index or 0,
                                             letter.id))
            self.link(mapping, pending)
            self.write(mapping, plan, pending, counts, False, report, None, keep_hashes=False)
