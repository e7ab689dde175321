"""Zoom event notifications: ``POST /zoom/webhook`` checks, stores and acknowledges; a worker does the rest.

One delivery, in order:

    read the raw body, at most ``max_body`` bytes (over it: 400, without reading the rest)
    -> verify ``x-zm-signature`` over those exact bytes, for every event (failure: 401, nothing kept)
    -> parse: a JSON object with an ``event`` (otherwise 400)
    -> ``endpoint.url_validation``: answer the challenge (200 ``plainToken`` + ``encryptedToken``)
    -> any other event: ``inbox.add`` (duplicates by request id or body are dropped there), answer
       200 ``{"status": "accepted" | "duplicate"}`` at once, wake the worker
       (:class:`~engine.serve.worker.InboxWorker`). The store failing: 500, so Zoom redelivers.

What is kept is the processor's to say when it has an ``inbox_body(event_type, document, body)``
method (:class:`~engine.serve.events.EventProcessor` has): None for an event it would do nothing
with (answered 200 ``{"status": "ignored"}``, nothing kept), else the bytes to keep, such as the
body with credentials it never reads masked. Without that method the body is kept as received.

Zoom answers nothing but 2xx as delivered and retries only 5xx and network errors (NOTES-zoom-api
§6), so every 4xx here is final for that delivery: it is kept for requests that can never succeed.

The signature is ``"v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body))`` over the
raw bytes as received. Zoom's samples hash ``JSON.stringify`` of the parsed body, which is the
same bytes because Zoom sends compact JSON; re-serialising here would accept bodies Zoom never
signed. A timestamp more than ``max_age`` seconds away from now is refused as a replay; a replay
inside the window is a duplicate for the inbox.

Logs (logger ``zoomforce.webhook``) carry the event type, its id and the outcome, never the secret
token, a signature or the body: payloads carry meeting passwords.

Beside the webhook: ``GET /healthz`` (alive: 200 while the process answers, with the inbox's counts
and the worker, or ``"state": "unavailable"``), ``GET /readyz``
(ready: the state answers and, when a check is given, Salesforce does; 503 otherwise, each check's
outcome in the body; the outcome is kept ``READY_CACHE_SECONDS``, so a probe every second costs
Salesforce a call now and then) and ``GET /metrics`` (:mod:`engine.metrics` in the Prometheus text
format, the state's gauges read at each scrape).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine import metrics
from engine.errors import ConfigError, PermanentEventError, StateError, WebhookRejected, ZoomforceError
from engine.language.safe_json import loads
from engine.serve.worker import LOGGER_NAME, InboxWorker, Processor
from engine.sync.observe import observe_state
from engine.sync.state.store import StateStore

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_BODY",
    "WEBHOOK_PATH",
    "InboxWorker",
    "PermanentEventError",
    "Processor",
    "WebhookRejected",
    "create_app",
    "encrypted_token",
    "event_id_for",
    "parse_event",
    "sign",
    "verify",
]

WEBHOOK_PATH = "/zoom/webhook"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
READY_CACHE_SECONDS = 10.0
SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
REQUEST_ID_HEADER = "x-zm-request-id"
URL_VALIDATION = "endpoint.url_validation"
DEFAULT_MAX_BODY = 1_048_576
DEFAULT_MAX_AGE = 300.0
INBOX_STATUSES = ("pending", "processing", "done", "dead")
_MAX_TIMESTAMP_DIGITS = 12  # seconds until the year 33658; longer is not a Zoom timestamp
KeepBody = Callable[[str, Mapping[str, Any], bytes], bytes | None]  # (type, document, raw body) -> what to keep


# --------------------------------------------------------------------------------------------
# Pure functions: signing, verifying, parsing


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zoom's signature of ``body`` sent at ``timestamp``: ``v0=`` and the hex HMAC-SHA256."""
    message = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """The answer to ``endpoint.url_validation``: hex HMAC-SHA256 of the plain token."""
    return hmac.new(secret.encode("utf-8"), plain_token.encode("utf-8"), hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` ignoring case (Starlette's headers already do; a plain dict may not)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, item in headers.items():
        if key.lower() == name:
            return item
    return None


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float, max_age: float = DEFAULT_MAX_AGE) -> None:
    """Check Zoom's signature of the raw ``body``; raise :class:`WebhookRejected` (401) otherwise.

    ``now`` is the current time in epoch seconds. The timestamp is checked after the signature,
    so "outside the replay window" is said only of a request Zoom did sign (a clock off by
    minutes shows as that).
    """
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature:
        raise WebhookRejected(401, f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise WebhookRejected(401, f"missing {TIMESTAMP_HEADER} header")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        raise WebhookRejected(401, f"{TIMESTAMP_HEADER} is not a time in epoch seconds")
    expected = sign(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise WebhookRejected(401, "signature does not match")
    if abs(now - int(timestamp)) > max_age:
        raise WebhookRejected(401, f"{TIMESTAMP_HEADER} is more than {max_age:g} s from now (replay?)")


def parse_event(body: bytes) -> dict[str, Any]:
    """The notification as a dict; :class:`WebhookRejected` (400) unless a JSON object with an ``event``."""
    try:
        document = loads(body)  # within the limits: a hostile value is its record's dead letter, later
    except ValueError as error:  # UnicodeDecodeError is a ValueError
        raise WebhookRejected(400, "body is not JSON") from error
    if not isinstance(document, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    event = document.get("event")
    if not isinstance(event, str) or not event:
        raise WebhookRejected(400, "body has no 'event' name")
    return document


def event_id_for(headers: Mapping[str, str], document: Mapping[str, Any]) -> str:
    """The inbox id: Zoom's ``x-zm-request-id``, else a hash of ``event``, ``event_ts`` and ``payload``."""
    request_id = (_header(headers, REQUEST_ID_HEADER) or "").strip()
    if request_id:
        return request_id
    core = {key: document.get(key) for key in ("event", "event_ts", "payload")}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: the same bytes as UTF-8 for any real text, and a hash for a lone surrogate too
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def read_body(request: Request, max_body: int) -> bytes:
    """The raw body, reading at most ``max_body + 1`` bytes; :class:`WebhookRejected` (400) beyond."""
    too_large = WebhookRejected(400, f"body is larger than {max_body} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise too_large
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > max_body:
                raise too_large
    except ClientDisconnect:
        raise WebhookRejected(400, "the client disconnected before the whole body arrived") from None
    return bytes(received)


# --------------------------------------------------------------------------------------------
# The app


class _Receiver:
    """The handlers, with what they share."""

    def __init__(
        self,
        store: StateStore,
        secret: str,
        worker: InboxWorker | None,
        owns_worker: bool,
        max_body: int,
        clock: Callable[[], float],
        logger: logging.Logger,
        keep: KeepBody | None = None,
        ready_check: Callable[[], None] | None = None,
    ):
        self.ready_check = ready_check
        self._ready: tuple[float, int, dict[str, str]] | None = None  # (when, status, checks)
        self.store = store
        self.secret = secret
        self.keep = keep
        self.worker = worker
        self.owns_worker = owns_worker
        self.max_body = max_body
        self.clock = clock
        self.log = logger

    async def webhook(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body)
        except WebhookRejected as rejected:  # close the connection rather than read the rest
            return self._reject(rejected, {"connection": "close"})
        try:
            verify(self.secret, request.headers, body, now=self.clock())
            document = parse_event(body)
        except WebhookRejected as rejected:
            return self._reject(rejected)
        if document["event"] == URL_VALIDATION:
            return self._validate_url(document)
        return await self._accept(request.headers, document, body)

    def _reject(self, rejected: WebhookRejected, headers: Mapping[str, str] | None = None) -> Response:
        self.log.warning("webhook rejected: status=%d reason=%s", rejected.status, rejected.reason)
        return JSONResponse({"error": rejected.reason}, status_code=rejected.status, headers=headers)

    def _validate_url(self, document: Mapping[str, Any]) -> Response:
        payload = document.get("payload")
        plain = payload.get("plainToken") if isinstance(payload, dict) else None
        if not isinstance(plain, str) or not plain:
            return self._reject(WebhookRejected(400, "url validation without payload.plainToken"))
        self.log.info("webhook url validation answered: type=%s status=validated", URL_VALIDATION)
        return JSONResponse({"plainToken": plain, "encryptedToken": encrypted_token(self.secret, plain)})

    async def _accept(self, headers: Mapping[str, str], document: Mapping[str, Any], body: bytes) -> Response:
        event_type = document["event"]
        event_id = event_id_for(headers, document)
        try:
            added = await run_in_threadpool(self._store, event_id, event_type, document, body)
        except StateError as error:  # names the file and the SQLite problem, never the body
            self.log.error("webhook event not stored: type=%s id=%s status=error (%s)", event_type, event_id, error)
            return JSONResponse({"error": "the event could not be stored; deliver it again later"}, status_code=500)
        if added is None:
            self.log.info("webhook event received: type=%s id=%s status=ignored (no mapping reads it)", event_type,
                          event_id)
            return JSONResponse({"status": "ignored"})
        status = "accepted" if added else "duplicate"
        self.log.info("webhook event received: type=%s id=%s status=%s", event_type, event_id, status)
        if added and self.worker is not None:
            if self.owns_worker:
                self.worker.start()  # no-op once running; covers servers run with lifespan off
            self.worker.wake()
        return JSONResponse({"status": status})

    def _store(self, event_id: str, event_type: str, document: Mapping[str, Any], body: bytes) -> bool | None:
        """``inbox.add`` of what is to be kept; None when nothing is (the processor ignores the event)."""
        kept = body if self.keep is None else self.keep(event_type, document, body)
        if kept is None:
            return None
        return self.store.inbox.add(event_id, event_type, kept)

    async def healthz(self, request: Request) -> Response:
        # Alive is the process answering: a state out of reach is told here (and makes /readyz 503), but is
        # no reason for a liveness probe to restart the process, which would not bring the database back.
        worker = "none" if self.worker is None else ("running" if self.worker.running else "stopped")
        try:
            counts = await run_in_threadpool(self.store.inbox.counts)
        except StateError as error:
            self.log.error("webhook health: state database unavailable (%s)", error)
            return JSONResponse({"status": "ok", "state": "unavailable", "worker": worker})
        inbox = {status: counts.get(status, 0) for status in INBOX_STATUSES}
        return JSONResponse({"status": "ok", "inbox": inbox, "worker": worker})

    async def readyz(self, request: Request) -> Response:
        now = time.monotonic()
        if self._ready is None or now - self._ready[0] >= READY_CACHE_SECONDS:
            status, checks = await run_in_threadpool(self._readiness)
            self._ready = (now, status, checks)
        _, status, checks = self._ready
        return JSONResponse({"status": "ready" if status == 200 else "not ready", "checks": checks},
                            status_code=status)

    def _readiness(self) -> tuple[int, dict[str, str]]:
        checks: dict[str, str] = {}
        try:
            self.store.inbox.counts()
            checks["state"] = "ok"
        except StateError as error:
            checks["state"] = f"error: {error}"
        if self.ready_check is not None:
            try:
                self.ready_check()
                checks["salesforce"] = "ok"
            except ZoomforceError as error:
                checks["salesforce"] = f"error: {error}"
        failing = [name for name, outcome in checks.items() if outcome != "ok"]
        if failing:
            self.log.warning("not ready: %s", "; ".join(f"{name} {checks[name]}" for name in failing),
                             extra={"event": "serve.not_ready", "checks": checks})
        return (503 if failing else 200), checks

    async def metrics(self, request: Request) -> Response:
        def collect() -> bytes:
            try:
                observe_state(self.store)
            except StateError as error:
                self.log.error("metrics: state database unavailable (%s)", error)
            return metrics.exposition()

        body = await run_in_threadpool(collect)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Start and stop a worker the app made itself (a worker passed in is the caller's)."""
        if self.owns_worker and self.worker is not None:
            self.worker.start()
        try:
            yield
        finally:
            if self.owns_worker and self.worker is not None:
                await run_in_threadpool(self.worker.stop)


def create_app(
    store: StateStore,
    secret: str,
    processor: Processor | None,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    clock: Callable[[], float] = time.time,
    worker: InboxWorker | None = None,
    logger: logging.Logger | None = None,
    ready_check: Callable[[], None] | None = None,
) -> Starlette:
    """The receiver as an ASGI app: ``POST /zoom/webhook``, ``GET /healthz``, ``/readyz`` and ``/metrics``.

    ``ready_check`` (Salesforce reachable, say) raises a ZoomforceError when the service cannot do its
    job; ``/readyz`` answers 503 then.

    ``worker`` given: the caller starts and stops it; the app wakes it when an event arrives
    (``processor`` is then unused). No worker but a ``processor``: the app makes an
    :class:`InboxWorker` with the default settings (``app.state.worker``) and starts it at
    startup, or at the first event when the server runs without lifespan; it stops at shutdown.
    Neither: events are only stored, for a later :meth:`InboxWorker.drain`. The worker's processor
    may decide what is kept of each event (``inbox_body``, see the module's docstring).
    ``clock`` (epoch seconds) is what the signature timestamps are checked against.
    """
    if not secret:
        raise ConfigError("the Zoom webhook secret token is empty (ZOOM_WEBHOOK_SECRET_TOKEN)")
    if max_body < 1:
        raise ValueError(f"max_body must be at least 1 byte, not {max_body}")
    log = logger or logging.getLogger(LOGGER_NAME)
    owns_worker = worker is None and processor is not None
    if owns_worker and processor is not None:
        worker = InboxWorker(store, processor, logger=log)
    keep = getattr(worker.processor if worker is not None else None, "inbox_body", None)
    receiver = _Receiver(store, secret, worker, owns_worker, max_body, clock, log, keep, ready_check)
    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, receiver.webhook, methods=["POST"]),
            Route(HEALTH_PATH, receiver.healthz, methods=["GET"]),
            Route(READY_PATH, receiver.readyz, methods=["GET"]),
            Route(METRICS_PATH, receiver.metrics, methods=["GET"]),
        ],
        lifespan=receiver.lifespan,
    )
    app.router.redirect_slashes = False
    app.state.store = store
    app.state.worker = worker
    return app
