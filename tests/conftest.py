"""What every test shares: the process's logging and metrics as a fresh process has them.

A command run in-process (click's CliRunner) configures logging (``--log-format``) and adds to the
metrics, as it does in its own process; undoing that after each test keeps one test's command from
changing what the next one's ``caplog`` sees or what its metrics count.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import logs, metrics

# A real PostgreSQL server (initdb/pg_ctl in a temporary folder) for the state's shared contract suite.
pytest_plugins = ["tests.postgres_server"]


@pytest.fixture(autouse=True)
def _fresh_logging_and_metrics() -> Iterator[None]:
    yield
    logs.unconfigure()
    metrics.reset()
