"""The mutant corpus (tests/hostile/mutants.yaml): every hostile mapping file gives a located error and exit 1.

Each case changes one file of a copy of the default mappings, runs ``zoomforce validate`` on the folder
(in this process, through click) and checks that an error of that file stands within one line of the
expected line and carries the expected fragment: never a traceback, never exit 70, and within the
limits of engine/language/limits.py (which bound the time and memory a file can take). A few run as
real processes too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from engine.cli.main import cli
from engine.language import limits
from tests.helpers import MAPPINGS, REPO

CORPUS = Path(__file__).with_name("mutants.yaml")
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): error: (?P<message>.*)$")


def _laughs() -> bytes:
    lines = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def _deep_block() -> bytes:
    return "".join("  " * depth + f"k{depth}:\n" for depth in range(40)).encode() + b"  " * 40 + b"v: 1\n"


def _users_with(from_expression: str) -> bytes:
    text = (MAPPINGS / "users.yaml").read_text(encoding="utf-8")
    return text.replace("  - from: email\n", f"  - from: \"{from_expression}\"\n", 1).encode()


def _many_fields() -> bytes:
    text = (MAPPINGS / "users.yaml").read_text(encoding="utf-8")
    field = ("  - from: id\n    to: X{n}__c\n    label: {{en: a, fr: b}}\n    category: system.operations\n")
    return (text + "".join(field.format(n=n) for n in range(limits.MAX_FIELDS))).encode()


GENERATED = {
    "empty": lambda: b"",
    "a-list": lambda: b"- entity\n- source\n",
    "billion-laughs": _laughs,
    "deep-flow": lambda: b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "deep-block": _deep_block,
    "huge-file": lambda: b"# padding\n" * (limits.MAX_MAPPING_FILE_BYTES // 10 + 1),
    "many-nodes": lambda: b"x:\n" + b"- 1\n" * (limits.MAX_YAML_NODES + 10),
    "many-fields": _many_fields,
    "huge-expression": lambda: _users_with("email" + " || email" * 500),
    "deep-expression": lambda: _users_with("(" * 60 + "email" + ")" * 60),
    "utf16": lambda: (MAPPINGS / "users.yaml").read_text(encoding="utf-8").encode("utf-16"),
}


def mutate(case: dict[str, Any], folder: Path) -> Path:
    target = folder / case["file"]
    if "generate" in case:
        target.write_bytes(GENERATED[case["generate"]]())
        return target
    data = target.read_bytes()
    old = case["old"].encode("utf-8")
    assert data.count(old) == 1, f"{case['name']}: 'old' must occur exactly once in {case['file']}"
    new = bytes.fromhex(case["new_hex"]) if "new_hex" in case else case["new"].encode("utf-8")
    target.write_bytes(data.replace(old, new))
    return target


def test_the_corpus_has_at_least_sixty_cases_with_unique_names() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 60 and len(set(names)) == len(names)
    assert set(GENERATED) == {case["generate"] for case in CASES if "generate" in case}


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_a_mutant_is_located_within_one_line(case: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, folder)
    target = mutate(case, folder)
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code == 1, (result.exit_code, result.output[-2000:], result.exception)
    assert "internal error" not in result.output
    errors = [match.groupdict() for match in map(ERROR.match, result.output.splitlines()) if match]
    mine = [e for e in errors if Path(e["file"]).name == target.name]
    assert mine, result.output[-2000:]
    near = [e for e in mine if abs(int(e["line"]) - case["line"]) <= 1]
    assert any(case["message"] in e["message"] for e in near), (
        f"expected line {case['line']} with {case['message']!r}; got:\n"
        + "\n".join(f"{e['line']}: {e['message'][:200]}" for e in mine))


@pytest.mark.parametrize("name", ["yaml-billion-laughs", "yaml-nul-byte", "yaml-deep-flow", "yaml-not-utf8"])
def test_a_pathological_file_is_one_line_and_exit_1_in_a_real_process(name: str, tmp_path: Path) -> None:
    (case,) = [c for c in CASES if c["name"] == name]
    folder = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, folder)
    mutate(case, folder)
    for command in (["validate", str(folder)], ["map", "users", "--mappings", str(folder)]):
        done = subprocess.run([sys.executable, "-m", "engine", *command], input="{}", capture_output=True, text=True,
                              cwd=REPO, timeout=120, check=False)
        expected = 1 if command[0] == "validate" else 2
        assert done.returncode == expected, done.stderr[-2000:]
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        assert case["message"] in done.stdout + done.stderr
