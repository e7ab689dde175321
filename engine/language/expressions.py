"""JMESPath expressions: compiled once, with a fast path for plain field paths.

``compile_expression("settings.approval_type")`` parses the text once. A chain of plain field
names becomes a direct dictionary walk; anything else is compiled once into Python closures over
the parse tree (:mod:`engine.language.compiler`: functions bound, constants folded). Both agree
with JMESPath on the official compliance suite (``tests/test_jmespath_compliance.py``,
``tests/test_compiler.py``).

Function names and argument counts are checked when the expression compiles, not when a record
first reaches it, so ``validate`` reports them with the expression's location.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jmes_errors
from jmespath.lexer import Lexer

from engine.describe import json_type, short
from engine.errors import EvaluationError, ExpressionError, TransformValueError
from engine.language import limits
from engine.language.compiler import Compiler
from engine.language.functions import RETURN_TYPES, ZoomforceFunctions, function_arities
from engine.suggest import close_matches, did_you_mean

# A path into a source document: names, array indexes, and None for "every item".
FieldPath = tuple[str | int | None, ...]

Evaluator = Callable[[Any], Any]

# A node of jmespath's parse tree, read only: "type", and by type "value" and "children" (a slice's
# children are its start, stop and step: ints or None, not nodes).
AstNode = Mapping[str, Any]


@dataclass(frozen=True)
class CompiledExpression:
    """An expression parsed once; ``evaluate(document)`` runs it."""

    text: str
    ast: AstNode
    evaluate: Evaluator = field(repr=False, compare=False)
    fast_path: tuple[str, ...] | None = None

    @property
    def functions(self) -> list[str]:
        return [node["value"] for node in _walk_nodes(self.ast) if node["type"] == "function_expression"]

    @property
    def result_type(self) -> str:
        """What the expression yields, in zoomforce value types, as far as it can be told statically."""
        node = self.ast
        if node["type"] == "function_expression":
            return RETURN_TYPES.get(node["value"], _BUILTIN_RETURN_TYPES.get(node["value"], "any"))
        if node["type"] == "literal":
            return json_type(node["value"])
        if node["type"] in ("comparator", "not_expression"):
            return "boolean"
        return "any"

    def field_paths(self) -> list[FieldPath]:
        """Every source path the expression reads, as far as it can be told statically."""
        refs, _ = _paths(self.ast, ())
        return refs


_BUILTIN_RETURN_TYPES = {
    "abs": "number",
    "avg": "number",
    "ceil": "integer",
    "floor": "integer",
    "length": "integer",
    "sum": "number",
    "to_number": "number",
    "to_string": "string",
    "join": "string",
    "type": "string",
    "contains": "boolean",
    "starts_with": "boolean",
    "ends_with": "boolean",
    "keys": "array",
    "values": "array",
    "sort": "array",
    "reverse": "any",
    "to_array": "array",
    "merge": "object",
}


def compile_expression(text: str) -> CompiledExpression:
    """Parse `text` and check its function calls; raise ExpressionError with the column.

    Within the limits (:mod:`engine.language.limits`): an expression longer than
    ``MAX_EXPRESSION_LENGTH`` is not parsed, one whose brackets or negations nest deeper than
    ``MAX_EXPRESSION_DEPTH`` is refused before the (recursive) parser sees it, and so is a parse
    tree deeper than that (a long chain of ``||``), which evaluation would walk recursively.
    """
    _check_size(text)
    ast = _parse(text)
    _check_tree_depth(text, ast)
    _check_functions(text, ast)
    names = _plain_field_chain(ast)
    if names is not None:
        return CompiledExpression(text, ast, _field_walker(names), names)
    if ast["type"] == "current":
        return CompiledExpression(text, ast, _identity)
    return CompiledExpression(text, ast, _interpreting(ast))


@lru_cache(maxsize=1024)
def compiled_expression(text: str) -> CompiledExpression:
    """:func:`compile_expression`, once per text in a process: what the sync and the receiver evaluate
    record after record (a mapping's expressions are few; an error is raised again, not kept)."""
    return compile_expression(text)


_OPENING = frozenset({"lparen", "lbracket", "lbrace", "filter"})
_CLOSING = frozenset({"rparen", "rbracket", "rbrace"})


def _check_size(text: str) -> None:
    if len(text) > limits.MAX_EXPRESSION_LENGTH:
        raise ExpressionError(text, f"the expression has {len(text)} characters "
                                    f"({limits.limit_text('MAX_EXPRESSION_LENGTH')})", "invalid-value")
    depth = negations = 0
    try:
        for token in Lexer().tokenize(text):
            kind = token["type"]
            negations = negations + 1 if kind == "not" else 0
            depth += 1 if kind in _OPENING else -1 if kind in _CLOSING else 0
            if depth + negations > limits.MAX_EXPRESSION_DEPTH:
                column = int(token["start"]) + 1
                raise ExpressionError(text, f"the expression nests deeper than {limits.MAX_EXPRESSION_DEPTH} levels "
                                            f"at column {column} ({limits.limit_text('MAX_EXPRESSION_DEPTH')})",
                                      "invalid-value", column)
    except jmes_errors.LexerError:
        return  # the parser reports it, with its column


def _check_tree_depth(text: str, ast: AstNode) -> None:
    stack: list[tuple[AstNode, int]] = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_EXPRESSION_DEPTH:
            raise ExpressionError(text, f"the expression nests deeper than {limits.MAX_EXPRESSION_DEPTH} levels "
                                        f"({limits.limit_text('MAX_EXPRESSION_DEPTH')})", "invalid-value")
        stack.extend((child, depth + 1) for child in node.get("children", ()) if isinstance(child, dict))


def _parse(text: str) -> AstNode:
    try:
        return jmespath.compile(text).parsed
    except jmes_errors.LexerError as exc:
        column = (exc.lex_position or 0) + 1
        raise ExpressionError(text, f"invalid expression at column {column}: {exc.msg}", "syntax", column) from exc
    except jmes_errors.ParseError as exc:
        column = (exc.lex_position or 0) + 1
        near = f" near '{exc.token_value}'" if exc.token_value not in (None, "") else ""
        raise ExpressionError(
            text, f"invalid expression at column {column}{near}: {exc.msg}", "syntax", column
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ExpressionError(text, f"invalid expression: {exc}", "invalid-value") from exc


def _check_functions(text: str, ast: AstNode) -> None:
    arities = function_arities()
    for node in _walk_nodes(ast):
        if node["type"] != "function_expression":
            continue
        name = node["value"]
        if name not in arities:
            hint = did_you_mean([f"{nearest}()" for nearest in close_matches(name, arities)])
            raise ExpressionError(text, f"unknown function '{name}()'{hint}", "unknown-function")
        low, high = arities[name]
        given = len(node["children"])
        if given < low or (high is not None and given > high):
            expected = _arity_text(low, high)
            raise ExpressionError(text, f"function '{name}()' takes {expected}, got {given}", "invalid-arity")


def _arity_text(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low} argument{'s' if low != 1 else ''}"
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"


def _walk_nodes(node: AstNode) -> Iterator[AstNode]:
    yield node
    for child in node.get("children", ()):
        if isinstance(child, dict):
            yield from _walk_nodes(child)


def _plain_field_chain(ast: AstNode) -> tuple[str, ...] | None:
    if ast["type"] == "field":
        return (ast["value"],)
    if ast["type"] == "subexpression" and all(child["type"] == "field" for child in ast["children"]):
        return tuple(child["value"] for child in ast["children"])
    return None


def _identity(value: Any) -> Any:
    return value


def _field_walker(names: tuple[str, ...]) -> Evaluator:
    """A direct dictionary walk with JMESPath's semantics: anything but an object yields null."""
    if len(names) == 1:
        (name,) = names

        def one(value: Any) -> Any:
            return value.get(name) if isinstance(value, dict) else None

        return one

    def chain(value: Any) -> Any:
        for name in names:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        return value

    return chain


def _interpreting(ast: AstNode) -> Evaluator:
    return _compiler().compile(ast)


@cache
def _compiler() -> Compiler:
    """One compiler for every expression, bound to zoomforce's function registry."""
    return Compiler(ZoomforceFunctions())


def one_argument_function(name: str) -> tuple[Callable[[Any], Any], frozenset[type] | None] | None:
    """The bound implementation of the one-parameter function `name` and the types it takes
    (:meth:`~engine.language.compiler.Compiler.one_argument`), for code that calls it directly."""
    return _compiler().one_argument(name)


def evaluate_or_none(expression: CompiledExpression, document: Any) -> Any:
    """The expression's value over `document`, or None where it cannot be evaluated (a key, a path)."""
    try:
        return expression.evaluate(document)
    except (TransformValueError, jmes_errors.JMESPathError, TypeError, ValueError, OverflowError, RecursionError):
        return None


def evaluate_safely(expression: CompiledExpression, document: Any, field_name: str) -> Any:
    """Evaluate for one record, turning JMESPath and transform failures into EvaluationError."""
    try:
        return expression.evaluate(document)
    except TransformValueError as exc:
        raise EvaluationError(str(exc), field=field_name, source=expression.text) from exc
    except jmes_errors.JMESPathError as exc:
        raise EvaluationError(_jmespath_reason(exc), field=field_name, source=expression.text) from exc
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise EvaluationError(f"cannot evaluate: {exc}", field=field_name, source=expression.text) from exc


def _jmespath_reason(exc: jmes_errors.JMESPathError) -> str:
    if isinstance(exc, jmes_errors.JMESPathTypeError):
        return (
            f"function {exc.function_name}() got {exc.actual_type} {short(exc.current_value)}, "
            f"expected {' or '.join(exc.expected_types)}"
        )
    return str(exc).replace("\n", " ")


# ---- static field paths --------------------------------------------------------------------


def _paths(node: AstNode, prefix: FieldPath | None) -> tuple[list[FieldPath], FieldPath | None]:
    """(paths read, where the node's result sits in the document or None if it is computed)."""
    if prefix is None:
        return [], None
    handler = _PATH_HANDLERS.get(node["type"], _paths_of_children)
    return handler(node, prefix)


def _paths_field(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    path = (*prefix, node["value"])
    return [path], path


def _paths_current(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    return [], prefix


def _paths_subexpression(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    refs: list[FieldPath] = []
    at: FieldPath | None = prefix
    for child in node["children"]:
        found, at = _paths(child, at)
        refs.extend(found)
        if at is None:
            break
    return refs, at


def _paths_pipe(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    left, right = node["children"]
    refs, at = _paths(left, prefix)
    more, at = _paths(right, at)
    return refs + more, at


def _paths_index_expression(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    left, right = node["children"]
    refs, at = _paths(left, prefix)
    if at is None:
        return refs, None
    if right["type"] == "index":
        return refs, (*at, right["value"])
    return refs, at  # a slice keeps the array


def _paths_projection(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    left, right = node["children"][:2]
    refs, at = _paths(left, prefix)
    if at is None:
        return refs, None
    item: FieldPath = (*at, None)
    more: list[FieldPath] = []
    if len(node["children"]) > 2:  # filter projection: the condition reads each item too
        more, _ = _paths(node["children"][2], item)
    found, _ = _paths(right, item)
    return refs + more + found, None


def _paths_flatten(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    return _paths(node["children"][0], prefix)


def _paths_value_projection(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    refs, _ = _paths(node["children"][0], prefix)
    return refs, None  # the values of an object with any keys: nothing more to check


def _paths_function(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    refs: list[FieldPath] = []
    for child in node["children"]:
        if child["type"] == "expref":
            continue  # evaluated per item of another argument: not a path of the record
        found, _ = _paths(child, prefix)
        refs.extend(found)
    return refs, None


def _paths_of_children(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    refs: list[FieldPath] = []
    for child in node.get("children", ()):
        if isinstance(child, dict):
            found, _ = _paths(child, prefix)
            refs.extend(found)
    return refs, None


def _paths_literal(node: AstNode, prefix: FieldPath) -> tuple[list[FieldPath], FieldPath | None]:
    return [], None


_PATH_HANDLERS = {
    "field": _paths_field,
    "current": _paths_current,
    "subexpression": _paths_subexpression,
    "pipe": _paths_pipe,
    "index_expression": _paths_index_expression,
    "projection": _paths_projection,
    "filter_projection": _paths_projection,
    "flatten": _paths_flatten,
    "value_projection": _paths_value_projection,
    "function_expression": _paths_function,
    "literal": _paths_literal,
    "expref": _paths_literal,
}
