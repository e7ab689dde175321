"""jsonschema-rs and jsonschema agree on what is valid, so that `validate` may skip jsonschema for a valid file.

``engine.language.schema_checker`` trusts jsonschema-rs's "valid" (``known_valid``) and walks anything
else with jsonschema. Here the two are compared on every document at hand: the default mappings, every
hostile mutant of tests/hostile/mutants.yaml, every case of tests/cases/, and documents generated
from those by changing one value; the regular expression classes the schemas use are compared over
every character; and the schemas are held to the shape the argument needs (no ``not``, no ``oneOf``
whose branches overlap).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.disclosure.facts import plain_dates
from engine.language.loader import load_yaml_file, load_yaml_text
from engine.language.schema_checker import REGEX_ENGINES_DIFFER, SchemaChecker, schema_checker
from tests.helpers import CASES, MAPPINGS
from tests.hostile.test_mutants import CASES as MUTANTS
from tests.hostile.test_mutants import mutate

RUNTIME_SCHEMAS = ("mapping.schema.json", "disclosure-facts.schema.json", "project.schema.json")
MAPPING = schema_checker("mapping.schema.json")
FACTS = schema_checker("disclosure-facts.schema.json")
PROJECT = schema_checker("project.schema.json")


def _jsonschema_valid(checker: SchemaChecker, data: Any) -> bool:
    return next(iter(checker.validator.iter_errors(data)), None) is None


def _assert_agree(checker: SchemaChecker, data: Any, what: str) -> bool:
    """jsonschema-rs's "valid" is jsonschema's; returns whether the document is valid."""
    valid = _jsonschema_valid(checker, data)
    assert checker.known_valid(data) == valid, f"{what}: jsonschema says {'valid' if valid else 'invalid'}"
    return valid


def _mapping_files() -> list[Path]:
    return sorted(p for p in MAPPINGS.glob("*.yaml") if p.name != "disclosure.yaml")


def test_the_default_mappings_and_facts_are_valid_to_both() -> None:
    for path in _mapping_files():
        assert _assert_agree(MAPPING, load_yaml_file(path).data, path.name)
    assert _assert_agree(FACTS, plain_dates(load_yaml_file(MAPPINGS / "disclosure.yaml").data), "disclosure.yaml")


def test_every_hostile_mutant_is_judged_alike(tmp_path: Path) -> None:
    judged = invalid = 0
    for case in MUTANTS:
        folder = tmp_path / case["name"]
        shutil.copytree(MAPPINGS, folder)
        document = load_yaml_file(mutate(case, folder))
        if document.problems or not isinstance(document.data, dict):
            continue  # refused by the loader: no schema is asked
        judged += 1
        invalid += not _assert_agree(MAPPING, document.data, case["name"])
    assert judged >= 60 and invalid >= 40, (judged, invalid)


def test_every_case_mapping_is_judged_alike() -> None:
    judged = 0
    for path in sorted(CASES.glob("*.yaml")):
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, text in [("mapping", case["mapping"]), *case.get("siblings", {}).items()]:
            document = load_yaml_text(text, f"{path.stem}/{name}")
            if not document.problems and isinstance(document.data, dict):
                judged += 1
                _assert_agree(MAPPING, document.data, f"{path.stem}/{name}")
    assert judged >= 30


# ---- generated documents: one value of a valid document changed -------------------------------

def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*path, index))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(data))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return copy


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


TRICKY = ["\n", "\x85", "\ufeff", "\u0660", "\u00a0", "\u2028", "\u3000", " ", "@", ".", "é", "\U0001f600", "\x1c"]
PATTERN_TEXTS = st.sampled_from(sorted({p for name in RUNTIME_SCHEMAS for p in _patterns(schema_checker(name).schema)}))
matching = PATTERN_TEXTS.flatmap(lambda pattern: st.from_regex(pattern, fullmatch=True))
near_matching = st.tuples(matching, st.sampled_from(TRICKY), st.integers(0, 40)).map(
    lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:])
texts = st.one_of(matching, near_matching, matching.map(lambda s: s + "\n"), st.text(max_size=12),
                  st.sampled_from(["", "x", "users", "en", "GET /users", "2026-01-15", "P2Y", "30m", "a@b.co"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**20), st.floats(allow_nan=False), texts)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                      max_leaves=5)

SEEDS = {
    "mapping": (MAPPING, [load_yaml_file(p).data for p in _mapping_files()]),
    "facts": (FACTS, [plain_dates(load_yaml_file(MAPPINGS / "disclosure.yaml").data)]),
    "project": (PROJECT, [{"mappings": "mappings", "catalog": "catalog", "state": "zoomforce.db",
                           "accounts": {"main": {"env_prefix": "MAIN", "description": "x"}},
                           "languages": ["en", "fr-CA"], "salesforce": {"api_version": "62.0"}}]),
}


@pytest.mark.parametrize("kind", sorted(SEEDS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_document_with_one_value_changed_is_judged_alike(kind: str, data: st.DataObject) -> None:
    checker, seeds = SEEDS[kind]
    seed = data.draw(st.sampled_from(seeds))
    path = data.draw(st.sampled_from(_paths(seed)))
    replacement = data.draw(st.one_of(values, texts))
    document = _replaced(seed, path, replacement)
    known, valid = checker.known_valid(document), _jsonschema_valid(checker, document)
    assert valid or not known, f"{kind} {path!r} = {replacement!r}: jsonschema-rs says valid, jsonschema invalid"
    if valid and not known:  # left to jsonschema, for one of the reasons engine/language/schema_checker.py gives
        assert _undecided(document), f"{kind} {path!r} = {replacement!r}: jsonschema-rs says invalid"


def _undecided(data: Any) -> bool:
    """Whether `data` holds what jsonschema-rs leaves to jsonschema: a string with a character the regex
    engines class apart, or one ending in a line break (``$``)."""
    if isinstance(data, str):
        return bool(REGEX_ENGINES_DIFFER.search(data)) or data.endswith("\n")
    if isinstance(data, dict):
        return any(_undecided(key) or _undecided(value) for key, value in data.items())
    if isinstance(data, list):
        return any(_undecided(value) for value in data)
    return False


@pytest.mark.parametrize("value", [dt.date(2026, 1, 15), b"bytes", float("nan"), float("inf"), 10**40, "x\x85y",
                                   "\u0661\u0662"])
def test_what_jsonschema_rs_cannot_judge_goes_to_jsonschema(value: Any) -> None:
    document = {**load_yaml_file(MAPPINGS / "users.yaml").data, "entity": value}
    assert not MAPPING.known_valid(document)
    assert not _jsonschema_valid(MAPPING, document)


# ---- the regular expressions and the shape of the schemas ------------------------------------

def test_the_regex_classes_the_schemas_use_differ_only_where_jsonschema_decides() -> None:
    """Python's `re` and jsonschema-rs class every character alike but those of REGEX_ENGINES_DIFFER."""
    escapes = {m for name in RUNTIME_SCHEMAS for p in _patterns(schema_checker(name).schema)
               for m in re.findall(r"\\[A-Za-z]", p)}
    assert escapes <= {r"\s", r"\S", r"\d"}, f"compare {escapes} below before a schema uses them"
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for escape in sorted(escapes):
        fast = jsonschema_rs.Draft202012Validator({"pattern": f"^{escape}$"}, offline=True)
        python = re.compile(f"^{escape}$")
        differ = [c for c in chars if fast.is_valid(c) != bool(python.search(c))]
        assert differ, escape  # the engines do differ: the set below is not empty by accident
        assert all(REGEX_ENGINES_DIFFER.search(c) for c in differ), [f"U+{ord(c):04X}" for c in differ
                                                                     if not REGEX_ENGINES_DIFFER.search(c)]


def _resolved(branch: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in branch:
        branch = schema["$defs"][branch["$ref"].removeprefix("#/$defs/")]
    return branch


def _kinds(branch: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The JSON types a branch accepts; a list of at least one item as ``array of TYPE``."""
    branch = _resolved(branch, schema)
    kinds = branch["type"] if isinstance(branch["type"], list) else [branch["type"]]
    found = {kind for kind in kinds if kind != "array"}
    if "array" in kinds:
        if branch.get("minItems", 0) >= 1 and "items" in branch:
            found |= {f"array of {kind}" for kind in _kinds(branch["items"], schema)}
        else:
            found.add("array")
    return found


def _overlap(a: set[str], b: set[str]) -> bool:
    if "array" in a and any(kind.startswith("array") for kind in b):
        return True
    if "array" in b and any(kind.startswith("array") for kind in a):
        return True
    return bool(a & b)


def _one_ofs(node: Any) -> list[list[dict[str, Any]]]:
    if isinstance(node, dict):
        return ([node["oneOf"]] if "oneOf" in node else []) + [o for value in node.values() for o in _one_ofs(value)]
    if isinstance(node, list):
        return [o for value in node for o in _one_ofs(value)]
    return []


@pytest.mark.parametrize("name", RUNTIME_SCHEMAS)
def test_no_stricter_part_can_make_a_schema_more_lenient(name: str) -> None:
    """jsonschema-rs is stricter in places (``$``): only ``not`` or a ``oneOf`` of branches that one value
    could both satisfy would turn that into a "valid" that jsonschema does not give."""
    schema = schema_checker(name).schema
    text = json.dumps(schema)
    for keyword in ("not", "if", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "contains"):
        assert f'"{keyword}":' not in text, keyword
    for branches in _one_ofs(schema):
        kinds = [_kinds(branch, schema) for branch in branches]
        assert not any(_overlap(a, b) for i, a in enumerate(kinds) for b in kinds[i + 1:]), kinds
