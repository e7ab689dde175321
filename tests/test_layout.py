"""The layout's rules, checked: the layering contracts, no import dodging a cycle, the packages as documented.

The contracts themselves live in pyproject.toml ([tool.importlinter]) and run in CI as
``lint-imports``; running them here too means ``pytest`` alone catches a broken layer.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

ENGINE = REPO / "engine"
PACKAGES = {"language", "validate", "zoom", "salesforce", "project", "sync", "serve", "disclosure", "cli",
            "emulators", "logs"}  # logs: a leaf like the modules below, in two parts so that --help imports no logging
TOP_LEVEL_MODULES = {"__init__", "__main__", "errors", "resources", "secrets", "serving", "suggest", "describe",
                     "metrics"}
DEFERRED_MARK = "deferred"


def test_the_import_contracts_hold() -> None:
    command = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([command, "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") >= 6, result.stdout


def test_engine_has_one_package_per_concern_and_only_the_shared_modules_at_its_top() -> None:
    packages = {p.name for p in ENGINE.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in ENGINE.glob("*.py")}
    assert packages == PACKAGES
    assert modules == TOP_LEVEL_MODULES


def _function_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("engine"):
                    found.append((inner.lineno, inner.module or ""))
                elif isinstance(inner, ast.Import):
                    found += [(inner.lineno, alias.name) for alias in inner.names if alias.name.startswith("engine")]
    return found


@pytest.mark.parametrize("path", sorted(ENGINE.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_an_import_inside_a_function_is_deferred_for_start_up_speed_and_says_so(path: Path) -> None:
    """A function-level import of the engine may only defer loading (``--help`` starts fast), never dodge
    a cycle: the comment that says so stands on the import's line or in the lines just above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    unexplained = []
    for lineno, module in _function_imports(path):
        above = lines[max(0, lineno - 8):lineno]
        if not any(DEFERRED_MARK in line.lower() for line in above if "#" in line):
            unexplained.append(f"{path.relative_to(REPO)}:{lineno}: import {module}")
    assert not unexplained, "imports inside functions with no 'deferred' comment:\n" + "\n".join(unexplained)


def test_no_test_or_script_reads_outside_the_repository() -> None:
    beside = "shared"  # the folder beside a developer's checkout; spelt apart so this file does not match itself
    needles = (f"../{beside}", f'parent / "{beside}"', f"parent / '{beside}'")
    offenders = [str(path.relative_to(REPO))
                 for folder in ("engine", "tests", "scripts", "benchmarks")
                 for path in (REPO / folder).rglob("*.py")
                 if any(needle in path.read_text(encoding="utf-8") for needle in needles)]
    assert not offenders, offenders
