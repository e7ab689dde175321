"""The closure compiler against jmespath's own interpreter on every case of the compliance suite.

Each case is run twice, with jmespath's builtin registry and with zoomforce's (which adds the
transforms): the compiled closure must give the interpreter's result, or raise its exception type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jmespath
import pytest
from jmespath import exceptions as jmes_errors
from jmespath import functions as jmes_functions

from engine.language.compiler import Compiler
from engine.language.functions import ZoomforceFunctions

SUITE = Path(__file__).resolve().parent / "jmespath_compliance"
REGISTRIES = {"builtins": jmes_functions.Functions(), "zoomforce": ZoomforceFunctions()}


def _cases() -> list[Any]:
    found = []
    for path in sorted(SUITE.glob("*.json")):
        for group_index, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            for case_index, case in enumerate(group["cases"]):
                case_id = f"{path.stem}-{group_index}-{case_index}"
                found.append(pytest.param(group["given"], case["expression"], id=case_id))
    return found


CASES = _cases()


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "result", run()
    except (jmes_errors.JMESPathError, TypeError, ValueError) as exc:
        return "error", type(exc)


def test_every_case_is_run() -> None:
    assert len(CASES) >= 800


@pytest.mark.parametrize("registry", sorted(REGISTRIES))
@pytest.mark.parametrize(("given", "expression"), CASES)
def test_compiled_agrees_with_the_interpreter(given: Any, expression: str, registry: str) -> None:
    functions = REGISTRIES[registry]
    try:
        parsed = jmespath.compile(expression)
    except jmes_errors.JMESPathError:
        return  # a syntax error: there is no tree to compile
    options = jmespath.Options(custom_functions=functions)
    expected = _outcome(lambda: parsed.search(given, options=options))
    try:
        compiled = Compiler(functions).compile(parsed.parsed)
    except Exception as exc:  # compiling must never fail where the interpreter runs
        pytest.fail(f"{expression!r} did not compile: {exc!r}")
    actual = _outcome(lambda: compiled(given))
    assert actual == expected
    if actual[0] == "result":  # True == 1 in Python: the JSON texts must agree too
        assert json.dumps(actual[1], sort_keys=True) == json.dumps(expected[1], sort_keys=True)


@pytest.mark.parametrize(
    ("expression", "document", "result"),
    [
        ("sf_datetime(add_minutes(start_time, duration))", {"start_time": "2022-03-23T06:00:00Z", "duration": 30},
         "2022-03-23T06:30:00.000Z"),
        ("join(', ', a[].b || `[]`)", {"a": [{"b": "x"}, {"b": "y"}]}, "x, y"),
        ("join(', ', a[].b || `[]`)", {}, ""),
        ("sort_by(people, &age)[].name", {"people": [{"name": "b", "age": 2}, {"name": "a", "age": 1}]}, ["a", "b"]),
        ("upper('abc')", None, "ABC"),
    ],
)
def test_zoomforce_expressions(expression: str, document: Any, result: Any) -> None:
    functions = ZoomforceFunctions()
    compiled = Compiler(functions).compile(jmespath.compile(expression).parsed)
    assert compiled(document) == result
    assert jmespath.search(expression, document, options=jmespath.Options(custom_functions=functions)) == result


def test_constants_are_folded_once() -> None:
    calls: list[str] = []

    class Counting(ZoomforceFunctions):
        @jmes_functions.signature({"types": ["string", "null"]})
        def _func_shout(self, text: str | None) -> str | None:
            calls.append("shout")
            return None if text is None else text.upper()

    compiled = Compiler(Counting()).compile(jmespath.compile("concat(shout('a'), name)").parsed)
    assert [compiled({"name": n}) for n in ("x", "y")] == ["Ax", "Ay"]
    assert calls == ["shout"]


def test_a_constant_that_fails_fails_per_record_with_the_interpreters_error() -> None:
    compiled = Compiler(jmes_functions.Functions()).compile(jmespath.compile("abs('x')").parsed)
    with pytest.raises(jmes_errors.JMESPathTypeError):
        compiled({})
