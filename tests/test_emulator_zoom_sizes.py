"""The Zoom emulator's account sizes: ``--meetings-per-user``, ``--calls-per-user``,
``--webinars-per-user``, ``--registrants-per-webinar`` and ``--attendees-per-webinar``.

A sized account holds exactly the records asked for, every id still decodes back to its owner and
stays unique, every answer stays valid against Zoom's official schemas with no key they lack, and
leaving the sizes out keeps the default account record for record.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from engine.emulators.zoom.data import Account, Sizes
from tests.test_emulator_zoom import NOW, Zoom, assert_valid, rest_schema, start_zoom
from tests.test_fidelity_zoom import pages, undeclared

SIZES = {"meetings_per_user": 5, "calls_per_user": 7, "webinars_per_user": 3, "registrants_per_webinar": 70,
         "attendees_per_webinar": 66}  # 66 attendees: more rows than the default participant id stride holds


@pytest.fixture(scope="module")
def zoom() -> Iterator[Zoom]:
    running = start_zoom(users=4, **SIZES)
    yield running
    running.stop()


def test_a_sized_account_holds_exactly_what_was_asked() -> None:
    account = Account(users=4, seed=1, now=NOW, sizes=Sizes(**SIZES))
    counts = account.counts()
    webinars = list(account.all_webinars())
    open_webinars = sum(1 for w in webinars if w.registration_open)
    rejoins = sum(1 for w in webinars if w.past and w.ordinal % 4 == 0)
    assert (counts["meetings"], counts["past_meetings"], counts["upcoming_meetings"]) == (20, 16, 4)
    assert counts["calls"] == 7 * counts["phone_users"] == 7 * 3  # user 3 has no Zoom Phone
    assert (counts["webinars"], counts["past_webinars"]) == (12, 8)
    assert counts["registrants"] == 70 * open_webinars and 0 < open_webinars < 12
    assert counts["webinar_participants"] == 66 * 8 + rejoins


def test_every_id_of_a_sized_account_is_unique_and_decodes_to_its_owner() -> None:
    account = Account(users=4, seed=1, now=NOW, sizes=Sizes(**SIZES))
    meetings, webinars = list(account.all_meetings()), list(account.all_webinars())
    assert len({m.id for m in meetings} | {w.id for w in webinars}) == len(meetings) + len(webinars)
    assert all(account.find_meeting(str(m.id)) is m for m in meetings)
    assert all(account.find_webinar(str(w.id)) is w for w in webinars)
    assert account.find_webinar(str(meetings[0].id)) is None and account.find_meeting(str(webinars[0].id)) is None
    rows = [row["user_id"] for m in meetings for row in m.participants]
    rows += [row["user_id"] for w in webinars for row in w.attendees]
    assert len(rows) == len(set(rows))


def test_unset_sizes_keep_the_default_account_record_for_record() -> None:
    default, unset = Account(users=10, seed=1, now=NOW), Account(users=10, seed=1, now=NOW, sizes=Sizes())
    assert default.counts() == unset.counts()
    assert [m.record() for m in default.all_meetings()] == [m.record() for m in unset.all_meetings()]
    assert ([w.attendees for w in default.all_webinars()] == [w.attendees for w in unset.all_webinars()])
    assert default.calls() == unset.calls()
    only_meetings = Account(users=10, seed=1, now=NOW, sizes=Sizes(meetings_per_user=3))
    assert [w.registrants for w in only_meetings.all_webinars()] == [w.registrants for w in default.all_webinars()]


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="calls_per_user"):
        Sizes(calls_per_user=-1)


def sized_cases(account: Account) -> list[tuple[str, str, dict[str, Any]]]:
    host = account.user_at(0)
    past = host.meetings[0]
    webinar = next(w for w in host.webinars if w.past and w.registration_open)
    window = {"from": (NOW - timedelta(days=30)).date().isoformat(), "to": NOW.date().isoformat()}
    return [
        ("GET /users/{userId}/meetings", f"/users/{host.id}/meetings", {"page_size": 300}),
        ("GET /users/{userId}/webinars", f"/users/{host.id}/webinars", {"page_size": 300}),
        ("GET /phone/call_history", "/phone/call_history", window | {"page_size": 300}),
        ("GET /past_meetings/{meetingId}/participants", f"/past_meetings/{past.id}/participants", {"page_size": 300}),
        ("GET /webinars/{webinarId}", f"/webinars/{webinar.id}", {}),
        ("GET /webinars/{webinarId}/registrants", f"/webinars/{webinar.id}/registrants", {"page_size": 30}),
        ("GET /report/webinars/{webinarId}", f"/report/webinars/{webinar.id}", {}),
        ("GET /report/webinars/{webinarId}/participants", f"/report/webinars/{webinar.id}/participants",
         {"page_size": 30, "include_fields": "registrant_id"}),
        ("GET /users/{userId}/recordings", f"/users/{host.id}/recordings", window | {"page_size": 300}),
    ]


def test_a_sized_account_is_served_valid_with_no_key_the_spec_lacks(zoom: Zoom) -> None:
    account = zoom.app.state.account
    counted: dict[str, int] = {}
    for route, path, query in sized_cases(account):
        schema = rest_schema(route)
        bodies = pages(zoom, route, path, query)
        for body in bodies:
            assert_valid(schema, body)
            assert undeclared(schema, body) == [], route
        counted[route] = sum(len(b.get(key, ())) for b in bodies for key in
                             ("meetings", "webinars", "call_logs", "participants", "registrants"))
    assert counted["GET /users/{userId}/meetings"] == 5
    assert counted["GET /users/{userId}/webinars"] == 3
    assert counted["GET /webinars/{webinarId}/registrants"] == sum(
        1 for r in account.user_at(0).webinars[0].registrants if r["status"] == "approved")
    assert counted["GET /report/webinars/{webinarId}/participants"] >= 66


def test_the_command_takes_the_sizes_and_refuses_a_negative_one() -> None:
    code = "from engine.cli.emulator_zoom import zoom_command; zoom_command()"
    args = [sys.executable, "-c", code, "--users", "2", "--meetings-per-user", "6", "--calls-per-user", "1",
            "--webinars-per-user", "2", "--registrants-per-webinar", "9", "--attendees-per-webinar", "4",
            "--webhook-events", "0"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        token = httpx.post(f"{url}/oauth/token", data={"grant_type": "account_credentials", "account_id": "demo"},
                           auth=("demo", "demo")).json()["access_token"]
        user = Account(users=2).user_at(1)
        listed = httpx.get(f"{url}/v2/users/{user.id}/meetings", params={"page_size": 300},
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert listed["total_records"] == 6
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
    refused = subprocess.run([*args[:3], "--calls-per-user", "-1"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--calls-per-user" in refused.stderr
