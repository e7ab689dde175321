"""Fidelity of the Zoom emulator: every answer against Zoom's official schemas and documented examples.

Every route the emulator serves, every page of the paginated ones and every event it sends is
validated against the official schema of ``schemas/zoom`` (extracted from Zoom's OpenAPI specs
and its Rivet SDK, ``required`` as the spec states it), and none carries a key the schema does not
declare. Then one test per difference the emulator had with Zoom, each of which failed before the
emulator was fixed: meeting UUIDs with one inner ``/`` sent single-encoded (Zoom's spec asks for
double encoding only when a UUID begins with ``/`` or contains ``//``), the 429s as Zoom's
documentation shows them (``tests/fixtures/zoom/doc-examples.json``) and the daily and
per-registrant limits, ``page_size`` bounds and the paging style of each endpoint, trailing
slashes, and ``registration_url``, which no webinar REST schema declares.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from engine.emulators.zoom.app import API_ROUTES
from engine.emulators.zoom.webhooks import EVENT_KINDS, build_event
from engine.zoom.schemas import load_source_index
from tests.helpers import FIXTURES
from tests.test_emulator_zoom import ACCOUNT, NOW, Zoom, assert_valid, event_schema, rest_schema, start_zoom

DOC_EXAMPLES = json.loads((FIXTURES / "zoom" / "doc-examples.json").read_text(encoding="utf-8"))
INDEX = load_source_index()


@pytest.fixture(scope="module")
def zoom() -> Iterator[Zoom]:
    running = start_zoom()
    yield running
    running.stop()


def undeclared(schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """The keys of `value` that `schema` does not declare (its closest ``oneOf`` branch for a union)."""
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        return min((undeclared(branch, value, path) for branch in branches), key=len)
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for key, child in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += undeclared(schema["properties"][key], child, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for child in value:
            found += undeclared(schema["items"], child, f"{path}[]")
    return sorted(set(found))


# ------------------------------------------------------------------- every served answer, validated


def served_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(route, path, query) for every route the emulator serves, with the query that pages it by 2 or 3."""
    host = ACCOUNT.user_at(0)
    past, webinar = host.meetings[0], host.webinars[0]
    slashed = next(m for m in ACCOUNT.all_meetings() if m.past and "/" in m.uuid)
    recorded = next(m for m in ACCOUNT.all_meetings() if m.past and m.recorded)
    window = {"from": (NOW - timedelta(days=30)).date().isoformat(), "to": NOW.date().isoformat()}
    return [
        ("GET /users", "/users", {"page_size": 3}),
        ("GET /users/{userId}", f"/users/{host.id}", {}),
        ("GET /users/{userId}/settings", f"/users/{host.id}/settings", {}),
        ("GET /users/{userId}/meetings", f"/users/{host.id}/meetings", {"page_size": 1}),
        ("GET /users/{userId}/webinars", f"/users/{host.id}/webinars", {"page_size": 1}),
        ("GET /phone/users", "/phone/users", {"page_size": 3}),
        ("GET /phone/users/{userId}", f"/phone/users/{host.id}", {}),
        ("GET /phone/call_history", "/phone/call_history", window | {"page_size": 5}),
        ("GET /meetings/{meetingId}", f"/meetings/{past.id}", {}),
        ("GET /past_meetings/{meetingId}", f"/past_meetings/{quote(quote(slashed.uuid, safe=''), safe='')}", {}),
        ("GET /past_meetings/{meetingId}/instances", f"/past_meetings/{past.id}/instances", {}),
        ("GET /past_meetings/{meetingId}/participants", f"/past_meetings/{past.id}/participants", {"page_size": 2}),
        ("GET /report/users/{userId}/meetings", f"/report/users/{host.id}/meetings", window | {"page_size": 1}),
        ("GET /report/meetings/{meetingId}", f"/report/meetings/{past.id}", {}),
        ("GET /report/meetings/{meetingId}/participants", f"/report/meetings/{past.id}/participants",
         {"page_size": 2}),
        ("GET /webinars/{webinarId}", f"/webinars/{webinar.id}", {}),
        ("GET /webinars/{webinarId}/registrants", f"/webinars/{webinar.id}/registrants", {"page_size": 2}),
        ("GET /webinars/{webinarId}/panelists", f"/webinars/{webinar.id}/panelists", {}),
        ("GET /report/webinars/{webinarId}", f"/report/webinars/{webinar.id}", {}),
        ("GET /report/webinars/{webinarId}/participants", f"/report/webinars/{webinar.id}/participants",
         {"page_size": 3, "include_fields": "registrant_id"}),
        ("GET /past_webinars/{webinarId}/instances", f"/past_webinars/{webinar.id}/instances", {}),
        ("GET /users/{userId}/recordings", f"/users/{recorded.host.id}/recordings", window | {"page_size": 1}),
        ("GET /meetings/{meetingId}/recordings", f"/meetings/{recorded.id}/recordings", {}),
        ("GET /past_webinars/{webinarId}/participants", f"/past_webinars/{webinar.id}/participants",
         {"page_size": 3}),
    ]


def pages(zoom: Zoom, route: str, path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the answer, paged as the endpoint's spec pages it."""
    takes = INDEX.endpoints[route]["query_params"]
    found: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    for number in range(2, 50):
        reply = zoom.get(path, **query, **extra)
        assert reply.status_code == 200, (route, reply.text)
        found.append(reply.json())
        token = found[-1].get("next_page_token")
        if not token:
            return found
        extra = {"next_page_token": token} if "next_page_token" in takes else {"page_number": number}
    raise AssertionError(f"{route}: no last page")


def test_the_cases_cover_every_route_the_emulator_serves() -> None:
    served = {name for name, _ in API_ROUTES}
    covered = {route for route, _, _ in served_cases()} | {"POST /webinars/{webinarId}/registrants",
                                                           "POST /users/{userId}/meetings",
                                                           "POST /users/{userId}/webinars"}
    assert covered == served
    assert served <= set(INDEX.endpoint_names())  # nothing served that Zoom's specs do not describe


@pytest.mark.parametrize(("route", "path", "query"), served_cases(), ids=[c[0] for c in served_cases()])
def test_every_page_of_every_route_is_valid_with_no_key_the_spec_lacks(zoom: Zoom, route: str, path: str,
                                                                       query: dict[str, Any]) -> None:
    schema = rest_schema(route)
    if "oneOf" in schema:  # user settings: four shapes by ?option=, overlapping; the default one is asked
        schema = schema["oneOf"][0] | {"$schema": schema["$schema"]}
    for body in pages(zoom, route, path, query):
        assert_valid(schema, body)
        assert undeclared(schema, body) == [], route


def test_a_posted_registrant_answer_is_valid_with_no_key_the_spec_lacks(zoom: Zoom) -> None:
    webinar = ACCOUNT.user_at(0).webinars[0]
    reply = zoom.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Inès", "email": "ines@example.com"})
    schema = rest_schema("POST /webinars/{webinarId}/registrants")
    assert reply.status_code == 201
    assert_valid(schema, reply.json())
    assert undeclared(schema, reply.json()) == []


def test_a_created_meeting_and_webinar_answer_as_specified_and_are_read_back(zoom: Zoom) -> None:
    zoom.hook("reset")
    host = ACCOUNT.user_at(0)
    for kind, body in (("meetings", {"topic": "Planning", "type": 2, "start_time": "2025-03-10T09:00:00Z",
                                     "duration": 45}),
                       ("webinars", {"topic": "Launch", "type": 5, "start_time": "2025-03-12T15:00:00Z",
                                     "duration": 60})):
        request_schema = rest_schema(f"POST /users/{{userId}}/{kind}.request")
        assert_valid(request_schema, body)
        reply = zoom.post(f"/users/{host.id}/{kind}", body)
        assert reply.status_code == 201, reply.text
        schema = rest_schema(f"POST /users/{{userId}}/{kind}")
        assert_valid(schema, reply.json())
        assert undeclared(schema, reply.json()) == [], kind
        created = reply.json()["id"]
        read = zoom.get(f"/{kind}/{created}").json()
        single = rest_schema(f"GET /{kind}/{{{kind[:-1]}Id}}")
        assert_valid(single, read)
        assert undeclared(single, read) == [], kind
        assert (read["topic"], read["start_time"], read["duration"]) == (body["topic"], body["start_time"],
                                                                         body["duration"])
        listed = zoom.get(f"/users/{host.id}/{kind}", page_size=300).json()[kind]
        assert created in [item["id"] for item in listed]
        assert created not in ACCOUNT.meeting_ids() + ACCOUNT.webinar_ids()
    no_plan = zoom.post(f"/users/{ACCOUNT.user_at(1).id}/webinars", {"topic": "No plan"})
    assert (no_plan.status_code, no_plan.json()["code"]) == (400, 200)
    bad = zoom.post(f"/users/{host.id}/meetings", {"type": 7, "password": "x" * 11})
    assert [e["field"] for e in bad.json()["errors"]] == ["type", "password"]


def test_a_user_creates_or_updates_at_most_so_many_meetings_and_webinars_a_day() -> None:
    zoom = start_zoom(user_daily_write_limit=2)  # Zoom's is 100 a day for one user
    try:
        host = ACCOUNT.user_at(0)
        replies = [zoom.post(f"/users/{host.id}/meetings", {"topic": "M"}),
                   zoom.post(f"/users/{host.id}/webinars", {"topic": "W"}),
                   zoom.post(f"/users/{host.id}/meetings", {"topic": "M"})]
        assert [r.status_code for r in replies] == [201, 201, 429]
        assert replies[2].json() == {"code": 429, "message": (
            "You have exceeded the daily rate limit (2) of Meeting Create/Update API requests permitted for this "
            "particular user. You may resume these requests at GMT 00:00:00.")}
        assert zoom.post(f"/users/{ACCOUNT.user_at(3).id}/meetings", {"topic": "M"}).status_code == 201
        zoom.hook("new-day")
        assert zoom.post(f"/users/{host.id}/meetings", {"topic": "M"}).status_code == 201
    finally:
        zoom.stop()


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_every_event_sent_is_valid_with_no_key_its_schema_lacks(kind: str) -> None:
    for index in range(3):
        event = build_event(ACCOUNT, kind, index)
        assert_valid(event_schema(kind), event)
        assert undeclared(event_schema(kind), event) == [], kind


def test_the_undeclared_check_sees_a_key_the_spec_lacks() -> None:
    schema = rest_schema("GET /webinars/{webinarId}")
    record = ACCOUNT.user_at(0).webinars[0].record()
    assert undeclared(schema, record) == []
    assert undeclared(schema, record | {"registration_url": "https://example.com/r"}) == ["$.registration_url"]
    assert undeclared(schema, record | {"settings": record["settings"] | {"x": 1}}) == ["$.settings.x"]


# -------------------------------------------------------------- meeting UUIDs and raw paths


def test_a_uuid_with_one_inner_slash_works_single_or_double_encoded(zoom: Zoom) -> None:
    meeting = next(m for m in ACCOUNT.all_meetings()
                   if m.past and "/" in m.uuid[1:] and not m.uuid.startswith("/") and "//" not in m.uuid)
    for encoded in (quote(meeting.uuid, safe=""), quote(quote(meeting.uuid, safe=""), safe="")):
        reply = zoom.get(f"/past_meetings/{encoded}/participants")
        assert reply.status_code == 200, (encoded, reply.text)
        assert [r["user_id"] for r in reply.json()["participants"]] == [r["user_id"] for r in meeting.participants]
        assert zoom.get(f"/past_meetings/{encoded}").json()["uuid"] == meeting.uuid


def test_a_uuid_that_begins_with_a_slash_or_holds_two_needs_double_encoding(zoom: Zoom) -> None:
    for meeting in (next(m for m in ACCOUNT.all_meetings() if m.past and m.uuid.startswith("/")),
                    next(m for m in ACCOUNT.all_meetings() if m.past and "//" in m.uuid)):
        once = zoom.get(f"/past_meetings/{quote(meeting.uuid, safe='')}")
        assert (once.status_code, once.json()["code"]) == (404, 3001)  # as Zoom's spec warns
        twice = zoom.get(f"/past_meetings/{quote(quote(meeting.uuid, safe=''), safe='')}")
        assert twice.json()["uuid"] == meeting.uuid


def test_a_trailing_slash_is_served_like_the_path_without_it(zoom: Zoom) -> None:
    user = ACCOUNT.user_at(1)
    assert zoom.get(f"/users/{user.id}/").json() == zoom.get(f"/users/{user.id}").json()
    assert [u["id"] for u in zoom.get("/users/").json()["users"]] == ACCOUNT.user_ids()


# ---------------------------------------------------------------------------------------- 429s


def test_a_per_second_429_is_zoom_documented_one_without_retry_after() -> None:
    documented = DOC_EXAMPLES["errors"]["rate_limit_qps"]
    zoom = start_zoom(rate_limit=1)
    try:
        limited = next(r for r in (zoom.get(f"/users/{ACCOUNT.user_ids()[0]}") for _ in range(50))
                       if r.status_code == 429)
    finally:
        zoom.stop()
    assert limited.json() == documented["body"]
    headers = {name: limited.headers.get(name) for name in documented["headers"]}
    assert headers == documented["headers"]  # Light, QPS
    assert "retry-after" not in limited.headers


def test_a_daily_429_is_zoom_documented_one_with_the_iso_time_it_resets() -> None:
    documented = DOC_EXAMPLES["errors"]["rate_limit_daily"]
    zoom = start_zoom(daily_limit=2)
    try:
        path = f"/report/webinars/{ACCOUNT.past_webinar_ids()[0]}"  # a Heavy endpoint, as in the example
        first, second, third = (zoom.get(path) for _ in range(3))
        assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
        assert first.headers["X-RateLimit-Remaining"] == "1" and first.headers["X-RateLimit-Limit"] == "2"
        assert zoom.get("/users").status_code == 200  # another label counts on its own
        zoom.hook("new-day")
        assert zoom.get(path).status_code == 200  # 00:00 UTC: the day's requests start again
    finally:
        zoom.stop()
    assert third.json() == documented["body"]
    assert set(documented["headers"]) <= set(third.headers.keys()) | {k for k in documented["headers"]
                                                                       if k.lower() in third.headers}
    assert (third.headers["X-RateLimit-Category"], third.headers["X-RateLimit-Type"],
            third.headers["X-RateLimit-Limit"], third.headers["X-RateLimit-Remaining"]) == ("Heavy", "Daily-limit",
                                                                                           "2", "0")
    reset = third.headers["Retry-After"]  # an ISO time, as documented: the next 00:00 UTC
    assert len(reset) == len(documented["headers"]["Retry-After"]) and reset.endswith("T00:00:00Z")


def test_a_registrant_is_registered_at_most_three_times_a_day(zoom: Zoom) -> None:
    zoom.hook("reset")
    webinar = ACCOUNT.user_at(0).webinars[0]
    body = {"first_name": "Noor", "email": "noor@example.com"}
    replies = [zoom.post(f"/webinars/{webinar.id}/registrants", body) for _ in range(4)]
    assert [r.status_code for r in replies] == [201, 201, 201, 429]
    assert replies[3].json() == {"code": 429, "message": (
        "You have exceeded the daily rate limit of (3) for Add a webinar registrant API requests for the "
        "registrant (noor@example.com). You can resume these API requests at GMT 00:00:00.")}
    other = zoom.post(f"/webinars/{webinar.id}/registrants", {"first_name": "Ravi", "email": "ravi@example.com"})
    assert other.status_code == 201  # the limit is per registrant
    zoom.hook("new-day")
    assert zoom.post(f"/webinars/{webinar.id}/registrants", body).status_code == 201


# -------------------------------------------------------------------------------------- paging


def test_page_size_bounds_are_each_endpoints_own(zoom: Zoom) -> None:
    zero = zoom.get("/users", page_size=0)
    assert (zero.status_code, zero.json()["code"], zero.json()["errors"][0]["field"]) == (400, 300, "page_size")
    assert zoom.get("/users", page_size=-1).status_code == 400
    assert zoom.get("/users", page_size=2500).json()["page_size"] == 2000  # the 2026 Users spec
    assert zoom.get("/phone/users", page_size=2500).json()["page_size"] == 100
    meetings = f"/users/{ACCOUNT.user_ids()[0]}/meetings"
    assert zoom.get(meetings, page_size=2500).json()["page_size"] == 300
    for route in ("GET /users", "GET /phone/users", "GET /users/{userId}/meetings"):
        assert INDEX.endpoints[route]["page_size_max"] in (2000, 100, 300)


def test_an_endpoint_that_pages_by_page_number_only_ignores_next_page_token(zoom: Zoom) -> None:
    host = ACCOUNT.user_at(0)
    path = f"/users/{host.id}/webinars"
    assert "next_page_token" not in INDEX.endpoints["GET /users/{userId}/webinars"]["query_params"]
    first = zoom.get(path, page_size=1).json()
    by_token = zoom.get(path, page_size=1, next_page_token=first["next_page_token"]).json()
    by_number = zoom.get(path, page_size=1, page_number=2).json()
    assert by_token["webinars"] == first["webinars"]  # an unknown parameter: page 1 again
    assert [w["id"] for w in first["webinars"] + by_number["webinars"]] == [w.id for w in host.webinars]
    assert (by_number["page_number"], by_number["page_count"]) == (2, 2)


def test_an_endpoint_that_pages_by_token_only_ignores_page_number(zoom: Zoom) -> None:
    meeting = ACCOUNT.user_at(0).meetings[0]
    path = f"/past_meetings/{meeting.id}/participants"
    assert "page_number" not in INDEX.endpoints["GET /past_meetings/{meetingId}/participants"]["query_params"]
    first = zoom.get(path, page_size=1).json()
    assert zoom.get(path, page_size=1, page_number=2).json()["participants"] == first["participants"]
    assert "page_number" not in first  # its spec declares no page_number in the answer


# ----------------------------------------------------------------------------- registration_url


def test_registration_url_comes_where_an_official_source_shows_it(zoom: Zoom) -> None:
    webinar = next(w for w in ACCOUNT.all_webinars() if w.registration_open)
    rest = zoom.get(f"/webinars/{webinar.id}").json()
    assert "registration_url" not in rest
    assert "registration_url" not in rest_schema("GET /webinars/{webinarId}")["properties"]
    updated = INDEX.event("webinar.updated")
    assert updated is not None and "registration_url" in updated.record_schema()["properties"]
    provenance = INDEX.provenance["sources"]["webhook-events.rivet-0.3.0.supplement.schema.json"]
    assert provenance["source_commit"].startswith("7309ea3") and "rivet" in provenance["source_repo"]
    event = next(build_event(ACCOUNT, "webinar.updated", i) for i in range(20)
                 if build_event(ACCOUNT, "webinar.updated", i)["payload"]["object"]["id"] == webinar.id)
    assert event["payload"]["object"]["registration_url"] == webinar.registration_url


# ----------------------------------------------------------------------------------- the command


def test_the_command_takes_daily_limit_and_latency_ms() -> None:
    code = "from engine.cli.emulator_zoom import zoom_command; zoom_command()"
    args = [sys.executable, "-c", code, "--users", "2", "--daily-limit", "1", "--latency-ms", "1",
            "--webhook-events", "0"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        token = httpx.post(f"{url}/oauth/token", data={"grant_type": "account_credentials", "account_id": "demo"},
                           auth=("demo", "demo")).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        first, second = (httpx.get(f"{url}/v2/users", headers=headers) for _ in range(2))
        assert (first.status_code, second.status_code) == (200, 429)
        assert second.headers["X-RateLimit-Type"] == "Daily-limit"
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
