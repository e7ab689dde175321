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


class Emulated:
    """The two emulators on 127.0.0.1 (in threads), and the environment that points zoomforce at them."""

    def __init__(self, tmp: Path, *, users: int = 4, catalog: Path | None = ORG_WITH_ADDITIONS) -> None:
        from engine.emulators.salesforce.app import SalesforceEmulatorConfig
        from engine.emulators.salesforce.app import create_app as salesforce_app
        from engine.emulators.tls import make_tls_files
        from engine.emulators.zoom.app import ZoomEmulatorConfig
        from engine.emulators.zoom.app import create_app as zoom_app
        from engine.serving import start_in_thread

        tls = make_tls_files(tmp / "tls")
        self.ca_file = tls.ca_file
        self.zoom_app = zoom_app(ZoomEmulatorConfig(users=users))
        self.salesforce_app = salesforce_app(SalesforceEmulatorConfig(catalog_dir=catalog))
        self.zoom = start_in_thread(self.zoom_app)
        self.salesforce = start_in_thread(self.salesforce_app, tls=tls)

    @property
    def account(self) -> Any:
        return self.zoom_app.state.account

    @property
    def org(self) -> Any:
        return self.salesforce_app.state.emulator.org

    def env(self) -> dict[str, str]:
        return {
            "SF_INSTANCE_URL": self.salesforce.url, "SF_CLIENT_ID": "demo", "SF_CLIENT_SECRET": "demo",
            "REQUESTS_CA_BUNDLE": self.ca_file, "ZOOM_ACCOUNT_ID": "demo", "ZOOM_CLIENT_ID": "demo",
            "ZOOM_CLIENT_SECRET": "demo", "ZOOM_API_URL": f"{self.zoom.url}/v2",
            "ZOOM_OAUTH_URL": f"{self.zoom.url}/oauth/token",
        }

    def stop(self) -> None:
        from engine.emulators.zoom.app import close_app

        self.zoom.stop()
        self.salesforce.stop()
        close_app(self.zoom_app)


def enable(folder: Path, *entities: str) -> None:
    """Switch the given mappings of `folder` on (`enabled: false` -> `enabled: true`)."""
    for entity in entities:
        replace_once(folder / f"{entity}.yaml", "\nenabled: false\n", "\nenabled: true\n")
