"""The default mappings that need additions, switched on: webinars as Campaigns, their registrants and attendees
as CampaignMembers (no external id: found by match, never doubled), and cloud recordings with their meeting.

Real sockets: the Zoom emulator and the Salesforce emulator (an org with the additions deployed), the CLI
through click's runner.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.validate.mapping_set import load_mapping_set
from engine.zoom.scopes import mapping_operations
from tests.helpers import Emulated, copy_mappings, enable, replace_once


def sync(mappings: Path, state: Path, *entities: str) -> Result:
    return CliRunner().invoke(cli, ["sync", *entities, "--mappings", str(mappings), "--state", str(state),
                                    "--summary", "json"])


def counts(result: Result, entity: str) -> dict[str, int]:
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)["entities"][entity])


# ---- campaign members ------------------------------------------------------------------------------------


def people_of(world: Emulated) -> dict[tuple[str, str], str]:
    """(webinar id, e-mail) -> the status its member should have: Registered, Attended when they attended."""
    wanted: dict[tuple[str, str], str] = {}
    for webinar in world.account.all_webinars():
        for registrant in webinar.registrants:
            if registrant["status"] == "approved":
                wanted[(str(webinar.id), registrant["email"].lower())] = "Registered"
        for attendee in webinar.attendees:
            if attendee["user_email"]:
                wanted[(str(webinar.id), attendee["user_email"].lower())] = "Attended"
    return wanted


def seed(world: Emulated, emails: list[str]) -> tuple[set[str], set[str]]:
    """Contacts for a third of the people, Leads for another third (one of whom is a Contact too), none for the rest."""
    contacts, leads = set(emails[0::3]), set(emails[1::3]) | {emails[0]}
    for n, email in enumerate(sorted(contacts)):
        assert world.org.create("Contact", {"LastName": f"Contact {n}", "Email": email}).success
    for n, email in enumerate(sorted(leads)):
        assert world.org.create("Lead", {"LastName": f"Lead {n}", "Company": "ACME", "Email": email}).success
    return contacts, leads


def members(world: Emulated) -> list[tuple[str, str, str, str]]:
    """(webinar id, e-mail, Contact or Lead, status) of every CampaignMember in the org."""
    org = world.org
    webinar_of = {c["Id"]: c.get("Zoom_Webinar_Id__c") for c in org.records("Campaign")}
    email_of = {r["Id"]: (r["Email"].lower(), kind) for kind in ("Contact", "Lead") for r in org.records(kind)}
    found = []
    for member in org.records("CampaignMember"):
        person = member.get("ContactId") or member.get("LeadId")
        email, kind = email_of[person]
        found.append((str(webinar_of[member["CampaignId"]]), email, kind, str(member["Status"])))
    return sorted(found)


def test_registrants_and_attendees_become_campaign_members_once(emulated: Emulated, tmp_path: Path) -> None:
    world = emulated
    wanted = people_of(world)
    assert "Attended" in wanted.values() and "Registered" in wanted.values()
    contacts, leads = seed(world, sorted({email for _, email in wanted}))
    mappings = copy_mappings(tmp_path)
    enable(mappings, "campaigns", "campaign_members")
    first = sync(mappings, tmp_path / "state.db", "campaign_members")
    member_counts = counts(first, "campaign_members")
    assert counts(first, "campaigns")["written"] == len(list(world.account.all_webinars()))
    expected = sorted((webinar, email, "Contact" if email in contacts else "Lead", status)
                      for (webinar, email), status in wanted.items() if email in contacts | leads)
    assert members(world) == expected, "a Contact when there is one, else a Lead; Attended over Registered"
    assert member_counts["written"] == len(expected) and member_counts["failed"] == 0
    without = [key for key in wanted if key[1] not in contacts | leads]
    assert without, "some people have neither a Contact nor a Lead"
    assert "skipped" in first.stderr, "the text summary on standard error says how many were skipped"
    again = sync(mappings, tmp_path / "state.db", "campaign_members")
    assert counts(again, "campaign_members")["written"] == 0
    fresh = sync(mappings, tmp_path / "other-state.db", "campaign_members")  # no hashes: found by SOQL, updated
    assert counts(fresh, "campaign_members")["written"] == len(expected)
    assert members(world) == expected, "no duplicate on a rerun, with or without the state"


def test_a_link_that_rejects_the_unmatched_files_a_dead_letter(emulated: Emulated, tmp_path: Path) -> None:
    mappings = copy_mappings(tmp_path)
    enable(mappings, "campaigns", "campaign_members")
    replace_once(mappings / "campaign_members.yaml", "    on_unmatched: skip                 # neither",
                 "    on_unmatched: reject               # neither")
    result = CliRunner().invoke(cli, ["sync", "campaign_members", "--mappings", str(mappings), "--state",
                                      str(tmp_path / "state.db")])
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("zoomforce: failed: campaign_members")]
    assert failures and all(": LINK_UNMATCHED: no Lead with Email = " in line or "no value to look up a Lead" in line
                            for line in failures[:20])
    assert emulated.org.records("CampaignMember") == []
    with sqlite3.connect(tmp_path / "state.db") as db:
        codes = {row[0] for row in db.execute("SELECT code FROM dead_letters WHERE entity = 'campaign_members'")}
    assert codes == {"LINK_UNMATCHED"}


def test_members_of_campaigns_the_org_has_not_got_are_refused_by_validate(tmp_path: Path) -> None:
    mappings = copy_mappings(tmp_path)
    enable(mappings, "campaign_members")  # its link's entity, campaigns, stays off
    result = CliRunner().invoke(cli, ["validate", str(mappings), "--format", "json"])
    assert result.exit_code == 1
    (error,) = [e for e in json.loads(result.stdout)["errors"] if e["severity"] == "error"]
    assert error["file"].endswith("campaign_members.yaml") and error["path"] == "links[0].entity"
    assert "entity 'campaigns' is disabled" in error["message"]


# ---- recordings ----------------------------------------------------------------------------------------------


def test_recordings_land_with_their_meeting_and_their_passcodes_stay_out_of_the_state(
        emulated: Emulated, tmp_path: Path) -> None:
    world = emulated
    mappings = copy_mappings(tmp_path)
    enable(mappings, "recordings")
    result = sync(mappings, tmp_path / "state.db", "recordings")
    files = [f for m in world.account.all_meetings() if m.recorded for f in m.recording_files]
    assert counts(result, "recordings") == {"read": len(files), "written": len(files), "unchanged": 0, "failed": 0}
    rows = {r["Recording_File_Id__c"]: r for r in world.org.records("Zoom_Recording__c")}
    assert set(rows) == {f["id"] for f in files}
    events = {r["Id"]: r["zoom_app__Zoom_Meeting_Id__c"] for r in world.org.records("zoom_app__Zoom_Event__c")}
    for meeting in (m for m in world.account.all_meetings() if m.recorded):
        for file in meeting.recording_files:
            row = rows[file["id"]]
            assert events[row["Zoom_Event__c"]] == str(meeting.id), "related to its meeting's Zoom event"
            assert (row["Recording_Type__c"], row["File_Type__c"], row["Meeting_UUID__c"]) == (
                file["recording_type"], file["file_type"], meeting.uuid)
            assert row.get("Play_Url__c") == file.get("play_url"), "the play link is written in clear to Salesforce"
    passcodes = [f["play_url"].split("?pwd=")[1] for f in files if "?pwd=" in f.get("play_url", "")]
    assert passcodes
    state = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    for passcode in passcodes:
        assert passcode.encode() not in state and passcode not in result.output


def test_map_recordings_maps_a_list_recordings_response(emulated: Emulated, tmp_path: Path) -> None:
    world = emulated
    user = next(u for u in world.account.all_users() if any(m.recorded for m in u.meetings))
    response: dict[str, Any] = {"from": "2026-01-01", "to": "2026-01-31", "page_size": 30, "total_records": 1,
                                "next_page_token": "", "meetings": [m.recording_record() for m in user.meetings
                                                                    if m.recorded]}
    mapped = CliRunner().invoke(cli, ["map", "recordings"], input=json.dumps(response))
    assert mapped.exit_code == 0, mapped.output
    lines = [json.loads(line) for line in mapped.stdout.splitlines()]
    files = [(m, f) for m in response["meetings"] for f in m["recording_files"]]
    assert len(lines) == len(files)
    for line, (meeting, file) in zip(lines, files, strict=True):
        assert line["object"] == "Zoom_Recording__c" and line["upsert_key"] == {"Recording_File_Id__c": file["id"]}
        assert line["record"]["Zoom_Event__r"] == {"zoom_app__Zoom_Meeting_Id__c": str(meeting["id"])}
        play = file.get("play_url")
        shown = line["record"].get("Play_Url__c")
        assert shown == (play.split("?pwd=")[0] + "?pwd=***" if play and "?pwd=" in play else play), \
            "the play link's passcode is masked, the link itself kept"


# ---- the disclosure ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "title", "play"), [("en", "After the meeting", "Link to play the recording"),
                                                         ("fr", "Après la réunion", "Lien pour lire l’enregistrement")])
def test_recordings_are_disclosed_in_the_after_meeting_section(tmp_path: Path, language: str, title: str,
                                                               play: str) -> None:
    mappings = copy_mappings(tmp_path)
    enable(mappings, "recordings", "campaigns", "campaign_members")
    result = CliRunner().invoke(cli, ["disclose", "--mappings", str(mappings), "--lang", language, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (section,) = [s for s in document["sections"] if "recordings" in [e["name"] for e in s["entities"]]]
    assert section["title"] == title and [e["name"] for e in section["entities"]] == ["past_meetings", "recordings"]
    items = {i["target"]["field"]: i for i in section["items"] if i["target"]["object"] == "Zoom_Recording__c"}
    assert set(items) == {"Recording_File_Id__c", "Meeting_UUID__c", "Recording_Start__c", "Recording_End__c",
                          "Play_Url__c", "Recording_Type__c", "File_Type__c"}
    assert items["Play_Url__c"]["label"] == play and items["Play_Url__c"]["secret"] is False
    assert items["Play_Url__c"]["credential_link"] is True, "a link whose passcode is kept out of logs"
    assert "cloud_recording:read:list_user_recordings:admin" in json.dumps(document)
    members = load_mapping_set([mappings]).get("campaign_members")
    assert sorted(o.name for o in mapping_operations(members)) == [
        "GET /report/webinars/{webinarId}/participants", "GET /webinars/{webinarId}/registrants"], "every listing"
