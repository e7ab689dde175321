"""The network commands as a user runs them: ``emulator zoom``, ``emulator salesforce``, ``sync``,
``demo`` and ``serve`` in real subprocesses (``python -m engine``), over real sockets on 127.0.0.1.

The two emulators of the sync tests are themselves subprocesses started from the command line,
shared by the module; every sync gets its own state file. Each wait has a deadline and every
subprocess is killed in its fixture's teardown, so a hung command fails a test instead of the run.
Independent error cases run concurrently (one fixture starts them all) to keep the file quick.
"""

from __future__ import annotations

import functools
import io
import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import httpx
import pytest

from engine.resources import default_mappings_dir
from engine.sync.output import ProgressLines
from engine.sync.report import EntityCounts
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import ORG_WITH_ADDITIONS

ZOOMFORCE = [sys.executable, "-m", "engine"]
DEFAULT_ENTITIES = {"users", "meetings", "past_meetings", "webinars", "registrants", "participants", "panelists",
                    "calls"}
COUNT_KEYS = {"read", "written", "unchanged", "failed"}
USERS = 3
START_TIMEOUT = 30.0  # a server prints its URL within this
STOP_TIMEOUT = 15.0  # and exits this long after a signal
RUN_TIMEOUT = 120.0  # the longest any one command may take before it counts as hung
# Salesforce emulator routes that only read: a dry run may call these and nothing else.
READ_ROUTES = {"oauth_token", "versions", "resources", "limits", "describe_global", "sobject", "describe", "record",
               "record_by_key", "query", "query_more"}
PROGRESS_LINE = re.compile(r"^(\w+): (read \d+, written \d+, unchanged \d+, failed \d+|reading, \d+ so far)$")
SUMMARY_LINE = re.compile(r"^(\w+): read (\d+), written (\d+), unchanged (\d+), failed (\d+)$")
PLAN_FIELD = re.compile(r"^    (\w+): (.+) -> (.+)$")
HTTP: dict[str, Any] = {"timeout": 10.0, "trust_env": False}  # the test's own requests: no proxy, no CA from env


# ---- processes ---------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Zoom, Salesforce, CA or proxy setting of the machine, plus `extra`."""
    dropped = ("ZOOM_", "SF_", "ZOOMFORCE_")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(dropped) and k.lower() not in proxies
           and k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")}
    return {**env, "NO_PROXY": "127.0.0.1,localhost", **extra}


def stop(process: subprocess.Popen[str]) -> None:
    """Teardown: ask, then insist; never leave a child behind."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


class LineReader:
    """The lines a child prints, read in a thread so that every wait for one has a deadline."""

    def __init__(self, stream: io.TextIOBase):
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: io.TextIOBase) -> None:
        try:
            for line in stream:
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        self.lines.put(None)

    def next(self, timeout: float = START_TIMEOUT) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line within {timeout:.0f} s")
        if line is None:
            pytest.fail("the process closed its standard output")
        return line

    def rest(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        self.thread.join(timeout)
        lines = []
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                lines.append(line)
        return lines


@dataclass
class Server:
    """A server started from the command line; `lines` are its first lines of standard output."""

    process: subprocess.Popen[str]
    reader: LineReader
    stderr_path: Path
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.lines[0]

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def start_server(args: list[str], workdir: Path, name: str, lines: int = 1, env: dict[str, str] | None = None
                 ) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    stderr_path = workdir / f"{name}.stderr"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen([*ZOOMFORCE, *args], stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   cwd=workdir, env=env or clean_env())
    server = Server(process, LineReader(process.stdout), stderr_path)  # type: ignore[arg-type]
    try:
        server.lines = [server.reader.next() for _ in range(lines)]
    except BaseException:
        stop(process)
        raise
    return server


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def json(self) -> Any:
        return json.loads(self.stdout)


def zoomforce(*args: str, env: dict[str, str], cwd: Path, timeout: float = RUN_TIMEOUT) -> Run:
    done = subprocess.run([*ZOOMFORCE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return Run(list(args), done.returncode, done.stdout, done.stderr)


class Concurrent:
    """Commands started at once and collected by name: independent cases share the wall-clock time."""

    def __init__(self) -> None:
        self.processes: dict[str, tuple[list[str], subprocess.Popen[str]]] = {}
        self.results: dict[str, Run] = {}

    def start(self, name: str, *args: str, env: dict[str, str], cwd: Path) -> None:
        process = subprocess.Popen([*ZOOMFORCE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=env, cwd=cwd)
        self.processes[name] = (list(args), process)

    def result(self, name: str) -> Run:
        if name not in self.results:
            args, process = self.processes[name]
            out, err = process.communicate(timeout=RUN_TIMEOUT)
            self.results[name] = Run(args, process.returncode, out, err)
        return self.results[name]

    def close(self) -> None:
        for _, process in self.processes.values():
            stop(process)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def refuses_connections(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=2).close()
    except OSError:
        return True
    return False


# ---- the emulators' HTTP, as a client of theirs --------------------------------------------------


def zoom_token(url: str, client_secret: str = "demo") -> httpx.Response:
    return httpx.post(f"{url}/oauth/token", params={"grant_type": "account_credentials", "account_id": "demo"},
                      auth=("demo", client_secret), **HTTP)


@functools.cache
def trusting(ca_file: str) -> ssl.SSLContext:
    """Verification on, against the emulator's CA only (never turned off)."""
    return ssl.create_default_context(cafile=ca_file)


def salesforce_token(url: str, ca_file: str, client_secret: str = "demo") -> httpx.Response:
    return httpx.post(f"{url}/services/oauth2/token", verify=trusting(ca_file), **HTTP,
                      data={"grant_type": "client_credentials", "client_id": "demo", "client_secret": client_secret})


@dataclass
class Emulators:
    zoom: Server
    salesforce: Server

    @property
    def zoom_url(self) -> str:
        return self.zoom.url

    @property
    def salesforce_url(self) -> str:
        return self.salesforce.url

    @property
    def ca_file(self) -> str:
        return self.salesforce.lines[1].removeprefix("ca: ")

    def env(self, **changes: str | None) -> dict[str, str]:
        """The environment a user sets for ``zoomforce sync`` against these emulators (docs/design.md)."""
        env = clean_env(
            ZOOM_ACCOUNT_ID="demo", ZOOM_CLIENT_ID="demo", ZOOM_CLIENT_SECRET="demo",
            ZOOM_API_URL=f"{self.zoom_url}/v2", ZOOM_OAUTH_URL=f"{self.zoom_url}/oauth/token",
            SF_INSTANCE_URL=self.salesforce_url, SF_CLIENT_ID="demo", SF_CLIENT_SECRET="demo",
            REQUESTS_CA_BUNDLE=self.ca_file, SSL_CERT_FILE=self.ca_file,
        )
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def salesforce_stats(self) -> dict[str, dict[str, int]]:
        stats = httpx.get(f"{self.salesforce_url}/_emulator/stats", verify=trusting(self.ca_file), **HTTP)
        return stats.json()["routes"]

    def soql_count(self, sobject: str) -> int:
        token = salesforce_token(self.salesforce_url, self.ca_file).json()["access_token"]
        response = httpx.get(f"{self.salesforce_url}/services/data/v59.0/query", verify=trusting(self.ca_file),
                             params={"q": f"SELECT COUNT() FROM {sobject}"},
                             headers={"Authorization": f"Bearer {token}"}, **HTTP)
        response.raise_for_status()
        return int(response.json()["totalSize"])


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    workdir = tmp_path_factory.mktemp("emulators")
    zoom = start_server(["emulator", "zoom", "--port", "0", "--users", str(USERS)], workdir, "zoom")
    try:
        salesforce = start_server(["emulator", "salesforce", "--port", "0", "--catalog", str(ORG_WITH_ADDITIONS)],
                                  workdir, "salesforce", lines=2)
    except BaseException:
        stop(zoom.process)
        raise
    try:
        yield Emulators(zoom, salesforce)
    finally:
        stop(zoom.process)
        stop(salesforce.process)


@pytest.fixture(scope="module")
def account(emulators: Emulators) -> dict[str, Any]:
    return httpx.get(f"{emulators.zoom_url}/_emulator/account", **HTTP).json()


def _secret_values(document: Any, found: set[str]) -> None:
    """Every credential in a Zoom record: passwords (not the all-digit H.323 ones), start URLs and their zak."""
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, str) and len(value) >= 6:
                if key in ("password", "pmi_password") and not value.isdigit():
                    found.add(value)
                elif key == "start_url":
                    found.add(value)
                    found.update(parse_qs(urlparse(value).query).get("zak", []))
            _secret_values(value, found)
    elif isinstance(document, list):
        for item in document:
            _secret_values(item, found)


@pytest.fixture(scope="module")
def zoom_secrets(emulators: Emulators, account: dict[str, Any]) -> set[str]:
    """The meeting and webinar passwords and start_url tokens of the emulator's account, read from its API."""
    token = zoom_token(emulators.zoom_url).json()["access_token"]
    paths = ([f"/meetings/{i}" for i in account["meeting_ids"]] + [f"/webinars/{i}" for i in account["webinar_ids"]]
             + [f"/users/{quote(u)}/settings" for u in account["user_ids"]])
    found: set[str] = set()
    with httpx.Client(base_url=f"{emulators.zoom_url}/v2", headers={"Authorization": f"Bearer {token}"},
                      **HTTP) as client:
        for path in paths:
            response = client.get(path)
            response.raise_for_status()
            _secret_values(response.json(), found)
    meetings_with_password = len(account["meeting_ids"])
    assert len(found) >= 2 * meetings_with_password  # a password and a start URL per meeting at least
    return found


def assert_no_secret(secrets: set[str], **texts: str | bytes) -> None:
    for where, text in texts.items():
        data = text.encode("utf-8") if isinstance(text, str) else text
        leaked = sorted(s for s in secrets if s.encode("utf-8") in data)
        assert not leaked, f"{len(leaked)} Zoom credential(s) in {where}, e.g. {leaked[0]!r}"


def state_bytes(path: Path) -> bytes:
    """The state database and any journal beside it."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


@functools.cache
def target_object(entity: str) -> str:
    return str(load_mapping_set([default_mappings_dir()]).raise_if_invalid().get(entity).target.object)


# ---- 1. the emulators on the command line --------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_zoom_emulator_prints_its_url_serves_oauth_and_stops_on_a_signal(tmp_path: Path, stop_signal: int) -> None:
    server = start_server(["emulator", "zoom", "--port", "0", "--users", "3"], tmp_path, "zoom")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url), server.url
        assert int(server.url.rsplit(":", 1)[1]) > 0
        granted = zoom_token(server.url)
        assert granted.status_code == 200
        token = granted.json()["access_token"]
        refused = zoom_token(server.url, client_secret="wrong")
        assert refused.status_code == 401
        assert "access_token" not in refused.json()
        users = httpx.get(f"{server.url}/v2/users", headers={"Authorization": f"Bearer {token}"}, **HTTP)
        assert users.status_code == 200
        assert len(users.json()["users"]) == 3
        assert httpx.get(f"{server.url}/v2/users", **HTTP).status_code == 401  # no token, no data
        server.process.send_signal(stop_signal)
        assert server.process.wait(STOP_TIMEOUT) == 0
        assert server.reader.rest() == []
        assert "Traceback" not in server.stderr
        assert refuses_connections(server.url)
    finally:
        stop(server.process)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_salesforce_emulator_prints_its_url_and_ca_serves_oauth_over_tls_and_stops_on_a_signal(
    tmp_path: Path, stop_signal: int
) -> None:
    server = start_server(["emulator", "salesforce", "--port", "0"], tmp_path, "salesforce", lines=2)
    try:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", server.url), server.url
        assert server.lines[1].startswith("ca: ")
        ca_file = server.lines[1].removeprefix("ca: ")
        assert Path(ca_file).read_text(encoding="ascii").startswith("-----BEGIN CERTIFICATE-----")
        granted = salesforce_token(server.url, ca_file)
        assert granted.status_code == 200
        assert granted.json()["instance_url"] == server.url
        refused = salesforce_token(server.url, ca_file, client_secret="wrong")
        assert refused.status_code in (400, 401)
        assert refused.json()["error"] == "invalid_client"
        with pytest.raises(httpx.ConnectError):  # TLS for real: an unknown CA is not trusted
            httpx.post(f"{server.url}/services/oauth2/token", verify=True, **HTTP)
        server.process.send_signal(stop_signal)
        assert server.process.wait(STOP_TIMEOUT) == 0
        assert server.reader.rest() == []
        assert "Traceback" not in server.stderr
        assert refuses_connections(server.url)
        assert not Path(ca_file).exists()  # its temporary certificate folder is gone with it
    finally:
        stop(server.process)


# ---- 2. zoomforce sync ---------------------------------------------------------------------------


@dataclass
class SyncRun:
    run: Run
    state: Path


@pytest.fixture(scope="module")
def first_sync(emulators: Emulators, failing: Concurrent, tmp_path_factory: pytest.TempPathFactory) -> SyncRun:
    """The first sync of the account; the error cases (`failing`) are started first and run meanwhile."""
    workdir = tmp_path_factory.mktemp("sync")
    state = workdir / "state" / "zoomforce.db"
    state.parent.mkdir()
    run = zoomforce("sync", "--summary", "json", "--state", str(state), env=emulators.env(), cwd=workdir)
    assert run.returncode == 0, run.stderr
    return SyncRun(run, state)


@pytest.fixture(scope="module")
def second_sync(first_sync: SyncRun, emulators: Emulators) -> Run:
    run = zoomforce("sync", "--summary", "json", "--state", str(first_sync.state), env=emulators.env(),
                    cwd=first_sync.state.parent)
    assert run.returncode == 0, run.stderr
    return run


def assert_summary_shape(summary: Any, entities: set[str]) -> None:
    assert isinstance(summary, dict)
    assert set(summary) == {"entities", "api_calls"}
    assert set(summary["entities"]) == entities
    for name, counts in summary["entities"].items():
        assert set(counts) == COUNT_KEYS, name
        assert all(type(value) is int and value >= 0 for value in counts.values()), (name, counts)
    assert set(summary["api_calls"]) == {"zoom", "salesforce"}
    assert all(type(value) is int for value in summary["api_calls"].values())


def test_sync_summary_json_is_exactly_the_documented_shape(first_sync: SyncRun) -> None:
    summary = first_sync.run.json()
    assert_summary_shape(summary, DEFAULT_ENTITIES)
    assert summary["api_calls"]["zoom"] > 0
    assert summary["api_calls"]["salesforce"] > 0


def test_sync_reads_what_the_zoom_account_holds_and_writes_it_all(
    first_sync: SyncRun, account: dict[str, Any], emulators: Emulators
) -> None:
    entities = first_sync.run.json()["entities"]
    held = account["counts"]
    expected = {"users": held["users"], "meetings": held["meetings"], "past_meetings": held["past_meetings"],
                "webinars": held["webinars"], "registrants": held["registrants_approved"],
                "participants": held["webinar_participants"], "panelists": held["panelists"]}
    assert {name: entities[name]["read"] for name in expected} == expected
    # calls are listed by a date window ending today: those of the last 30 days, at most all of them
    assert 0 < entities["calls"]["read"] <= held["calls"]
    rejoins = held["webinar_participants"] - held["webinar_attendees"]  # the same participant id again
    assert rejoins > 0
    for name, counts in entities.items():
        assert counts["failed"] == 0, name
        assert counts["written"] == counts["read"] - (rejoins if name == "participants" else 0), name
    assert entities["participants"]["unchanged"] == rejoins
    for entity in ("users", "webinars", "registrants", "participants", "panelists", "calls"):
        assert emulators.soql_count(target_object(entity)) == entities[entity]["written"], entity


def test_sync_progress_is_plain_lines_on_standard_error_when_not_a_terminal(first_sync: SyncRun) -> None:
    lines = first_sync.run.error_lines
    assert lines, "no progress at all"
    assert not any("\r" in line or "\x1b" in line for line in lines)
    assert all(PROGRESS_LINE.match(line) for line in lines), lines
    done = [m.group(1) for line in lines if (m := SUMMARY_LINE.match(line))]
    assert sorted(done) == sorted(DEFAULT_ENTITIES)  # one closing line per entity
    assert first_sync.run.stdout.count("\n") == 1  # standard output holds the JSON document alone


def test_second_sync_writes_nothing(second_sync: Run) -> None:
    summary = second_sync.json()
    assert_summary_shape(summary, DEFAULT_ENTITIES)
    assert {name: counts["written"] for name, counts in summary["entities"].items()} == dict.fromkeys(
        DEFAULT_ENTITIES, 0)
    assert all(counts["failed"] == 0 for counts in summary["entities"].values())
    assert summary["entities"]["meetings"]["unchanged"] == summary["entities"]["meetings"]["read"] > 0


# ---- 4. secrets ----------------------------------------------------------------------------------


def test_sync_never_prints_nor_keeps_zoom_credentials(first_sync: SyncRun, zoom_secrets: set[str]) -> None:
    assert_no_secret(zoom_secrets, stdout=first_sync.run.stdout, stderr=first_sync.run.stderr,
                     state=state_bytes(first_sync.state))


# ---- 2. the dry run ------------------------------------------------------------------------------


def parse_plan(lines: list[str]) -> dict[tuple[str, str, str], dict[str, tuple[str, str]]]:
    """{(action, entity, key): {field: (before, after)}} from the plan's lines."""
    plan: dict[tuple[str, str, str], dict[str, tuple[str, str]]] = {}
    current: dict[str, tuple[str, str]] | None = None
    for line in lines:
        if match := re.match(r"^(would create|would update|unchanged) (\w+) (\S+)$", line):
            current = plan.setdefault((match.group(1), match.group(2), match.group(3)), {})
        elif (field_match := PLAN_FIELD.match(line)) and current is not None:
            current[field_match.group(1)] = (field_match.group(2), field_match.group(3))
    return plan


def test_dry_run_on_a_fresh_state_shows_what_it_would_create_and_writes_nothing(
    emulators: Emulators, account: dict[str, Any], zoom_secrets: set[str], tmp_path: Path
) -> None:
    meetings_object = target_object("meetings")
    webinars_object = target_object("webinars")
    stats_before = emulators.salesforce_stats()
    counts_before = (emulators.soql_count(meetings_object), emulators.soql_count(webinars_object))
    state = tmp_path / "dry.db"

    run = zoomforce("sync", "--dry-run", "--state", str(state), env=emulators.env(), cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    plan = parse_plan(run.stdout.splitlines())
    assert {action for action, _, _ in plan} == {"would create"}
    created_meetings = {key for _, entity, key in plan if entity == "meetings"}
    assert created_meetings == {str(i) for i in account["meeting_ids"]}
    assert {key for _, entity, key in plan if entity == "webinars"} == {str(i) for i in account["webinar_ids"]}
    first = plan[("would create", "meetings", str(account["meeting_ids"][0]))]
    assert first["zoom_app__Zoom_Meeting_Id__c"] == ("null", json.dumps(str(account["meeting_ids"][0])))
    assert first["zoom_app__Zoom_Meeting_Password__c"] == ("null", '"***"')
    assert first["zoom_app__Start_Url__c"] == ("null", '"***"')
    assert all(before == "null" for fields in plan.values() for before, _ in fields.values())
    assert_no_secret(zoom_secrets, stdout=run.stdout, stderr=run.stderr, state=state_bytes(state))

    stats_after = emulators.salesforce_stats()
    touched = {route for route, statuses in stats_after.items() if statuses != stats_before.get(route)}
    assert touched <= READ_ROUTES, f"a dry run called {sorted(touched - READ_ROUTES)}"
    assert (emulators.soql_count(meetings_object), emulators.soql_count(webinars_object)) == counts_before

    # nothing was kept either: the same dry run again still plans to create; with --summary json
    # standard output is the JSON document alone and the plan goes to standard error
    again = zoomforce("sync", "meetings", "--dry-run", "--summary", "json", "--state", str(state),
                      env=emulators.env(), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    summary = again.json()
    assert_summary_shape(summary, {"meetings"})
    assert summary["entities"]["meetings"]["written"] == len(account["meeting_ids"])
    assert {key for _, entity, key in parse_plan(again.error_lines) if entity == "meetings"} == created_meetings
    assert_no_secret(zoom_secrets, stdout=again.stdout, stderr=again.stderr)


# ---- 2. configuration errors: exit 2, one line, before anything happens --------------------------


@pytest.fixture(scope="module")
def failing(emulators: Emulators, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Concurrent]:
    """Every error case started at once; each test collects its own."""
    workdir = tmp_path_factory.mktemp("errors")
    runs = Concurrent()
    zoom_port = emulators.zoom_url.rsplit(":", 1)[1]
    closed = f"http://127.0.0.1:{free_port()}"
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "registrations": (["sync", "registrations"], emulators.env()),
        "unknown": (["sync", "meetngs"], clean_env()),
        "no-secret": (["sync"], emulators.env(ZOOM_CLIENT_SECRET=None)),
        "unreachable": (["sync"], emulators.env(ZOOM_API_URL=f"{closed}/v2", ZOOM_OAUTH_URL=f"{closed}/oauth/token")),
        "window": (["sync", "--since", "2025-03-02", "--until", "2025-03-01"], emulators.env()),
        "port-in-use": (["emulator", "salesforce", "--port", zoom_port], clean_env()),
        "demo-language": (["demo", "--users", "1", "--lang", "xx", "--output", str(workdir / "demo-language.md")],
                          clean_env()),
    }
    for name, (args, env) in cases.items():
        state = ["--state", str(workdir / f"{name}.db")] if args[0] == "sync" else []
        runs.start(name, *args, *state, env=env, cwd=workdir)
    try:
        yield runs
    finally:
        runs.close()


def one_error_line(run: Run) -> str:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert len(run.error_lines) == 1, run.stderr
    return run.error_lines[0]


def state_of(run: Run) -> Path:
    return Path(run.args[run.args.index("--state") + 1])


def test_sync_registrations_without_a_webinar_says_so_in_one_line(failing: Concurrent) -> None:
    run = failing.result("registrations")
    assert one_error_line(run) == (
        "zoomforce: error: registrations: the reverse flow registers people for one webinar: give --webinar ID")
    assert not state_of(run).exists()


def test_sync_of_an_unknown_entity_suggests_the_nearest_even_without_credentials(failing: Concurrent) -> None:
    line = one_error_line(failing.result("unknown"))
    assert line.startswith("zoomforce: error: no mapping for entity 'meetngs' (known: calls, campaign_members, "
                           "campaigns, meetings, ")
    assert line.endswith("; did you mean 'meetings'?")


def test_sync_without_the_zoom_client_secret_names_that_variable_and_nothing_else(failing: Concurrent) -> None:
    run = failing.result("no-secret")
    line = one_error_line(run)
    assert line == ("zoomforce: error: environment variable ZOOM_CLIENT_SECRET is not set "
                    "(the client secret of the Zoom Server-to-Server OAuth app)")
    assert re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", line) == ["ZOOM_CLIENT_SECRET"]
    assert not state_of(run).exists()


def test_sync_against_an_unreachable_zoom_is_one_line_and_exit_2(failing: Concurrent) -> None:
    run = failing.result("unreachable")
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    *retries, line = run.error_lines  # each retry is a warning; the one error line says why it stopped
    assert re.fullmatch(r"zoomforce: error: zoom: cannot connect to http://127\.0\.0\.1:\d+/oauth/token \(.*\)", line)
    assert len(retries) == 5, retries
    assert all(re.fullmatch(r"zoomforce: warning: zoom POST http://127\.0\.0\.1:\d+/oauth/token: ConnectError: .* on "
                            r"attempt \d of 6; retrying in \d+\.\d\d s \(exponential back-off\)", r) for r in retries)


def test_sync_with_since_after_until_is_a_usage_error(failing: Concurrent) -> None:
    line = one_error_line(failing.result("window"))
    assert line == "zoomforce: error: --since 2025-03-02 is after --until 2025-03-01"


def test_emulator_on_a_port_in_use_is_one_line_and_exit_2(failing: Concurrent, emulators: Emulators) -> None:
    port = emulators.zoom_url.rsplit(":", 1)[1]
    line = one_error_line(failing.result("port-in-use"))
    assert line.startswith(f"zoomforce: error: cannot listen on 127.0.0.1:{port}: "), line


def test_demo_with_an_unknown_language_fails_before_starting_anything(failing: Concurrent) -> None:
    run = failing.result("demo-language")
    assert one_error_line(run) == "zoomforce: error: no disclosure messages for language 'xx' (available: en, fr)"
    assert not Path(run.args[run.args.index("--output") + 1]).exists()


# ---- 3. zoomforce demo ---------------------------------------------------------------------------


@dataclass
class DemoRun:
    run: Run
    output: Path


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DemoRun]]:
    """``demo --users 2`` with the text and the JSON summary, run side by side, each exiting by itself."""
    runs = Concurrent()
    outputs: dict[str, Path] = {}
    for kind in ("text", "json"):
        workdir = tmp_path_factory.mktemp(f"demo-{kind}")
        outputs[kind] = workdir / "disclosure.md"
        runs.start(kind, "demo", "--users", "2", "--output", str(outputs[kind]), "--summary", kind,
                   env=clean_env(), cwd=workdir)
    try:
        yield {kind: DemoRun(runs.result(kind), outputs[kind]) for kind in outputs}
    finally:
        runs.close()


def announced_servers(stderr: str) -> list[str]:
    match = re.search(r"Zoom emulator at (\S+), Salesforce emulator at (\S+)", stderr)
    assert match, stderr
    return [match.group(1), match.group(2)]


def test_demo_syncs_every_entity_registers_people_and_writes_the_disclosure(demos: dict[str, DemoRun]) -> None:
    demo = demos["text"]
    assert demo.run.returncode == 0, demo.run.stderr
    lines = demo.run.stdout.splitlines()
    counts = {m.group(1): [int(n) for n in m.groups()[1:]] for line in lines if (m := SUMMARY_LINE.match(line))}
    assert set(counts) == DEFAULT_ENTITIES | {"registrations"}
    assert all(failed == 0 for _, _, _, failed in counts.values()), counts
    assert counts["registrations"][1] > 0
    assert all(read > 0 for read, *_ in counts.values()), counts
    assert re.fullmatch(r"api calls: zoom \d+, salesforce \d+", lines[-1])
    assert len(lines) == len(counts) + 1
    text = demo.output.read_text(encoding="utf-8")
    assert text.startswith("# ")
    assert f"zoomforce: disclosure written to {demo.output}" in demo.run.stderr
    assert "Traceback" not in demo.run.stderr


def test_demo_summary_json_has_the_sync_shape(demos: dict[str, DemoRun]) -> None:
    demo = demos["json"]
    assert demo.run.returncode == 0, demo.run.stderr
    summary = demo.run.json()
    assert_summary_shape(summary, DEFAULT_ENTITIES | {"registrations"})
    assert all(c["failed"] == 0 for c in summary["entities"].values())
    assert summary["entities"]["registrations"]["written"] > 0
    assert demo.output.read_text(encoding="utf-8").startswith("# ")


def test_demo_leaves_no_server_running(demos: dict[str, DemoRun]) -> None:
    for demo in demos.values():  # both exited by themselves (the fixture's wait is bounded)
        for url in announced_servers(demo.run.stderr):
            assert refuses_connections(url), url


# ---- serve ---------------------------------------------------------------------------------------


def test_serve_prints_its_url_and_stops_cleanly_on_sigterm(emulators: Emulators, tmp_path: Path) -> None:
    env = emulators.env(ZOOM_WEBHOOK_SECRET_TOKEN="whsec-test")
    server = start_server(["serve", "--port", "0", "--state", str(tmp_path / "serve.db")], tmp_path, "serve",
                          env=env)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url), server.url
        unsigned = httpx.post(f"{server.url}/zoom/webhook", json={"event": "meeting.ended"}, **HTTP)
        assert unsigned.status_code in (400, 401, 403)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(STOP_TIMEOUT) == 0
        assert "Traceback" not in server.stderr
        assert refuses_connections(server.url)
    finally:
        stop(server.process)


# ---- progress on a terminal ----------------------------------------------------------------------


def test_progress_on_a_terminal_ends_its_line_before_an_error_and_a_pipe_waits_for_records() -> None:
    terminal = io.StringIO()
    progress = ProgressLines(terminal, interactive=True)
    progress("calls", "read", EntityCounts(read=0))
    progress.close()
    assert terminal.getvalue().endswith("\n")
    progress.close()
    assert not terminal.getvalue().endswith("\n\n")

    pipe = io.StringIO()
    lines = ProgressLines(pipe, interactive=False)
    lines("calls", "read", EntityCounts())
    assert pipe.getvalue() == ""
    lines("calls", "read", EntityCounts(read=100))
    lines("calls", "read", EntityCounts(read=200))
    lines("calls", "done", EntityCounts(read=250, written=250))
    assert pipe.getvalue() == "calls: reading, 100 so far\ncalls: read 250, written 250, unchanged 0, failed 0\n"
