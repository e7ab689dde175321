"""Logs and metrics made for log platforms: ``--log-format json`` makes every line on standard error
one JSON object, retries and waits are logged with their reason, and ``sync --metrics-file`` writes
what ``prometheus_client``'s own parser reads; ``serve`` answers ``/metrics`` and ``/readyz``.

The commands run in real subprocesses against the emulators (over real sockets), with 429s and
5xx injected on both sides through the emulators' hooks.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from engine.cli.main import cli
from engine.emulators.salesforce.app import SalesforceEmulatorConfig
from engine.emulators.zoom.app import ZoomEmulatorConfig
from engine.emulators.zoom.webhooks import build_event, serialize
from engine.errors import Unreachable
from engine.serve.app import WEBHOOK_PATH, create_app
from engine.serving import start_in_thread
from engine.sync.state.store import StateStore
from tests.helpers import MAPPINGS, ORG_WITH_ADDITIONS, copy_mappings, signed_headers, wait_until
from tests.test_cli_sync import LineReader, free_port, stop
from tests.test_operations import ZOOMFORCE, cli_env, zoomforce
from tests.test_sync import World, _break_meeting_topics, _servers, _stop, secrets_of

REQUIRED_KEYS = {"timestamp", "level", "logger", "event", "message"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SECRET = "zm-webhook-ops-secret"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = _servers(ZoomEmulatorConfig(users=3),
                     SalesforceEmulatorConfig(catalog_dir=ORG_WITH_ADDITIONS), tmp_path_factory.mktemp("logs-tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", built.ca_file)
        yield built
    _stop(built)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object (a line that is not one fails the test, naming it)."""
    found = []
    for line in text.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line on standard error: {line!r}")
        assert isinstance(document, dict), line
        assert set(document) >= REQUIRED_KEYS, document
        assert TIMESTAMP.match(document["timestamp"]), document
        assert document["level"] in {"debug", "info", "warning", "error"}, document
        found.append(document)
    return found


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a Prometheus text exposition, as ``prometheus_client``'s parser reads them."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---- --log-format json --------------------------------------------------------------------------------


def test_json_logs_put_one_object_per_line_and_tell_every_retry_wait_and_dead_letter(
    world: World, tmp_path: Path
) -> None:
    world.salesforce.post("reset")
    world.zoom.post("reset")
    broken = copy_mappings(tmp_path)
    _break_meeting_topics(broken)
    world.zoom.post("fail-next", {"count": 2, "status": 429})
    world.salesforce.post("fail-next", {"errorCode": "SERVER_UNAVAILABLE", "count": 1})
    metrics_file = tmp_path / "metrics" / "zoomforce.prom"
    metrics_file.parent.mkdir()

    run = zoomforce(world, "sync", "--log-format", "json", "--mappings", str(broken), "--state",
                    str(tmp_path / "s.db"), "--metrics-file", str(metrics_file), cwd=tmp_path)

    assert run.returncode == 1, run.stderr  # the meetings' topics are refused: dead letters
    records = json_lines(run.stderr)
    events = [r["event"] for r in records]
    zoom_retries = [r for r in records if r["event"] == "zoom.retry"]
    assert len(zoom_retries) >= 2
    assert all(r["level"] == "warning" and r["status"] == 429 and r["wait_seconds"] >= 0 and r["reason"]
               for r in zoom_retries[:2])
    # Zoom's per-second 429 names its limit type and sends no Retry-After (the client then backs off)
    assert "X-RateLimit-Type: QPS" in {r["reason"] for r in zoom_retries}
    assert any(r["event"] == "salesforce.retry" and "SERVER_UNAVAILABLE" in r["reason"] for r in records)
    (start,) = [r for r in records if r["event"] == "run.start"]
    (finish,) = [r for r in records if r["event"] == "run.finish"]
    run_id = start["run_id"]
    assert isinstance(run_id, int) and finish["run_id"] == run_id and finish["status"] == "partial"
    done = {r["entity"]: r for r in records if r["event"] == "entity.done"}
    assert set(done) >= {"users", "meetings", "calls", "webinars"}
    assert all(r["run_id"] == run_id and set(r["counts"]) == {"read", "written", "unchanged", "failed"}
               for r in done.values())
    meetings = len(world.account.meeting_ids())
    assert done["meetings"]["counts"]["failed"] == meetings
    letters = [r for r in records if r["event"] == "dead_letter"]
    assert len(letters) == meetings and all(r["entity"] == "meetings" and r["code"] == "STRING_TOO_LONG"
                                            and r["level"] == "warning" for r in letters)
    assert events.index("run.start") < events.index("run.finish")
    for secret in secrets_of(world.account):
        assert secret not in run.stderr
    assert run.stdout.startswith("calls: read ")  # the summary stays on standard output, as text

    samples = metric_values(metrics_file.read_text(encoding="utf-8"))
    for entity, record in done.items():
        for outcome, count in record["counts"].items():
            assert value(samples, "zoomforce_records_total", entity=entity, outcome=outcome) == count
    assert value(samples, "zoomforce_api_calls_total", service="zoom", outcome="429") == 2
    assert value(samples, "zoomforce_api_calls_total", service="zoom", outcome="2xx") > 0
    assert value(samples, "zoomforce_api_calls_total", service="salesforce", outcome="5xx") == 1
    assert value(samples, "zoomforce_api_retries_total", service="zoom", reason="429") == 2
    assert value(samples, "zoomforce_api_retries_total", service="salesforce", reason="SERVER_UNAVAILABLE") == 1
    assert value(samples, "zoomforce_rate_limit_waits_total", service="zoom", reason="qps") == 2
    assert value(samples, "zoomforce_rate_limit_wait_seconds_total", service="zoom") == 2.0
    assert value(samples, "zoomforce_run_duration_seconds", command="sync") > 0
    assert value(samples, "zoomforce_dead_letters_open", entity="meetings") == meetings
    assert value(samples, "zoomforce_last_success_timestamp_seconds") == 0  # no run has written everything yet
    assert ("zoomforce_inbox_depth", ()) in samples and ("zoomforce_inbox_oldest_event_age_seconds", ()) in samples
    assert list(metrics_file.parent.iterdir()) == [metrics_file], "written through a temporary file, renamed"

    fixed = zoomforce(world, "sync", "--mappings", str(MAPPINGS), "--state", str(tmp_path / "s.db"), "--metrics-file",
                      str(metrics_file),
                      cwd=tmp_path, env=cli_env(world, ZOOMFORCE_LOG_FORMAT="json"))
    assert fixed.returncode == 0, fixed.stderr
    json_lines(fixed.stderr)
    again = metric_values(metrics_file.read_text(encoding="utf-8"))
    with StateStore.open(tmp_path / "s.db") as store:
        (last,) = [r for r in store.runs.recent() if r.status == "ok"]
    finished = time.mktime(time.strptime(last.finished_at or "", "%Y-%m-%dT%H:%M:%S.%fZ")) - time.timezone
    assert value(again, "zoomforce_last_success_timestamp_seconds") == pytest.approx(finished, abs=1)
    assert value(again, "zoomforce_dead_letters_open", entity="meetings") == 0


def test_every_command_takes_log_format_and_json_makes_its_errors_json(world: World, tmp_path: Path) -> None:
    def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from commands(command, (*path, name))
            else:
                yield (*path, name)

    every = list(commands(cli))
    assert ("dead-letters", "list") in every and ("sync",) in every and len(every) >= 12
    for path in every:
        help_text = CliRunner().invoke(cli, [*path, "--help"]).output
        assert "--log-format [text|json]" in help_text, path

    unknown = zoomforce(world, "sync", "meetngs", "--log-format", "json", "--state", str(tmp_path / "x.db"),
                        cwd=tmp_path)
    (error,) = json_lines(unknown.stderr)
    assert unknown.returncode == 2 and error["event"] == "error" and error["exit_code"] == 2
    assert error["level"] == "error" and "did you mean 'meetings'" in error["message"]
    validated = zoomforce(world, "validate", cwd=tmp_path, env=cli_env(world, ZOOMFORCE_LOG_FORMAT="json"))
    (summary,) = [r for r in json_lines(validated.stderr) if r["event"] == "validate.summary"]
    assert summary["errors"] == 0 and summary["files"] >= 9
    bad = zoomforce(world, "validate", cwd=tmp_path, env=cli_env(world, ZOOMFORCE_LOG_FORMAT="yaml"))
    assert bad.returncode == 2 and "yaml" in bad.stderr


def test_a_dry_run_plan_with_a_json_summary_goes_to_standard_error_as_json(world: World, tmp_path: Path) -> None:
    run = zoomforce(world, "sync", "meetings", "--dry-run", "--summary", "json", "--log-format", "json", "--state",
                    str(tmp_path / "dry.db"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert set(json.loads(run.stdout)) == {"entities", "api_calls"}
    plans = [r for r in json_lines(run.stderr) if r["event"] == "dry_run.plan"]
    assert {p["key"] for p in plans if p["entity"] == "meetings"} == {str(m) for m in world.account.meeting_ids()}
    assert all(p["action"] == "create" and p["changes"]["zoom_app__Zoom_Meeting_Password__c"]["after"] == "***"
               for p in plans if p["entity"] == "meetings")


# ---- serve: /metrics, /readyz, and a sync beside it on one state -------------------------------------------


def test_serve_and_sync_share_a_state_and_serve_exposes_metrics_and_readiness(world: World, tmp_path: Path) -> None:
    world.salesforce.post("reset")
    state = tmp_path / "shared.db"
    port = free_port()
    env = cli_env(world, ZOOM_WEBHOOK_SECRET_TOKEN=SECRET)
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        serve = subprocess.Popen([*ZOOMFORCE, "serve", "--port", str(port), "--state", str(state), "--log-format",
                                  "json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert serve.stdout is not None
        url = LineReader(serve.stdout).next(30)
        http = httpx.Client(base_url=url, timeout=10, trust_env=False)
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready",
                                                             "checks": {"state": "ok", "salesforce": "ok"}}
        kinds = ["phone.callee_ended", "meeting.ended", "webinar.registration_created"]
        events = [build_event(world.account, kinds[n % 3], n // 3) for n in range(30)]
        sent: list[int] = []

        def deliver() -> None:  # events arrive while the sync runs
            for event in events:
                body = serialize(event)
                headers = signed_headers(body, SECRET, str(int(time.time())), f"req-{len(sent)}")
                sent.append(http.post(WEBHOOK_PATH, content=body, headers=headers).status_code)

        sender = threading.Thread(target=deliver)
        sender.start()
        synced = zoomforce(world, "sync", "--state", str(state), "--summary", "json", cwd=tmp_path)
        sender.join(60)
        assert synced.returncode == 0, synced.stderr
        assert sent == [200] * len(events)
        with StateStore.open(state) as store:
            wait_until(lambda: store.inbox.pending_count() == 0, "the inbox to be processed", 60)
            assert store.inbox.counts().get("dead", 0) == 0
            assert store.runs.recent()[0].status == "ok"
        scraped = http.get("/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        samples = metric_values(scraped.text)
        assert value(samples, "zoomforce_inbox_depth") == 0
        assert value(samples, "zoomforce_inbox_oldest_event_age_seconds") == 0
        assert value(samples, "zoomforce_records_total", entity="calls", outcome="written") > 0
        assert value(samples, "zoomforce_api_calls_total", service="salesforce", outcome="2xx") > 0
        assert value(samples, "zoomforce_last_success_timestamp_seconds") > 0  # the sync's, read from the state
        http.close()
    finally:
        stop(serve)
    lines = json_lines(stderr_path.read_text(encoding="utf-8"))
    assert not [r for r in lines if "locked" in r["message"].lower()]


def test_readyz_answers_503_naming_the_check_that_fails(tmp_path: Path) -> None:
    def unreachable() -> None:
        raise Unreachable("salesforce", "cannot connect to https://127.0.0.1:9 (ping, 5 attempts)")

    with StateStore.open(tmp_path / "s.db") as store:
        running = start_in_thread(create_app(store, SECRET, None, ready_check=unreachable))
        try:
            answer = httpx.get(f"{running.url}/readyz", timeout=10, trust_env=False)
        finally:
            running.stop()
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "checks": {
        "state": "ok", "salesforce": "error: salesforce: cannot connect to https://127.0.0.1:9 (ping, 5 attempts)"}}


def test_bulk_job_states_are_logged_as_they_change(world: World, tmp_path: Path) -> None:
    world.salesforce.post("reset")
    run = zoomforce(world, "sync", "users", "--bulk-threshold", "1", "--log-format", "json", "--state",
                    str(tmp_path / "s.db"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    jobs = [r for r in json_lines(run.stderr) if r["event"] == "salesforce.bulk_job"]
    assert jobs and jobs[0]["state"] == "Open" and jobs[-1]["state"] == "JobComplete"
    assert all(r["level"] == "info" and r["job_id"] == jobs[0]["job_id"] for r in jobs)
    assert jobs[-1]["processed"] == 3 and str(jobs[-1]["failed"]) == "0"


def test_the_state_gauges_say_how_deep_and_how_old_the_inbox_is(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from engine import metrics
    from engine.sync.observe import observe_state

    received = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with StateStore.open(tmp_path / "s.db") as store:
        store.inbox.add("e1", "meeting.ended", b"{}", received_at=received)
        store.inbox.add("e2", "meeting.ended", b"{\"n\": 2}", received_at=received + timedelta(seconds=30))
        store.dead_letters.add("calls", "c1", "X", "x", {}, None, secret_fields=())
        observe_state(store, now=received + timedelta(seconds=90))
    samples = metric_values(metrics.exposition().decode())
    assert value(samples, "zoomforce_inbox_depth") == 2
    assert value(samples, "zoomforce_inbox_oldest_event_age_seconds") == 90
    assert value(samples, "zoomforce_dead_letters_open", entity="calls") == 1
