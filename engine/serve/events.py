"""Zoom event notifications through the same mappings and writer as ``sync``.

:class:`EventProcessor` is the webhook worker's processor: it finds the enabled mappings whose
``source.events`` name the event's type, takes the record (and its parent) where each says, maps
it with the plan as read from that event (``Plan.map_record(..., event=TYPE)``: only the fields
the event delivers), links people by e-mail, and upserts by external id. The worker hands it the
events it claimed together (:meth:`EventProcessor.process_batch`): the records of one mapping are
linked and upserted in one go, not one Salesforce call per event; the same record met in two
events of a batch is written once, the later event's values over the earlier's.

Outcomes, so that nothing is lost and nothing is retried in vain:

- Salesforce unreachable, refusing the session, or failing after the writer's retries: the
  exception is the outcome of every event of the batch that fed that mapping, and the worker
  retries them later (the upsert makes that harmless);
- a record the mapping cannot map, or that Salesforce rejects: a dead letter with its error code
  (secrets redacted), and the event is done;
- a body that is not a Zoom event: :class:`~engine.errors.PermanentEventError`;
- a type no mapping reads: done, nothing written. The receiver does not even keep such an event
  (:meth:`EventProcessor.inbox_body` answers None), nor, in the events it keeps, a credential that
  no mapping reads from them (a meeting password): the inbox is in the state file;
- an event that used up its attempts (or cannot be read): :meth:`EventProcessor.bury` files a dead
  letter of each record it holds, for ``sync --retry-dead-letters``, and the inbox drops its body.

Secrets at rest. A credential the mappings do read from an event (a registrant's personal join
link, a password) is sealed in the inbox body with ``ZOOMFORCE_STATE_KEY`` (:mod:`engine.sync.state.cipher`)
and opened when the event is processed. Without a key it is kept as ``***`` and the event writes
the other fields: a value that reads ``***`` (or a link whose credential reads ``***``) is left out
of the write, and the next REST sync writes it from Zoom. Either way no secret is in clear in the
state file, and a done or dead event keeps no body at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from engine import metrics
from engine.errors import PermanentEventError, RecordError
from engine.language.coerce import format_sf_datetime
from engine.language.expressions import compile_expression, compiled_expression, evaluate_or_none
from engine.language.model import EventSpec
from engine.language.model import Mapping as EntityMapping
from engine.language.plan import Plan, RunContext, event_readers, secret_names
from engine.language.safe_json import check_record, loads
from engine.salesforce.writer import SalesforceWriter
from engine.secrets import REDACTED, credential_keys, redact, replace_secrets, scrub_message
from engine.sync.pipeline import PendingRecord, WritePipeline, record_key
from engine.sync.report import EntityCounts, Failures, SyncReport, no_failures
from engine.sync.state.binding import SALESFORCE_ORG
from engine.sync.state.cipher import StateCipher, Unsealable, is_sealed
from engine.sync.state.inbox import InboxEvent
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet

LOG = logging.getLogger("zoomforce.events")
Feed = tuple[EntityMapping, EventSpec]


def event_feeds(mapping_set: MappingSet) -> dict[str, list[Feed]]:
    """Event type -> the enabled mappings (with their event declaration) it feeds."""
    feeds: dict[str, list[Feed]] = {}
    for mapping in mapping_set.mappings.values():
        if not mapping.enabled or mapping.target.system != "salesforce":
            continue
        for event in mapping.source.events:
            feeds.setdefault(event.event, []).append((mapping, event))
    return feeds


def subscriptions(mapping_set: MappingSet) -> list[str]:
    """The event types the app must subscribe to."""
    return sorted(event_feeds(mapping_set))


def keys_read(feeds: Mapping[str, list[Feed]]) -> frozenset[str]:
    """Every key name that some mapping reads from the event it is fed by (records, parents, fields, links).

    Per event: a field is read from an event only as its readers say (its ``events``, its
    ``realtime``, an ``all_fields`` event), so a mapping fed by ``webinar.updated`` for two fields
    does not make the webinar password that event may carry a key someone reads.
    """
    texts: list[str] = []
    for kind, fed in feeds.items():
        for mapping, spec in fed:
            texts += [spec.records, *([spec.parent] if spec.parent else [])]
            for field_spec in mapping.enabled_fields:
                reader = event_readers(field_spec, mapping).get(kind)
                texts += [reader] if reader else []
            texts += [link.source for link in mapping.links]
            texts += [mapping.parent.source] if mapping.parent else []
    names = {step for text in texts for path in compile_expression(text).field_paths() for step in path}
    return frozenset(name for name in names if isinstance(name, str))


def secrets_read(feeds: Mapping[str, list[Feed]]) -> frozenset[str]:
    """The keys whose values the state must not keep in clear: secrets and credential links the mappings read."""
    names: set[str] = set()
    for fed in feeds.values():
        for mapping, _ in fed:
            names |= secret_names(mapping)
            for spec in mapping.enabled_fields:
                if spec.type == "credential_url":
                    for text in {spec.source, *event_readers(spec, mapping).values()}:
                        names |= {path[-1] for path in compile_expression(text).field_paths()
                                  if path and isinstance(path[-1], str)}
    return frozenset(names) & keys_read(feeds)


@dataclass
class _Group:
    """The records of one mapping met in a batch, and the events they came from."""

    mapping: EntityMapping
    plan: Plan
    pending: dict[str, PendingRecord] = field(default_factory=dict)
    events: set[int] = field(default_factory=set)

    def add(self, item: PendingRecord, event_id: int) -> None:
        self.events.add(event_id)
        earlier = self.pending.get(item.key)
        if earlier is not None:  # a later event about the same record: its values win, the others stay
            item.mapped.record = {**earlier.mapped.record, **item.mapped.record}
            del self.pending[item.key]
        self.pending[item.key] = item


class EventProcessor:
    """Callable on one inbox event, or :meth:`process_batch` on many; see the module's docstring."""

    def __init__(
        self,
        mapping_set: MappingSet,
        store: StateStore,
        salesforce: SalesforceWriter | None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cipher: StateCipher | None = None,
        failures: Failures = no_failures,
    ):
        self.feeds = event_feeds(mapping_set)
        self.store = store
        self.pipeline = WritePipeline(mapping_set, store, salesforce, failures=failures)
        self.now = now
        self.cipher = cipher
        self.unread_secrets = {kind: credential_keys() - keys_read({kind: fed}) for kind, fed in self.feeds.items()}
        self.sealed_secrets = secrets_read(self.feeds)
        self.binding_checked = salesforce is None

    def check_binding(self) -> None:
        """The state is for this Salesforce org (bound at first use); StateBoundElsewhere otherwise."""
        salesforce = self.pipeline.salesforce
        if not self.binding_checked and salesforce is not None:
            self.store.check_binding({SALESFORCE_ORG: salesforce.org_id()})
            self.binding_checked = True

    # ---- what the receiver keeps -----------------------------------------------------------

    def inbox_body(self, event_type: str, document: Mapping[str, Any], body: bytes) -> bytes | None:
        """The body to keep in the inbox: None for a type no mapping reads (nothing to keep).

        Secrets and credential links a mapping reads are sealed with the state key (``***``
        without one); credentials that no mapping reads (a meeting password) are replaced with
        ``***``, and so is the credential of any other link. A body without any is kept byte for byte.
        """
        if event_type not in self.feeds:
            return None
        seal = self.cipher.seal if self.cipher is not None else (lambda value: REDACTED)
        sealed = replace_secrets(document, self.sealed_secrets, seal)
        safe = redact(sealed, self.unread_secrets[event_type])
        if safe == document:
            return body
        try:
            return json.dumps(safe, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: kept as the escape it came as, for its record's dead letter
            return json.dumps(safe, separators=(",", ":"), default=str).encode("ascii")

    # ---- processing --------------------------------------------------------------------------

    def __call__(self, event: InboxEvent) -> None:
        error = self.process_batch([event])[event.id]
        if error is not None:
            raise error

    def process_batch(self, events: Sequence[InboxEvent]) -> dict[int, BaseException | None]:
        """Process ``events`` together; per inbox id, None (done) or the exception that stopped it."""
        outcomes: dict[int, BaseException | None] = {}
        groups: dict[str, _Group] = {}
        run = {"run_time": format_sf_datetime(self.now())}
        for event in events:
            try:
                body = self._opened(_document(event))
            except PermanentEventError as error:
                outcomes[event.id] = error
                continue
            outcomes[event.id] = None
            kind = str(body.get("event", ""))
            for mapping, spec in self.feeds.get(kind, []):
                group = groups.get(mapping.entity)
                if group is None:
                    plan = replace(self.pipeline.plan(mapping.entity), skip_masked=True)  # *** kept: left out
                    group = groups[mapping.entity] = _Group(mapping, plan)
                for item in self._map(group, spec, kind, body, event, run):
                    group.add(item, event.id)
        for group in groups.values():
            try:
                self._write(group)
            except Exception as error:  # transport: every event that fed this mapping is retried
                outcomes.update(dict.fromkeys(group.events, error))
        return outcomes

    def _map(
        self, group: _Group, spec: EventSpec, kind: str, body: dict[str, Any], event: InboxEvent,
        run: dict[str, Any],
    ) -> Iterable[PendingRecord]:
        mapping, plan = group.mapping, group.plan
        found = evaluate_or_none(compiled_expression(spec.records), body)
        records = found if isinstance(found, list) else [] if found is None else [found]
        parent = evaluate_or_none(compiled_expression(spec.parent), body) if spec.parent else None
        try:
            check_record(parent)
        except RecordError as exc:  # every record of the event stands on that parent: each is a dead letter
            for index, record in enumerate(records):
                evidence = self.pipeline.evidence(mapping, record, None, event=kind, event_id=event.event_id)
                self.store.dead_letters.add(mapping.entity, plan.key_of(record, kind), exc.code,
                                            f"{mapping.entity}: record {index}: the parent: {exc.reason}", evidence,
                                            None, index, secret_fields=secret_names(mapping))
            return
        context = RunContext(parent=parent, run=run)
        for index, record in enumerate(records):
            evidence = self.pipeline.evidence(mapping, record, parent, event=kind, event_id=event.event_id)
            try:
                mapped = plan.map_record(record, context, event=kind)
            except RecordError as exc:
                located = exc.located(index, mapping.entity)
                LOG.warning("%s: event %s (%s): record %d cannot be mapped: %s", mapping.entity, event.event_id,
                            kind, index, located.kind)
                code, secrets, key = exc.code, secret_names(mapping), plan.key_of(record, kind)
                self.pipeline.failures(mapping.entity, key or f"event {event.event_id} record {index}", code,
                                       scrub_message(str(located), evidence, secrets))
                self.store.dead_letters.add(mapping.entity, key, code, str(located), evidence, None, index,
                                            secret_fields=secrets)
                continue
            yield PendingRecord(record_key(mapped, plan), mapped, evidence, index)

    # ---- opening sealed values, burying events -----------------------------------------------

    def _opened(self, value: Any) -> Any:
        """`value` with every sealed secret opened (``***`` when there is no key, or not the right one)."""
        if isinstance(value, dict):
            return {key: self._opened(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._opened(item) for item in value]
        if is_sealed(value):
            if self.cipher is None:
                LOG.warning("an event holds a sealed secret but ZOOMFORCE_STATE_KEY is not set: the field is left out")
                return REDACTED
            try:
                return self.cipher.open(value)
            except Unsealable as exc:
                LOG.warning("%s: the field is left out", exc)
                return REDACTED
        return value

    def bury(self, event: InboxEvent, reason: str) -> None:
        """An event given up on: a dead letter of each record it holds, as a failed mapping would file it.

        ``sync --retry-dead-letters`` maps them again as the event they came from. An event that
        cannot be read at all is one dead letter of the first entity it feeds (or ``webhook``).
        """
        code = "EVENT_ATTEMPTS_EXHAUSTED"
        try:
            body = self._opened(_document(event))
        except PermanentEventError as error:
            fed = self.feeds.get(event.event_type, [])
            entity = fed[0][0].entity if fed else "webhook"
            self.store.dead_letters.add(entity, f"event:{event.event_id}", "EVENT_UNREADABLE", str(error),
                                        {"event": event.event_type, "event_id": event.event_id}, None,
                                        secret_fields=credential_keys())
            return
        kind = str(body.get("event", ""))
        for mapping, spec in self.feeds.get(kind, []):
            plan = self.pipeline.plan(mapping.entity)
            found = evaluate_or_none(compiled_expression(spec.records), body)
            records = found if isinstance(found, list) else [] if found is None else [found]
            parent = evaluate_or_none(compiled_expression(spec.parent), body) if spec.parent else None
            for index, record in enumerate(records):
                evidence = self.pipeline.evidence(mapping, record, parent, event=kind, event_id=event.event_id)
                self.store.dead_letters.add(mapping.entity, plan.key_of(record, kind), code,
                                            f"event {event.event_id} ({kind}) given up: {reason}", evidence, None,
                                            index, secret_fields=secret_names(mapping))

    def _write(self, group: _Group) -> None:
        pending = list(group.pending.values())
        if not pending:
            return
        self.check_binding()
        self.pipeline.link(group.mapping, pending)
        counts = EntityCounts()
        self.pipeline.write(group.mapping, group.plan, pending, counts, False, SyncReport(), None, keep_hashes=False)
        metrics.count_records(group.mapping.entity, counts.as_json() | {"read": len(pending)})
        LOG.info("%s: %d record(s) of %d event(s): %d written, %d failed", group.mapping.entity, len(pending),
                 len(group.events), counts.written, counts.failed)


def _document(event: InboxEvent) -> dict[str, Any]:
    try:
        body = loads(event.body)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise PermanentEventError(f"event {event.event_id} is not JSON") from exc
    if not isinstance(body, dict):
        raise PermanentEventError(f"event {event.event_id} is not a JSON object")
    return body
