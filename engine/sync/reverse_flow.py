"""The reverse flow: Salesforce Contacts or Leads registered for a Zoom webinar.

``zoomforce sync registrations --webinar ID`` reads the records the mapping selects (its
``source.object`` list and ``source.where`` SOQL condition; only the fields its expressions read),
maps each to a registrant request body, and POSTs those not registered yet: a person is already
registered when the webinar's registrants (approved or pending) have the same match key (the
e-mail, compared without case). A person in both Contact and Lead is registered once.
"""

from __future__ import annotations

import re
from datetime import datetime

from engine.errors import ConfigError, RecordError, ZoomApiError, ZoomNotFound
from engine.language.coerce import format_sf_datetime
from engine.language.expressions import compile_expression
from engine.language.model import Mapping
from engine.language.plan import RunContext, secret_names
from engine.secrets import scrub_message
from engine.sync.pipeline import WritePipeline
from engine.sync.report import EntityCounts, PlannedChange, SyncReport
from engine.sync.state.record_hashes import WrittenItem
from engine.zoom.client import ZoomClient, endpoint_path
from engine.zoom.reader import placeholders, split_endpoint

_SOQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REGISTRANT_STATUSES = ("approved", "pending")


def soql_fields(mapping: Mapping) -> list[str]:
    """The Salesforce fields the mapping's expressions read (their first path step), and Id."""
    names = {"Id"}
    for spec in mapping.enabled_fields:
        for path in compile_expression(spec.source).field_paths():
            if path and isinstance(path[0], str) and _SOQL_NAME.match(path[0]):
                names.add(path[0])
    return sorted(names)


def select_statement(mapping: Mapping, sobject: str) -> str:
    where = f" WHERE {mapping.source.where}" if mapping.source.where else ""
    return f"SELECT {', '.join(soql_fields(mapping))} FROM {sobject}{where}"


def _registrants_path(endpoint: str, webinar: str) -> str:
    names = placeholders(endpoint)
    if len(names) != 1:
        raise ConfigError(f"{endpoint}: the reverse flow's endpoint must take exactly one path parameter (the webinar)")
    return endpoint_path(split_endpoint(endpoint)[1], {names[0]: webinar})


def register_for_webinar(
    pipeline: WritePipeline, client: ZoomClient, entity: str, webinar: str, counts: EntityCounts, dry_run: bool,
    report: SyncReport, now: datetime,
) -> None:
    """Register the selected Contacts and Leads for `webinar`, skipping those already registered.

    Salesforce is read through the pipeline's writer and the state is the pipeline's; the requests
    go to Zoom through `client`.
    """
    mapping = pipeline.mapping_set.get(entity)
    plan = pipeline.plan(entity)
    salesforce, store = pipeline.salesforce, pipeline.store
    if salesforce is None:
        raise ConfigError(f"{entity}: the reverse flow needs both Salesforce and Zoom credentials")
    endpoint = mapping.target.endpoint or ""
    method, _ = split_endpoint(endpoint)
    path = _registrants_path(endpoint, webinar)
    match = mapping.target.match_key or "email"
    try:
        registered = {
            str(item.get(match, "")).strip().lower()
            for status in REGISTRANT_STATUSES
            for item in client.paginate(path, "registrants", {"status": status})
        }
    except ZoomNotFound as exc:
        raise ConfigError(f"--webinar {webinar}: Zoom has no such webinar ({exc})") from exc
    run = {"run_time": format_sf_datetime(now)}
    secrets = secret_names(mapping)
    index = 0
    for sobject in mapping.source.objects:
        for record in salesforce.query(select_statement(mapping, sobject)):
            index += 1
            counts.read += 1
            try:
                mapped = plan.map_record(record, RunContext(run=run))
            except RecordError as exc:
                counts.failed += 1
                pipeline.failures(entity, f"{webinar}:{record.get('Id')}", f"MAPPING_{exc.kind.upper()}",
                                  scrub_message(str(exc), {"source": record}, secrets))
                if not dry_run:
                    store.dead_letters.add(entity, f"{webinar}:{record.get('Id')}",
                                                  f"MAPPING_{exc.kind.upper()}", str(exc.located(index - 1, entity)),
                                                  {"source": record}, report.run_id, index - 1, secret_fields=secrets)
                continue
            person = str(mapped.record.get(match, "")).strip().lower()
            if person in registered:
                counts.unchanged += 1
                continue
            registered.add(person)
            key = f"{webinar}:{person}"
            if dry_run:
                counts.written += 1
                shown = mapped.as_json(plan.secrets)["record"]  # secrets as ***
                report.planned.append(PlannedChange(entity, key, "create", {k: (None, v) for k, v in shown.items()}))
                continue
            try:
                response = client.call(method, path, json=mapped.record)
            except ZoomApiError as exc:
                if exc.status is not None and exc.status >= 500:
                    raise
                counts.failed += 1
                pipeline.failures(entity, key, f"ZOOM_{exc.code or exc.status}",
                                  scrub_message(str(exc), {"source": record, "record": mapped.record}, secrets))
                store.dead_letters.add(entity, key, f"ZOOM_{exc.code or exc.status}", str(exc),
                                              {"source": record, "record": mapped.record}, report.run_id, index - 1,
                                              secret_fields=secrets)
                continue
            counts.written += 1
            registrant = response.get("registrant_id") if isinstance(response, dict) else None
            store.commit_batch(entity, [WrittenItem.of(key, mapped.record, registrant)], None, report.run_id)

