"""libyaml's loader, where it is used, gives what the pure-Python bounded loader gives: data, positions, problems.

``load_yaml_text`` composes a plain file with libyaml and falls back to the bounded pure-Python
loader for anything else; every YAML file of the repository (mappings, test cases, hostile
mutants) is loaded both ways here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.language import loader
from tests.helpers import REPO

FOLDERS = ("mappings", "tests", "schemas", "scripts")
FILES = sorted(path for folder in FOLDERS for path in (REPO / folder).rglob("*.y*ml"))


def _pure(text: str, name: str) -> loader.LoadedDocument:
    saved = loader._CLoader
    loader._CLoader = None
    try:
        return loader.load_yaml_text(text, name)
    finally:
        loader._CLoader = saved


def test_libyaml_is_there_and_used_for_the_default_mappings() -> None:
    assert loader._CLoader is not None
    for path in (REPO / "mappings").glob("*.yaml"):
        assert loader._load_with_libyaml(path.read_text(encoding="utf-8"), path.name) is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_both_loaders_agree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast, pure = loader.load_yaml_text(text, path.name), _pure(text, path.name)
    assert (fast.data, fast.positions, fast.problems) == (pure.data, pure.positions, pure.problems)


@pytest.mark.parametrize("text", [
    "a: [" * 40 + "1" + "]" * 40, "- " * 50 + "x", "a: &x [1, 2]\nb: *x\n", "a: 1\na: 2\n",
    "a: !!python/name:os.system\n",
    "a: 'unclosed\n", "", "a:\n" + "".join(" " * (2 * n) + f"k{n}:\n" for n in range(1, 60)) + "    z: 1\n",
    "x: {a: 1, b: [1, {c: 2}]}\n", "? [1, 2]\n: v\n", "a: b: c\n",
])
def test_both_loaders_agree_on_odd_text(text: str) -> None:
    fast, pure = loader.load_yaml_text(text, "odd.yaml"), _pure(text, "odd.yaml")
    assert (fast.data, fast.positions, fast.problems) == (pure.data, pure.positions, pure.problems)
