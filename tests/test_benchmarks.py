"""The benchmarks run and print their ratios (their numbers are not asserted: timings vary)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO


def test_plan_benchmark_prints_ratios_against_its_baselines() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_plan.py"), "--records", "200", "--repeat", "1"],
        capture_output=True, text=True, timeout=120, check=True, cwd=REPO,
    )
    names = re.findall(r"^(.+?)\s+[\d,]+ records/s$", result.stdout, re.MULTILINE)
    assert [n.strip() for n in names] == ["compiled plan", "jmespath.search per field", "hand-written Python"]
    assert re.search(r"^plan / jmespath.search\s+\d+\.\d\dx$", result.stdout, re.MULTILINE)
    assert re.search(r"^plan / hand-written\s+\d+\.\d\dx$", result.stdout, re.MULTILINE)
