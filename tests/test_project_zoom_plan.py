"""The project file's ``zoom: {plan: free|pro|business}``: the rate limits ``sync`` keeps when
``--zoom-plan`` is not given (the option wins; neither: pro).

The Zoom emulator allows 6 requests a second per rate-limit label: the free plan's limits (4, 2
and 1 a second) stay under it, so a sync on the project's free plan gets no 429; the same sync
with ``--zoom-plan pro`` sends its 10 user details 8 at a time and gets some.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.emulators.zoom.app import ZoomEmulatorConfig, close_app, create_app
from engine.project.project_file import load_project
from engine.resources import schemas_dir
from engine.serving import RunningServer, start_in_thread
from engine.zoom.throttle import zoom_plans
from tests.test_project import make_project, run


@pytest.fixture()
def zoom() -> Iterator[RunningServer]:
    app = create_app(ZoomEmulatorConfig(users=10, rate_limit=6))
    server = start_in_thread(app)
    yield server
    server.stop()
    close_app(app)


def zoom_env(zoom: RunningServer) -> dict[str, str]:
    return {"ZOOM_ACCOUNT_ID": "demo", "ZOOM_CLIENT_ID": "demo", "ZOOM_CLIENT_SECRET": "demo",
            "ZOOM_API_URL": f"{zoom.url}/v2", "ZOOM_OAUTH_URL": f"{zoom.url}/oauth/token"}


def too_many(zoom: RunningServer) -> int:
    """The 429s the emulator has answered so far."""
    routes = httpx.get(f"{zoom.url}/_emulator/stats", timeout=10).json()["requests"]
    return sum(by_status.get("429", 0) for by_status in routes.values())


def test_the_plans_the_schema_allows_are_the_throttles() -> None:
    schema = json.loads((schemas_dir() / "project.schema.json").read_text(encoding="utf-8"))
    assert sorted(schema["properties"]["zoom"]["properties"]["plan"]["enum"]) == zoom_plans()


def test_the_project_plan_is_read_and_an_unknown_one_is_reported_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "zoomforce.yaml").write_text("zoom: {plan: business}\n", encoding="utf-8")
    assert load_project(tmp_path / "zoomforce.yaml").zoom_plan == "business"
    (tmp_path / "zoomforce.yaml").write_text("languages: [en]\nzoom:\n  plan: enterprise\n", encoding="utf-8")
    problems = load_project(tmp_path / "zoomforce.yaml").problems
    assert [(p.line, "enterprise" in p.message) for p in problems] == [(3, True)]
    (tmp_path / "zoomforce.yaml").write_text("languages: [en]\n", encoding="utf-8")
    assert load_project(tmp_path / "zoomforce.yaml").zoom_plan is None


def test_an_unknown_project_plan_stops_sync_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path, "mappings: mappings\nzoom: {plan: enterprise}\n")
    result = run(["sync", "users", "--dry-run", "--state", str(tmp_path / "s.db")], root, monkeypatch)
    assert result.exit_code == 2 and "enterprise" in result.output and "Traceback" not in result.output


def test_sync_keeps_the_project_plan_unless_zoom_plan_says_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zoom: RunningServer) -> None:
    root = make_project(tmp_path, "mappings: mappings\nzoom: {plan: free}\n")
    args = ["sync", "users", "--dry-run", "--summary", "json"]
    on_free = run([*args, "--state", str(tmp_path / "free.db")], root, monkeypatch, **zoom_env(zoom))
    assert on_free.exit_code == 0, on_free.output
    assert too_many(zoom) == 0
    on_pro = run([*args, "--state", str(tmp_path / "pro.db"), "--zoom-plan", "pro"], root, monkeypatch,
                 **zoom_env(zoom))
    assert on_pro.exit_code == 0, on_pro.output
    assert too_many(zoom) > 0
