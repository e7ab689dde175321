"""The write pipeline that ``sync``, ``serve`` and the reverse flow share.

        shown = key if key is not None else f"record {index}"
        LOG.info("%s: record %s: %s: %s", entity, shown, code, safe)
        self.failures(entity, shown, code, safe)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.language.expressions import compiled_expression, evaluate_or_none
from engine.language.model import LinkSpec, Mapping
from engine.language.plan import MappedRecord, Plan, compile_plan, secret_names
from engine.language.projection import Tree, project, read_tree
from engine.salesforce.bulk import NO_REASON, UNKNOWN_CODE
from engine.salesforce.matching import key_text
from engine.salesforce.writer import SalesforceWriter, UpsertResult
from engine.secrets import redact_fields, scrub_message
from engine.sync.report import EntityCounts, Failures, PlannedChange, Progress, SyncReport, no_failures, no_progress
from engine.sync.state.record_hashes import WrittenItem, payload_hash
from engine.sync.state.store import StateStore
from engine.sync.unchanged import unchanged_positions
from engine.validate.mapping_set import MappingSet

LOG = logging.getLogger("zoomforce.sync")
COLLECTION_SIZE = 200


def record_key(mapped: MappedRecord, plan: Plan) -> str:
    """The state's key of a record: its upsert key value (with the field when there are fallbacks).

    A target that matches records (``match``) has none until its links are resolved: "" until then.
    """
    if not mapped.upsert_key:
        return ""
    (field_name, value), = mapped.upsert_key.items()
    return str(value) if len(plan.upsert_keys) <= 1 else f"{field_name}={value}"


def log_dead_letter(entity: str, key: str | None, index: int | None, code: str, message: str, *, kept: bool,
                    retried: int | None = None) -> None:
    """A record that failed, as a warning (``dead_letter``): its entity, key, code and the error, secrets scrubbed.

    For log platforms only: in text, the run's failure lines (``zoomforce: failed: ...``) show it.
    """
    what = "still fails" if retried is not None else ("kept as a dead letter" if kept else "would be a dead letter")
    error = message if message.startswith(code) else f"{code}: {message}"
    LOG.warning("%s: record %s %s: %s", entity, index if key is None else key, what, error,
                extra={"event": "dead_letter", "entity": entity, "key": key, "index": index, "code": code,
                       "dead_letter": retried, "text_hidden": True})


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
    outcome: str | None = None  # "skip" or "reject", when a link's on_unmatched says so
    reason: str = ""


def link_value(value: Any) -> str | None:
    """What a link looks up: a non-empty text (trimmed), or an integer's digits (a Zoom id)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


class WritePipeline:
    """Mapped records into Salesforce, with the state kept in step; one per run (or per ``serve``)."""

    def __init__(
        self,
        mapping_set: MappingSet,
        store: StateStore,
        salesforce: SalesforceWriter | None,
        *,
        progress: Progress = no_progress,
        failures: Failures = no_failures,
    ):
        self.mapping_set = mapping_set
        self.store = store
        self.salesforce = salesforce
        self.progress = progress
        self.failures = failures
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
        shown = key if key is not None else f"record {index}"
        log_dead_letter(entity, key, index, code, safe, kept=write)
        self.failures(entity, shown, code, safe)
        if write:
            self.store.dead_letters.add(entity, key, code, message, evidence, self.run_id, index, secret_fields=secrets)


    def link(self, mapping: Mapping, pending: Sequence[PendingRecord], *, keep_hashes: bool = True) -> None:
        """Fill each link's lookup field with the Id of the record matched by value, links in order.

        Without a Salesforce (a dry run), nothing is looked up and no record is skipped or rejected. A
        record unchanged with its last links is not looked up (:mod:`engine.sync.unchanged`), nor one
        listed again later in `pending` (a rejoin): only the last of a key is written (a target matched
        by its links has no key before them, and merges its records after: each is looked up).
        """
        if not mapping.links or self.salesforce is None or not pending:
            return
        settled = unchanged_positions(self.store, mapping, pending) if keep_hashes else set()
        if not self.plan(mapping.entity).match:  # a matched target gets its key from its links: none yet
            settled.update(listed_again(pending))
        for link in mapping.links:
            wanted: dict[int, str | None] = {}
            for position, item in enumerate(pending):
                if item.outcome is not None or position in settled:
                    continue
                if link.unless_set and item.mapped.record.get(link.unless_set) not in (None, ""):
                    continue  # an earlier link found it (a Contact), or a field wrote it
                text = link.reader(item.evidence.get("listing"))
                document = item.evidence.get("parent" if link.scope == "parent" else "source")
                value = None if text is None else evaluate_or_none(compiled_expression(text), document)
                wanted[position] = link_value(value)
            values = {v.lower() for v in wanted.values() if v is not None}
            found = ({k.lower(): v for k, v in self.salesforce.find_ids(link.object, link.match, values).items()}
                     if values else {})
            for position, value in wanted.items():
                if value is not None and value.lower() in found:
                    pending[position].mapped.record[link.target] = found[value.lower()]
                else:
                    _unmatched(link, pending[position], value)

    def write(
        self, mapping: Mapping, plan: Plan, pending: list[PendingRecord], counts: EntityCounts, dry_run: bool,
        report: SyncReport, cursor: str | None, *, keep_hashes: bool = True,
    ) -> None:
        entity = mapping.entity
        secrets = secret_names(mapping)
        pending = self._settle_links(mapping, plan, pending, counts, dry_run, secrets)
        changed: list[PendingRecord] = []
        again = listed_again(pending)
        states = self.store.hashes.states(entity, (item.key for item in pending)) if keep_hashes or dry_run else {}
        for position, item in enumerate(pending):
            if position in again:
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
        groups: dict[tuple[str, ...], list[PendingRecord]] = {}
        for item in changed:
            groups.setdefault(tuple(item.mapped.upsert_key), []).append(item)
        batches = [batch for key_fields, items in groups.items() for batch in self._batches(key_fields, items)]
        for number, (key_fields, batch) in enumerate(batches):
            last = number == len(batches) - 1
            records = [item.mapped.record for item in batch]
            if plan.match:
                results = self.salesforce.match_upsert(str(plan.object), key_fields, records)
            else:
                results = self.salesforce.upsert(str(plan.object), key_fields[0], records)
            self._settle(entity, plan, batch, results, counts, secrets, cursor if last else None, report.run_id)
            self.progress(entity, "write", counts)
        if not batches and cursor is not None:
            self.store.cursors.set(entity, cursor, report.run_id)

    def _batches(self, key_fields: tuple[str, ...], items: list[PendingRecord]
                 ) -> Iterable[tuple[tuple[str, ...], list[PendingRecord]]]:
        assert self.salesforce is not None
        if len(key_fields) == 1 and len(items) >= self.salesforce.bulk_threshold:
            yield key_fields, items  # one Bulk API 2.0 job (records found by match always go through Collections)
            return
        for start in range(0, len(items), COLLECTION_SIZE):
            yield key_fields, items[start:start + COLLECTION_SIZE]

    def _settle_links(self, mapping: Mapping, plan: Plan, pending: list[PendingRecord], counts: EntityCounts,
                      dry_run: bool, secrets: frozenset[str]) -> list[PendingRecord]:
        """The records to write once links are resolved: skipped ones counted, rejected ones dead letters;
        a target that matches records gets each record's key here, and records with the same key merged."""
        entity = mapping.entity
        kept: list[PendingRecord] = []
        for item in pending:
            if item.outcome == "skip":
                counts.unchanged += 1
                counts.skipped += 1
                LOG.info("%s: record %s skipped: %s", entity, item.key or item.index, item.reason)
                continue
            if item.outcome == "reject":
                self.dead(entity, item.key or None, "LINK_UNMATCHED", item.reason,
                          {**item.evidence, "record": item.mapped.record}, item.index, secrets, counts, not dry_run)
                continue
            kept.append(item)
        if not plan.match:
            return kept
        merged: dict[str, PendingRecord] = {}
        for item in kept:
            key = plan.match_key(item.mapped.record)
            if key is None and self.salesforce is None and dry_run:
                item.key = f"record {item.index} (its links are looked up when it is written)"
            elif key is None:
                sets = " nor for ".join(" and ".join(fields) for fields in plan.match)
                self.dead(entity, None, "MATCH_KEY_MISSING", f"no value for {sets}: the record cannot be matched",
                          {**item.evidence, "record": item.mapped.record}, item.index, secrets, counts, not dry_run)
                continue
            else:
                item.mapped.upsert_key = key
                item.key = key_text(key, list(key))
            if item.key in merged:  # two Zoom records of one person: one write, the later values over the earlier
                merged[item.key].mapped.record.update(item.mapped.record)
                counts.unchanged += 1
                continue
            merged[item.key] = item
        return list(merged.values())

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
                shown = "; ".join(m for _, m in result.errors) or message
                log_dead_letter(entity, item.key, item.index, code,
                                scrub_message(detail, {**item.evidence, "record": item.mapped.record}, secrets),
                                kept=True, retried=item.dead_letter_id)
                self.failures(entity, item.key, code,
                              scrub_message(shown, {**item.evidence, "record": item.mapped.record}, secrets))
                if item.dead_letter_id is not None:
                    self.store.dead_letters.bump(item.dead_letter_id, code, detail)
                else:
                    evidence = {**item.evidence, "record": item.mapped.record}
                    self.store.dead_letters.add(entity, item.key, code, detail, evidence, run_id, item.index,
                                                secret_fields=secrets)
            self.store.commit_batch(entity, written, cursor, run_id)


def _unmatched(link: LinkSpec, item: PendingRecord, value: str | None) -> None:
    """A record whose link matched nothing: written without the lookup, or marked to skip or reject."""
    if link.on_unmatched == "write":
        return
    looked = f"no {link.object} with {link.match} = {value!r}" if value is not None else \
        f"no value to look up a {link.object} by {link.match}"
    item.outcome = link.on_unmatched
    item.reason = f"{looked} (links[{link.index}], on_unmatched: {link.on_unmatched})"


def listed_again(pending: Sequence[PendingRecord]) -> set[int]:
    """Positions of records whose key is listed again later in `pending` (a rejoin): only the last is written."""
    last_of = {item.key: position for position, item in enumerate(pending)}
    return {position for position, item in enumerate(pending) if last_of[item.key] != position}
