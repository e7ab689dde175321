"""Zoom event notifications for the emulator's synthetic account: built, signed and delivered.

An event body is ``{"event", "event_ts" (ms), "payload": {"account_id", "object"}}``, serialised
compactly (as Zoom's ``JSON.stringify``) and signed: ``x-zm-signature: v0=`` + hex
HMAC-SHA256(secret, ``"v0:{x-zm-request-timestamp}:{raw body}"``). Every event carries an
``x-zm-request-id`` of its own, kept on redelivery. Delivery follows Zoom: a 2xx is delivered; a
status of 500 or more or a network error is retried 3 times, 300 s, 1200 s then 3600 s later (times
``retry_scale``); 1xx, 3xx and 4xx are never retried.

The events refer to records the REST API serves: ``meeting.ended`` a past meeting,
``webinar.registration_created`` a registrant of ``GET /webinars/{id}/registrants``,
``phone.callee_ended`` an answered inbound call and ``phone.caller_ended`` an outbound call of
``GET /phone/call_history``, whose ``call_id`` the event carries (the history's call log ``id`` is
in no event).

    event = build_event(account, "phone.callee_ended", 0)
    body = serialize(event)
    headers = {"x-zm-signature": sign(secret, timestamp, body), ...}
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from engine.emulators.zoom.data import Account, MeetingData, Record, WebinarData, iso

STARTUP_EVENT_KINDS = ("meeting.ended", "webinar.registration_created", "phone.callee_ended", "phone.caller_ended")
EVENT_KINDS = (*STARTUP_EVENT_KINDS, "webinar.updated")  # every kind the emulator builds
RETRY_DELAYS = (300.0, 1200.0, 3600.0)
USER_AGENT = "Zoom Marketplace/1.0a"
HANDUP_RESULTS = {"connected": "Call connected", "no_answer": "No Answer", "hang_up": "Call Cancel"}


# ------------------------------------------------------------------------------------- signing


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed by the webhook secret token."""
    raw = body.encode() if isinstance(body, str) else body
    message = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """What a receiver answers to ``endpoint.url_validation``: hex HMAC-SHA256(secret, plainToken)."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def serialize(event: Record) -> bytes:
    """The body as Zoom sends it: compact JSON, UTF-8, non-ASCII characters unescaped."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def new_request_id() -> str:
    """A random UUID written with underscores, as in Zoom's ``x-zm-request-id``: unique across runs,
    so a receiver's inbox never mistakes a new notification for one it saw in an earlier run."""
    return str(uuid.uuid4()).replace("-", "_")


# -------------------------------------------------------------------------------------- events


def _epoch_ms(text: str, delay_ms: int = 0) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000) + delay_ms


def envelope(account: Account, kind: str, event_ts: int, obj: Record) -> Record:
    return {"event": kind, "event_ts": event_ts, "payload": {"account_id": account.account_id, "object": obj}}


def meeting_ended_event(account: Account, meeting: MeetingData) -> Record:
    obj: Record = {"id": str(meeting.id), "uuid": meeting.uuid, "host_id": meeting.host.id, "topic": meeting.topic,
                   "type": 2, "start_time": iso(meeting.actual_start), "timezone": meeting.host.timezone,
                   "duration": meeting.duration, "end_time": iso(meeting.actual_end)}
    return envelope(account, "meeting.ended", _epoch_ms(obj["end_time"], 1200), obj)


def registration_event(account: Account, webinar: WebinarData, registrant: Record) -> Record:
    """``webinar.registration_created`` for one registrant of ``webinar``."""
    keys = ("id", "first_name", "last_name", "email", "status", "join_url", "org", "job_title", "phone",
            "custom_questions")
    obj = {"uuid": webinar.uuid, "id": webinar.id, "host_id": webinar.host.id, "topic": webinar.topic, "type": 5,
           "start_time": iso(webinar.start), "duration": webinar.duration, "timezone": webinar.host.timezone,
           "registrant": {k: registrant[k] for k in keys if k in registrant}}
    return envelope(account, "webinar.registration_created", _epoch_ms(registrant["create_time"], 800), obj)


def webinar_updated_event(account: Account, webinar: WebinarData) -> Record:
    """``webinar.updated`` after the host edited the agenda: the webinar as it now is, and what changed.

    Its object carries ``registration_url`` (when registration is on): Zoom's Rivet SDK types the
    field on this event (``meetings/meetings.d.ts``, v0.3.0), and no webinar REST schema lists it.
    """
    obj: Record = {"id": webinar.id, "uuid": webinar.uuid, "host_id": webinar.host.id, "topic": webinar.topic,
                   "type": 5, "start_time": iso(webinar.start), "duration": webinar.duration,
                   "timezone": webinar.host.timezone, "agenda": webinar.agenda}
    if webinar.registration_url:
        obj["registration_url"] = webinar.registration_url
    obj["settings"] = {"host_video": True, "panelists_video": webinar.ordinal % 2 == 1,
                       "practice_session": webinar.ordinal % 3 == 1, "approval_type": webinar.approval_type,
                       "registration_type": 1, "audio": "both", "auto_recording": "cloud"}
    updated = _epoch_ms(iso(webinar.created), 3_600_000)
    payload = {"account_id": account.account_id, "operator": webinar.host.email, "operator_id": webinar.host.id,
               "object": obj, "time_stamp": updated,
               "old_object": {"id": webinar.id, "agenda": webinar.topic}}
    return {"event": "webinar.updated", "event_ts": updated, "payload": payload}


def _own_side(account: Account, call: Record, side: str) -> Record:
    user = account.find_user(call[f"{side}_email"])
    party: Record = {"extension_id": call[f"{side}_ext_id"], "extension_number": int(call[f"{side}_ext_number"]),
                     "extension_type": "user", "phone_number": call[f"{side}_did_number"],
                     "connection_type": "voip", "device_id": f"DV{call['call_id'][-12:]}"}
    if user is not None:
        party |= {"user_id": user.id, "timezone": user.timezone}
    return party


def _external_side(call: Record, side: str) -> Record:
    return {"phone_number": call[f"{side}_did_number"], "connection_type": "pstn_off_net"}


def call_ended_event(account: Account, kind: str, call: Record) -> Record:
    """``phone.callee_ended`` (inbound: the callee is the account's user) or ``phone.caller_ended``."""
    inbound = kind == "phone.callee_ended"
    obj: Record = {"call_id": call["call_id"]}
    if inbound:
        obj["caller"] = _external_side(call, "caller")
        obj["callee"] = _own_side(account, call, "callee") | {"name": call["callee_name"]}
    else:
        obj["caller"] = _own_side(account, call, "caller")
        obj["callee"] = _external_side(call, "callee")  # phone.caller_ended's callee has no name (Rivet 0.3.0)
    obj["ringing_start_time"] = call["start_time"]
    if "answer_time" in call:
        obj["answer_start_time"] = call["answer_time"]
    obj["call_end_time"] = call["end_time"]
    if not inbound:
        obj["handup_result"] = HANDUP_RESULTS.get(call["call_result"], "Call connected")
    return envelope(account, kind, _epoch_ms(call["end_time"], 1500), obj)


def _past_meetings(account: Account) -> Iterator[MeetingData]:
    return (m for m in account.all_meetings() if m.past)


def _registrants(account: Account) -> Iterator[tuple[WebinarData, Record]]:
    return ((w, r) for w in account.all_webinars() for r in w.registrants)


def _calls(account: Account, kind: str) -> Iterator[Record]:
    if kind == "phone.callee_ended":
        return (c for c in account.calls() if c["direction"] == "inbound" and "answer_time" in c)
    return (c for c in account.calls() if c["direction"] == "outbound")


def build_event(account: Account, kind: str, index: int) -> Record:
    """The ``index``-th event of ``kind`` for the account (wrapping around when index exceeds the count)."""
    if kind == "meeting.ended":
        return meeting_ended_event(account, pick(lambda: _past_meetings(account), index, "past meeting"))
    if kind == "webinar.registration_created":
        webinar, registrant = pick(lambda: _registrants(account), index, "registrant")
        return registration_event(account, webinar, registrant)
    if kind in ("phone.callee_ended", "phone.caller_ended"):
        return call_ended_event(account, kind, pick(lambda: _calls(account, kind), index, "call for " + kind))
    if kind == "webinar.updated":
        return webinar_updated_event(account, pick(account.all_webinars, index, "webinar"))
    raise ValueError(f"unknown event {kind!r}; known: {', '.join(EVENT_KINDS)}")


def pick(items: Callable[[], Iterable[Any]], index: int, what: str) -> Any:
    """The ``index``-th item of ``items()``, wrapping around; only walks everything when it must wrap."""
    found = list(itertools.islice(items(), index + 1))
    if len(found) > index:
        return found[index]
    if not found:
        raise LookupError(f"the account has no {what}")
    return found[index % len(found)]


def default_event_plan(count: int) -> list[tuple[str, int]]:
    """``count`` events cycling through :data:`STARTUP_EVENT_KINDS`: (kind, index of that kind)."""
    kinds = STARTUP_EVENT_KINDS
    return [(kinds[k % len(kinds)], k // len(kinds)) for k in range(count)]


def event_key(event: Record) -> str:
    """The id of the record the event is about: call id, meeting id or registrant id."""
    obj = event["payload"]["object"]
    if "call_id" in obj:
        return str(obj["call_id"])
    if "registrant" in obj:
        return str(obj["registrant"]["id"])
    return str(obj.get("id", ""))


# ------------------------------------------------------------------------------------ delivery


@dataclass
class Attempt:
    timestamp: int
    status: int | None
    error: str | None = None


@dataclass
class Delivery:
    """One event notification and every attempt to deliver it."""

    request_id: str
    event: Record
    body: bytes
    state: str = "pending"  # pending, retrying, delivered, refused (a 1xx/3xx/4xx), failed (retries exhausted)
    attempts: list[Attempt] = field(default_factory=list)
    first_attempt_done: threading.Event = field(default_factory=threading.Event, repr=False)

    def summary(self) -> Record:
        return {"request_id": self.request_id, "event": self.event["event"], "event_ts": self.event["event_ts"],
                "key": event_key(self.event), "state": self.state,
                "attempts": [{"timestamp": a.timestamp, "status": a.status, "error": a.error} for a in self.attempts]}


class WebhookSender:
    """Deliver events to one URL from a background thread, retrying as Zoom does; bounded and closable."""

    def __init__(self, url: str, secret: str, retry_scale: float = 1.0, *, timeout: float = 3.0,
                 max_pending: int = 1000, max_log: int = 1000) -> None:
        self.url, self.secret, self.retry_scale = url, secret, retry_scale
        self.max_pending = max_pending
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Delivery]] = []
        self._log: deque[Delivery] = deque(maxlen=max_log)
        self._serial = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def submit(self, event: Record) -> Delivery | None:
        """Queue one event for delivery now; None when the queue is full or the sender closed."""
        with self._cond:
            if self._stopped or len(self._queue) >= self.max_pending:
                return None
            serial = next(self._serial)
            delivery = Delivery(new_request_id(), event, serialize(event))
            heapq.heappush(self._queue, (time.monotonic(), serial, delivery))
            self._log.append(delivery)
            self._ensure_thread()
            self._cond.notify()
        return delivery

    def send(self, events: Iterable[Record], wait: float | None = None) -> list[Delivery]:
        """Queue ``events``; with ``wait``, wait up to that many seconds for each first attempt."""
        deliveries = [d for d in (self.submit(event) for event in events) if d is not None]
        if wait is not None:
            deadline = time.monotonic() + wait
            for delivery in deliveries:
                delivery.first_attempt_done.wait(max(deadline - time.monotonic(), 0.0))
        return deliveries

    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self._log)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zoom-webhooks", daemon=True)
            self._thread.start()

    def _next_due(self) -> Delivery | None:
        with self._cond:
            while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                self._cond.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
            if self._stopped:
                return None
            return heapq.heappop(self._queue)[2]

    def _run(self) -> None:
        while (delivery := self._next_due()) is not None:
            self._attempt(delivery)

    def headers(self, request_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        """Zoom's headers for one attempt: a fresh timestamp and signature, the event's own request id."""
        tracking = hashlib.sha256(request_id.encode()).hexdigest()[:32]
        return {"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT,
                "x-zm-request-timestamp": str(timestamp), "x-zm-signature": sign(self.secret, timestamp, body),
                "x-zm-request-id": request_id, "x-zm-trackingid": f"v=2.0;s={tracking}"}

    def validate_endpoint(self, plain_token: str | None = None) -> Record:
        """Send ``endpoint.url_validation`` as Zoom does when a subscription is saved; judge the answer."""
        token = plain_token or secrets.token_urlsafe(16)
        event = {"payload": {"plainToken": token}, "event_ts": int(time.time() * 1000),
                 "event": "endpoint.url_validation"}
        body = serialize(event)
        expected = encrypted_token(self.secret, token)
        outcome: Record = {"valid": False, "plainToken": token, "encryptedToken": expected, "status": None}
        try:
            reply = self._client.post(self.url, content=body,
                                      headers=self.headers(new_request_id(), body, int(time.time())))
        except httpx.HTTPError as exc:
            return outcome | {"error": f"{type(exc).__name__}: {exc}"}
        try:
            answer = reply.json()
        except ValueError:
            answer = None
        valid = (reply.status_code in (200, 204) and isinstance(answer, dict)
                 and answer.get("plainToken") == token and answer.get("encryptedToken") == expected)
        return outcome | {"valid": valid, "status": reply.status_code, "answer": answer}

    def _attempt(self, delivery: Delivery) -> None:
        timestamp = int(time.time())
        try:
            headers = self.headers(delivery.request_id, delivery.body, timestamp)
            reply = self._client.post(self.url, content=delivery.body, headers=headers)
            attempt = Attempt(timestamp, reply.status_code)
        except httpx.HTTPError as exc:
            attempt = Attempt(timestamp, None, f"{type(exc).__name__}: {exc}")
        with self._cond:
            delivery.attempts.append(attempt)
            delivery.state = self._after(delivery, attempt)
            if delivery.state == "retrying":
                delay = RETRY_DELAYS[len(delivery.attempts) - 1] * self.retry_scale
                heapq.heappush(self._queue, (time.monotonic() + delay, next(self._serial), delivery))
        delivery.first_attempt_done.set()

    @staticmethod
    def _after(delivery: Delivery, attempt: Attempt) -> str:
        if attempt.status is not None and 200 <= attempt.status < 300:
            return "delivered"
        if attempt.status is not None and attempt.status < 500:
            return "refused"
        return "retrying" if len(delivery.attempts) <= len(RETRY_DELAYS) else "failed"
