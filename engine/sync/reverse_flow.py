"""The reverse flow: Salesforce Contacts or Leads registered for a Zoom webinar.

``zoomforce sync registrations --webinar ID`` reads the records the mapping selects (its
``source.object`` list and ``source.where`` SOQL condition; only the fields its expressions read),
maps each to a registrant request body, and POSTs those not registered yet. Who counts as
registered is the mapping's ``target.list``: its endpoint and records key, read once per status of
its ``statuses`` (in the default mapping approved, pending and denied, so that a person the host
denied is not registered again on every run). A person is there when a listed record has the same
match key (the e-mail, compared without case). Someone zoomforce registered before who is listed
no more (they cancelled) is left alone too, unless the list says ``cancelled: register``. A person
in both Contact and Lead is registered once.

Zoom allows 3 registrations a day of one person for one webinar. A registration refused by that
limit (429, "daily rate limit ... for the registrant") is a dead letter, and the runs of the same
UTC day do not post that person again: they count them as failed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine.errors import ConfigError, PathParameterError, RecordError, ZoomApiError, ZoomNotFound
from engine.language.coerce import format_sf_datetime
from engine.language.expressions import compile_expression
from engine.language.model import Mapping
from engine.language.plan import RunContext, secret_names
from engine.secrets import scrub_message
from engine.sync.pipeline import WritePipeline, log_dead_letter
from engine.sync.report import EntityCounts, PlannedChange, SyncReport
from engine.sync.state.record_hashes import WrittenItem
from engine.sync.state.store import StateStore
from engine.zoom.client import ZoomClient, endpoint_path
from engine.zoom.reader import placeholders, split_endpoint

_SOQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DAILY_LIMITED = "ZOOM_429"  # the dead letter code of a registration refused by a daily limit of the registrant


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


def _webinar_path(endpoint: str, webinar: str) -> str:
    names = placeholders(endpoint)
    if len(names) != 1:
        raise ConfigError(f"{endpoint}: the reverse flow's endpoint must take exactly one path parameter (the webinar)")
    try:
        return endpoint_path(split_endpoint(endpoint)[1], {names[0]: webinar})
    except PathParameterError as exc:
        raise ConfigError(f"--webinar {webinar!r}: {exc.reason}") from exc


def registered_already(client: ZoomClient, mapping: Mapping, webinar: str) -> set[str]:
    """The match keys (lower case) of everyone the mapping's ``target.list`` lists, under each status."""
    listing = mapping.target.listing
    if listing is None:
        raise ConfigError(f"{mapping.entity}: the reverse flow needs target.list (who is registered already)")
    match = mapping.target.match_key or "email"
    path = _webinar_path(listing.endpoint, webinar)
    readings = [{"status": status} for status in listing.statuses] or [{}]
    try:
        return {
            str(item.get(match, "")).strip().lower()
            for reading in readings
            for item in client.paginate(path, listing.records, {**listing.params, **reading})
        }
    except ZoomNotFound as exc:
        raise ConfigError(f"--webinar {webinar}: Zoom has no such webinar ({exc})") from exc


def limited_today(store: StateStore, entity: str, now: datetime) -> set[str]:
    """The keys whose registration Zoom refused today (UTC) with the per-registrant daily limit."""
    today = now.astimezone(UTC).date().isoformat()
    return {letter.key for letter in store.dead_letters.find(entity)
            if letter.key and letter.code == DAILY_LIMITED and letter.updated_at[:10] == today}


def register_for_webinar(
    pipeline: WritePipeline, client: ZoomClient, entity: str, webinar: str, counts: EntityCounts, dry_run: bool,
    report: SyncReport, now: datetime,
) -> None:
    """Register the selected Contacts and Leads for `webinar`, leaving alone those already there.

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
    path = _webinar_path(endpoint, webinar)
    match = mapping.target.match_key or "email"
    registered = registered_already(client, mapping, webinar)
    leave_cancelled = mapping.target.listing is None or mapping.target.listing.cancelled == "leave"
    limited = limited_today(store, entity, now)
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
                log_dead_letter(entity, f"{webinar}:{record.get('Id')}", index - 1, f"MAPPING_{exc.kind.upper()}",
                                scrub_message(exc.reason, record, secrets), kept=not dry_run)
                pipeline.failures(entity, f"{webinar}:{record.get('Id')}", f"MAPPING_{exc.kind.upper()}",
                                  scrub_message(str(exc), {"source": record}, secrets))
                if not dry_run:
                    store.dead_letters.add(entity, f"{webinar}:{record.get('Id')}",
                                           exc.code, str(exc.located(index - 1, entity)),
                                           {"source": record}, report.run_id, index - 1, secret_fields=secrets)
                continue
            person = str(mapped.record.get(match, "")).strip().lower()
            key = f"{webinar}:{person}"
            cancelled = leave_cancelled and store.hashes.get(entity, key) is not None
            if person in registered or cancelled:
                counts.unchanged += 1  # listed, or registered by zoomforce before and cancelled since
                registered.add(person)
                continue
            registered.add(person)
            if key in limited:  # refused today by Zoom's 3 registrations a day: not again before 00:00 UTC
                counts.failed += 1
                continue
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
                log_dead_letter(entity, key, index - 1, f"ZOOM_{exc.code or exc.status}", str(exc), kept=True)
                pipeline.failures(entity, key, f"ZOOM_{exc.code or exc.status}",
                                  scrub_message(str(exc), {"source": record, "record": mapped.record}, secrets))
                store.dead_letters.add(entity, key, f"ZOOM_{exc.code or exc.status}", str(exc),
                                       {"source": record, "record": mapped.record}, report.run_id, index - 1,
                                       secret_fields=secrets)
                continue
            counts.written += 1
            registrant = response.get("registrant_id") if isinstance(response, dict) else None
            store.commit_batch(entity, [WrittenItem.of(key, mapped.record, registrant)], None, report.run_id)
