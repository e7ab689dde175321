"""The write pipeline that ``sync``, ``serve`` and the reverse flow share.

Given mapped records (``PendingRecord``), it keeps one record per key (the last listed; the others
count as unchanged), links people to Contacts or Leads by value, skips a
record whose mapped form has the hash last confirmed by Salesforce, upserts the rest by external id
(sObject Collections, or one Bulk API 2.0 job from the writer's threshold), and settles each batch
in one commit: hashes, dead letters and the cursor move together. It knows nothing of where the
records came from (a Zoom listing, an event notification, a dead letter).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.language.expressions import compile_expression, evaluate_or_none
from engine.language.model import Mapping
from engine.language.plan import MappedRecord, Plan, compile_plan, secret_names
from engine.language.projection import Tree, project, read_tree
from engine.salesforce.bulk import NO_REASON, UNKNOWN_CODE
from engine.salesforce.writer import SalesforceWriter, UpsertResult
from engine.secrets import redact_fields, scrub_message
from engine.sync.report import EntityCounts, PlannedChange, Progress, SyncReport, no_progress
from engine.sync.state.record_hashes import WrittenItem, payload_hash
from engine.sync.state.store import StateStore
from engine.sync.unchanged import unchanged_positions
from engine.validate.mapping_set import MappingSet

LOG = logging.getLogger("zoomforce.sync")
COLLECTION_SIZE = 200


def record_key(mapped: MappedRecord, plan: Plan) -> str:
    """The state's key of a record: its upsert key value (with the field when there are fallbacks)."""
    (field_name, value), = mapped.upsert_key.items()
    return str(value) if len(plan.upsert_keys) <= 1 else f"{field_name}={value}"


def log_dead_letter(entity: str, key: str | None, index: int | None, code: str, message: str, *, kept: bool,
                    retried: int | None = None) -> None:
    """A record that failed, as a warning (``dead_letter``): its entity, key, code and the error, secrets scrubbed."""
    what = "still fails" if retried is not None else ("kept as a dead letter" if kept else "would be a dead letter")
    error = message if message.startswith(code) else f"{code}: {message}"
    LOG.warning("%s: record %s %s: %s", entity, index if key is None else key, what, error,
                extra={"event": "dead_letter", "entity": entity, "key": key, "index": index, "code": code,
                       "dead_letter": retried})


def field_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    before = before or {}
    return {name: (before.get(name), value) for name, value in after.items() if before.get(name) != value}


@dataclass
class PendingRecord:
    """A mapped record waiting to be written, with what a dead letter of it would keep."""

    key: str
    mapped: MappedRecord
    evidence: dict[str, Any]
    index: int
    dead_letter_id: int | None = None


class WritePipeline:
    """Mapped records into Salesforce, with the state kept in step; one per run (or per ``serve``)."""

    def __init__(
        self,
        mapping_set: MappingSet,
        store: StateStore,
        salesforce: SalesforceWriter | None,
        *,
        progress: Progress = no_progress,
    ):
        self.mapping_set = mapping_set
        self.store = store
        self.salesforce = salesforce
        self.progress = progress
        self.plans: dict[str, Plan] = {}
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

    def dead(
        self, entity: str, key: str | None, code: str, message: str, evidence: dict[str, Any], index: int | None,
        secrets: frozenset[str], counts: EntityCounts, write: bool,
    ) -> None:
        counts.failed += 1
        safe = scrub_message(message, evidence, secrets)
        log_dead_letter(entity, key, index, code, safe, kept=write)
        if write:
            self.store.dead_letters.add(entity, key, code, message, evidence, self.run_id, index, secret_fields=secrets)


    def link(self, mapping: Mapping, pending: Sequence[PendingRecord], *, keep_hashes: bool = True) -> None:
        """Fill each link's lookup field with the Id of the Contact or Lead matched by value.

        A record unchanged with its last links is not looked up (:mod:`engine.sync.unchanged`).
        """
        if not mapping.links or self.salesforce is None or not pending:
            return
        settled = unchanged_positions(self.store, mapping, pending) if keep_hashes else set()
        for link in mapping.links:
            expression = compile_expression(link.source)
            wanted: dict[int, str] = {}
            for position, item in enumerate(pending):
                if position in settled:
                    continue
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

    def write(
        self, mapping: Mapping, plan: Plan, pending: list[PendingRecord], counts: EntityCounts, dry_run: bool,
        report: SyncReport, cursor: str | None, *, keep_hashes: bool = True,
    ) -> None:
        entity = mapping.entity
        changed: list[PendingRecord] = []
        last_of = {item.key: position for position, item in enumerate(pending)}
        states = self.store.hashes.states(entity, (item.key for item in pending)) if keep_hashes or dry_run else {}
        for position, item in enumerate(pending):
            if last_of[item.key] != position:
                # the same record listed twice (a host's and a co-host's list, a rejoin): one write a key,
                # the last listed, as Salesforce would fail both rows of a Bulk job that repeats a key
                counts.unchanged += 1
                continue
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
                if result.superseded:  # its key again, later in the batch (differing in case): that one is written
                    counts.unchanged += 1
                    continue
                if result.success:
                    counts.written += 1
                    written.append(WrittenItem.of(item.key, item.mapped.record, result.id, plan.secrets))
                    if item.dead_letter_id is not None:
                        self.store.dead_letters.resolve(item.dead_letter_id, run_id)
                    continue
                code, message = result.errors[0] if result.errors else (UNKNOWN_CODE, NO_REASON)
                detail = "; ".join(f"{c}: {m}" for c, m in result.errors) or message
                counts.failed += 1
                log_dead_letter(entity, item.key, item.index, code,
                                scrub_message(detail, {**item.evidence, "record": item.mapped.record}, secrets),
                                kept=True, retried=item.dead_letter_id)
                if item.dead_letter_id is not None:
                    self.store.dead_letters.bump(item.dead_letter_id, code, detail)
                else:
                    evidence = {**item.evidence, "record": item.mapped.record}
                    self.store.dead_letters.add(entity, item.key, code, detail, evidence, run_id, item.index,
                                                secret_fields=secrets)
            self.store.commit_batch(entity, written, cursor, run_id)
