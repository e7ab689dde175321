"""One line for every fault of the environment: each runs the real command and asserts one line, the exit code,
and no traceback.

The faults: a CA bundle that cannot be read (httpx's ``SSL_CERT_FILE``, requests' ``REQUESTS_CA_BUNDLE``),
a state file that cannot be opened or is not a database, a corrupt value in the state, a full disk
(the state file over ``RLIMIT_FSIZE``, standard output on ``/dev/full``), a client that disconnects in
the middle of a webhook body, and a path parameter that would be a dot segment.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from engine.sync.state.store import StateStore
from tests.test_cli_sync import ZOOMFORCE, Emulators, Run, clean_env, emulators, start_server, stop, zoomforce

__all__ = ["emulators"]  # the module's emulators fixture, shared with this file

UNREACHABLE = "http://127.0.0.1:9"
ZOOM_ENV = {"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "a", "ZOOM_CLIENT_SECRET": "a",
            "ZOOM_API_URL": f"{UNREACHABLE}/v2", "ZOOM_OAUTH_URL": f"{UNREACHABLE}/oauth/token"}
SF_ENV = {"SF_INSTANCE_URL": "https://127.0.0.1:9", "SF_ACCESS_TOKEN": "not-a-token"}


def one_line(run: Run, code: int, *fragments: str) -> str:
    assert run.returncode == code, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_an_unreadable_ssl_cert_file_is_one_line(tmp_path: Path) -> None:
    env = clean_env(**ZOOM_ENV, **SF_ENV, SSL_CERT_FILE=str(tmp_path))  # a folder, not a bundle
    one_line(zoomforce("sync", "users", "--state", str(tmp_path / "s.db"), env=env, cwd=tmp_path), 2,
             f"SSL_CERT_FILE {tmp_path}: cannot use it as a CA bundle")


def test_an_unreadable_requests_ca_bundle_is_one_line(tmp_path: Path) -> None:
    env = clean_env(**SF_ENV, REQUESTS_CA_BUNDLE=str(tmp_path / "missing.pem"))
    one_line(zoomforce("catalog", "pull", "--out", str(tmp_path / "catalog"), env=env, cwd=tmp_path), 2,
             "REQUESTS_CA_BUNDLE", "cannot use it as a CA bundle")


@pytest.mark.parametrize("kind", ["in a missing folder", "not a database", "unreadable"])
def test_a_state_file_that_cannot_be_opened_is_one_line_naming_it(tmp_path: Path, kind: str) -> None:
    state = tmp_path / "state.db"
    if kind == "in a missing folder":
        state = tmp_path / "missing" / "state.db"
    elif kind == "not a database":
        state.write_bytes(b"this is not SQLite\n" * 100)
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads a file whatever its permissions")
        StateStore.open(state).close()
        state.chmod(0)
    env = clean_env(**ZOOM_ENV, **SF_ENV)
    one_line(zoomforce("sync", "users", "--state", str(state), env=env, cwd=tmp_path), 2, f"state database {state}")


FILE_LIMIT = 96 * 1024


def _small_file_limit() -> None:  # in the child: a write past 96 KiB fails (EFBIG), as on a full disk
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def test_a_full_disk_under_the_state_is_one_line_naming_the_file(emulators: Emulators, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    StateStore.open(state).close()  # created and migrated: the sync's first commits then find the disk full
    assert state.stat().st_size < FILE_LIMIT
    done = subprocess.run([*ZOOMFORCE, "sync", "--state", str(state)], capture_output=True, text=True,
                          env=emulators.env(), cwd=tmp_path, timeout=120, preexec_fn=_small_file_limit, check=False)
    lines = [line for line in done.stderr.splitlines() if line.startswith("zoomforce:")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"zoomforce: error: state database {state}: "), done.stderr


def test_a_full_standard_output_is_one_line(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([*ZOOMFORCE, "map", "users"], input='{"id": "U1", "email": "a@example.com"}',
                              stdout=full, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=tmp_path,
                              timeout=60, check=False)
    one_line(Run([], done.returncode, "", done.stderr), 2, "standard output: No space left on device")


def test_a_dot_segment_webinar_is_refused_before_any_call(tmp_path: Path) -> None:
    for value in ("..", "."):
        run = zoomforce("sync", "registrations", "--webinar", value, env=clean_env(), cwd=tmp_path)
        one_line(run, 2, f"--webinar {value!r}: not a webinar id")


def test_a_path_parameter_that_is_a_dot_segment_is_a_record_error() -> None:
    from engine.errors import PathParameterError
    from engine.zoom.client import endpoint_path

    with pytest.raises(PathParameterError, match="dot segment"):
        endpoint_path("GET /webinars/{webinarId}/registrants", {"webinarId": ".."})
    assert endpoint_path("/meetings/{id}", {"id": "..a"}) == "/meetings/..a"


def _state_with(tmp_path: Path, statement: str, *params: object) -> Path:
    state = tmp_path / "state.db"
    StateStore.open(state).close()
    with sqlite3.connect(state) as connection:
        connection.execute(statement, params)
    return state


def test_a_corrupt_cursor_is_one_line(emulators: Emulators, tmp_path: Path) -> None:
    state = _state_with(tmp_path, "INSERT INTO cursors (entity, value, updated_at) VALUES ('calls', 'garbage', '')")
    run = zoomforce("sync", "calls", "--state", str(state), env=emulators.env(), cwd=tmp_path)
    one_line(run, 2, "the cursor of calls is not a date ('garbage'); give --since DATE")


def test_a_corrupt_dead_letter_is_one_line(emulators: Emulators, tmp_path: Path) -> None:
    state = _state_with(tmp_path, "INSERT INTO dead_letters (entity, key, code, message, record, created_at, "
                        "updated_at) VALUES ('users', 'U1', 'X', 'x', '{not json', '', '')")
    run = zoomforce("sync", "users", "--retry-dead-letters", "--state", str(state), env=emulators.env(), cwd=tmp_path)
    one_line(run, 2, "dead letter 1 holds a record that is not JSON")


def test_a_client_that_disconnects_mid_body_is_one_log_line_and_no_traceback(emulators: Emulators,
                                                                             tmp_path: Path) -> None:
    env = emulators.env(ZOOM_WEBHOOK_SECRET_TOKEN="hostile-test-secret", ZOOMFORCE_STATE_KEY=None)
    server = start_server(["serve", "--port", "0", "--state", str(tmp_path / "s.db")], tmp_path, "serve", env=env)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"POST /zoom/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 5000\r\n\r\n{\"event\": \"meeting.started\"")
            time.sleep(0.3)
        deadline = time.monotonic() + 20
        while "disconnected" not in server.stderr_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(server.process)
    log = server.stderr_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    (line,) = [line for line in log.splitlines() if "disconnected" in line]
    assert "status=400 reason=the client disconnected before the whole body arrived" in line
    assert os.path.exists(tmp_path / "s.db")
