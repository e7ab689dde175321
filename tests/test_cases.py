"""Data-driven cases: each file of tests/cases/ holds a mapping, input and the expected outcome.

Keys of a case file:
  mapping:   the mapping file's text (line numbers in `problems` count from its first line)
  siblings:  optional {entity: mapping text} written beside it (parents)
  input:     records, a Zoom API response, or a string of JSON Lines
  parent:    optional parent record (scope parent, parent relation)
  expect:    the JSON Lines objects `map` writes (secrets redacted)
  errors:    the record errors: {index, field, kind, reason}
  warnings:  the number of warnings (truncations)
  problems:  validation problems: {line, column, severity?, message}: then nothing is mapped
Run one case alone with: pytest tests/test_cases.py -k NAME
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.language.expressions import compile_expression
from engine.language.inputs import read_records
from engine.language.plan import RunContext, compile_plan, run_batch
from engine.validate.mapping_set import load_mapping_set
from tests.helpers import CASES

CASE_FILES = sorted(CASES.glob("*.yaml"))


def _write_mappings(case: dict[str, Any], folder: Path) -> Path:
    path = folder / "case.yaml"
    path.write_text(case["mapping"], encoding="utf-8")
    for name, text in case.get("siblings", {}).items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return path


def _input_text(case: dict[str, Any]) -> str:
    given = case.get("input", [])
    return given if isinstance(given, str) else json.dumps(given)


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(case_file: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(case_file.read_text(encoding="utf-8"))
    mapping_file = _write_mappings(case, tmp_path)
    result = load_mapping_set([tmp_path] if case.get("siblings") else [mapping_file])
    problems = [p for p in result.problems if p.file.endswith("case.yaml")]
    if "problems" in case:
        got = [
            {
                "line": p.line,
                "column": p.column,
                "severity": p.severity,
                "message": f"{p.path}: {p.message}" if p.path else p.message,
            }
            for p in problems
        ]
        expected = [{"severity": "error", **item} for item in case["problems"]]
        assert got == expected
        return
    assert problems == [], [str(p) for p in problems]
    mapping = next(m for m in result.mappings.values() if m.file.endswith("case.yaml"))
    plan = compile_plan(mapping)
    records_expression = compile_expression(mapping.source.records) if mapping.source.records else None
    records = read_records(_input_text(case), records_expression)
    batch = run_batch(
        plan, records, RunContext(parent=case.get("parent"), run={"run_time": "2026-01-01T00:00:00.000Z"})
    )
    assert [m.as_json(plan.secrets) for _, m in batch.mapped] == case.get("expect", [])
    got_errors = [{"index": e.index, "field": e.field, "kind": e.kind, "reason": e.reason} for e in batch.errors]
    assert got_errors == case.get("errors", [])
    assert batch.warnings == case.get("warnings", 0)


def test_there_are_cases() -> None:
    assert len(CASE_FILES) >= 15
