"""The Zoom emulator over real sockets: OAuth, every endpoint against Zoom's schemas, paging,
errors, rate limits, failure injection, determinism, and signed webhook delivery with retries.

The emulator runs on uvicorn in a thread (``start_in_thread``) and is spoken to with httpx on
127.0.0.1, as the sync's client will. The account is pinned to ``NOW`` so ids are known when the
tests are collected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.cli.emulator_zoom import zoom_command
from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app, create_app, send_startup_events
from engine.emulators.zoom.data import Account
from engine.emulators.zoom.webhooks import (
    EVENT_KINDS,
    RETRY_DELAYS,
    STARTUP_EVENT_KINDS,
    build_event,
    encrypted_token,
    event_key,
    serialize,
    sign,
)
from engine.resources import schemas_dir
from engine.serving import RunningServer, start_in_thread
from engine.zoom.schemas import load_source_index

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = Account(users=10, seed=1, now=NOW)
ZOOM_SCHEMAS = schemas_dir() / "zoom"
INVALID_TOKEN = {"code": 124, "message": "Invalid access token."}
SECRET = "whsec-test"


def rest_schema(endpoint: str) -> dict[str, Any]:
    method, path = endpoint.split(" ", 1)
    name = method.lower() + "__" + "__".join(p.strip("{}") for p in path.strip("/").split("/"))
    return json.loads((ZOOM_SCHEMAS / "rest" / f"{name}.json").read_text(encoding="utf-8"))


def event_schema(kind: str) -> dict[str, Any]:
    return json.loads((ZOOM_SCHEMAS / "events" / f"{kind}.json").read_text(encoding="utf-8"))


def _int64_errors(schema: Any, value: Any, path: str = "$") -> Iterator[str]:
    """jsonschema ignores ``format: int64``; Zoom's ids must still fit in it."""
    if not isinstance(schema, dict):
        return
    if schema.get("format") == "int64" and isinstance(value, int) and not -(2**63) <= value < 2**63:
        yield f"{path}: {value} is not an int64"
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _int64_errors(schema.get("properties", {}).get(key), child, f"{path}.{key}")
    if isinstance(value, list):
        for i, child in enumerate(value):
            yield from _int64_errors(schema.get("items"), child, f"{path}[{i}]")


def assert_valid(schema: dict[str, Any], body: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    errors += list(_int64_errors(schema, body))
    assert errors == []


# ------------------------------------------------------------------------------------- fixtures


@dataclass
class Zoom:
    """A running emulator and a client logged in to it."""

    server: RunningServer
    app: Starlette
    client: httpx.Client = field(init=False)
    token: str = ""

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.server.url, timeout=10)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def account(self) -> Account:
        return self.app.state.account  # type: ignore[no-any-return]

    def login(self) -> str:
        reply = self.client.post("/oauth/token", params={"grant_type": "account_credentials", "account_id": "demo"},
                                 auth=("demo", "demo"))
        assert reply.status_code == 200, reply.text
        self.token = reply.json()["access_token"]
        return self.token

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get("/v2" + path, params=params, headers={"Authorization": f"Bearer {self.token}"})

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.client.post("/v2" + path, json=body, headers={"Authorization": f"Bearer {self.token}"})

    def hook(self, path: str, body: Any = None) -> Any:
        """GET the read-only hooks, POST the others."""
        if path in ("stats", "account", "webhooks") or path.startswith("registrants/"):
            return self.client.get(f"/_emulator/{path}").json()
        return self.client.post(f"/_emulator/{path}", json=body or {}).json()

    def stop(self) -> None:
        self.client.close()
        self.server.stop()
        close_app(self.app)


def start_zoom(**options: Any) -> Zoom:
    app = create_app(ZoomEmulatorConfig(now=NOW, **options))
    zoom = Zoom(start_in_thread(app), app)
    zoom.login()
    return zoom


@pytest.fixture(scope="module")
def shared() -> Iterator[Zoom]:
    zoom = start_zoom()
    yield zoom
    zoom.stop()


@pytest.fixture
def zoom(shared: Zoom) -> Zoom:
    shared.hook("reset")
    shared.login()
    return shared


def all_pages(zoom: Zoom, path: str, records: str, **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every record of a list endpoint, and every page body."""
    pages, token = [], ""
    while True:
        reply = zoom.get(path, **params, **({"next_page_token": token} if token else {}))
        assert reply.status_code == 200, reply.text
        pages.append(reply.json())
        token = pages[-1]["next_page_token"]
        if not token:
            return [r for page in pages for r in page[records]], pages


# ------------------------------------------------------------------------------------------ OAuth


def test_token_by_query_or_form_with_basic_auth(zoom: Zoom) -> None:
    params = {"grant_type": "account_credentials", "account_id": "demo"}
    by_query = zoom.client.post("/oauth/token", params=params, auth=("demo", "demo"))
    by_form = zoom.client.post("/oauth/token", data=params, auth=("demo", "demo"))
    for reply in (by_query, by_form):
        assert reply.status_code == 200
        body = reply.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
        assert (body["token_type"], body["expires_in"], body["api_url"]) == ("bearer", 3600, zoom.url)
        assert "user:read:user:admin" in body["scope"].split(" ")
        assert "phone:read:list_call_logs:admin" in body["scope"].split(" ")
    assert by_query.json()["access_token"] != by_form.json()["access_token"]
    assert zoom.hook("stats")["tokens_issued"] == 3  # with the fixture's login


def test_token_refusals_use_zoom_oauth_error_shape(zoom: Zoom) -> None:
    params = {"grant_type": "account_credentials", "account_id": "demo"}
    invalid_client = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    wrong_secret = zoom.client.post("/oauth/token", params=params, auth=("demo", "nope"))
    no_auth = zoom.client.post("/oauth/token", params=params)
    assert (wrong_secret.status_code, wrong_secret.json()) == (401, invalid_client)
    assert (no_auth.status_code, no_auth.json()) == (401, invalid_client)
    wrong_account = zoom.client.post("/oauth/token", params=params | {"account_id": "other"}, auth=("demo", "demo"))
    assert (wrong_account.status_code, wrong_account.json()["error"]) == (400, "invalid_request")
    wrong_grant = zoom.client.post("/oauth/token", params=params | {"grant_type": "client_credentials"},
                                   auth=("demo", "demo"))
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")


def test_missing_unknown_and_expired_tokens_get_code_124(zoom: Zoom) -> None:
    user_id = ACCOUNT.user_ids()[0]
    assert zoom.client.get(f"/v2/users/{user_id}").json() == INVALID_TOKEN
    unknown = zoom.client.get(f"/v2/users/{user_id}", headers={"Authorization": "Bearer nope"})
    assert (unknown.status_code, unknown.json()) == (401, INVALID_TOKEN)
    assert zoom.get(f"/users/{user_id}").status_code == 200
    assert zoom.hook("expire-tokens")["expired"] >= 1
    expired = zoom.get(f"/users/{user_id}")
    assert (expired.status_code, expired.json()) == (401, INVALID_TOKEN)
    zoom.login()
    assert zoom.get(f"/users/{user_id}").status_code == 200


def test_a_token_expires_after_its_ttl() -> None:
    zoom = start_zoom(token_ttl=0)
    try:
        reply = zoom.get(f"/users/{ACCOUNT.user_ids()[0]}")
        assert (reply.status_code, reply.json()) == (401, INVALID_TOKEN)
    finally:
        zoom.stop()


# ------------------------------------------------------------------------ every endpoint vs schema


def _endpoint_cases() -> list[tuple[str, str, dict[str, Any], bool]]:
    """(endpoint, path, query, whether it has a second page at that page size)."""
    host = ACCOUNT.user_at(0)
    past, upcoming = host.meetings[0], host.meetings[-1]
    big = next(m for m in ACCOUNT.all_meetings() if m.id > 2**53 and m.past)
    webinar = host.webinars[0]
    manual = next(w for w in ACCOUNT.all_webinars() if w.approval_type == 1)
    history = {"from": (NOW - timedelta(days=30)).date().isoformat(), "to": NOW.date().isoformat()}
    recorder = next(u for u in ACCOUNT.all_users() if sum(m.recorded for m in u.meetings) > 1)
    recorded = next(m for m in ACCOUNT.all_meetings() if m.recorded)
    return [
        ("GET /users", "/users", {"page_size": 4}, True),
        ("GET /users/{userId}", f"/users/{host.id}", {}, False),
        ("GET /users/{userId}", f"/users/{host.email.upper()}", {}, False),
        ("GET /users/{userId}/settings", f"/users/{host.id}/settings", {}, False),
        ("GET /users/{userId}/settings", f"/users/{host.id}/settings", {"option": "meeting_security"}, False),
        ("GET /users/{userId}/meetings", f"/users/{host.id}/meetings", {"page_size": 1}, True),
        ("GET /users/{userId}/webinars", f"/users/{host.id}/webinars", {"page_size": 1}, True),
        ("GET /phone/users", "/phone/users", {"page_size": 4}, True),
        ("GET /phone/users/{userId}", f"/phone/users/{host.id}", {}, False),
        ("GET /phone/call_history", "/phone/call_history", history | {"page_size": 7}, True),
        ("GET /meetings/{meetingId}", f"/meetings/{past.id}", {}, False),
        ("GET /meetings/{meetingId}", f"/meetings/{upcoming.id}", {}, False),
        ("GET /meetings/{meetingId}", f"/meetings/{big.id}", {}, False),
        ("GET /past_meetings/{meetingId}", f"/past_meetings/{past.id}", {}, False),
        ("GET /past_meetings/{meetingId}", f"/past_meetings/{quote(quote(big.uuid, safe=''), safe='')}", {}, False),
        ("GET /past_meetings/{meetingId}/instances", f"/past_meetings/{past.id}/instances", {}, False),
        ("GET /past_meetings/{meetingId}/participants", f"/past_meetings/{past.id}/participants",
         {"page_size": 2}, True),
        ("GET /report/meetings/{meetingId}", f"/report/meetings/{past.id}", {}, False),
        ("GET /report/meetings/{meetingId}/participants", f"/report/meetings/{past.id}/participants",
         {"page_size": 2}, True),
        ("GET /webinars/{webinarId}", f"/webinars/{webinar.id}", {}, False),
        ("GET /webinars/{webinarId}", f"/webinars/{manual.id}", {}, False),
        ("GET /webinars/{webinarId}/registrants", f"/webinars/{webinar.id}/registrants", {"page_size": 4}, True),
        ("GET /webinars/{webinarId}/registrants", f"/webinars/{manual.id}/registrants", {"status": "pending"}, False),
        ("GET /webinars/{webinarId}/panelists", f"/webinars/{webinar.id}/panelists", {}, False),
        ("GET /report/webinars/{webinarId}", f"/report/webinars/{webinar.id}", {}, False),
        ("GET /report/webinars/{webinarId}/participants", f"/report/webinars/{webinar.id}/participants",
         {"page_size": 3, "include_fields": "registrant_id"}, True),
        ("GET /past_webinars/{webinarId}/instances", f"/past_webinars/{webinar.id}/instances", {}, False),
        ("GET /past_webinars/{webinarId}/participants", f"/past_webinars/{webinar.id}/participants",
         {"page_size": 3}, True),
        ("GET /users/{userId}/recordings", f"/users/{recorder.id}/recordings", history | {"page_size": 1}, True),
        ("GET /meetings/{meetingId}/recordings", f"/meetings/{recorded.id}/recordings", {}, False),
    ]


SETTINGS_BRANCH = {None: 0, "meeting_security": 3}  # Zoom's oneOf branches overlap: validate the one asked for


@pytest.mark.parametrize(("endpoint", "path", "query", "paged"), _endpoint_cases(),
                         ids=[f"{c[0]} {c[2]}" for c in _endpoint_cases()])
def test_every_endpoint_and_page_validates_against_zoom_schema(zoom: Zoom, endpoint: str, path: str,
                                                               query: dict[str, Any], paged: bool) -> None:
    schema = rest_schema(endpoint)
    if "oneOf" in schema:
        schema = schema["oneOf"][SETTINGS_BRANCH[query.get("option")]] | {"$schema": schema["$schema"]}
    first = zoom.get(path, **query)
    assert first.status_code == 200, first.text
    assert_valid(schema, first.json())
    token = first.json().get("next_page_token")
    assert bool(token) == paged
    if token:
        # the next page as the endpoint's spec pages: by token, or by page_number where that is all it takes
        takes_tokens = "next_page_token" in load_source_index().endpoints[endpoint]["query_params"]
        second = zoom.get(path, **query, **({"next_page_token": token} if takes_tokens else {"page_number": 2}))
        assert second.status_code == 200, second.text
        assert_valid(schema, second.json())
        records = next(key for key, value in second.json().items() if isinstance(value, list))
        assert second.json()[records] != first.json()[records]


def test_posted_registrant_request_and_response_validate(zoom: Zoom) -> None:
    webinar = ACCOUNT.user_at(0).webinars[0]
    body = {"first_name": "Zoë", "last_name": "Ødegaard", "email": "zoe@example.com", "org": "ACME",
            "custom_questions": [{"title": "Role", "value": "Buyer"}]}
    assert_valid(rest_schema("POST /webinars/{webinarId}/registrants.request"), body)
    reply = zoom.post(f"/webinars/{webinar.id}/registrants", body)
    assert reply.status_code == 201
    assert_valid(rest_schema("POST /webinars/{webinarId}/registrants"), reply.json())


# --------------------------------------------------------------------------------------- paging


def test_users_page_through_every_user_exactly_once(zoom: Zoom) -> None:
    users, pages = all_pages(zoom, "/users", "users", page_size=3)
    assert [u["id"] for u in users] == ACCOUNT.user_ids()
    assert [len(p["users"]) for p in pages] == [3, 3, 3, 1]
    assert {(p["page_count"], p["page_size"], p["total_records"]) for p in pages} == {(4, 3, 10)}
    assert zoom.get("/users", status="inactive").json()["users"] == []


def test_page_size_is_capped_and_bad_tokens_are_refused(zoom: Zoom) -> None:
    assert zoom.get("/users", page_size=5000).json()["page_size"] == 2000  # the 2026 Users spec's maximum
    assert zoom.get("/phone/users", page_size=5000).json()["page_size"] == 100
    assert zoom.get(f"/users/{ACCOUNT.user_ids()[0]}/meetings", page_size=5000).json()["page_size"] == 300
    assert zoom.get("/users").json()["page_size"] == 30
    bad = zoom.get("/users", next_page_token="not-a-token")
    invalid = {"code": 300, "message": "The next page token is invalid or expired."}
    assert (bad.status_code, bad.json()) == (400, invalid)
    users_token = zoom.get("/users", page_size=2).json()["next_page_token"]
    assert zoom.get("/phone/users", page_size=2, next_page_token=users_token).status_code == 400
    webinar = next(w for w in ACCOUNT.all_webinars() if w.approval_type == 1)
    approved_token = zoom.get(f"/webinars/{webinar.id}/registrants", page_size=1).json()["next_page_token"]
    other_filter = zoom.get(f"/webinars/{webinar.id}/registrants", page_size=1, status="pending",
                            next_page_token=approved_token)
    assert other_filter.json()["code"] == 300


def test_call_history_window_holds_every_call_and_ids_match_call_ids(zoom: Zoom) -> None:
    window = {"from": (NOW - timedelta(days=30)).date().isoformat(), "to": NOW.date().isoformat()}
    calls, pages = all_pages(zoom, "/phone/call_history", "call_logs", page_size=300, **window)
    assert [c["call_id"] for c in calls] == ACCOUNT.call_ids()
    assert [c["id"] for c in calls] == ACCOUNT.call_log_ids()
    assert len(calls) == ACCOUNT.counts()["calls"] == len(set(ACCOUNT.call_ids())) == len(set(ACCOUNT.call_log_ids()))
    assert all(c["id"] != c["call_id"] and c["call_id"].isdigit() for c in calls)
    assert (pages[0]["from"], pages[0]["to"]) == (window["from"], window["to"])
    assert {c["direction"] for c in calls} == {"inbound", "outbound"}
    assert any("answer_time" not in c for c in calls)  # missed calls have no answer time
    last_day = zoom.get("/phone/call_history").json()
    assert all(c["start_time"] >= "2025-02-28T12:00:00Z" for c in last_day["call_logs"])
    too_long = zoom.get("/phone/call_history", **{"from": "2025-01-01", "to": "2025-03-01"})
    assert (too_long.status_code, too_long.json()["code"]) == (400, 300)
    backwards = zoom.get("/phone/call_history", **{"from": "2025-03-01", "to": "2025-02-01"})
    assert (backwards.status_code, backwards.json()["code"]) == (400, 300)


def test_meeting_list_types(zoom: Zoom) -> None:
    user = ACCOUNT.user_at(2)  # four meetings, three of them past
    ids = {kind: [m["id"] for m in zoom.get(f"/users/{user.id}/meetings", type=kind).json()["meetings"]]
           for kind in ("scheduled", "upcoming", "previous_meetings", "live")}
    assert ids == {"scheduled": [m.id for m in user.meetings], "upcoming": [user.meetings[-1].id],
                   "previous_meetings": [m.id for m in user.meetings[:-1]], "live": []}
    assert zoom.get(f"/users/{user.id}/meetings", type="bogus").json()["code"] == 300


# ---------------------------------------------------------------------------- data and errors


def test_not_found_codes(zoom: Zoom) -> None:
    upcoming = ACCOUNT.upcoming_meeting_ids()[0]
    cases = {
        "/users/nobody@example.com": (404, 1001), "/users/me": (404, 1001), "/meetings/123": (404, 3001),
        "/meetings/not-a-number": (404, 3001), f"/past_meetings/{upcoming}": (404, 3001),
        f"/past_meetings/{upcoming}/participants": (404, 3001), f"/report/meetings/{upcoming}": (404, 3001),
        f"/phone/users/{ACCOUNT.users_without_phone()[0]}": (404, 1001), "/webinars/99999999999": (404, 3001),
        f"/report/webinars/{ACCOUNT.user_at(0).webinars[1].id}": (404, 3001),
        f"/webinars/{ACCOUNT.meeting_ids()[0]}": (404, 3001),
    }
    got = {}
    for path, _ in cases.items():
        reply = zoom.get(path)
        got[path] = (reply.status_code, reply.json()["code"])
        assert set(reply.json()) == {"code", "message"}
    assert got == cases
    assert zoom.get("/no/such/endpoint").status_code == 404


def test_past_meeting_by_double_encoded_uuid(zoom: Zoom) -> None:
    leading = next(m for m in ACCOUNT.all_meetings() if m.past and m.uuid.startswith("/"))
    inner = next(m for m in ACCOUNT.all_meetings() if m.past and "//" in m.uuid and not m.uuid.startswith("/"))
    for meeting in (leading, inner):
        twice = quote(quote(meeting.uuid, safe=""), safe="")
        reply = zoom.get(f"/past_meetings/{twice}")
        assert (reply.status_code, reply.json()["uuid"], reply.json()["id"]) == (200, meeting.uuid, meeting.id)
        rows = zoom.get(f"/past_meetings/{twice}/participants").json()["participants"]
        assert [r["user_id"] for r in rows] == [r["user_id"] for r in meeting.participants]
        once = zoom.get(f"/past_meetings/{quote(meeting.uuid, safe='')}")
        assert once.status_code == 404  # a single-encoded '/' reaches the server as a path separator


def test_big_meeting_ids_keep_every_digit(zoom: Zoom) -> None:
    big = [m for m in ACCOUNT.meeting_ids() if m > 2**53]
    assert big and len(big) < len(ACCOUNT.meeting_ids())
    reply = zoom.get(f"/meetings/{big[0]}")
    assert f'"id":{big[0]},' in reply.text
    assert reply.json()["id"] == big[0]
    assert any(int(float(value)) != value for value in big)  # a double would lose these digits


def test_messy_but_valid_records(zoom: Zoom) -> None:
    past = ACCOUNT.user_at(0).meetings[0]
    rows = zoom.get(f"/past_meetings/{past.id}/participants", page_size=300).json()["participants"]
    assert any(r["id"] == "" and r["user_email"] == "" for r in rows)
    assert len({r["user_id"] for r in rows}) == len(rows)
    assert zoom.get(f"/past_meetings/{past.id}").json()["participants_count"] == len(rows)
    meeting = zoom.get(f"/meetings/{past.id}").json()
    assert "?zak=" in meeting["start_url"] and meeting["password"]
    names = [u["display_name"] for u in zoom.get("/users", page_size=300).json()["users"]]
    assert any(not name.isascii() for name in names)
    approval_types = {zoom.get(f"/webinars/{w}").json()["settings"]["approval_type"] for w in ACCOUNT.webinar_ids()}
    assert approval_types == {0, 1, 2}
    no_registration = next(w for w in ACCOUNT.all_webinars() if w.approval_type == 2)
    assert "registration_url" not in zoom.get(f"/webinars/{no_registration.id}").json()
    assert zoom.get(f"/webinars/{no_registration.id}/registrants").json()["total_records"] == 0
    settings = zoom.get(f"/users/{ACCOUNT.users_without_phone()[0]}/settings").json()
    assert settings["feature"]["zoom_phone"] is False
    report = zoom.get(f"/report/webinars/{ACCOUNT.past_webinar_ids()[0]}/participants").json()["participants"]
    assert all("registrant_id" not in r for r in report)


def test_account_counts_and_ids_for_sync_tests(zoom: Zoom) -> None:
    counts = ACCOUNT.counts()
    assert counts == {"users": 10, "phone_users": 9, "meetings": 29, "past_meetings": 19, "upcoming_meetings": 10,
                      "meeting_participants": counts["meeting_participants"], "webinars": 8, "past_webinars": 4,
                      "registrants": 36, "registrants_approved": 27, "panelists": 16,
                      "webinar_participants": counts["webinar_participants"], "webinar_attendees": 20,
                      "calls": counts["calls"]}
    assert counts["webinar_participants"] == 22  # two colleagues rejoined: a second row with the same id
    summary = zoom.hook("account")
    assert summary["counts"] == counts
    assert summary["user_ids"] == ACCOUNT.user_ids()
    for ids in (ACCOUNT.user_ids(), ACCOUNT.meeting_ids(), ACCOUNT.webinar_ids(), ACCOUNT.registrant_ids(None),
                ACCOUNT.panelist_ids(), ACCOUNT.call_ids(), ACCOUNT.webinar_participant_keys(),
                ACCOUNT.meeting_participant_keys()):
        assert len(ids) == len(set(ids))
    assert not set(ACCOUNT.meeting_ids()) & set(ACCOUNT.webinar_ids())


def test_same_seed_and_now_give_byte_identical_responses() -> None:
    paths = ["/users?page_size=300", f"/users/{ACCOUNT.user_ids()[4]}/settings", "/phone/users",
             f"/past_meetings/{ACCOUNT.past_meeting_ids()[3]}/participants",
             f"/webinars/{ACCOUNT.webinar_ids()[1]}/registrants", "/phone/call_history?from=2025-02-01&to=2025-03-01"]
    bodies = []
    for seed in (1, 1, 2):
        zoom = start_zoom(seed=seed)
        try:
            bodies.append([zoom.get(p.split("?")[0], **_query(p)).content for p in paths])
        finally:
            zoom.stop()
    assert bodies[0] == bodies[1]
    assert bodies[0][0] != bodies[2][0]


def _query(path: str) -> dict[str, str]:
    _, _, query = path.partition("?")
    return dict(part.split("=") for part in query.split("&")) if query else {}


def test_a_thousand_users_page_quickly_and_completely() -> None:
    zoom = start_zoom(users=1000)
    try:
        users, pages = all_pages(zoom, "/users", "users", page_size=300)
        assert len(pages) == 4 and len({u["id"] for u in users}) == 1000
        assert [u["id"] for u in users] == zoom.account.user_ids()
        phone_users, _ = all_pages(zoom, "/phone/users", "users", page_size=100)
        assert len(phone_users) == 1000 - len(range(3, 1000, 7))
    finally:
        zoom.stop()


# ---------------------------------------------------------------------------------- registrants


def test_post_registrant_once_per_email(zoom: Zoom) -> None:
    webinar = ACCOUNT.user_at(0).webinars[0]  # approval_type 0: approved at once
    first = zoom.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Ana", "email": "ana@example.com"})
    again = zoom.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Ana B", "email": "ANA@example.com"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert set(first.json()) == {"id", "join_url", "registrant_id", "start_time", "topic", "occurrences"}
    assert first.json() == again.json()
    assert first.json()["id"] == webinar.id
    registrants, _ = all_pages(zoom, f"/webinars/{webinar.id}/registrants", "registrants")
    mine = [r for r in registrants if r["email"].lower() == "ana@example.com"]
    assert [(r["id"], r["status"], r["first_name"]) for r in mine] == [
        (first.json()["registrant_id"], "approved", "Ana")]
    assert len(registrants) == len(webinar.registrants) + 1
    posted = zoom.hook(f"registrants/{webinar.id}")["registrants"]
    assert [(r["email"], r["first_name"]) for r in posted] == [("ana@example.com", "Ana")]
    existing = webinar.registrants[0]
    known = zoom.post(f"/webinars/{webinar.id}/registrants", {"first_name": "X", "email": existing["email"]})
    assert known.json()["registrant_id"] == existing["id"]


def test_post_registrant_to_manual_approval_webinar_is_pending(zoom: Zoom) -> None:
    webinar = next(w for w in ACCOUNT.all_webinars() if w.approval_type == 1)
    reply = zoom.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Hana", "email": "hana@example.org"})
    pending = zoom.get(f"/webinars/{webinar.id}/registrants", status="pending").json()["registrants"]
    assert reply.json()["registrant_id"] in [r["id"] for r in pending]
    closed = next(w for w in ACCOUNT.all_webinars() if w.approval_type == 2)
    refused = zoom.post(f"/webinars/{closed.id}/registrants", {"first_name": "Hana", "email": "hana@example.org"})
    assert refused.status_code == 400
    assert refused.json() == {"code": 3000, "message": f"This webinar does not have registration as required: "
                                                       f"{closed.id}."}  # the spec's code and text


def test_post_registrant_validation_errors(zoom: Zoom) -> None:
    webinar_id = ACCOUNT.webinar_ids()[0]
    missing = zoom.post(f"/webinars/{webinar_id}/registrants", {"last_name": "Smith"})
    assert missing.status_code == 400
    assert missing.json() == {"code": 300, "message": "Validation Failed.", "errors": [
        {"field": "first_name", "message": "This field is required."},
        {"field": "email", "message": "This field is required."}]}
    bad_email = zoom.post(f"/webinars/{webinar_id}/registrants", {"first_name": "A", "email": "nope"})
    assert bad_email.json()["errors"] == [{"field": "email", "message": "Invalid email address."}]
    too_long = zoom.post(f"/webinars/{webinar_id}/registrants", {"first_name": "A" * 65, "email": "a@example.com"})
    assert [e["field"] for e in too_long.json()["errors"]] == ["first_name"]
    not_json = zoom.client.post(f"/v2/webinars/{webinar_id}/registrants", content=b"{nope",
                                headers={"Authorization": f"Bearer {zoom.token}"})
    assert not_json.json() == {"code": 300, "message": "Request Body should be a valid JSON object."}
    unknown = zoom.post("/webinars/12345678901/registrants", {"first_name": "A", "email": "a@example.com"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, 3001)
    assert zoom.hook(f"registrants/{webinar_id}")["registrants"] == []


# ------------------------------------------------------------------------ limits, failures, stats


def test_rate_limit_answers_429_per_category() -> None:
    zoom = start_zoom(rate_limit=2)
    try:
        path = f"/users/{ACCOUNT.user_ids()[0]}"  # a Light endpoint
        statuses = [zoom.get(path).status_code for _ in range(2)]
        limited = next(reply for reply in (zoom.get(path) for _ in range(40)) if reply.status_code == 429)
        assert statuses == [200, 200]
        assert limited.json() == {"code": 429, "message": "You have reached the maximum per-second rate limit for "
                                                          "this API. Try again later."}
        assert (limited.headers["X-RateLimit-Category"], limited.headers["X-RateLimit-Type"]) == ("Light", "QPS")
        assert "Retry-After" not in limited.headers  # as in Zoom's documented example
        assert zoom.get("/users").status_code == 200  # Medium has its own bucket
    finally:
        zoom.stop()


def test_fail_rate_is_seeded_and_spares_oauth() -> None:
    sequences = []
    for _ in range(2):
        zoom = start_zoom(fail_rate=0.4, seed=7)
        try:
            tokens = [zoom.login() for _ in range(5)]
            replies = [zoom.get(f"/users/{zoom.account.user_ids()[0]}") for _ in range(30)]
        finally:
            zoom.stop()
        assert len(set(tokens)) == 5
        failed = [r for r in replies if r.status_code != 200]
        assert failed and len(failed) < 30
        assert {r.status_code for r in failed} <= {500, 502, 503}
        assert all(r.json()["code"] == r.status_code and r.json()["message"] for r in failed)
        sequences.append([r.status_code for r in replies])
    assert sequences[0] == sequences[1]


def test_fail_next_hook_and_stats(zoom: Zoom) -> None:
    user_id = ACCOUNT.user_ids()[1]
    assert zoom.hook("fail-next", {"count": 2, "status": 503}) == {"forced": 503, "count": 2}
    first, second, third = (zoom.get(f"/users/{user_id}") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json()["code"] == 503
    zoom.hook("fail-next", {"count": 1, "status": 429})
    limited = zoom.get("/users")
    assert (limited.status_code, limited.headers["X-RateLimit-Type"], limited.json()["code"]) == (429, "QPS", 429)
    zoom.get("/users/nobody")
    stats = zoom.hook("stats")
    assert stats["requests"]["GET /users/{userId}"] == {"200": 1, "404": 1, "503": 2}
    assert stats["requests"]["GET /users"] == {"429": 1}
    assert stats["requests"]["POST /oauth/token"] == {"200": 1}
    assert (stats["api_requests"], stats["tokens_issued"]) == (5, 1)
    assert zoom.client.post("/_emulator/fail-next", json={"status": 404}).status_code == 400


# ------------------------------------------------------------------------------------- webhooks


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_built_events_validate_and_point_at_rest_records(kind: str) -> None:
    for index in range(3):
        event = build_event(ACCOUNT, kind, index)
        assert_valid(event_schema(kind), event)
        assert event["event"] == kind and event["payload"]["account_id"] == "demo"
        key = event_key(event)
        if kind.startswith("phone."):
            call = next(c for c in ACCOUNT.calls() if c["call_id"] == key)
            obj = event["payload"]["object"]
            assert (obj["ringing_start_time"], obj["call_end_time"]) == (call["start_time"], call["end_time"])
            assert obj.get("answer_start_time") == call.get("answer_time")
            assert call["direction"] == ("inbound" if kind == "phone.callee_ended" else "outbound")
        elif kind == "meeting.ended":
            assert int(key) in ACCOUNT.past_meeting_ids()
        elif kind == "webinar.updated":
            webinar = ACCOUNT.find_webinar(key)
            assert webinar is not None
            assert event["payload"]["object"].get("registration_url") == webinar.registration_url
        else:
            assert key in ACCOUNT.registrant_ids(None)
    assert build_event(ACCOUNT, kind, 0) == build_event(Account(10, 1, NOW), kind, 0)


def test_sign_is_hmac_sha256_of_v0_timestamp_body() -> None:
    body = serialize({"event": "meeting.ended", "event_ts": 1, "payload": {"object": {"topic": "Réunion"}}})
    assert body == '{"event":"meeting.ended","event_ts":1,"payload":{"object":{"topic":"Réunion"}}}'.encode()
    expected = hmac.new(b"s3cret", b"v0:1739923528:" + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1739923528, body) == sign("s3cret", "1739923528", body.decode()) == f"v0={expected}"


@dataclass
class Receiver:
    """A webhook endpoint on loopback that records what it gets and answers scripted statuses."""

    server: RunningServer
    received: list[tuple[dict[str, str], bytes]]
    script: deque[int]

    @property
    def url(self) -> str:
        return self.server.url + "/hook"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    received: list[tuple[dict[str, str], bytes]] = []
    script: deque[int] = deque()
    lock = threading.Lock()

    async def hook(request: Request) -> Response:
        body = await request.body()
        event = json.loads(body)
        if event["event"] == "endpoint.url_validation":
            plain = event["payload"]["plainToken"]
            return JSONResponse({"plainToken": plain, "encryptedToken": encrypted_token(SECRET, plain)})
        with lock:
            received.append((dict(request.headers), body))
            status = script.popleft() if script else 200
        return Response(status_code=status)

    server = start_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    yield Receiver(server, received, script)
    server.stop()


@pytest.fixture
def hooked(receiver: Receiver) -> Iterator[Zoom]:
    receiver.received.clear()
    receiver.script.clear()
    zoom = start_zoom(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_scale=0.0001)
    yield zoom
    zoom.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def settled(zoom: Zoom, count: int) -> list[dict[str, Any]]:
    def done() -> bool:
        deliveries = zoom.hook("webhooks")["deliveries"]
        return len(deliveries) == count and all(d["state"] not in ("pending", "retrying") for d in deliveries)

    wait_until(done)
    return zoom.hook("webhooks")["deliveries"]  # type: ignore[no-any-return]


def test_webhooks_are_signed_compact_and_match_the_rest_records(hooked: Zoom, receiver: Receiver) -> None:
    reply = hooked.hook("webhooks/send", {"events": ["phone.callee_ended", "phone.caller_ended", "meeting.ended",
                                                     "webinar.registration_created", "phone.callee_ended"]})
    sent = reply["sent"]
    assert [(s["event"], s["state"], [a["status"] for a in s["attempts"]]) for s in sent] == [
        ("phone.callee_ended", "delivered", [200]), ("phone.caller_ended", "delivered", [200]),
        ("meeting.ended", "delivered", [200]), ("webinar.registration_created", "delivered", [200]),
        ("phone.callee_ended", "delivered", [200])]
    assert sent[0]["key"] != sent[4]["key"]  # the second callee_ended is the next call
    assert len(receiver.received) == 5
    for (headers, body), summary in zip(receiver.received, sent, strict=True):
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert headers["x-zm-signature"] == sign(SECRET, headers["x-zm-request-timestamp"], body)
        assert headers["x-zm-request-id"] == summary["request_id"] and headers["x-zm-trackingid"]
        event = json.loads(body)
        assert body == serialize(event)
        assert_valid(event_schema(event["event"]), event)
    assert len({h["x-zm-request-id"] for h, _ in receiver.received}) == 5
    assert all(json.loads(b)["payload"]["object"]["call_id"] in ACCOUNT.call_ids() for _, b in receiver.received[:2])


def test_webhooks_retry_on_5xx_and_network_errors_never_on_4xx(hooked: Zoom, receiver: Receiver) -> None:
    receiver.script.extend([500, 503, 502, 500, 404, 500])
    hooked.hook("webhooks/send", {"events": ["meeting.ended"]})  # 500, 503, 502, 500: gives up
    first = settled(hooked, 1)[0]
    hooked.hook("webhooks/send", {"events": ["meeting.ended"]})  # 404: refused at once
    hooked.hook("webhooks/send", {"events": ["phone.caller_ended"]})  # 500 then 200
    deliveries = settled(hooked, 3)
    assert [(d["state"], [a["status"] for a in d["attempts"]]) for d in deliveries] == [
        ("failed", [500, 503, 502, 500]), ("refused", [404]), ("delivered", [500, 200])]
    ids = [h["x-zm-request-id"] for h, _ in receiver.received]
    assert ids == [first["request_id"]] * 4 + [deliveries[1]["request_id"]] + [deliveries[2]["request_id"]] * 2
    bodies = [b for h, b in receiver.received if h["x-zm-request-id"] == first["request_id"]]
    assert len(set(bodies)) == 1
    assert len(RETRY_DELAYS) == 3


def test_webhooks_retry_when_the_receiver_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    zoom = start_zoom(webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret=SECRET, webhook_retry_scale=0.0001)
    try:
        zoom.hook("webhooks/send", {"count": 1})
        delivery = settled(zoom, 1)[0]
        assert delivery["state"] == "failed"
        assert [a["status"] for a in delivery["attempts"]] == [None] * 4
        assert all(a["error"] for a in delivery["attempts"])
    finally:
        zoom.stop()


def test_posting_a_registrant_sends_registration_created(hooked: Zoom, receiver: Receiver) -> None:
    webinar = ACCOUNT.user_at(0).webinars[0]
    reply = hooked.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Mei", "email": "mei@example.net"})
    hooked.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Mei", "email": "mei@example.net"})
    delivery = settled(hooked, 1)[0]
    assert (delivery["event"], delivery["key"]) == ("webinar.registration_created", reply.json()["registrant_id"])
    event = json.loads(receiver.received[0][1])
    assert_valid(event_schema("webinar.registration_created"), event)
    assert event["payload"]["object"]["id"] == webinar.id


def test_startup_events_cycle_through_the_kinds(hooked: Zoom, receiver: Receiver) -> None:
    assert len(send_startup_events(hooked.app, 6)) == 6
    deliveries = settled(hooked, 6)
    assert [d["event"] for d in deliveries] == [*STARTUP_EVENT_KINDS, *STARTUP_EVENT_KINDS[:2]]


def test_url_validation_is_sent_signed_and_the_answer_judged(hooked: Zoom) -> None:
    outcome = hooked.hook("webhooks/validate", {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"})
    assert (outcome["valid"], outcome["status"]) == (True, 200)
    assert outcome["encryptedToken"] == encrypted_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw")


def test_send_hook_without_webhooks_configured(zoom: Zoom) -> None:
    assert zoom.client.post("/_emulator/webhooks/send", json={"count": 1}).status_code == 400


# ------------------------------------------------------------------------------------------ CLI


def test_cli_prints_url_first_serves_sends_events_and_exits_0_on_sigterm(receiver: Receiver) -> None:
    receiver.received.clear()
    receiver.script.clear()
    command = [sys.executable, "-c", "from engine.cli.emulator_zoom import zoom_command; zoom_command()",
               "--users", "4", "--seed", "3", "--client-id", "cid", "--client-secret", "csec", "--account-id", "acc",
               "--webhook-url", receiver.url, "--webhook-secret", SECRET, "--webhook-events", "4"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.split(":")[-1].isdigit()
        token = httpx.post(f"{url}/oauth/token", data={"grant_type": "account_credentials", "account_id": "acc"},
                           auth=("cid", "csec")).json()["access_token"]
        users = httpx.get(f"{url}/v2/users", headers={"Authorization": f"Bearer {token}"}).json()
        assert [u["id"] for u in users["users"]] == Account(users=4, seed=3).user_ids()
        wait_until(lambda: len(receiver.received) == 4)
        assert sorted(json.loads(b)["event"] for _, b in receiver.received) == sorted(STARTUP_EVENT_KINDS)
        assert all(h["x-zm-signature"] == sign(SECRET, h["x-zm-request-timestamp"], b) for h, b in receiver.received)
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0


def test_cli_refuses_a_webhook_url_without_secret() -> None:
    result = CliRunner().invoke(zoom_command, ["--webhook-url", "http://127.0.0.1:9/hook"])
    assert result.exit_code == 2
    assert "--webhook-url and --webhook-secret go together" in result.output
