"""The scheduling recipes of docs/scheduling/ (a systemd service and timer, a cron line) are valid,
and what they run behaves as docs/operations.md says: a run overlapping another exits 3 at once.

The unit files are checked by ``systemd-analyze verify`` where it is installed (with the binary's
path pointed at one that exists here), and parsed in any case. The commands they wrap are run for
real, with their paths moved into a temporary folder, against the emulators.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.zoom.app import ZoomEmulatorConfig
from engine.sync.state.lock import FileRunLock
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, REPO, wait_until
from tests.test_operations import cli_env
from tests.test_sync import World, _servers, _stop

SCHEDULING = REPO / "docs" / "scheduling"
SERVICE = SCHEDULING / "zoomforce-sync.service"
TIMER = SCHEDULING / "zoomforce-sync.timer"
CRON = SCHEDULING / "zoomforce.cron"
BINARY = "/opt/zoomforce/bin/zoomforce"
STATE = "/var/lib/zoomforce/zoomforce.db"
ENV_FILE = "/etc/zoomforce/zoomforce.env"
CREDENTIALS = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_API_URL", "ZOOM_OAUTH_URL",
               "SF_INSTANCE_URL", "SF_CLIENT_ID", "SF_CLIENT_SECRET", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as {section: {key: [values]}} (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path.name}: not a key=value line: {raw!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def cron_entry() -> tuple[list[str], str, str]:
    """The cron.d line: (its five schedule fields, its user, its command)."""
    (line,) = [line for line in CRON.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    fields = line.split(None, 6)
    return fields[:5], fields[5], fields[6]


def test_the_service_and_timer_say_what_operations_md_says() -> None:
    service, timer = unit(SERVICE), unit(TIMER)
    run = service["Service"]
    assert run["Type"] == ["oneshot"]
    (exec_start,) = run["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[:2] == [BINARY, "sync"] and argv[argv.index("--state") + 1] == STATE
    assert "--metrics-file" in argv
    assert run["SuccessExitStatus"] == ["3"], "another run holding the lock is not a failure of the unit"
    assert run["EnvironmentFile"] == [ENV_FILE] and "ZOOMFORCE_LOG_FORMAT=json" in run["Environment"]
    assert timer["Timer"]["Unit"] == [SERVICE.name] and timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    (calendar,) = timer["Timer"]["OnCalendar"]
    schedule, user, command = cron_entry()
    assert schedule == ["*/15", "*", "*", "*", "*"] and user == "zoomforce"
    assert f"exec {BINARY} sync --state {STATE}" in command and ENV_FILE in command
    if shutil.which("systemd-analyze"):
        normalized = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True)
        assert normalized.returncode == 0, normalized.stderr
        assert "Normalized form: *-*-* *:00/15:00" in normalized.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    # verify checks that the binary exists: point it at one that does, leave the rest as shipped
    executable = shutil.which("true") or sys.executable
    (tmp_path / SERVICE.name).write_text(SERVICE.read_text(encoding="utf-8").replace(BINARY, executable),
                                         encoding="utf-8")
    shutil.copy(TIMER, tmp_path / TIMER.name)
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "", verified.stderr


# ---- the wrapped commands, run for real -----------------------------------------------------------------


@pytest.fixture()
def slow_world(tmp_path: Path) -> Iterator[World]:
    """A rate-limited Zoom, so that a run lasts long enough for a second one to start beside it."""
    built = _servers(ZoomEmulatorConfig(users=3, rate_limit=4),
                     SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS), tmp_path / "tls")
    try:
        yield built
    finally:
        _stop(built)


def _moved(text: str, folder: Path) -> str:
    """A recipe's text with its paths moved into `folder` and its binary run from this checkout."""
    replacements = {
        BINARY: f"{shlex.quote(sys.executable)} -m engine",
        STATE: str(folder / "zoomforce.db"),
        ENV_FILE: str(folder / "zoomforce.env"),
        "/etc/zoomforce/mappings": str(MAPPINGS),
        "/var/lib/prometheus/node-exporter": str(folder),
        "/var/log/zoomforce": str(folder),
        "/var/lib/zoomforce": str(folder),
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def test_the_wrapped_commands_never_overlap_a_second_run_exits_3(slow_world: World, tmp_path: Path) -> None:
    env = cli_env(slow_world) | {"REQUESTS_CA_BUNDLE": slow_world.ca_file, "SSL_CERT_FILE": slow_world.ca_file}
    (tmp_path / "zoomforce.env").write_text("".join(f"{k}={env[k]}\n" for k in CREDENTIALS), encoding="utf-8")
    service = unit(SERVICE)["Service"]
    argv = shlex.split(_moved(service["ExecStart"][0], tmp_path))
    service_env = {k: v for k, v in env.items() if k not in CREDENTIALS}
    service_env.update(line.split("=", 1) for line in (tmp_path / "zoomforce.env").read_text().splitlines())
    service_env.update(item.split("=", 1) for item in service["Environment"])
    first = subprocess.Popen(argv, cwd=tmp_path, env=service_env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = FileRunLock(str(tmp_path / "zoomforce.db"), "probe")
        wait_until(lambda: (h := lock.holder()) is not None and h.pid == first.pid, "the first run's lock", 60)
        _, _, command = cron_entry()
        cron_env = {k: v for k, v in env.items() if k not in CREDENTIALS}  # cron gives no credentials: the file does
        second = subprocess.run(["/bin/sh", "-c", _moved(command, tmp_path)], cwd=tmp_path, env=cron_env,
                                capture_output=True, text=True, timeout=60)
        assert first.poll() is None, "the first run ended before the second started"
        assert second.returncode == 3, (second.returncode, second.stderr)
        (refusal,) = [json.loads(line) for line in (tmp_path / "sync.log").read_text().splitlines()]
        assert refusal["event"] == "error" and refusal["exit_code"] == 3
        assert f"pid {first.pid}" in refusal["message"]
        _, errors = first.communicate(timeout=180)
        assert first.returncode == 0, errors[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert all(json.loads(line)["level"] in {"info", "warning"} for line in errors.splitlines())
    families = {f.name for f in text_string_to_metric_families((tmp_path / "zoomforce.prom").read_text())}
    assert {"zoomforce_records", "zoomforce_last_success_timestamp_seconds"} <= families
