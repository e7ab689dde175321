"""The benchmarks run and print their ratios (their numbers are not asserted: timings vary)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.helpers import REPO


def test_sync_benchmark_prints_its_runs_and_ratios() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_sync.py"), "--quick"],
        capture_output=True, text=True, timeout=300, check=True, cwd=REPO,
    )
    runs = re.findall(r"^(first run \(Collections\)|second run \(unchanged\)|first run \(Bulk 2\.0\))\s+read\s+(\d+)"
                      r"\s+written\s+(\d+)", result.stdout, re.MULTILINE)
    assert [name for name, _, _ in runs] == ["first run (Collections)", "second run (unchanged)",
                                             "first run (Bulk 2.0)"]
    first, second, bulk = ((int(read), int(written)) for _, read, written in runs)
    # a rejoined participant is listed twice and written once: written <= read, the same on both paths
    assert 0 < first[1] <= first[0] and second[1] == 0 and bulk == first
    assert re.search(r"^second / first salesforce calls\s+\d+\.\d\dx$", result.stdout, re.MULTILINE)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary["runs"]) == {"first", "unchanged", "bulk"}
    assert summary["runs"]["first"]["written"] == first[1]
    assert summary["runs"]["first"]["zoom_calls"] == sum(summary["runs"]["first"]["zoom_calls_by_label"].values())
    assert summary["peak_rss_mb"] > 0
    for run in summary["runs"].values():  # each against its minimum, the Salesforce calls split by kind
        assert 0 < run["zoom_min"] <= run["zoom_calls"] and run["salesforce_writes_min"] <= run["salesforce_writes"]
        assert run["salesforce_writes"] + run["salesforce_lookups"] + run["salesforce_other"] == run["salesforce_calls"]
    assert summary["runs"]["unchanged"]["salesforce_writes"] == summary["runs"]["unchanged"]["written"] == 0


def test_map_benchmark_runs_in_quick_mode_and_ends_with_its_json_summary() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_map.py"), "--quick"],
        capture_output=True, text=True, timeout=300, check=True, cwd=REPO,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    entities = {"users", "meetings", "past_meetings", "webinars", "registrants", "participants", "panelists",
                "calls", "registrations"}
    assert set(summary) == entities
    for figures in summary.values():
        assert set(figures) == {"plan_vs_hand", "naive_vs_plan", "records_per_s"}
        assert all(isinstance(value, int | float) and value > 0 for value in figures.values())


_CHILD = """
import sys
sys.path.insert(0, {benchmarks!r})
from bench_sync import own_peak_rss_mb
print(own_peak_rss_mb())
"""


def test_a_spawned_run_reports_its_own_peak_rss_not_its_parents() -> None:
    """The parent holds 300 MB, then starts a small process: the child's peak is its own (ru_maxrss
    would keep the parent's across the exec), as bench_sync measures each run."""
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # every page touched: resident
    child = subprocess.run([sys.executable, "-c", _CHILD.format(benchmarks=str(REPO / "benchmarks"))],
                           capture_output=True, text=True, timeout=120, check=True, cwd=REPO)
    assert 0 < float(child.stdout) < 200
    del ballast
