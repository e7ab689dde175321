"""The Zoom webhook receiver and its inbox worker, over real sockets (uvicorn on 127.0.0.1, httpx).

The app's clock (what signature timestamps are checked against) is a fixed, injected time, so no
test depends on the wall clock; the store keeps its real clock, which only orders retries. Every
wait is a bounded loop with a deadline that fails the test when it runs out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.errors import ConfigError, RemoteError
from engine.serve.app import (
    WEBHOOK_PATH,
    WebhookRejected,
    create_app,
    encrypted_token,
    event_id_for,
    sign,
    verify,
)
from engine.serve.worker import InboxWorker, PermanentEventError, backoff_seconds
from engine.serving import RunningServer, start_in_thread
from engine.sync.state.inbox import InboxEvent
from engine.sync.state.store import StateStore
from tests.helpers import signed_headers
from tests.helpers import wait_until as wait_for

SECRET = "zm-secret-TOKEN-7d1f3c9a2b"
PASSWORD = "Pw-8831-secret-meeting"
NOW = 1_739_923_528.0  # the app's clock: x-zm-request-timestamp values are taken against this
TS = str(int(NOW))
DEADLINE = 20.0  # seconds any single wait may take before the test fails

# Fast retries for the tests: the backoff is real, only short.
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "idle_wait": 0.02, "lease_seconds": 30}


# --------------------------------------------------------------------------------------------
# Helpers


def event_document(number: int, *, event: str = "meeting.ended", password: str = PASSWORD) -> dict[str, Any]:
    return {
        "event": event,
        "event_ts": 1_739_923_528_000 + number,
        "payload": {
            "account_id": "acct-1",
            "object": {
                "id": str(80_000_000 + number),
                "uuid": f"uuid-{number}==",
                "host_id": "host-1",
                "topic": f"Meeting {number}",
                "type": 2,
                "duration": 30,
                "password": password,
            },
        },
    }


def compact(document: Any) -> bytes:
    """What Zoom sends: compact JSON."""
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def signed(body: bytes, *, ts: str = TS, secret: str = SECRET, request_id: str | None = None) -> dict[str, str]:
    return signed_headers(body, secret, ts, request_id)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    wait_for(predicate, what, timeout, interval=0.01)


def drain_all(worker: InboxWorker, store: StateStore, timeout: float = DEADLINE) -> None:
    """Drain until nothing is pending, retries included (drain alone stops at events not yet due)."""
    deadline = time.monotonic() + timeout
    while store.inbox.pending_count():
        if time.monotonic() > deadline:
            pytest.fail(f"inbox not drained after {timeout} s: {store.inbox.counts()}")
        worker.drain(deadline - time.monotonic())
        time.sleep(0.005)


@dataclass
class Recorder:
    """A processor that records what it was given; fails the first ``failures`` calls of each event."""

    failures: int = 0
    raising: Callable[[InboxEvent], BaseException] = lambda event: RemoteError("salesforce", "unavailable", 503)
    calls: Counter[str] = field(default_factory=Counter)
    processed: list[str] = field(default_factory=list)
    bodies: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: InboxEvent) -> None:
        with self.lock:
            self.calls[event.event_id] += 1
            if self.calls[event.event_id] <= self.failures:
                raise self.raising(event)
            self.processed.append(event.event_id)
            self.bodies[event.event_id] = event.body


@dataclass
class Receiver:
    url: str
    store: StateStore
    worker: InboxWorker | None
    recorder: Recorder
    server: RunningServer
    client: httpx.Client

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(self.url + WEBHOOK_PATH, content=body, headers=headers)

    def deliver(self, document: Any, request_id: str | None = None) -> httpx.Response:
        body = compact(document)
        return self.post(body, signed(body, request_id=request_id))


@pytest.fixture
def make_receiver(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(*, start_worker: bool = False, recorder: Recorder | None = None, **worker_options: Any) -> Receiver:
        store = StateStore.open(tmp_path / f"state-{len(made)}.db")
        recorder = recorder or Recorder()
        worker = InboxWorker(store, recorder, **{**FAST, **worker_options})
        app = create_app(store, SECRET, None, clock=lambda: NOW, worker=worker)
        server = start_in_thread(app)
        if start_worker:
            worker.start()
        receiver = Receiver(server.url, store, worker, recorder, server, httpx.Client(timeout=10))
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.client.close()
        receiver.server.stop()
        if receiver.worker is not None:
            assert receiver.worker.stop(10), "worker thread did not stop"
        receiver.store.close()


@pytest.fixture
def receiver(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver()


# --------------------------------------------------------------------------------------------
# sign / verify, as functions


def test_sign_is_zoom_formula_over_the_raw_bytes() -> None:
    body = b'{"event":"meeting.started"}'
    expected = hmac.new(SECRET.encode(), b"v0:" + TS.encode() + b":" + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, body) == "v0=" + expected
    # The well-known HMAC-SHA256 test vector (key "key"), through the url-validation answer.
    fox = "The quick brown fox jumps over the lazy dog"
    assert encrypted_token("key", fox) == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"


def test_verify_accepts_a_signed_body_with_any_header_case() -> None:
    body = compact(event_document(1))
    headers = {key.title(): value for key, value in signed(body).items()}
    verify(SECRET, headers, body, now=NOW)
    verify(SECRET, signed(body), body, now=NOW + 300)  # the edge of the window is inside


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.pop("x-zm-signature"), "missing x-zm-signature header"),
        (lambda h: h.pop("x-zm-request-timestamp"), "missing x-zm-request-timestamp header"),
        (
            lambda h: h.update({"x-zm-request-timestamp": "17399e5"}),
            "x-zm-request-timestamp is not a time in epoch seconds",
        ),
        (lambda h: h.update({"x-zm-signature": "v0=" + "0" * 64}), "signature does not match"),
        (lambda h: h.update({"x-zm-signature": "v0=é"}), "signature does not match"),
    ],
)
def test_verify_rejects_with_401_and_a_reason(change: Callable[[dict[str, str]], object], reason: str) -> None:
    body = compact(event_document(1))
    headers = signed(body)
    change(headers)
    with pytest.raises(WebhookRejected) as caught:
        verify(SECRET, headers, body, now=NOW)
    assert (caught.value.status, caught.value.reason) == (401, reason)


@pytest.mark.parametrize("offset", [-301, 301])
def test_verify_refuses_a_timestamp_outside_the_window_as_a_replay(offset: int) -> None:
    body = compact(event_document(1))
    ts = str(int(NOW) + offset)
    with pytest.raises(WebhookRejected) as caught:
        verify(SECRET, signed(body, ts=ts), body, now=NOW)
    assert caught.value.status == 401
    assert caught.value.reason == "x-zm-request-timestamp is more than 300 s from now (replay?)"


def test_event_id_is_the_request_id_else_a_hash_of_the_event() -> None:
    document = event_document(1)
    assert event_id_for({"x-zm-request-id": "req-1"}, document) == "req-1"
    hashed = event_id_for({}, document)
    assert hashed.startswith("sha256:") and len(hashed) == 7 + 64
    assert event_id_for({}, json.loads(json.dumps(document, indent=2))) == hashed  # spacing does not matter
    assert event_id_for({}, event_document(2)) != hashed


def test_an_empty_secret_is_refused(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store, pytest.raises(ConfigError, match="secret token is empty"):
        create_app(store, "", None)


def test_backoff_grows_is_capped_and_jittered() -> None:
    assert [backoff_seconds(n, 2.0, 300.0, lambda: 1.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert [backoff_seconds(n, 2.0, 300.0, lambda: 0.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert backoff_seconds(50, 2.0, 300.0, lambda: 1.0) == 300.0
    assert backoff_seconds(10_000, 2.0, 300.0, lambda: 0.5) == 225.0


# --------------------------------------------------------------------------------------------
# The receiver over sockets


def test_a_signed_event_is_accepted_and_stored_byte_for_byte(receiver: Receiver) -> None:
    body = compact(event_document(1))
    response = receiver.post(body, signed(body, request_id="req-1"))
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    assert receiver.store.inbox.counts() == {"pending": 1}
    [event] = receiver.store.inbox.claim(10, 30)
    assert (event.event_id, event.event_type, event.body) == ("req-1", "meeting.ended", body)


def _reserialised(body: bytes) -> bytes:
    return json.dumps(json.loads(body), separators=(", ", ": ")).encode()


REJECTED = {
    "wrong secret": lambda body: (body, signed(body, secret="not-the-secret")),
    "altered body": lambda body: (body.replace(b"Meeting 1", b"Meeting 2"), signed(body)),
    "re-serialised body": lambda body: (_reserialised(body), signed(body)),
    "stale timestamp": lambda body: (body, signed(body, ts=str(int(NOW) - 301))),
    "future timestamp": lambda body: (body, signed(body, ts=str(int(NOW) + 301))),
    "no signature": lambda body: (body, {k: v for k, v in signed(body).items() if k != "x-zm-signature"}),
    "no timestamp": lambda body: (body, {k: v for k, v in signed(body).items() if k != "x-zm-request-timestamp"}),
    "no headers": lambda body: (body, {"content-type": "application/json"}),
    "non-numeric timestamp": lambda body: (body, {**signed(body, ts="soon"), "x-zm-request-timestamp": "soon"}),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_unverified_deliveries_get_401_and_nothing_is_kept(receiver: Receiver, case: str) -> None:
    body, headers = REJECTED[case](compact(event_document(1)))
    response = receiver.post(body, headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert receiver.store.inbox.counts() == {}


def test_url_validation_is_answered_exactly(receiver: Receiver) -> None:
    document = {
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }
    response = receiver.deliver(document)
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.status_code == 200
    assert response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert encrypted_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw") == expected
    assert receiver.store.inbox.counts() == {}


def test_url_validation_is_verified_too(receiver: Receiver) -> None:
    body = compact({"payload": {"plainToken": "abc"}, "event_ts": 1, "event": "endpoint.url_validation"})
    response = receiver.post(body, signed(body, secret="guess"))
    assert response.status_code == 401
    assert "encryptedToken" not in response.text


def _padded_event(size: int) -> bytes:
    """A valid compact event of exactly ``size`` bytes."""
    document = event_document(1)
    document["payload"]["object"]["agenda"] = ""
    padding = size - len(compact(document))
    document["payload"]["object"]["agenda"] = "a" * padding
    body = compact(document)
    assert len(body) == size
    return body


def test_a_body_of_exactly_the_limit_is_accepted_one_byte_more_is_400(receiver: Receiver) -> None:
    at_limit = _padded_event(1_048_576)
    assert receiver.post(at_limit, signed(at_limit)).status_code == 200
    over = _padded_event(1_048_577)
    response = receiver.post(over, signed(over))
    assert (response.status_code, response.json()) == (400, {"error": "body is larger than 1048576 bytes"})
    assert receiver.store.inbox.counts() == {"pending": 1}


def test_an_oversize_streamed_body_is_refused_before_it_is_all_read(receiver: Receiver) -> None:
    sent = 0
    chunk = b"x" * 65_536
    total_chunks = 1_024  # 64 MiB, far more than the socket buffers can absorb

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(total_chunks):
            sent += 1
            yield chunk

    headers = signed(b"", request_id="big")  # chunked: no Content-Length to refuse it by
    response = receiver.client.post(receiver.url + WEBHOOK_PATH, content=body(), headers=headers)
    assert response.status_code == 400
    assert sent < total_chunks
    assert receiver.store.inbox.counts() == {}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"event=meeting.ended", "body is not JSON"),
        (b"\xff\xfe{}", "body is not JSON"),
        (b"[" * 100_000, "body is not JSON"),
        (b'["meeting.ended"]', "body is not a JSON object"),
        (b'{"payload": {}}', "body has no 'event' name"),
        (b'{"event": 7}', "body has no 'event' name"),
    ],
)
def test_signed_bodies_that_are_not_events_get_400(receiver: Receiver, body: bytes, reason: str) -> None:
    response = receiver.post(body, signed(body))
    assert (response.status_code, response.json()) == (400, {"error": reason})
    assert receiver.store.inbox.counts() == {}


def test_the_same_delivery_twice_is_processed_once(receiver: Receiver) -> None:
    first = receiver.deliver(event_document(1), request_id="req-1")
    again = receiver.deliver(event_document(1), request_id="req-1")  # Zoom's redelivery
    other_id = receiver.deliver(event_document(1), request_id="req-1-retry")  # same body, new id
    no_id = receiver.deliver(event_document(2))
    no_id_again = receiver.deliver(event_document(2))
    statuses = [r.json()["status"] for r in (first, again, other_id, no_id, no_id_again)]
    assert statuses == ["accepted", "duplicate", "duplicate", "accepted", "duplicate"]
    assert receiver.worker is not None
    drain_all(receiver.worker, receiver.store)
    assert receiver.recorder.calls == Counter({"req-1": 1, event_id_for({}, event_document(2)): 1})
    assert receiver.store.inbox.counts() == {"done": 2}


def test_an_outage_delays_processing_and_loses_nothing(make_receiver: Callable[..., Receiver]) -> None:
    recorder = Recorder(failures=3)  # Salesforce refuses the first three attempts of every event
    receiver = make_receiver(start_worker=True, recorder=recorder)
    ids = [f"req-{n}" for n in range(25)]
    for number, request_id in enumerate(ids):
        assert receiver.deliver(event_document(number), request_id=request_id).json() == {"status": "accepted"}

    wait_until(lambda: receiver.store.inbox.counts().get("done", 0) == len(ids), "every event to be done")
    assert receiver.store.inbox.counts() == {"done": len(ids)}
    assert sorted(recorder.processed) == sorted(ids)  # each exactly once in the end
    assert recorder.calls == Counter({request_id: 4 for request_id in ids})
    for number, request_id in enumerate(ids):
        assert recorder.bodies[request_id] == compact(event_document(number))


def test_an_event_that_keeps_failing_goes_dead_after_max_attempts(make_receiver: Callable[..., Receiver]) -> None:
    recorder = Recorder(failures=10**6)
    receiver = make_receiver(recorder=recorder, max_attempts=3)
    receiver.deliver(event_document(1), request_id="req-1")
    assert receiver.worker is not None
    drain_all(receiver.worker, receiver.store)
    assert recorder.calls == Counter({"req-1": 3})
    assert receiver.store.inbox.counts() == {"dead": 1}
    event = receiver.store.inbox.get(1)
    assert event is not None and event.last_error == "RemoteError: salesforce HTTP 503: unavailable"


def test_a_permanent_error_goes_dead_at_once(make_receiver: Callable[..., Receiver]) -> None:
    recorder = Recorder(failures=1, raising=lambda event: PermanentEventError(f"no mapping for {event.event_type}"))
    receiver = make_receiver(recorder=recorder)
    receiver.deliver(event_document(1, event="chat.sent"), request_id="req-1")
    assert receiver.worker is not None
    assert receiver.worker.drain(DEADLINE) == 1
    assert recorder.calls == Counter({"req-1": 1})
    assert receiver.store.inbox.counts() == {"dead": 1}


def test_a_burst_of_2000_concurrent_events_is_kept_and_processed_once(make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(start_worker=True)
    count = 2_000
    bodies = [compact(event_document(number)) for number in range(count)]

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with httpx.Client(timeout=30, limits=limits) as client, ThreadPoolExecutor(16) as pool:

        def send(number: int) -> httpx.Response:
            body = bodies[number]
            return client.post(
                receiver.url + WEBHOOK_PATH, content=body, headers=signed(body, request_id=f"burst-{number}")
            )

        responses = list(pool.map(send, range(count)))
    assert Counter(r.status_code for r in responses) == Counter({200: count})
    assert Counter(r.json()["status"] for r in responses) == Counter({"accepted": count})
    wait_until(lambda: receiver.store.inbox.counts().get("done", 0) == count, "the burst to be processed")
    assert receiver.store.inbox.counts() == {"done": count}
    calls = receiver.recorder.calls
    assert len(calls) == count and set(calls.values()) == {1}
    assert set(calls) == {f"burst-{number}" for number in range(count)}


def test_healthz_reports_the_inbox(receiver: Receiver) -> None:
    receiver.deliver(event_document(1), request_id="req-1")
    response = receiver.client.get(receiver.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "inbox": {"pending": 1, "processing": 0, "done": 0, "dead": 0},
        "worker": "stopped",
    }


def test_a_store_that_cannot_write_answers_500_so_zoom_redelivers(receiver: Receiver) -> None:
    receiver.store.close()
    response = receiver.deliver(event_document(1), request_id="req-1")
    assert response.status_code == 500
    assert response.json() == {"error": "the event could not be stored; deliver it again later"}
    health = receiver.client.get(receiver.url + "/healthz")
    assert health.status_code == 200 and health.json()["state"] == "unavailable", "alive: no restart for it"
    assert receiver.client.get(receiver.url + "/readyz").status_code == 503, "not ready: no traffic"


def test_an_app_given_only_a_processor_runs_its_own_worker(tmp_path: Path) -> None:
    recorder = Recorder()
    with StateStore.open(tmp_path / "s.db") as store:
        app = create_app(store, SECRET, recorder, clock=lambda: NOW)
        server = start_in_thread(app)
        try:
            body = compact(event_document(1))
            response = httpx.post(server.url + WEBHOOK_PATH, content=body, headers=signed(body, request_id="req-1"))
            assert response.json() == {"status": "accepted"}
            wait_until(lambda: store.inbox.counts() == {"done": 1}, "the app's worker to process the event")
            assert recorder.calls == Counter({"req-1": 1})
        finally:
            server.stop()
            assert app.state.worker.stop(10)


def test_logs_carry_no_secret_token_password_signature_or_body(
    make_receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(failures=1, raising=lambda event: RemoteError("salesforce", f"bad value {PASSWORD}", 400))
    receiver = make_receiver(start_worker=True, recorder=recorder)
    body = compact(event_document(1))
    headers = signed(body, request_id="req-secret-test")
    assert receiver.post(body, headers).status_code == 200
    assert receiver.post(body, headers).json() == {"status": "duplicate"}
    assert receiver.post(body, signed(body, secret=PASSWORD)).status_code == 401
    assert receiver.post(b"not json " + PASSWORD.encode(), signed(b"not json " + PASSWORD.encode())).status_code == 400
    assert (
        receiver.deliver({"event": "endpoint.url_validation", "payload": {"plainToken": PASSWORD}}).status_code == 200
    )
    wait_until(lambda: receiver.store.inbox.counts() == {"done": 1}, "the event to be processed after one failure")
    receiver.store.close()  # a StateError is logged too
    assert receiver.deliver(event_document(2)).status_code == 500

    forbidden = [SECRET, PASSWORD, headers["x-zm-signature"], headers["x-zm-signature"][3:], "Meeting 1", "uuid-1=="]
    ours = [record for record in caplog.records if record.name.startswith("zoomforce")]
    texts = [
        " ".join(filter(None, [record.getMessage(), record.exc_text, record.stack_info])) for record in caplog.records
    ]
    for text in texts:
        for value in forbidden:
            assert value not in text
    ours_text = "\n".join(record.getMessage() for record in ours)
    # The logs do say what happened: type, id and status of each step.
    assert "type=meeting.ended id=req-secret-test status=accepted" in ours_text
    assert "type=meeting.ended id=req-secret-test status=duplicate" in ours_text
    assert "id=req-secret-test status=retry attempt=1/8 error=RemoteError" in ours_text
    assert "type=meeting.ended id=req-secret-test status=done attempt=2" in ours_text
    assert "status=401 reason=signature does not match" in ours_text
    assert "status=error" in ours_text
