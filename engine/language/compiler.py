"""JMESPath parse trees compiled into Python closures: the tree is walked once, not per record.

``compile_tree(ast, functions)`` returns a function of the document with the semantics of
``jmespath.visitor.TreeInterpreter`` (checked case by case against the official compliance suite in
``tests/test_compiler.py``), built once per expression:

* a field, or a chain of plain fields, is a direct dictionary look-up;
* a function call is bound to its implementation when the expression compiles: the registry is
  not consulted per call, and the arguments are type-checked against the signature by a set of
  Python types (the registry's own check runs only when that fast check fails, to raise its error);
* a sub-expression that reads nothing of the document (a literal, a function of literals) is
  evaluated once at compile time, unless evaluating it fails: then it fails per record, as it would
  in the interpreter;
* an ``&expref`` argument is an object of jmespath's ``_Expression`` type whose ``visit`` runs the
  compiled closure, so the builtins that take one (``sort_by``, ``map``...) work unchanged.

A node type this module does not know is handed to the interpreter, so new parser output degrades
to the old speed rather than to a different answer.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from numbers import Number
from typing import Any

from jmespath import functions as jmes_functions
from jmespath import visitor

Evaluator = Callable[[Any], Any]
AstNode = Mapping[str, Any]

_NONE_TYPE = type(None)



def _collected(items: Iterable[Any], each: Evaluator) -> list[Any]:
    """A projection's result: `each` of every item, the nulls left out (JMESPath's rule)."""
    collected = []
    for item in items:
        current = each(item)
        if current is not None:
            collected.append(current)
    return collected

class _Expression(visitor._Expression):
    """An ``&expression`` argument: jmespath's functions call ``visit(expression, value)`` on it.

    The class keeps the name ``_Expression``: jmespath's type check reads ``type(x).__name__``.
    """

    def __init__(self, node: AstNode, evaluate: Evaluator) -> None:
        super().__init__(node, None)  # type: ignore[arg-type]  # visit() below needs no interpreter
        self._evaluate = evaluate

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        return self._evaluate(args[0])


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "array": (list,),
    "object": (dict, OrderedDict),
    "null": (_NONE_TYPE,),
    "string": (str,),
    "number": (float, int),
    "expref": (_Expression,),
}


class _Constant:
    """A compiled sub-expression that reads nothing of the document, with its value."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Compiler:
    """Compiles parse trees against one function registry (a ``jmespath.functions.Functions``)."""

    def __init__(self, functions: jmes_functions.Functions) -> None:
        self._functions = functions
        self._interpreter = visitor.TreeInterpreter(visitor.Options(custom_functions=functions))
        self._handlers: dict[str, Callable[[AstNode], Evaluator | _Constant]] = {
            "field": self._field,
            "subexpression": self._chain,
            "index_expression": self._chain,
            "pipe": self._chain,
            "current": self._current,
            "identity": self._current,
            "literal": self._literal,
            "index": self._index,
            "slice": self._slice,
            "comparator": self._comparator,
            "expref": self._expref,
            "function_expression": self._function,
            "filter_projection": self._filter_projection,
            "projection": self._projection,
            "value_projection": self._value_projection,
            "flatten": self._flatten,
            "key_val_pair": self._key_val_pair,
            "multi_select_dict": self._multi_select_dict,
            "multi_select_list": self._multi_select_list,
            "or_expression": self._or,
            "and_expression": self._and,
            "not_expression": self._not,
        }

    def compile(self, ast: AstNode) -> Evaluator:
        compiled = self._node(ast)
        if isinstance(compiled, _Constant):
            value = compiled.value
            return lambda _document: value
        return compiled

    # ---- dispatch and folding ----------------------------------------------------------------

    def _node(self, node: AstNode) -> Evaluator | _Constant:
        handler = self._handlers.get(node["type"])
        if handler is None:
            return self._interpreted(node)
        return handler(node)

    def _fn(self, node: AstNode) -> Evaluator:
        """The node as a function of the document, constants included."""
        compiled = self._node(node)
        if isinstance(compiled, _Constant):
            value = compiled.value
            return lambda _document: value
        return compiled

    def _fold(self, children: list[Evaluator | _Constant], evaluate: Evaluator) -> Evaluator | _Constant:
        """`evaluate` once now if every child is a constant (and evaluation succeeds), else itself."""
        if all(isinstance(child, _Constant) for child in children):
            try:
                return _Constant(evaluate(None))
            except Exception:  # it fails per record instead, with the interpreter's error
                return evaluate
        return evaluate

    def _interpreted(self, node: AstNode) -> Evaluator:
        interpreter = self._interpreter

        def run(value: Any) -> Any:
            return interpreter.visit(node, value)  # type: ignore[arg-type]

        return run

    # ---- leaves ------------------------------------------------------------------------------

    def _field(self, node: AstNode) -> Evaluator:
        name = node["value"]

        def field(value: Any) -> Any:
            if type(value) is dict:
                return value.get(name)
            try:
                return value.get(name)
            except AttributeError:
                return None

        return field

    def _current(self, node: AstNode) -> Evaluator:
        return _identity

    def _literal(self, node: AstNode) -> _Constant:
        return _Constant(node["value"])

    def _index(self, node: AstNode) -> Evaluator:
        position = node["value"]

        def index(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            try:
                return value[position]
            except IndexError:
                return None

        return index

    def _slice(self, node: AstNode) -> Evaluator:
        step = slice(*node["children"])

        def cut(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            return value[step]

        return cut

    # ---- chains ------------------------------------------------------------------------------

    def _chain(self, node: AstNode) -> Evaluator | _Constant:
        names = _plain_names(node)
        if names is not None:
            return _field_chain(names)
        steps = [self._node(child) for child in node["children"]]
        if not steps:
            return _identity
        chain = _sequence([self._as_fn(step) for step in steps])
        if isinstance(steps[0], _Constant):  # the rest reads only what the constant gives
            return self._fold([steps[0]], chain)
        return chain

    @staticmethod
    def _as_fn(compiled: Evaluator | _Constant) -> Evaluator:
        if isinstance(compiled, _Constant):
            value = compiled.value
            return lambda _document: value
        return compiled

    # ---- operators ---------------------------------------------------------------------------

    def _comparator(self, node: AstNode) -> Evaluator | _Constant:
        children = [self._node(child) for child in node["children"]]
        left, right = (self._as_fn(child) for child in children)
        kind = node["value"]
        evaluate: Evaluator
        if kind in ("eq", "ne"):
            negate = kind == "ne"

            def equality(value: Any) -> Any:
                result = _equals(left(value), right(value))
                return not result if negate else result

            evaluate = equality
        else:
            compare = _ORDERING[kind]

            def ordering(value: Any) -> Any:
                a, b = left(value), right(value)
                if not (_is_comparable(a) and _is_comparable(b)):
                    return None
                return compare(a, b)

            evaluate = ordering
        return self._fold(children, evaluate)

    def _or(self, node: AstNode) -> Evaluator | _Constant:
        children = [self._node(child) for child in node["children"]]
        left, right = (self._as_fn(child) for child in children)

        def either(value: Any) -> Any:
            matched = left(value)
            if _is_false(matched):
                return right(value)
            return matched

        return self._fold(children, either)

    def _and(self, node: AstNode) -> Evaluator | _Constant:
        children = [self._node(child) for child in node["children"]]
        left, right = (self._as_fn(child) for child in children)

        def both(value: Any) -> Any:
            matched = left(value)
            if _is_false(matched):
                return matched
            return right(value)

        return self._fold(children, both)

    def _not(self, node: AstNode) -> Evaluator | _Constant:
        children = [self._node(node["children"][0])]
        inner = self._as_fn(children[0])

        def negation(value: Any) -> Any:
            result = inner(value)
            if _is_actual_number(result) and result == 0:
                return False
            return not result

        return self._fold(children, negation)

    # ---- functions ---------------------------------------------------------------------------

    def _expref(self, node: AstNode) -> _Constant:
        child = node["children"][0]
        return _Constant(_Expression(child, self._fn(child)))

    def _function(self, node: AstNode) -> Evaluator | _Constant:
        name = node["value"]
        children = [self._node(child) for child in node["children"]]
        arguments = [self._as_fn(child) for child in children]
        spec = self._functions.FUNCTION_TABLE.get(name)
        if spec is None:
            functions = self._functions

            def unknown(value: Any) -> Any:
                return functions.call_function(name, [argument(value) for argument in arguments])

            return unknown
        if len(arguments) == 1 and _one_plain_parameter(spec):
            return self._fold(children, self._call_of_one(node, spec, arguments[0]))
        call = _bound_call(self._functions, name, spec, len(arguments))
        evaluate: Evaluator
        if len(arguments) == 1:
            (only,) = arguments

            def call_one(value: Any) -> Any:
                return call([only(value)])

            evaluate = call_one
        elif len(arguments) == 2:
            first, second = arguments

            def call_two(value: Any) -> Any:
                return call([first(value), second(value)])

            evaluate = call_two
        else:

            def call_many(value: Any) -> Any:
                return call([argument(value) for argument in arguments])

            evaluate = call_many
        return self._fold(children, evaluate)

    def _call_of_one(self, node: AstNode, spec: Mapping[str, Any], argument: Evaluator) -> Evaluator:
        """A one-parameter function (``first_name(name)``): the argument read and type-checked inline."""
        name, signature = node["value"], spec["signature"]
        bound = spec["function"].__get__(self._functions)
        validate = getattr(self._functions, "_validate_arguments")  # noqa: B009 - private to jmespath, untyped
        types = signature[0]["types"]
        allowed = frozenset(t for kind in types for t in _PY_TYPES[kind]) if types else None
        child = node["children"][0]
        if child["type"] == "field":
            field = child["value"]

            def of_field(value: Any) -> Any:
                given = value.get(field) if type(value) is dict else _get(value, field)
                if allowed is not None and type(given) not in allowed:
                    validate([given], signature, name)
                return bound(given)

            return of_field

        def of_one(value: Any) -> Any:
            given = argument(value)
            if allowed is not None and type(given) not in allowed:
                validate([given], signature, name)
            return bound(given)

        return of_one

    def one_argument(self, name: str) -> tuple[Callable[[Any], Any], frozenset[type] | None] | None:
        """The implementation of the one-parameter function `name`, bound, and the Python types its
        parameter takes (None: any); None when `name` is no such function. A caller that passes a value
        of another type must call the compiled expression instead, which raises the registry's error."""
        spec = self._functions.FUNCTION_TABLE.get(name)
        if spec is None or not _one_plain_parameter(spec):
            return None
        types = spec["signature"][0]["types"]
        allowed = frozenset(t for kind in types for t in _PY_TYPES[kind]) if types else None
        return spec["function"].__get__(self._functions), allowed

    # ---- projections -------------------------------------------------------------------------

    def _projection(self, node: AstNode) -> Evaluator:
        base = self._fn(node["children"][0])
        right_node = node["children"][1]
        if right_node["type"] == "identity":

            def keep(value: Any) -> Any:
                items = base(value)
                if not isinstance(items, list):
                    return None
                return [item for item in items if item is not None]

            return keep
        each = self._fn(right_node)

        def project(value: Any) -> Any:
            items = base(value)
            return _collected(items, each) if isinstance(items, list) else None

        return project

    def _filter_projection(self, node: AstNode) -> Evaluator:
        base = self._fn(node["children"][0])
        each = self._fn(node["children"][1])
        condition = self._fn(node["children"][2])

        def select(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            collected = []
            for item in items:
                if not _is_false(condition(item)):
                    current = each(item)
                    if current is not None:
                        collected.append(current)
            return collected

        return select

    def _value_projection(self, node: AstNode) -> Evaluator:
        base = self._fn(node["children"][0])
        each = self._fn(node["children"][1])

        def project(value: Any) -> Any:
            found = base(value)
            try:
                items = found.values()
            except AttributeError:
                return None
            return _collected(items, each)

        return project

    def _flatten(self, node: AstNode) -> Evaluator:
        base = self._fn(node["children"][0])

        def flatten(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            merged: list[Any] = []
            for item in items:
                if isinstance(item, list):
                    merged.extend(item)
                else:
                    merged.append(item)
            return merged

        return flatten

    # ---- multi-selects -----------------------------------------------------------------------

    def _key_val_pair(self, node: AstNode) -> Evaluator | _Constant:
        return self._node(node["children"][0])

    def _multi_select_dict(self, node: AstNode) -> Evaluator:
        pairs = [(child["value"], self._fn(child)) for child in node["children"]]

        def select(value: Any) -> Any:
            if value is None:
                return None
            return {key: evaluate(value) for key, evaluate in pairs}

        return select

    def _multi_select_list(self, node: AstNode) -> Evaluator:
        items = [self._fn(child) for child in node["children"]]

        def select(value: Any) -> Any:
            if value is None:
                return None
            return [evaluate(value) for evaluate in items]

        return select


# ---- helpers (the interpreter's semantics) ------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _plain_names(node: AstNode) -> tuple[str, ...] | None:
    if node["type"] == "subexpression" and all(child["type"] == "field" for child in node["children"]):
        return tuple(child["value"] for child in node["children"])
    return None


def _field_chain(names: tuple[str, ...]) -> Evaluator:
    """Nested look-ups with the interpreter's rule: anything without ``.get`` yields null."""
    if len(names) == 2:
        return _two_names(*names)
    return _general_chain(names)


def _two_names(outer: str, inner: str) -> Evaluator:
    def two(value: Any) -> Any:
        if type(value) is dict:
            middle = value.get(outer)
            if type(middle) is dict:
                return middle.get(inner)
            return _get(middle, inner)
        return _get(_get(value, outer), inner)

    return two


def _general_chain(names: tuple[str, ...]) -> Evaluator:
    def chain(value: Any) -> Any:
        for name in names:
            value = value.get(name) if type(value) is dict else _get(value, name)
        return value

    return chain


def _get(value: Any, name: str) -> Any:
    try:
        return value.get(name)
    except AttributeError:
        return None


def _sequence(steps: list[Evaluator]) -> Evaluator:
    if len(steps) == 1:
        return steps[0]
    if len(steps) == 2:
        first, second = steps

        def two(value: Any) -> Any:
            return second(first(value))

        return two

    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain


def _is_false(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def _is_actual_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _is_comparable(value: Any) -> bool:
    return _is_actual_number(value) or isinstance(value, str)


def _equals(left: Any, right: Any) -> bool:
    """``==`` except that 0 and 1 are not equal to false and true (jmespath.visitor._equals)."""
    if _is_actual_number(left) and left in (0, 1):
        if isinstance(right, bool):
            return False
    elif _is_actual_number(right) and right in (0, 1) and isinstance(left, bool):
        return False
    return bool(left == right)


_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "gt": operator.gt,
    "lte": operator.le,
    "gte": operator.ge,
}


def _one_plain_parameter(spec: Mapping[str, Any]) -> bool:
    """Whether the function takes exactly one argument whose types are plain (no ``array-number``)."""
    signature = spec["signature"]
    return (len(signature) == 1 and not signature[0].get("variadic")
            and not any("-" in kind for kind in signature[0]["types"]))


def _bound_call(functions: jmes_functions.Functions, name: str, spec: Mapping[str, Any],
                count: int) -> Callable[[list[Any]], Any]:
    """A call of the registry's function `name` with `count` arguments, its signature checked fast.

    Each argument's Python type is checked against a set; when the set does not admit it (or the
    parameter constrains array items), the registry's own check runs and raises its error.
    """
    function = spec["function"]
    signature = spec["signature"]
    validate = getattr(functions, "_validate_arguments")  # noqa: B009 - private to jmespath, untyped
    variadic = bool(signature) and bool(signature[-1].get("variadic"))
    if (count < len(signature)) if variadic else (count != len(signature)):

        def mismatched(arguments: list[Any]) -> Any:
            validate(arguments, signature, name)
            return function(functions, *arguments)

        return mismatched
    checks: list[tuple[int, frozenset[type]]] = []
    item_checks: list[tuple[int, frozenset[type]]] = []
    for position, parameter in enumerate(signature):
        types = parameter["types"]
        if not types:
            continue
        subtypes = [kind.split("-", 1)[1] for kind in types if "-" in kind]
        if len(subtypes) > 1:  # array-number or array-string: the registry checks that
            checks.append((position, frozenset()))
            continue
        if subtypes:  # the items of an array too
            item_checks.append((position, frozenset(_PY_TYPES[subtypes[0]])))
        checks.append((position, frozenset(t for kind in types for t in _PY_TYPES[kind.split("-", 1)[0]])))
    if item_checks:
        return _with_item_checks(function, functions, validate, signature, name, checks, item_checks)

    if not checks:

        def unchecked(arguments: list[Any]) -> Any:
            return function(functions, *arguments)

        return unchecked
    if len(checks) == 1:
        ((position, allowed),) = checks

        def checked_one(arguments: list[Any]) -> Any:
            if type(arguments[position]) not in allowed:
                validate(arguments, signature, name)
            return function(functions, *arguments)

        return checked_one

    def checked(arguments: list[Any]) -> Any:
        for position, allowed in checks:
            if type(arguments[position]) not in allowed:
                validate(arguments, signature, name)
                break
        return function(functions, *arguments)

    return checked


def _with_item_checks(function: Any, functions: jmes_functions.Functions, validate: Any, signature: Any, name: str,
                      checks: list[tuple[int, frozenset[type]]],
                      item_checks: list[tuple[int, frozenset[type]]]) -> Callable[[list[Any]], Any]:
    def checked(arguments: list[Any]) -> Any:
        for position, allowed in checks:
            if type(arguments[position]) not in allowed:
                validate(arguments, signature, name)
                return function(functions, *arguments)
        for position, allowed in item_checks:
            value = arguments[position]
            if type(value) is list and not allowed.issuperset(map(type, value)):  # every item's type, in C
                validate(arguments, signature, name)
                break
        return function(functions, *arguments)

    return checked
