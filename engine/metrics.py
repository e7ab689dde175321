"""The process's metrics, in the Prometheus model, through ``prometheus_client``.

One registry (:data:`REGISTRY`, zoomforce's metrics only) that the clients, the runner and the
webhook worker add to as they go, and two ways out: :func:`write_textfile` (``sync --metrics-file
PATH``, for node_exporter's textfile collector: written to a temporary file, then renamed, so the
collector never reads half a file) and :func:`exposition` (``serve``'s ``GET /metrics``).

    zoomforce_records_total{entity, outcome}            read, written, unchanged, failed
    zoomforce_api_calls_total{service, outcome}          zoom | salesforce; 2xx, 3xx, 4xx, 429, 5xx, error
    zoomforce_api_retries_total{service, reason}         429, 5xx, timeout, connection, locked ...
    zoomforce_rate_limit_waits_total{service, reason}    qps, daily, retry_after, backoff, request_limit
    zoomforce_rate_limit_wait_seconds_total{service}     the time those waits took
    zoomforce_run_duration_seconds{command}              the run's duration (sync, dead-letters retry)
    zoomforce_last_success_timestamp_seconds             when a run last ended with every record written
    zoomforce_inbox_depth                                webhook events waiting (pending + processing)
    zoomforce_inbox_oldest_event_age_seconds             the age of the oldest one (0 when none waits)
    zoomforce_dead_letters_open{entity}                  records still missing from their target

The last four are read from the state when they are exported (a ``sync`` knows the last success of
earlier runs only from there). This module imports no layer: every one may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client import write_to_textfile as _write_to_textfile

from engine.errors import InputError

REGISTRY = CollectorRegistry()
CONTENT_TYPE = CONTENT_TYPE_LATEST

RECORDS = Counter("zoomforce_records", "Records handled, by entity and outcome (read, written, unchanged, failed).",
                  ["entity", "outcome"], registry=REGISTRY)
API_CALLS = Counter("zoomforce_api_calls", "HTTP requests sent to an API, by service and outcome (status class).",
                    ["service", "outcome"], registry=REGISTRY)
RETRIES = Counter("zoomforce_api_retries", "Requests tried again, by service and reason.", ["service", "reason"],
                  registry=REGISTRY)
RATE_LIMIT_WAITS = Counter("zoomforce_rate_limit_waits", "Waits for a rate limit, by service and reason.",
                           ["service", "reason"], registry=REGISTRY)
RATE_LIMIT_WAIT_SECONDS = Counter("zoomforce_rate_limit_wait_seconds", "Seconds spent waiting for rate limits.",
                                  ["service"], registry=REGISTRY)
RUN_DURATION = Gauge("zoomforce_run_duration_seconds", "How long the run took, in seconds.", ["command"],
                     registry=REGISTRY)
LAST_SUCCESS = Gauge("zoomforce_last_success_timestamp_seconds",
                     "When a run of this state last ended with every record written (Unix time; 0: never).",
                     registry=REGISTRY)
INBOX_DEPTH = Gauge("zoomforce_inbox_depth", "Webhook events waiting to be processed (pending and processing).",
                    registry=REGISTRY)
INBOX_OLDEST_AGE = Gauge("zoomforce_inbox_oldest_event_age_seconds",
                         "Age of the oldest webhook event waiting to be processed (0 when none waits).",
                         registry=REGISTRY)
DEAD_LETTERS_OPEN = Gauge("zoomforce_dead_letters_open", "Open dead letters, by entity.", ["entity"],
                          registry=REGISTRY)
COUNT_OUTCOMES = ("read", "written", "unchanged", "failed")


def outcome_of(status: int | None) -> str:
    """The ``outcome`` label of an HTTP status: ``429``, else its class (``2xx`` ...); ``error`` when none came."""
    if status is None:
        return "error"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def api_call(service: str, status: int | None) -> None:
    API_CALLS.labels(service, outcome_of(status)).inc()


def retry(service: str, reason: str) -> None:
    RETRIES.labels(service, reason).inc()


def rate_limit_wait(service: str, reason: str, seconds: float) -> None:
    RATE_LIMIT_WAITS.labels(service, reason).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(service).inc(max(0.0, seconds))


def count_records(entity: str, counts: Mapping[str, int]) -> None:
    """Add one entity's counts (``read``, ``written``, ``unchanged``, ``failed``)."""
    for outcome in COUNT_OUTCOMES:
        value = counts.get(outcome, 0)
        RECORDS.labels(entity, outcome).inc(value)


def observe_state(last_success: float | None, inbox_depth: int, oldest_age: float | None,
                  open_letters: Mapping[str, int]) -> None:
    """Set the gauges read from the state, just before they are exported."""
    LAST_SUCCESS.set(last_success or 0)
    INBOX_DEPTH.set(inbox_depth)
    INBOX_OLDEST_AGE.set(max(0.0, oldest_age or 0.0))
    DEAD_LETTERS_OPEN.clear()
    for entity, count in open_letters.items():
        DEAD_LETTERS_OPEN.labels(entity).set(count)


def exposition() -> bytes:
    """Every metric in the Prometheus text format (``GET /metrics``)."""
    return generate_latest(REGISTRY)


def write_textfile(path: Path) -> None:
    """Every metric to ``path``, atomically (a temporary file renamed over it); InputError when it cannot be."""
    try:
        _write_to_textfile(str(path), REGISTRY)
    except OSError as error:
        raise InputError(f"--metrics-file {path}: cannot write it: {error.strerror or error}") from error


def reset() -> None:
    """Forget every value (a test's fresh start, or a second run in one process)."""
    for metric in (RECORDS, API_CALLS, RETRIES, RATE_LIMIT_WAITS, RATE_LIMIT_WAIT_SECONDS, RUN_DURATION,
                   DEAD_LETTERS_OPEN):
        metric.clear()
    for gauge in (LAST_SUCCESS, INBOX_DEPTH, INBOX_OLDEST_AGE):
        gauge.set(0)
