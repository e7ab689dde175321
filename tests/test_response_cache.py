"""Each Zoom resource is read once per run: a response one mapping reads is reused by another that
reads the same operation with the same parameters (engine.zoom.responses).

Real sockets: the Zoom and Salesforce emulators, the CLI through click's runner; the count is the
Zoom emulator's own, per route.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from engine.cli.main import cli
from engine.validate.mapping_set import load_mapping_set
from engine.zoom.responses import ResponseCache, shared_operations
from tests.helpers import MAPPINGS, Emulated, copy_mappings, enable

WEBINAR_READS = ("GET /webinars/{webinarId}", "GET /webinars/{webinarId}/registrants",
                 "GET /report/webinars/{webinarId}/participants")


def test_the_shared_operations_of_the_default_mappings_with_campaigns_on(tmp_path: Path) -> None:
    defaults = load_mapping_set([MAPPINGS]).raise_if_invalid()
    enabled = [m for m in defaults.mappings.values() if m.enabled]
    assert shared_operations(enabled) == {}, "the default mappings read no operation twice: nothing is kept"
    mappings = copy_mappings(tmp_path)
    enable(mappings, "campaigns", "campaign_members")
    on = [m for m in load_mapping_set([mappings]).raise_if_invalid().mappings.values() if m.enabled]
    assert shared_operations(on) == dict.fromkeys(WEBINAR_READS, 1)


def test_a_response_is_kept_only_until_its_later_readers_had_it() -> None:
    cache = ResponseCache({"GET /a/{id}": 1})
    fetched: list[str] = []

    def fetch(value: str) -> dict[str, str]:
        fetched.append(value)
        return {"v": value}

    assert cache.read("GET /a/{id}", "/a/1", {"x": 1}, lambda: fetch("one")) == {"v": "one"}
    assert len(cache) == 1
    assert cache.read("GET /a/{id}", "/a/1", {"x": "1"}, lambda: fetch("two")) == {"v": "one"}
    assert len(cache) == 0, "its one later reader had it: dropped"
    assert cache.read("GET /a/{id}", "/a/1", {"x": 2}, lambda: fetch("three")) == {"v": "three"}
    assert cache.read("GET /b", "/b", None, lambda: fetch("four")) == {"v": "four"}
    assert cache.read("GET /b", "/b", None, lambda: fetch("five")) == {"v": "five"}
    assert fetched == ["one", "three", "four", "five"] and len(cache) == 1  # /b is read by one mapping: never kept


def test_zoom_calls_equal_the_distinct_resources_the_mappings_read(emulated: Emulated, tmp_path: Path) -> None:
    mappings = copy_mappings(tmp_path)
    enable(mappings, "campaigns", "campaign_members")  # they read what webinars, registrants, participants read
    result = CliRunner().invoke(cli, ["sync", "--mappings", str(mappings), "--state", str(tmp_path / "state.db"),
                                      "--summary", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["entities"]["campaigns"]["written"] > 0 and summary["entities"]["campaign_members"]["read"] > 0
    stats = httpx.get(f"{emulated.zoom.url}/_emulator/stats").json()
    webinars = len(list(emulated.account.all_webinars()))
    assert webinars > 1
    for route in WEBINAR_READS:  # once per webinar (pages of 300 hold every registrant), not once per mapping
        assert sum(stats["requests"][route].values()) == webinars, route
    assert summary["api_calls"]["zoom"] == stats["api_requests"]
