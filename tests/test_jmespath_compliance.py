"""The engine's expression compiler (fast paths included) against the official JMESPath suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jmespath import exceptions as jmes_errors

from engine.errors import ExpressionError, TransformValueError
from engine.language.expressions import compile_expression

SUITE = Path(__file__).resolve().parent / "jmespath_compliance"
# The vendored suite holds 892 cases with a result or an error; fewer means files went missing.
MINIMUM_CASES = 800


def _cases() -> list[Any]:
    found = []
    for path in sorted(SUITE.glob("*.json")):
        for group_index, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            for case_index, case in enumerate(group["cases"]):
                if "result" in case or "error" in case:
                    case_id = f"{path.stem}-{group_index}-{case_index}"
                    found.append(pytest.param(group["given"], case, id=case_id))
    return found


CASES = _cases()

# How a JMESPath error kind shows up in the engine: at compile time as an ExpressionError of that
# kind, or at evaluation time as jmespath's own exception.
RUNTIME_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "invalid-type": (jmes_errors.JMESPathTypeError,),
    "invalid-value": (ValueError, jmes_errors.JMESPathError),
    "invalid-arity": (jmes_errors.ArityError,),
    "unknown-function": (jmes_errors.UnknownFunctionError,),
    "syntax": (),
}


def test_the_suite_is_there() -> None:
    assert len(CASES) >= MINIMUM_CASES, (
        f"the JMESPath compliance suite in {SUITE} gave {len(CASES)} cases, expected at least {MINIMUM_CASES}"
    )


@pytest.mark.parametrize(("given", "case"), CASES)
def test_compliance(given: Any, case: dict[str, Any]) -> None:
    expression = case["expression"]
    if "result" in case:
        compiled = compile_expression(expression)
        assert compiled.evaluate(given) == case["result"]
        return
    kind = case["error"]
    try:
        compiled = compile_expression(expression)
    except ExpressionError as exc:
        assert exc.kind == kind, f"{expression!r}: compile error of kind {exc.kind}, expected {kind}"
        return
    with pytest.raises(RUNTIME_ERRORS[kind] or (Exception,)) as raised:
        compiled.evaluate(given)
    assert not isinstance(raised.value, TransformValueError)


def test_fast_path_is_used_for_plain_paths() -> None:
    assert compile_expression("settings.approval_type").fast_path == ("settings", "approval_type")
    assert compile_expression('"join url".x').fast_path == ("join url", "x")
    assert compile_expression("a[0]").fast_path is None
