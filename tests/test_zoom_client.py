"""The Zoom client over real sockets, against a scripted Starlette app serving OAuth and the API.

The app checks the Basic credentials and the grant, issues tokens, rejects unknown or revoked
ones with Zoom's 401 / code 124, and plays scripted answers per path (429 with Retry-After, 5xx,
dropped connections, slow answers). The client's `sleep` records the waits instead of sleeping and
its clock is a counter, so the tests assert the waits the client computed, never wall-clock time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from engine.errors import (
    AuthenticationFailed,
    ConfigError,
    DailyLimitReached,
    MissingCredential,
    PathParameterError,
    RemoteError,
    RetriesExhausted,
    Unreachable,
    ZoomApiError,
    ZoomNotFound,
)
from engine.serving import start_in_thread
from engine.zoom.client import (
    DEFAULT_API_URL,
    DEFAULT_OAUTH_URL,
    RetryPolicy,
    ZoomClient,
    ZoomCredentials,
    endpoint_path,
    requested_wait,
    retry_after_seconds,
)

ACCOUNT = "acct-Zf9"
CLIENT_ID = "client-7Qk"
SECRET = "sEcReT-5e7b1c0f9a2d"
USERS = 7  # records behind the paginated GET /users


# ---- the scripted Zoom ----------------------------------------------------------------------


@dataclass
class Step:
    """One scripted answer: a status with a JSON body (a str is sent as text), or an action."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str = ""  # "drop": close the connection mid-response; "slow": answer after 2 s


@dataclass
class Seen:
    method: str
    path: str  # after /v2, percent-decoded once (as routing sees it)
    raw_path: str
    query: dict[str, str]
    authorization: str
    client_port: int


async def _drop(scope: Scope, receive: Receive, send: Send) -> None:
    """Promise 100 bytes and return without them: uvicorn closes the connection mid-response."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})


class FakeZoom:
    def __init__(self) -> None:
        self.reset()
        self.app = Starlette(
            routes=[
                Route("/oauth/token", self.oauth, methods=["POST"]),
                Route("/v2/{rest:path}", self.api, methods=["GET", "POST"]),
            ]
        )

    def reset(self) -> None:
        self.scripts: dict[str, list[Step]] = {}
        self.oauth_script: list[Step] = []
        self.seen: list[Seen] = []
        self.tokens: list[str] = []
        self.revoked: set[str] = set()
        self.expires_in = 3600

    def script(self, path: str, *steps: Step) -> None:
        self.scripts.setdefault(path, []).extend(steps)

    def calls(self, path: str) -> int:
        return sum(1 for seen in self.seen if seen.path == path)

    async def oauth(self, request: Request) -> Response:
        if self.oauth_script:
            return await _play(self.oauth_script.pop(0))
        basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {basic}":
            return JSONResponse({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, 401)
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        is_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if not is_form or form != {"grant_type": "account_credentials", "account_id": ACCOUNT}:
            return JSONResponse({"reason": "Invalid request : Bad Request", "error": "invalid_request"}, 400)
        token = f"at-{len(self.tokens) + 1}-{secrets.token_hex(12)}"
        self.tokens.append(token)
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})

    async def api(self, request: Request) -> Response:
        path = "/" + request.path_params["rest"]
        authorization = request.headers.get("authorization", "")
        client_port = request.client.port if request.client else 0
        raw_path = request.scope["raw_path"].decode()
        self.seen.append(Seen(request.method, path, raw_path, dict(request.query_params), authorization, client_port))
        token = authorization.removeprefix("Bearer ")
        if token == authorization or token not in self.tokens or token in self.revoked:
            return JSONResponse({"code": 124, "message": "Invalid access token."}, 401)
        if self.scripts.get(path):
            return await _play(self.scripts[path].pop(0))
        if path == "/users":
            return _users_page(request)
        if path.startswith("/echo"):
            body = await request.body()
            echo = {"path": path, "raw_path": raw_path, "query": dict(request.query_params)}
            return JSONResponse({**echo, "json": json.loads(body) if body else None})
        return JSONResponse({"code": 3001, "message": f"Meeting does not exist: {path.rsplit('/', 1)[-1]}."}, 404)


async def _play(step: Step) -> Response:
    if step.action == "drop":
        return _drop  # type: ignore[return-value]  # any ASGI callable is a response to Starlette
    if step.action == "slow":
        await asyncio.sleep(2.0)
    if isinstance(step.body, str):
        return Response(step.body, step.status, headers=step.headers, media_type="text/html")
    if step.body is None:
        return Response(b"", step.status, headers=step.headers)
    return JSONResponse(step.body, step.status, headers=step.headers)


def _users_page(request: Request) -> Response:
    size = int(request.query_params.get("page_size", "30"))
    token = request.query_params.get("next_page_token", "")
    start = int(token.removeprefix("page-")) if token else 0
    end = min(start + size, USERS)
    users = [{"id": f"u{index}", "email": f"user{index}@example.com"} for index in range(start, end)]
    following = f"page-{end}" if end < USERS else ""
    return JSONResponse({"page_size": size, "total_records": USERS, "next_page_token": following, "users": users})


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeZoom, str]]:
    fake = FakeZoom()
    running = start_in_thread(fake.app)
    yield fake, running.url
    running.stop()


@pytest.fixture
def zoom(server: tuple[FakeZoom, str]) -> FakeZoom:
    server[0].reset()
    return server[0]


@pytest.fixture
def url(server: tuple[FakeZoom, str]) -> str:
    return server[1]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def waits() -> list[float]:
    return []


def credentials(url: str, **overrides: str) -> ZoomCredentials:
    fields = {"api_url": f"{url}/v2", "oauth_url": f"{url}/oauth/token", **overrides}
    return ZoomCredentials(ACCOUNT, CLIENT_ID, SECRET, **fields)


@pytest.fixture
def make_client(url: str, waits: list[float], clock: Clock) -> Iterator[Callable[..., ZoomClient]]:
    made: list[ZoomClient] = []

    def make(creds: ZoomCredentials | None = None, **options: Any) -> ZoomClient:
        client = ZoomClient(creds or credentials(url), sleep=waits.append, clock=clock, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- OAuth and the token --------------------------------------------------------------------


def test_token_is_cached_and_sent_only_in_the_authorization_header(zoom: FakeZoom, make_client) -> None:
    client = make_client()
    for _ in range(3):
        assert client.get("/echo/one", {"status": "active"})["query"] == {"status": "active"}
    assert (client.token_requests, client.api_calls) == (1, 3)
    token = zoom.tokens[0]
    assert [seen.authorization for seen in zoom.seen] == [f"Bearer {token}"] * 3
    assert not any(token in seen.raw_path or token in json.dumps(seen.query) for seen in zoom.seen)
    assert len({seen.client_port for seen in zoom.seen}) == 1  # one connection, reused


def test_token_is_renewed_60_seconds_before_it_expires(zoom: FakeZoom, make_client, clock: Clock) -> None:
    client = make_client()
    client.get("/echo/a")
    clock.now += 3600 - 60 - 1
    client.get("/echo/a")
    assert client.token_requests == 1
    clock.now += 1
    client.get("/echo/a")
    assert client.token_requests == 2
    assert zoom.seen[-1].authorization == f"Bearer {zoom.tokens[1]}"


def test_a_401_code_124_renews_the_token_once_and_retries(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    client = make_client()
    client.get("/echo/a")
    zoom.revoked.add(zoom.tokens[0])
    assert client.get("/echo/b")["path"] == "/echo/b"
    assert (client.token_requests, client.api_calls, waits) == (2, 3, [])
    assert [seen.authorization for seen in zoom.seen[1:]] == [f"Bearer {zoom.tokens[0]}", f"Bearer {zoom.tokens[1]}"]


def test_a_401_after_renewal_is_authentication_failed(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    unauthorized = Step(401, {"code": 124, "message": "Invalid access token."})
    zoom.script("/echo/locked", unauthorized, unauthorized, Step(200, {"never": "reached"}))
    client = make_client()
    with pytest.raises(AuthenticationFailed) as caught:
        client.get("/echo/locked")
    assert str(caught.value) == (
        "zoom HTTP 401 [124]: /echo/locked: Invalid access token. (after renewing the access token)"
    )
    assert (client.token_requests, client.api_calls, waits) == (2, 2, [])


def test_oauth_refusing_the_credentials_is_authentication_failed_without_the_secret(zoom: FakeZoom, url, make_client):
    wrong = "wr0ng-secret-e41"
    client = make_client(ZoomCredentials(ACCOUNT, CLIENT_ID, wrong, f"{url}/v2", f"{url}/oauth/token"))
    with pytest.raises(AuthenticationFailed) as caught:
        client.get("/echo/a")
    assert str(caught.value) == (
        f"zoom HTTP 401 [invalid_client]: {url}/oauth/token refused the credentials of client {CLIENT_ID} "
        f"(account {ACCOUNT}): Invalid client_id or client_secret"
    )
    assert wrong not in str(caught.value)
    assert (client.token_requests, client.api_calls) == (1, 0)


def test_oauth_400_names_the_servers_reason(zoom: FakeZoom, url, make_client) -> None:
    client = make_client(ZoomCredentials("other-account", CLIENT_ID, SECRET, f"{url}/v2", f"{url}/oauth/token"))
    with pytest.raises(AuthenticationFailed, match=r"HTTP 400 \[invalid_request\].*Invalid request : Bad Request"):
        client.get("/echo/a")
    assert client.token_requests == 1


def test_oauth_5xx_is_retried_like_the_api(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.oauth_script.append(Step(503, {"reason": "maintenance"}))
    client = make_client()
    assert client.get("/echo/a")["path"] == "/echo/a"
    assert (client.token_requests, client.api_calls, len(waits)) == (2, 1, 1)


def test_an_oauth_answer_without_a_token_is_authentication_failed(zoom: FakeZoom, make_client) -> None:
    zoom.oauth_script.append(Step(200, {"token_type": "bearer"}))
    with pytest.raises(AuthenticationFailed, match="has no access_token"):
        make_client().get("/echo/a")


# ---- pagination -----------------------------------------------------------------------------


def test_paginate_yields_every_record_of_every_page_once(zoom: FakeZoom, make_client) -> None:
    client = make_client()
    users = list(client.paginate("/users", "users", {"status": "active"}, page_size=3))
    assert [user["id"] for user in users] == [f"u{index}" for index in range(USERS)]
    assert client.api_calls == 3
    assert [seen.query for seen in zoom.seen] == [
        {"status": "active", "page_size": "3"},
        {"status": "active", "page_size": "3", "next_page_token": "page-3"},
        {"status": "active", "page_size": "3", "next_page_token": "page-6"},
    ]


def test_a_page_without_the_records_key_yields_nothing(zoom: FakeZoom, make_client) -> None:
    client = make_client()
    assert list(client.paginate("/echo/empty", "users")) == []
    assert client.api_calls == 1


def test_a_repeated_page_token_stops_pagination(zoom: FakeZoom, make_client) -> None:
    page = Step(200, {"items": [{"id": 1}], "next_page_token": "same"})
    zoom.script("/loop", page, page, page)
    client = make_client()
    records: list[dict[str, Any]] = []
    with pytest.raises(ZoomApiError, match="next_page_token 'same' came back twice"):
        for record in client.paginate("/loop", "items"):
            records.append(record)
    assert (records, client.api_calls) == ([{"id": 1}, {"id": 1}], 2)


# ---- retries --------------------------------------------------------------------------------


def test_5xx_is_retried_with_jittered_exponential_backoff(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.script(
        "/flaky", Step(500, {"code": 500}), Step(502, "<html>bad gateway</html>"), Step(503), Step(200, {"ok": 1})
    )
    client = make_client()
    assert client.get("/flaky") == {"ok": 1}
    assert client.api_calls == 4 == zoom.calls("/flaky")
    assert len(waits) == 3
    assert all(0.0 <= wait <= cap for wait, cap in zip(waits, [0.5, 1.0, 2.0], strict=True))


def test_retries_are_bounded_by_max_attempts(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.script("/down", *[Step(503, {"code": 503, "message": "down"})] * 10)
    client = make_client(retry=RetryPolicy(max_attempts=3, backoff_base=1.0))
    with pytest.raises(RetriesExhausted) as caught:
        client.get("/down")
    assert str(caught.value) == "zoom HTTP 503: GET /down: gave up after 3 attempts; last: HTTP 503"
    assert caught.value.status == 503
    assert client.api_calls == 3 == zoom.calls("/down")
    assert len(waits) == 2
    assert 0.0 <= waits[0] <= 1.0 and 0.0 <= waits[1] <= 2.0


def test_backoff_caps_grow_exponentially_up_to_backoff_max() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0)
    assert [policy.backoff_cap(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(4, uniform=lambda low, high: high) == 3.0
    with pytest.raises(ConfigError):
        RetryPolicy(max_attempts=0)


def test_a_dropped_connection_is_retried(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.script("/reset", Step(action="drop"), Step(200, {"ok": 2}))
    client = make_client()
    assert client.get("/reset") == {"ok": 2}
    assert (client.api_calls, len(waits)) == (2, 1)


def test_a_connection_dropped_every_time_exhausts_the_retries(zoom: FakeZoom, make_client, waits) -> None:
    zoom.script("/reset", *[Step(action="drop")] * 3)
    client = make_client(retry=RetryPolicy(max_attempts=3))
    with pytest.raises(
        RetriesExhausted, match=r"^zoom: GET /reset: gave up after 3 attempts; last: RemoteProtocolError"
    ):
        client.get("/reset")
    assert (client.api_calls, len(waits)) == (3, 2)


def test_a_timeout_is_retried(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.script("/slow", Step(200, {"late": True}, action="slow"), Step(200, {"ok": 3}))
    client = make_client(timeout=0.3)
    assert client.get("/slow") == {"ok": 3}
    assert (client.api_calls, len(waits)) == (2, 1)


# ---- 429 ------------------------------------------------------------------------------------

QPS_LIMITED = {
    "code": 429,
    "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
}
DAILY_LIMITED = {"code": 429, "message": "You have reached the maximum daily rate limit for this API."}


def test_429_waits_as_many_seconds_as_retry_after_says(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.script("/limited", Step(429, QPS_LIMITED, {"Retry-After": "7"}), Step(200, {"ok": 4}))
    client = make_client()
    assert client.get("/limited") == {"ok": 4}
    assert waits == [7.0]
    assert client.api_calls == 2


def test_429_waits_until_an_iso_retry_after_time(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    until = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    zoom.script("/limited", Step(429, QPS_LIMITED, {"Retry-After": until}), Step(200, {"ok": 5}))
    assert make_client().get("/limited") == {"ok": 5}
    assert len(waits) == 1 and 25.0 < waits[0] <= 30.0


def test_429_per_second_limit_without_retry_after_waits_a_second(zoom: FakeZoom, make_client, waits) -> None:
    headers = {"X-RateLimit-Category": "Light", "X-RateLimit-Type": "QPS"}
    zoom.script("/limited", Step(429, QPS_LIMITED, headers), Step(200, {"ok": 6}))
    assert make_client().get("/limited") == {"ok": 6}
    assert waits == [1.0]


def test_429_without_any_hint_backs_off(zoom: FakeZoom, make_client, waits: list[float]) -> None:
    zoom.script("/limited", Step(429, QPS_LIMITED), Step(200, {"ok": 7}))
    assert make_client().get("/limited") == {"ok": 7}
    assert len(waits) == 1 and 0.0 <= waits[0] <= 0.5


def test_a_daily_limit_stops_at_once_with_when_it_resets(zoom: FakeZoom, make_client, waits) -> None:
    until = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "X-RateLimit-Category": "Heavy",
        "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Limit": "30000",
        "X-RateLimit-Remaining": "0",
        "Retry-After": until,
    }
    zoom.script("/report/meetings/1/participants", Step(429, DAILY_LIMITED, headers), Step(200, {"ok": 8}))
    client = make_client()
    with pytest.raises(DailyLimitReached) as caught:
        client.get("/report/meetings/1/participants")
    assert str(caught.value) == (
        "zoom HTTP 429 [429]: GET /report/meetings/1/participants: the daily rate limit of Heavy APIs (30000 "
        f"requests) is used up (You have reached the maximum daily rate limit for this API.); it resets at {until}")
    assert (caught.value.category, caught.value.limit, caught.value.resets_at) == ("Heavy", "30000", until)
    assert caught.value.exit_code == 3
    assert (client.api_calls, waits) == (1, [])


def test_a_registrants_daily_limit_fails_that_request_at_once(zoom: FakeZoom, make_client, waits) -> None:
    per_registrant = {"code": 429, "message": "You have exceeded the daily rate limit of (3) for Add a webinar "
                                              "registrant API requests for the registrant (a@example.com). You "
                                              "can resume these API requests at GMT 00:00:00."}
    zoom.script("/webinars/1/registrants", Step(429, per_registrant), Step(201, {"ok": 9}))
    client = make_client()
    with pytest.raises(ZoomApiError) as caught:
        client.post("/webinars/1/registrants", {"email": "a@example.com", "first_name": "A"})
    assert not isinstance(caught.value, DailyLimitReached)
    assert (caught.value.status, caught.value.code) == (429, "429")
    assert (client.api_calls, waits) == (1, [])  # no retry: it would fail again until 00:00 UTC


def test_retry_after_formats() -> None:
    now = datetime(2025, 8, 22, 23, 59, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("2025-08-23T00:00:00Z", now) == 60.0
    assert retry_after_seconds("2025-08-23T00:00:00", now) == 60.0  # no offset: UTC
    assert retry_after_seconds("2025-08-23T02:00:00+02:00", now) == 60.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after_seconds("2025-08-22T00:00:00Z", now) == 0.0  # already past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("inf", now) is None


def test_requested_wait_reads_the_rate_limit_headers() -> None:
    now = datetime(2025, 8, 22, 23, 0, 0, tzinfo=UTC)
    assert requested_wait(httpx.Headers({"X-RateLimit-Type": "Daily-limit"}), now) == 3600.0
    assert requested_wait(httpx.Headers({"X-RateLimit-Type": "QPS", "Retry-After": "3"}), now) == 3.0
    assert requested_wait(httpx.Headers({"X-RateLimit-Type": "QPS", "Retry-After": "soon"}), now) == 1.0
    assert requested_wait(httpx.Headers({}), now) is None


# ---- errors that are not retried ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"code": 300, "message": "Validation Failed.", "errors": [{"field": "email", "message": "Invalid field."}]},
            "zoom HTTP 400 [300]: /users/u1: Validation Failed. (email: Invalid field.)",
        ),
        (403, {"code": 200, "message": "No permission."}, "zoom HTTP 403 [200]: /users/u1: No permission."),
        (409, {"code": 3000, "message": "Conflict."}, "zoom HTTP 409 [3000]: /users/u1: Conflict."),
        (
            400,
            "<html>oops</html>",
            "zoom HTTP 400: /users/u1: Bad Request; the body is not Zoom's JSON error: '<html>oops</html>'",
        ),
    ],
)
def test_other_4xx_are_not_retried(zoom: FakeZoom, make_client, waits, status: int, body: Any, expected: str) -> None:
    zoom.script("/users/u1", Step(status, body), Step(200, {"ok": 9}))
    client = make_client()
    with pytest.raises(ZoomApiError) as caught:
        client.get("/users/u1")
    assert type(caught.value) is ZoomApiError
    assert str(caught.value) == expected
    assert (caught.value.status, caught.value.path) == (status, "/users/u1")
    assert (client.api_calls, waits) == (1, [])


def test_404_is_zoom_not_found_with_zooms_code_and_message(zoom: FakeZoom, make_client, waits) -> None:
    client = make_client()
    with pytest.raises(ZoomNotFound) as caught:
        client.get("/meetings/85746065432123456789")
    assert (
        str(caught.value) == "zoom HTTP 404 [3001]: /meetings/85746065432123456789: Meeting does not exist: "
        "85746065432123456789."
    )
    assert (caught.value.code, caught.value.status) == ("3001", 404)
    assert (client.api_calls, waits) == (1, [])


@pytest.mark.parametrize(
    ("body", "message"),
    [("<html>maintenance</html>", r"the response is not JSON \(text/html; charset=utf-8\)"), ([1, 2], "JSON list")],
)
def test_a_success_that_is_not_a_json_object_is_zoom_api_error(zoom: FakeZoom, make_client, body, message) -> None:
    zoom.script("/odd", Step(200, body))
    with pytest.raises(ZoomApiError, match=message):
        make_client().get("/odd")


# ---- unreachable ----------------------------------------------------------------------------


def test_an_api_host_that_refuses_connections_is_unreachable(zoom: FakeZoom, url, make_client, waits) -> None:
    port = closed_port()
    client = make_client(credentials(url, api_url=f"http://127.0.0.1:{port}/v2"), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(
        Unreachable, match=rf"^zoom: cannot connect to http://127\.0\.0\.1:{port}/v2/users/me \(Connect"
    ):
        client.get("/users/me")
    assert (client.api_calls, len(waits), client.token_requests) == (3, 2, 1)


def test_an_oauth_host_that_refuses_connections_is_unreachable(zoom: FakeZoom, url, make_client, waits) -> None:
    port = closed_port()
    oauth = f"http://127.0.0.1:{port}/oauth/token"
    client = make_client(credentials(url, oauth_url=oauth), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(Unreachable, match=f"cannot connect to {oauth}") as caught:
        client.get("/users/me")
    assert caught.value.exit_code == 2 and isinstance(caught.value, RemoteError)
    assert (client.api_calls, client.token_requests, len(waits)) == (0, 2, 1)


# ---- requests and paths over the wire -------------------------------------------------------


def test_post_sends_json_and_64_bit_ids_stay_exact(zoom: FakeZoom, make_client) -> None:
    body = {"meeting_id": 85746065432123456789, "first_name": "Zoë", "email": "zoe@example.com"}
    answer = make_client().post("/echo/registrants", json=body)
    assert answer["json"] == body
    assert zoom.seen[0].method == "POST"


def test_a_double_encoded_uuid_reaches_the_server_as_encoded(zoom: FakeZoom, make_client) -> None:
    answer = make_client().get(endpoint_path("/echo/{meetingId}", {"meetingId": "/ab//c=="}))
    assert answer["raw_path"] == "/v2/echo/%252Fab%252F%252Fc%253D%253D"
    assert answer["path"] == "/echo/%2Fab%2F%2Fc%3D%3D"  # Zoom decodes once more


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("GET /past_meetings/{meetingId}", {"meetingId": "/ab//c=="}, "/past_meetings/%252Fab%252F%252Fc%253D%253D"),
        ("/past_meetings/{meetingId}", {"meetingId": "aB//cD=="}, "/past_meetings/aB%252F%252FcD%253D%253D"),
        (
            "/past_meetings/{meetingId}",
            {"meetingId": "4444AAAiAAAAAiAiAiiAii=="},
            "/past_meetings/4444AAAiAAAAAiAiAiiAii%3D%3D",
        ),
        ("/past_meetings/{meetingId}", {"meetingId": "ab/cd+e"}, "/past_meetings/ab%2Fcd%2Be"),
        ("/meetings/{meetingId}", {"meetingId": 85746065432123456789}, "/meetings/85746065432123456789"),
        ("/meetings/{meetingId}", {"meetingId": 9223372036854775807}, "/meetings/9223372036854775807"),
        (
            "/users/{userId}/meetings",
            {"userId": "jane.doe+x@example.com"},
            "/users/jane.doe%2Bx%40example.com/meetings",
        ),
        ("/users/{userId}", {"userId": "zoë 100%?#&"}, "/users/zo%C3%AB%20100%25%3F%23%26"),
        (
            "POST /webinars/{webinarId}/registrants",
            {"webinarId": 81234567890, "extra": 1},
            "/webinars/81234567890/registrants",
        ),
        ("/report/users/{userId}/meetings", {"userId": "u_1-2.3~"}, "/report/users/u_1-2.3~/meetings"),
        ("/users", {}, "/users"),
    ],
)
def test_endpoint_path(template: str, values: dict[str, Any], expected: str) -> None:
    assert endpoint_path(template, values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "path parameter 'meetingId' of GET /past_meetings/{meetingId} is missing"),
        ({"meetingId": None}, "path parameter 'meetingId' of GET /past_meetings/{meetingId} is null"),
        ({"meetingId": ""}, "path parameter 'meetingId' of GET /past_meetings/{meetingId} is empty"),
        (
            {"meetingId": 8.5e19},
            "path parameter 'meetingId' of GET /past_meetings/{meetingId} must be a string or an "
            "integer, not float 8.5e+19",
        ),
        (
            {"meetingId": True},
            "path parameter 'meetingId' of GET /past_meetings/{meetingId} must be a string or an "
            "integer, not bool True",
        ),
    ],
)
def test_endpoint_path_refuses_missing_or_untyped_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(PathParameterError) as caught:
        endpoint_path("GET /past_meetings/{meetingId}", values)
    assert str(caught.value) == message
    assert caught.value.details["parameter"] == "meetingId"


# ---- secrets --------------------------------------------------------------------------------


def test_neither_secret_nor_token_is_ever_logged(zoom: FakeZoom, make_client, caplog, waits) -> None:
    caplog.set_level(logging.DEBUG)
    zoom.script("/limited", Step(429, QPS_LIMITED, {"Retry-After": "2"}), Step(500), Step(200, {"ok": 1}))
    client = make_client()
    client.get("/limited")
    zoom.revoked.add(zoom.tokens[0])
    list(client.paginate("/users", "users", page_size=4))
    assert len(zoom.tokens) == 2 and client.token_requests == 2
    ours = [record.getMessage() for record in caplog.records if record.name == "zoomforce.zoom"]
    assert ("zoom GET /limited: HTTP 429 (rate limit: unstated) on attempt 1 of 6; retrying in 2.00 s "
            "(Retry-After: 2)") in ours
    assert "zoom GET /limited: HTTP 500 on attempt 2 of 6; retrying in" in "\n".join(ours)
    renewals = [r for r in caplog.records if getattr(r, "event", None) == "zoom.token_renewal"]
    assert [r.levelname for r in renewals] == ["INFO"]  # the revoked token, renewed once
    retries = [r for r in caplog.records if getattr(r, "event", None) == "zoom.retry"]
    assert [r.levelname for r in retries] == ["WARNING", "WARNING"]
    assert (retries[0].wait_seconds, retries[0].reason, retries[0].status) == (2.0, "Retry-After: 2", 429)  # type: ignore[attr-defined]
    assert "GET /users -> HTTP 401 (attempt 1)" in ours
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    everything = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    for secret in [SECRET, basic, *zoom.tokens]:
        assert secret not in everything


def test_credentials_repr_hides_the_secret(url: str) -> None:
    creds = credentials(url)
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    assert "client_secret='***'" in repr(creds)
    with httpx.Client() as http:
        assert SECRET not in repr(ZoomClient(creds, http=http))


# ---- credentials from the environment -------------------------------------------------------

ENV = {"ZOOM_ACCOUNT_ID": "acct", "ZOOM_CLIENT_ID": "cid", "ZOOM_CLIENT_SECRET": "csecret"}


def test_from_env_reads_the_variables_with_default_urls() -> None:
    assert ZoomCredentials.from_env(ENV) == ZoomCredentials(
        "acct", "cid", "csecret", DEFAULT_API_URL, DEFAULT_OAUTH_URL
    )
    overridden = {**ENV, "ZOOM_API_URL": "http://127.0.0.1:9/v2", "ZOOM_OAUTH_URL": "http://127.0.0.1:9/oauth/token"}
    creds = ZoomCredentials.from_env(overridden)
    assert (creds.api_url, creds.oauth_url) == ("http://127.0.0.1:9/v2", "http://127.0.0.1:9/oauth/token")


@pytest.mark.parametrize("variable", sorted(ENV))
@pytest.mark.parametrize("value", [None, "", "  "])
def test_from_env_names_the_missing_variable(variable: str, value: str | None) -> None:
    env = {**ENV, variable: value} if value is not None else {k: v for k, v in ENV.items() if k != variable}
    with pytest.raises(MissingCredential) as caught:
        ZoomCredentials.from_env(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"environment variable {variable} is not set (")
    assert caught.value.exit_code == 2


# ---- the HTTP client's lifecycle ------------------------------------------------------------


def test_close_closes_only_an_http_client_it_made(url: str) -> None:
    with ZoomClient(credentials(url)) as owned:
        pass
    assert owned._http.is_closed
    shared = httpx.Client()
    ZoomClient(credentials(url), http=shared).close()
    assert not shared.is_closed
    shared.close()
