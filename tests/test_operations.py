"""Running zoomforce unattended, as a scheduler runs it: the command line in real subprocesses
(``python -m engine``) against the Zoom and Salesforce emulators over real sockets.

What an operator relies on, checked: a dry run of any kind leaves the emulators and the state byte
for byte as they were; a state reused against another org refuses and ``--full-refresh --rebind``
rewrites everything; a second run on a busy state exits 3 at once and a run after a SIGKILL
proceeds; the dead letters can be listed, shown, retried, discarded and purged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.zoom.app import ZoomEmulatorConfig
from engine.sync.state.lock import FileRunLock
from engine.sync.state.store import StateStore
from tests.helpers import ORG_WITH_ADDITIONS, copy_mappings, wait_until
from tests.test_cli_sync import LineReader, Run
from tests.test_sync import OBJECTS, World, _break_meeting_topics, _servers, _stop, records

ZOOMFORCE = [sys.executable, "-m", "engine"]
RUN_TIMEOUT = 120.0
# Salesforce emulator routes that only read: a dry run may call these and nothing else.
READ_ROUTES = {"oauth_token", "userinfo", "versions", "resources", "limits", "describe_global", "sobject",
               "describe", "record", "record_by_key", "query", "query_more"}


def zoomforce(world: World, *args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    done = subprocess.run([*ZOOMFORCE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or cli_env(world), timeout=RUN_TIMEOUT)
    return Run(list(args), done.returncode, done.stdout, done.stderr)


def cli_env(world: World, **changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in world.env().items() if not k.startswith("ZOOMFORCE_")}
    env["SSL_CERT_FILE"] = world.ca_file
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def state_files(path: Path) -> dict[str, str]:
    """The state database and everything beside it that bears its name (journal, lock), as digests."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.glob(path.name + "*"))}


def emulators_state(world: World) -> str:
    """Everything the emulators hold that a write could change: the org's records, Zoom's registrants."""
    org = world.salesforce.app.state.store.records_by_object()
    zoom = world.zoom.app.state.emulator
    posted = {str(w): zoom.registrations.of(w) for w in world.account.webinar_ids()}
    return json.dumps({"salesforce": org, "zoom_registrants": posted}, sort_keys=True, default=str)


def write_routes(world: World, before_sf: dict[str, Any], before_zoom: dict[str, Any]) -> list[str]:
    """The routes called since the `before` stats that can write: Salesforce's non-read ones, Zoom's POSTs."""
    sf = world.salesforce.stats()["routes"]
    zoom = world.zoom.stats()["requests"]
    touched = [route for route, statuses in sf.items() if statuses != before_sf.get(route) and route not in READ_ROUTES]
    touched += [route for route, statuses in zoom.items()
                if statuses != before_zoom.get(route) and not route.startswith("GET ")
                and route not in ("POST /oauth/token", "unknown")]  # unknown: a 404, nothing kept
    return touched


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = _servers(ZoomEmulatorConfig(users=3),
                     SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS), tmp_path_factory.mktemp("ops-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", built.ca_file)
        yield built
    _stop(built)


@dataclass
class Prepared:
    """A state after a sync whose meeting topics Salesforce rejected: it holds hashes, cursors, dead letters."""

    state: Path
    workdir: Path
    fixed: Path  # the default mappings: what the retries map with
    webinar: str
    letters: list[int]


@pytest.fixture(scope="module")
def prepared(world: World, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    workdir = tmp_path_factory.mktemp("ops")
    world.salesforce.post("reset")
    broken = copy_mappings(workdir / "broken")
    _break_meeting_topics(broken)
    fixed = copy_mappings(workdir / "fixed")
    state = workdir / "state" / "zoomforce.db"
    state.parent.mkdir()
    run = zoomforce(world, "sync", "--state", str(state), "--mappings", str(broken), cwd=workdir)
    assert run.returncode == 1, run.stderr  # the meetings failed: dead letters
    world.salesforce.app.state.store.create("Contact", {"FirstName": "Ada", "LastName": "L", "Email": "ada@x.org"})
    webinar = str(next(w for w in world.account.webinar_ids() if world.account.find_webinar(str(w)).registration_open))
    with StateStore.open(state) as store:
        letters = [d.id for d in store.dead_letters.find("meetings")]
    assert len(letters) == len(world.account.meeting_ids())
    return Prepared(state, workdir, fixed, webinar, letters)


# ---- 1. a dry run never writes -------------------------------------------------------------------------


DRY_RUNS: dict[str, list[str]] = {
    "sync": ["sync", "--dry-run"],
    "summary json": ["sync", "--dry-run", "--summary", "json"],
    "entities and window": ["sync", "meetings", "calls", "--dry-run", "--since", "2020-01-01", "--until", "2030-01-01"],
    "retry dead letters": ["sync", "--dry-run", "--retry-dead-letters", "--mappings", "{fixed}"],
    "full refresh": ["sync", "--dry-run", "--full-refresh", "--bulk-threshold", "1", "--wait", "5"],
    "full refresh rebind reset cursors": ["sync", "--dry-run", "--full-refresh", "--rebind", "--reset-cursors"],
    "reverse flow": ["sync", "registrations", "--webinar", "{webinar}", "--dry-run"],
    "json logs and metrics": ["sync", "--dry-run", "--log-format", "json", "--metrics-file", "{workdir}/dry.prom"],
    "dead-letters retry": ["dead-letters", "retry", "--dry-run", "--mappings", "{fixed}"],
    "dead-letters retry one": ["dead-letters", "retry", "{letter}", "--dry-run", "--mappings", "{fixed}"],
    "dead-letters list and show": ["dead-letters", "show", "{letter}"],
    "without Salesforce": ["sync", "--dry-run"],
}


@pytest.mark.parametrize("case", list(DRY_RUNS))
def test_a_dry_run_of_any_kind_leaves_the_emulators_and_the_state_byte_for_byte(
    world: World, prepared: Prepared, case: str
) -> None:
    args = [a.format(fixed=prepared.fixed, webinar=prepared.webinar, letter=prepared.letters[0],
                     workdir=prepared.workdir) for a in DRY_RUNS[case]]
    env = cli_env(world, SF_INSTANCE_URL=None, SF_CLIENT_ID=None, SF_CLIENT_SECRET=None) \
        if case == "without Salesforce" else None
    files, held = state_files(prepared.state), emulators_state(world)
    sf_stats, zoom_stats = world.salesforce.stats()["routes"], world.zoom.stats()["requests"]

    run = zoomforce(world, *args, "--state", str(prepared.state), cwd=prepared.workdir, env=env)

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert state_files(prepared.state) == files, "the dry run changed the state"
    assert emulators_state(world) == held, "the dry run changed Salesforce or Zoom"
    assert write_routes(world, sf_stats, zoom_stats) == []
    if case.startswith("retry dead letters") or case == "dead-letters retry":
        plan = run.stdout.splitlines()
        for meeting in world.account.meeting_ids():
            assert f"would create meetings {meeting}" in plan, plan[:5]
        assert any(re.fullmatch(r'    zoom_app__Meeting_Topic__c: null -> ".+"', line) for line in plan)
        assert "meetings: read" in run.stdout


def test_a_dry_run_on_a_state_that_does_not_exist_creates_nothing(world: World, tmp_path: Path) -> None:
    run = zoomforce(world, "sync", "meetings", "--dry-run", "--state", str(tmp_path / "new.db"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "would create meetings" in run.stdout
    assert list(tmp_path.iterdir()) == []


# ---- 2. the state is bound to its org ----------------------------------------------------------------


def test_a_state_reused_against_another_org_refuses_and_full_refresh_rebind_rewrites_everything(
    world: World, tmp_path: Path
) -> None:
    world.salesforce.post("reset")
    state = tmp_path / "bound.db"
    first = zoomforce(world, "sync", "--state", str(state), "--summary", "json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    written = {name: c["written"] for name, c in json.loads(first.stdout)["entities"].items()}
    with StateStore.open(state) as store:
        old_org = store.binding.get()["salesforce_org"]
        cursor = store.cursors.get("calls")
        assert store.binding.get()["zoom_account"] == "demo" and old_org.startswith("00D")
    new_org = world.salesforce.post("refresh-sandbox")["org_id"]  # a fresh, empty org with another id
    files = state_files(state)

    refused = zoomforce(world, "sync", "--state", str(state), cwd=tmp_path)

    assert refused.returncode == 2, refused.stderr
    assert refused.stdout == "" and len(refused.error_lines) == 1, refused.stderr
    (line,) = refused.error_lines
    assert old_org in line and new_org in line and "--full-refresh --rebind" in line
    assert {k: v for k, v in state_files(state).items() if not k.endswith(".lock")} == \
        {k: v for k, v in files.items() if not k.endswith(".lock")}
    assert world.salesforce.app.state.store.records_by_object() == {}, "nothing was written to the new org"

    usage = zoomforce(world, "sync", "--rebind", "--state", str(state), cwd=tmp_path)
    assert usage.returncode == 2 and "--rebind goes with --full-refresh" in usage.stderr

    rebound = zoomforce(world, "sync", "--full-refresh", "--rebind", "--state", str(state), "--summary", "json",
                        cwd=tmp_path)
    assert rebound.returncode == 0, rebound.stderr
    again = {name: c["written"] for name, c in json.loads(rebound.stdout)["entities"].items()}
    assert again == written, "every record was written to the refreshed org"
    for entity in ("users", "webinars", "registrants", "panelists"):
        assert len(records(world, OBJECTS[entity])) == written[entity], entity
    with StateStore.open(state) as store:
        assert store.binding.get()["salesforce_org"] == new_org
        assert store.cursors.get("calls") == cursor, "read again from the start, the cursor is where it was"
    after = zoomforce(world, "sync", "--state", str(state), "--summary", "json", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert all(c["written"] == 0 for c in json.loads(after.stdout)["entities"].values())


def test_full_refresh_rewrites_what_an_admin_changed_and_keeps_cursors_and_dead_letters(
    world: World, tmp_path: Path
) -> None:
    world.salesforce.post("reset")
    state = tmp_path / "refresh.db"
    assert zoomforce(world, "sync", "webinars", "calls", "--state", str(state), cwd=tmp_path).returncode == 0
    org = world.salesforce.app.state.store
    (webinar, *_) = org.records(OBJECTS["webinars"])
    org.update(OBJECTS["webinars"], webinar["Id"], {"zoom_app__Topic__c": "edited by an admin"})
    with StateStore.open(state) as store:
        cursor = store.cursors.get("calls")
        store.dead_letters.add("webinars", "kept", "X", "kept", {}, None, secret_fields=())

    plain = zoomforce(world, "sync", "webinars", "--state", str(state), "--summary", "json", cwd=tmp_path)
    assert json.loads(plain.stdout)["entities"]["webinars"]["written"] == 0  # the hash hides the edit
    refreshed = zoomforce(world, "sync", "webinars", "--full-refresh", "--state", str(state), "--summary", "json",
                          cwd=tmp_path)

    assert refreshed.returncode == 0, refreshed.stderr
    counts = json.loads(refreshed.stdout)["entities"]["webinars"]
    assert counts["written"] == counts["read"] == len(world.account.webinar_ids())
    topics = {r["zoom_app__Topic__c"] for r in org.records(OBJECTS["webinars"])}
    assert "edited by an admin" not in topics
    with StateStore.open(state) as store:
        assert store.cursors.get("calls") == cursor
        assert [d.key for d in store.dead_letters.find("webinars")] == ["kept"]


# ---- 3. one run at a time ----------------------------------------------------------------------------


def test_a_second_sync_on_a_busy_state_exits_3_at_once_naming_the_holder(world: World, tmp_path: Path) -> None:
    state = tmp_path / "busy.db"
    StateStore.open(state).close()
    holder = FileRunLock(str(state), "sync users")
    holder.acquire()
    try:
        files = state_files(state)
        run = zoomforce(world, "sync", "--state", str(state), cwd=tmp_path)
        assert run.returncode == 3, run.stderr
        assert run.stdout == "" and len(run.error_lines) == 1, run.stderr
        line = run.error_lines[0]
        assert line.startswith(f"zoomforce: error: state database {state} is in use by another run (pid {os.getpid()}")
        assert re.search(r"started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(sync users\)", line), line
        assert state_files(state) == files
        stats = world.zoom.stats()["requests"]
        assert world.zoom.stats()["requests"] == stats
    finally:
        holder.release()


def test_a_waiting_sync_starts_when_the_holder_ends(world: World, tmp_path: Path) -> None:
    state = tmp_path / "wait.db"
    holder = FileRunLock(str(state), "sync")
    holder.acquire()
    waiting = subprocess.Popen([*ZOOMFORCE, "sync", "users", "--state", str(state), "--wait", "120"], cwd=tmp_path,
                               env=cli_env(world), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert waiting.stderr is not None
        lines = LineReader(waiting.stderr)
        line = lines.next(60)
        expected = f"zoomforce: info: state database {state} is in use by another run (pid {os.getpid()}"
        assert line.startswith(expected), line
        assert line.endswith("; waiting up to 120 s"), line
        holder.release()
        out, _ = waiting.communicate(timeout=RUN_TIMEOUT)
        assert waiting.returncode == 0, lines.rest()
        assert "users: read" in out
    finally:
        holder.release()
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()


def test_a_run_killed_with_sigkill_leaves_no_stale_lock(tmp_path: Path) -> None:
    # A rate-limited Zoom slows the first run down so that it is killed while it holds the lock.
    slow = _servers(ZoomEmulatorConfig(users=3, rate_limit=4),
                    SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS), tmp_path / "tls")
    state = tmp_path / "killed.db"
    try:
        env = cli_env(slow) | {"REQUESTS_CA_BUNDLE": slow.ca_file}
        first = subprocess.Popen([*ZOOMFORCE, "sync", "--state", str(state)], cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = FileRunLock(str(state), "probe")
        wait_until(lambda: (h := lock.holder()) is not None and h.pid == first.pid, "the first run's lock", 60)
        assert first.poll() is None, "the first run ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = zoomforce(slow, "sync", "users", "--state", str(state), cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        with StateStore.open(state) as store:
            statuses = [r.status for r in store.runs.recent()]
            assert statuses[0] == "ok" and "running" not in statuses, statuses
    finally:
        _stop(slow)


# ---- 4. dead letters, as a command group ---------------------------------------------------------------


def test_dead_letters_can_be_listed_shown_retried_discarded_and_purged(world: World, tmp_path: Path) -> None:
    world.salesforce.post("reset")
    broken = copy_mappings(tmp_path / "broken")
    _break_meeting_topics(broken)
    state = tmp_path / "letters.db"
    failed = zoomforce(world, "sync", "meetings", "--mappings", str(broken), "--state", str(state), cwd=tmp_path)
    assert failed.returncode == 1

    listed = zoomforce(world, "dead-letters", "list", "--format", "json", "--state", str(state), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    letters = json.loads(listed.stdout)["dead_letters"]
    meetings = {str(m) for m in world.account.meeting_ids()}
    assert {d["key"] for d in letters} == meetings
    assert {(d["entity"], d["code"], d["status"], d["attempts"]) for d in letters} == {
        ("meetings", "STRING_TOO_LONG", "open", 1)}
    assert all("record" not in d for d in letters)

    text = zoomforce(world, "dead-letters", "list", "--code", "STRING_TOO_LONG", "--state", str(state), cwd=tmp_path)
    assert text.stdout.splitlines()[0].split()[:5] == ["ID", "STATUS", "ENTITY", "KEY", "CODE"]
    assert len(text.stdout.splitlines()) == len(meetings) + 1
    none = zoomforce(world, "dead-letters", "list", "--entity", "calls", "--format", "json", "--state", str(state),
                     cwd=tmp_path)
    assert json.loads(none.stdout) == {"dead_letters": [], "count": 0}

    first = letters[0]["id"]
    shown = zoomforce(world, "dead-letters", "show", str(first), "--state", str(state), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"dead letter {first}: open" in shown.stdout and "STRING_TOO_LONG" in shown.stdout
    assert '"password": "***"' in shown.stdout and '"zoom_app__Zoom_Meeting_Password__c": "***"' in shown.stdout
    meeting = world.account.find_meeting(letters[0]["key"])
    assert meeting is not None and meeting.password not in shown.stdout and meeting.zak not in shown.stdout
    detail = json.loads(zoomforce(world, "dead-letters", "show", str(first), "--format", "json", "--state",
                                  str(state), cwd=tmp_path).stdout)
    assert [a["code"] for a in detail["history"]] == ["STRING_TOO_LONG"]
    assert detail["record"]["source"]["id"] == meeting.id
    missing = zoomforce(world, "dead-letters", "show", "99999", "--state", str(state), cwd=tmp_path)
    assert missing.returncode == 2 and missing.error_lines == [
        f"zoomforce: error: no dead letter 99999 in state database {state} (see `zoomforce dead-letters list`)"]

    discarded = zoomforce(world, "dead-letters", "discard", str(first), "--reason", "a test meeting",
                          "--state", str(state), cwd=tmp_path)
    assert discarded.returncode == 0 and discarded.stdout.startswith(f"discarded dead letter {first} (meetings ")
    again = zoomforce(world, "dead-letters", "discard", str(first), "--reason", "twice", "--state", str(state),
                      cwd=tmp_path)
    assert again.returncode == 2 and "is discarded, not open" in again.stderr
    no_reason = zoomforce(world, "dead-letters", "discard", str(first), "--state", str(state), cwd=tmp_path)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr

    retried = zoomforce(world, "dead-letters", "retry", "--summary", "json", "--state", str(state), cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["entities"]["meetings"]["written"] == len(meetings) - 1
    states = json.loads(zoomforce(world, "dead-letters", "list", "--status", "all", "--format", "json", "--state",
                                  str(state), cwd=tmp_path).stdout)["dead_letters"]
    assert sorted(d["status"] for d in states) == ["discarded"] + ["resolved"] * (len(meetings) - 1)
    assert next(d for d in states if d["id"] == first)["discard_reason"] == "a test meeting"
    written = {str(r["zoom_app__Zoom_Meeting_Id__c"]) for r in records(world, OBJECTS["meetings"],
                                                                       "zoom_app__Zoom_Meeting_Id__c")}
    assert written == meetings - {letters[0]["key"]}
    nothing = zoomforce(world, "dead-letters", "retry", "--state", str(state), cwd=tmp_path)
    assert nothing.returncode == 0 and "no open dead letter to retry" in nothing.stderr

    kept = zoomforce(world, "dead-letters", "purge", "--older-than", "30", "--state", str(state), cwd=tmp_path)
    assert kept.returncode == 0 and kept.stdout.startswith("purged 0 dead letter(s)")
    purged = zoomforce(world, "dead-letters", "purge", "--older-than", "0", "--state", str(state), cwd=tmp_path)
    assert purged.stdout.startswith(f"purged {len(meetings)} dead letter(s)")


def test_retrying_a_letter_that_still_fails_keeps_it_open_and_counts_the_attempt(world: World, tmp_path: Path) -> None:
    world.salesforce.post("reset")
    broken = copy_mappings(tmp_path / "broken")
    _break_meeting_topics(broken)
    state = tmp_path / "again.db"
    zoomforce(world, "sync", "meetings", "--mappings", str(broken), "--state", str(state), cwd=tmp_path)
    with StateStore.open(state) as store:
        letter = store.dead_letters.find("meetings")[0].id
    run = zoomforce(world, "dead-letters", "retry", str(letter), "--mappings", str(broken), "--state", str(state),
                    cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "meetings: read 1, written 0, unchanged 0, failed 1" in run.stdout
    detail = json.loads(zoomforce(world, "dead-letters", "show", str(letter), "--format", "json", "--state",
                                  str(state), cwd=tmp_path).stdout)
    assert detail["status"] == "open" and detail["attempts"] == 2 and len(detail["history"]) == 2
    resolved = zoomforce(world, "dead-letters", "retry", str(letter), "--state", str(state), cwd=tmp_path)
    assert resolved.returncode == 0
    closed = zoomforce(world, "dead-letters", "retry", str(letter), "--state", str(state), cwd=tmp_path)
    assert closed.returncode == 2 and f"dead letter {letter} is resolved, not open" in closed.stderr


def test_dead_letter_commands_on_a_missing_state_say_so(world: World, tmp_path: Path) -> None:
    for args in (["list"], ["show", "1"], ["retry"], ["discard", "1", "--reason", "x"], ["purge", "--older-than", "1"]):
        run = zoomforce(world, "dead-letters", *args, "--state", str(tmp_path / "none.db"), cwd=tmp_path)
        assert run.returncode == 2, (args, run.stderr)
        assert run.error_lines == [f"zoomforce: error: no state database at {tmp_path / 'none.db'} (give the one "
                             "`zoomforce sync --state` writes)"], args
    assert list(tmp_path.iterdir()) == []
