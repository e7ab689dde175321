"""What every test shares: the process's logging and metrics as a fresh process has them.

A command run in-process (click's CliRunner) configures logging (``--log-format``) and adds to the
metrics, as it does in its own process; undoing that after each test keeps one test's command from
changing what the next one's ``caplog`` sees or what its metrics count.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import logs, metrics
from engine.project.project_file import PROJECT_ENV
from tests.helpers import Emulated

# A real PostgreSQL server (initdb/pg_ctl in a temporary folder) for the state's shared contract suite.
pytest_plugins = ["tests.postgres_server"]


@pytest.fixture(autouse=True)
def _fresh_logging_and_metrics() -> Iterator[None]:
    yield
    logs.unconfigure()
    metrics.reset()


@pytest.fixture()
def emulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulated]:
    """Both emulators on 127.0.0.1 (4 users, an org with the additions deployed), the environment
    pointing zoomforce at them, no project file in the way, the working directory a temporary one."""
    world = Emulated(tmp_path, users=4)
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SF_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    yield world
    world.stop()
