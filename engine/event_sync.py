"""Zoom event notifications through the same mappings and writer as ``sync``.

:class:`EventProcessor` is the webhook worker's processor: it finds the enabled mappings whose
``source.events`` name the event's type, takes the record (and its parent) where each says, maps
it with the plan as read from that event (``Plan.map_record(..., event=TYPE)``: only the fields
the event delivers), links people by e-mail, and upserts by external id.

Outcomes, so that nothing is lost and nothing is retried in vain:

- Salesforce unreachable, refusing the session, or failing after the writer's retries: the
  exception propagates and the worker retries the event later (the upsert makes that harmless);
- a record the mapping cannot map, or that Salesforce rejects: a dead letter with its error code
  (secrets redacted), and the event is done;
- a body that is not a Zoom event, or a type no mapping reads: done, nothing written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.coerce import format_sf_datetime
from engine.errors import RecordError
from engine.expressions import compile_expression
from engine.mapping_set import MappingSet
from engine.model import EventSpec, Mapping
from engine.plan import Plan, RunContext, compile_plan
from engine.salesforce_writer import SalesforceWriter
from engine.state import InboxEvent, StateStore
from engine.sync import EntityCounts, PendingRecord, SyncReport, SyncRunner, record_key, secret_names, source_key
from engine.webhook_worker import PermanentEventError

LOG = logging.getLogger("zoomforce.events")


def event_feeds(mapping_set: MappingSet) -> dict[str, list[tuple[Mapping, EventSpec]]]:
    """Event type -> the enabled mappings (with their event declaration) it feeds."""
    feeds: dict[str, list[tuple[Mapping, EventSpec]]] = {}
    for mapping in mapping_set.mappings.values():
        if not mapping.enabled or mapping.target.system != "salesforce":
            continue
        for event in mapping.source.events:
            feeds.setdefault(event.event, []).append((mapping, event))
    return feeds


def subscriptions(mapping_set: MappingSet) -> list[str]:
    """The event types the app must subscribe to."""
    return sorted(event_feeds(mapping_set))


class EventProcessor:
    """Callable on one inbox event; see the module's docstring for its outcomes."""

    def __init__(
        self,
        mapping_set: MappingSet,
        store: StateStore,
        salesforce: SalesforceWriter,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.feeds = event_feeds(mapping_set)
        self.store = store
        self.runner = SyncRunner(mapping_set, store, None, salesforce, now=now)
        self.now = now
        self.plans: dict[str, Plan] = {}

    def __call__(self, event: InboxEvent) -> None:
        try:
            body = json.loads(event.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PermanentEventError(f"event {event.event_id} is not JSON") from exc
        if not isinstance(body, dict):
            raise PermanentEventError(f"event {event.event_id} is not a JSON object")
        kind = str(body.get("event", ""))
        for mapping, spec in self.feeds.get(kind, []):
            self._apply(mapping, spec, kind, body, event)

    def _plan(self, mapping: Mapping) -> Plan:
        if mapping.entity not in self.plans:
            self.plans[mapping.entity] = compile_plan(mapping)
        return self.plans[mapping.entity]

    def _apply(self, mapping: Mapping, spec: EventSpec, kind: str, body: dict[str, Any], event: InboxEvent) -> None:
        plan = self._plan(mapping)
        found = compile_expression(spec.records).evaluate(body)
        records = found if isinstance(found, list) else [] if found is None else [found]
        parent = compile_expression(spec.parent).evaluate(body) if spec.parent else None
        run = {"run_time": format_sf_datetime(self.now())}
        secrets = secret_names(mapping)
        pending: list[PendingRecord] = []
        for index, record in enumerate(records):
            evidence = {"source": record, "parent": parent, "event": kind, "event_id": event.event_id}
            try:
                mapped = plan.map_record(record, RunContext(parent=parent, run=run), event=kind)
            except RecordError as exc:
                located = exc.located(index, mapping.entity)
                LOG.warning("%s: event %s (%s): record %d cannot be mapped: %s", mapping.entity, event.event_id,
                            kind, index, located.kind)
                self.store.add_dead_letter(mapping.entity, source_key(mapping, record), f"MAPPING_{exc.kind.upper()}",
                                           str(located), evidence, None, index, secret_fields=secrets)
                continue
            pending.append(PendingRecord(record_key(mapped, plan), mapped, evidence, index))
        if not pending:
            return
        self.runner.link(mapping, pending)
        counts = EntityCounts()
        self.runner.write(mapping, plan, pending, counts, False, SyncReport(), None, keep_hashes=False)
        LOG.info("%s: event %s (%s): %d written, %d failed", mapping.entity, event.event_id, kind, counts.written,
                 counts.failed)
