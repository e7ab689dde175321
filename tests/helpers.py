"""Shared paths and small utilities for the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "reference"
FIXTURES = REPO / "tests" / "fixtures"
MAPPINGS = REPO / "mappings"
CASES = Path(__file__).resolve().parent / "cases"
# The shipped catalog as it is: an org with the fields zoomforce adds deployed. The Salesforce
# emulator serves a stock org (Zoom's package without them) unless given this folder (or another).
ORG_WITH_ADDITIONS = REPO / "schemas" / "salesforce"


def copy_mappings(tmp_path: Path) -> Path:
    """A copy of the default mappings to change one value in."""
    import shutil

    folder = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, folder)
    return folder


def replace_once(path: Path, old: str, new: str) -> tuple[int, int]:
    """Replace the one occurrence of `old` in `path`; the (line, column) where it began."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    at = text.index(old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def signed_headers(body: bytes, secret: str, timestamp: str, request_id: str | None = None) -> dict[str, str]:
    """The headers Zoom sends with an event notification, signed with `secret`."""
    from engine.serve.app import sign

    headers = {"content-type": "application/json", "x-zm-request-timestamp": timestamp,
               "x-zm-signature": sign(secret, timestamp, body)}
    if request_id is not None:
        headers["x-zm-request-id"] = request_id
    return headers


def wait_until(predicate: Callable[[], bool], what: str, timeout: float, interval: float = 0.02) -> None:
    """Poll `predicate` until it holds; fail the test, naming `what`, after `timeout` seconds."""
    import time

    import pytest

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def validate_errors(folder: Path) -> list[dict[str, Any]]:
    """`zoomforce validate FOLDER --format json`: its errors (warnings left out); the exit code checked."""
    import json

    from click.testing import CliRunner

    from engine.cli.main import cli

    result = CliRunner().invoke(cli, ["validate", str(folder), "--format", "json"])
    payload = json.loads(result.stdout)
    errors = [e for e in payload["errors"] if e["severity"] == "error"]
    assert result.exit_code == (1 if errors else 0), result.stdout
    assert payload["valid"] is not errors
    return errors
