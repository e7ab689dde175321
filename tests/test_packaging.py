"""A wheel carries the schemas and default mappings, and works from a folder with no checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = pytest.importorskip("hatchling.builders.wheel")
    out = tmp_path_factory.mktemp("dist")
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        builder = build.WheelBuilder(str(REPO))
        (path,) = list(builder.build(directory=str(out), versions=["standard"]))
    finally:
        os.chdir(cwd)
    return Path(path)


def test_wheel_ships_schemas_and_mappings(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "engine/_data/schemas/mapping.schema.json" in names
    assert "engine/_data/mappings/meetings.yaml" in names
    assert "engine/cli/main.py" in names


def test_unpacked_wheel_runs_from_any_folder(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    meeting = {"id": 1, "topic": "T", "password": "pw", "start_time": "2026-01-01T10:00:00Z", "duration": 30}
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "engine", "map", "meetings"],
        input=json.dumps(meeting),
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["record"]["zoom_app__Zoom_Meeting_Password__c"] == "***"
    probe = subprocess.run(
        [sys.executable, "-c", "import engine.resources as r; print(r.schemas_dir())"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert probe.stdout.strip().startswith(str(site))
