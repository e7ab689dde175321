"""The lean per-record path of a plan: one function per plan, written when the plan compiles.

:class:`~engine.language.plan.Plan` maps a REST record (no event, no masked values kept by the
state) with the function :func:`rest_mapper` builds. Each field's step is specialised once: where
its value is read (the record, the parent, the run), its missing-value policy, its value table and
its over-length policy; only the steps a field needs run per record. :func:`generated_mapper`
writes those steps as the blocks of one function (no call per field or per step), which builds the
plan's result object itself.

Expressions of a few common shapes are read inline, with JMESPath's semantics:

* a plain path of any length (``settings.feature.zoom_phone``) as chained ``get`` calls;
* a one-parameter function of a plain path (``first_name(name)``, ``normalize_email(Email)``,
  ``lower(email)``) as a direct call of its bound implementation;
* ``join(SEPARATOR, PATH[].FIELD || `[]`)`` and ``join(SEPARATOR, PATH[].concat(...) || `[]`)``, a
  concat of fields and text literals, as a loop over the list.

Whatever such inline code does not decide (a value on the path that is neither an object nor
null, an argument of another type, a list item that is not an object, a value that is not text)
is left to the field's compiled expression, evaluated over the whole document: the inline code
only ever gives the answer the expression gives.

The fast path never decides an error: any exception in it (a required value missing, a value the
coercer refuses, an expression that fails) makes the plan map that record again with its
complete path (``Plan._map_in_full``), which raises the located error with its full text. Both paths
are pure, so the second run fails the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

from engine.language.coerce import (
    to_boolean,
    to_date,
    to_datetime,
    to_email,
    to_id,
    to_integer,
    to_text,
    to_url,
)
from engine.language.expressions import AstNode, one_argument_function
from engine.language.functions import RESULT_PARTS

# The plan imports this module: its FieldPlan, ParentPlan, RunContext and MappedRecord are typed Any here.
FieldPlan: TypeAlias = Any
ParentPlan: TypeAlias = Any
RunContext: TypeAlias = Any

# The mapper: (record, context or None, certified) -> the plan's result object (a MappedRecord).
# `certified`: the record comes from a certified document (safe_json.loads_certified), whose
# strings all encode, so text needs no repair. It raises whatever it does not decide.
RestMapper = Callable[[Any, Any, bool], Any]
# Plan.map_record's own signature: (record, context, checked, event, listing) -> a MappedRecord.
RecordMapper = Callable[..., Any]


class GeneratedMapper(NamedTuple):
    """The two functions written for a plan from the same blocks."""

    run: RestMapper  # the lean path alone: raises where it does not decide
    map_record: RecordMapper  # Plan.map_record: the record checked unless certified, the lean path, else `in_full`


NO_WARNINGS: tuple[str, ...] = ()  # the warnings of every record that has none: one shared empty tuple


class NeedsFullPath(Exception):
    """The fast path met a case it does not decide (a required value missing, no upsert key)."""


def record_mapper(fields: tuple[FieldPlan, ...], parent: ParentPlan | None, upsert_keys: tuple[str, ...],
                  result: tuple[type, str, str | None], check: Callable[[Any], None],
                  in_full: Callable[[Any, Any, str | None, str | None], Any]) -> GeneratedMapper:
    """The functions that map one REST record the way ``Plan.map_record`` does.

    `result`: the class of the result object (its attributes entity, object, upsert_key, record,
    warnings), the entity and the object. `check`: the record check of an uncertified record (it
    raises the record's error). `in_full`: the complete path, (record, context, event, listing),
    for an event's or a second listing's record and for whatever the lean path does not decide.
    """
    return generated_mapper(fields, parent, upsert_keys, result, check, in_full)


# ---- one function per plan, its fields inline ---------------------------------------------------
#
# Closures per step would cost a few Python calls per field (step, reader, converter, coercer). The
# mapper is one function whose body has a block per field, built from fixed templates: every name,
# target, limit, table and coercer of the mapping reaches it as a variable of its namespace
# (``n3_0``, ``t3``, ``c3``...), never as text of the source, so no mapping can put code into it.

# The only built-ins the generated source names.
_BUILTINS: dict[str, Any] = {"dict": dict, "str": str, "int": int, "list": list, "type": type, "len": len,
                             "isinstance": isinstance, "Exception": Exception}
# Coercers whose result is always a str: the over-length check needs no type test.
_TEXT_RESULT = frozenset({to_text, to_id, to_email, to_url, to_datetime, to_date})
# Coercers that give an ASCII str back unchanged (any str that encodes, for a certified record).
_ASCII_SAME = frozenset({to_text, to_id})
# Coercers that give a value of exactly this type back unchanged.
_SAME_OF_TYPE: dict[Any, type] = {to_integer: int, to_boolean: bool}
# Functions whose every ASCII str result this coercer gives back unchanged (tests/test_record_mapper.py
# proves it for any text): a field written as the function's result needs no second check.
_RESULT_KEPT: dict[str, Any] = {"normalize_email": to_email}


class _Source:
    """The lines and the namespace of the function being written."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"NeedsFullPath": NeedsFullPath, "to_text": to_text,
                                          "SLOW": _SLOW,
                                          "NO_WARNINGS": NO_WARNINGS}
        self.lines: list[str] = []
        self.key_target: str | None = None  # the first upsert key, when a required field writes it: held in `kv`
        # the local that holds a whole result whose parts fields write (RESULT_PARTS), by function and path
        self.wholes: dict[tuple[Callable[[str], Any], tuple[str, ...]], str] = {}
        self.reads_record = False  # some line calls record.get: a record that is no object fails there

    def bind(self, name: str, value: Any) -> str:
        self.namespace[name] = value
        return name

    def add(self, indent: int, *lines: str) -> None:
        self.lines += [" " * (4 * indent) + line for line in lines]


_SLOW = object()  # inline code could not tell: the field's compiled expression decides


def generated_mapper(fields: tuple[FieldPlan, ...], parent: ParentPlan | None,
                     upsert_keys: tuple[str, ...], result: tuple[type, str, str | None],
                     check: Callable[[Any], None],
                     in_full: Callable[[Any, Any, str | None, str | None], Any]) -> GeneratedMapper:
    """The functions of :func:`record_mapper`, written as source from the same blocks and compiled once.

    ``map_record`` holds the lean path inline (no second call per record), inside a ``try`` that
    hands anything it does not decide to `in_full`.
    """
    source = _Source()
    written = [field for field in fields if field.reader(None) is not None]
    if upsert_keys and any(f.target == upsert_keys[0] and f.on_missing not in ("skip", "null", "default")
                           for f in written):
        source.key_target = upsert_keys[0]
    source.add(1, "output = {}",
               "warnings = NO_WARNINGS")  # a list only once a value is cut
    uses_parent = uses_run = False
    for index, field in enumerate(fields):
        if field.reader(None) is None:
            continue
        uses_parent |= field.scope == "parent"
        uses_run |= field.scope == "run"
        _field_block(source, index, field)
    if parent is not None:
        uses_parent = True
        _parent_block(source, parent)
    _result_block(source, upsert_keys, result)
    # a record that is no object has no `get`: its AttributeError hands it to the full path
    if not source.reads_record:
        source.lines[:0] = ["    if type(record) is not dict:",
                            "        raise NeedsFullPath('the record is not an object')"]
    body: list[str] = []
    if uses_parent:
        body.append("    parent = None if context is None else context.parent")
    if uses_run:
        body.append("    run = {} if context is None else context.run")
    body += source.lines
    source.namespace.update(check=check, in_full=in_full)
    lines = ["def run(record, context, certified):", *body,
             "def map_record(record, context=None, checked=False, event=None, listing=None):",
             "    if not checked:",
             "        check(record)",
             "    if event is None and listing is None:",
             "        certified = checked",
             "        try:",
             *(f"        {line}" for line in body),
             "        except Exception:",  # the full path below decides, and raises the located error
             "            pass",
             "    return in_full(record, context, event, listing)"]
    # The values are the parameters of a function that returns the mappers: closure cells, read faster than globals.
    bound = sorted(name for name in source.namespace if name not in _BUILTINS)
    text = "\n".join([f"def make({', '.join(bound)}):", *(f"    {line}" for line in lines),
                      "    return run, map_record", ""])
    code: dict[str, Any] = {"__builtins__": _BUILTINS}
    exec(compile(text, "<zoomforce plan>", "exec"), code)  # fixed templates, the values as parameters
    run, map_record = code["make"](**{name: source.namespace[name] for name in bound})
    return GeneratedMapper(run, map_record)


# ---- reading a field's value --------------------------------------------------------------------


def _field_block(source: _Source, index: int, field: FieldPlan) -> None:
    target = source.bind(f"t{index}", field.target)
    evaluate = source.bind(f"e{index}", field.expression.evaluate)
    if field.scope == "record":
        _read_record_value(source, index, field.expression.ast, evaluate)
    else:
        source.add(1, f"raw = {evaluate}({'parent' if field.scope == 'parent' else 'run'})")
    source.add(1, "if raw is not None:")
    # a certified record's own strings all encode; a function's result may hold a mapping's literal: not said
    as_read = field.scope == "record" and _plain_path(field.expression.ast) is not None
    _value_lines(source, index, field, target, as_read)
    if field.on_missing in ("null", "default"):
        default = source.bind(f"d{index}", None if field.on_missing == "null" else field.default)
        source.add(1, "else:", f"    output[{target}] = {default}")
    elif field.on_missing != "skip":
        source.add(1, "else:", f"    raise NeedsFullPath({target})")


def _read_record_value(source: _Source, index: int, ast: AstNode, evaluate: str) -> None:
    """Lines that set ``raw`` to the expression's value over the record: inline for the shapes above."""
    path = _plain_path(ast)
    if path is not None:
        _path_lines(source, index, path, "raw")
        if len(path) > 1:
            source.add(1, "if raw is SLOW:", f"    raw = {evaluate}(record)")
        return
    if ast["type"] == "function_expression" and _one_argument_call(source, index, ast, evaluate):
        return
    if ast["type"] == "function_expression" and _join_of_projection(source, index, ast, evaluate):
        return
    source.add(1, f"raw = {evaluate}(record)")


def _plain_path(ast: AstNode) -> tuple[str, ...] | None:
    if ast["type"] == "field":
        return (ast["value"],)
    if ast["type"] == "subexpression" and all(child["type"] == "field" for child in ast["children"]):
        return tuple(child["value"] for child in ast["children"])
    return None


def _path_lines(source: _Source, index: int, path: tuple[str, ...], into: str) -> None:
    """Lines that set `into` to the value at `path` in the record, null where an
    object on the way is missing or null, SLOW where a value on the way is something else."""
    source.add(1, f"{into} = record.get({source.bind(f'n{index}_0', path[0])})")
    source.reads_record = True
    for depth, name in enumerate(path[1:], start=1):
        step = source.bind(f"n{index}_{depth}", name)
        source.add(depth, f"if type({into}) is dict:", f"    {into} = {into}.get({step})")
    for depth in range(len(path) - 1, 0, -1):
        source.add(depth, f"elif {into} is not None:", f"    {into} = SLOW")


def _one_argument_call(source: _Source, index: int, ast: AstNode, evaluate: str) -> bool:
    """``first_name(name)``: the bound function called with the value of a plain path, when it takes its type."""
    children = ast["children"]
    path = _plain_path(children[0]) if len(children) == 1 else None
    found = one_argument_function(ast["value"]) if path is not None else None
    if path is None or found is None:
        return False
    function, allowed = found
    _path_lines(source, index, path, "raw")
    part = RESULT_PARTS.get(ast["value"])
    if part is not None and allowed is not None and str in allowed:
        _part_lines(source, index, path, part, evaluate)
        return True
    call = source.bind(f"f{index}", function)
    if allowed is None:
        source.add(1, f"raw = {evaluate}(record) if raw is SLOW else {call}(raw)")
    else:
        types = source.bind(f"a{index}", allowed)
        takes = f"type(raw) in {types}"
        if str in allowed:  # the usual value, told apart without hashing its type
            takes = f"type(raw) is str or {takes}"
        source.add(1, f"raw = {call}(raw) if {takes} else {evaluate}(record)")  # SLOW is no such type
    return True


def _part_lines(source: _Source, index: int, path: tuple[str, ...], part: tuple[Callable[[str], Any], int],
                evaluate: str) -> None:
    """``first_name(name)`` then ``last_name(name)``: the name split once, in a local, each field its part.
    Any value but a str takes the field's compiled expression (the local says SLOW to the next)."""
    whole, position = part
    held = source.wholes.get((whole, path))
    if held is None:
        held = source.wholes[whole, path] = f"w{index}"
        call = source.bind(f"f{index}", whole)
        source.add(1, "if type(raw) is str:",
                   f"    {held} = {call}(raw)",
                   "else:",
                   f"    {held} = SLOW")
    source.add(1, f"raw = {evaluate}(record) if {held} is SLOW else None if {held} is None else {held}[{position}]")


def _join_of_projection(source: _Source, index: int, ast: AstNode, evaluate: str) -> bool:
    """``join(SEP, PATH[].RIGHT || `[]`)``, RIGHT a field or a concat of fields and text literals."""
    shape = _join_shape(ast)
    if shape is None:
        return False
    separator, path, right = shape
    separator_name = source.bind(f"s{index}", separator)
    _path_lines(source, index, path, "items")
    source.add(1, "raw = SLOW",
               "if type(items) is list:",
               "    parts = []",
               "    for item in items:",
               "        if type(item) is not dict:",
               "            break")
    if right["type"] == "field":
        name = source.bind(f"r{index}", right["value"])
        source.add(3, f"part = item.get({name})",
                   "if part is not None:",
                   "    parts.append(part)")
    else:
        _concat_lines(source, index, right["children"])
    source.add(2, "else:", f"    raw = {separator_name}.join(parts)")  # str.join refuses what JMESPath's join does
    source.add(1, "elif items is None:",  # no list: `|| []`, an empty join
               "    raw = ''",
               "if raw is SLOW:",
               f"    raw = {evaluate}(record)")
    return True


def _join_shape(ast: AstNode) -> tuple[str, tuple[str, ...], AstNode] | None:
    """(separator, path, right side) of ``join(SEP, PATH[].RIGHT || `[]`)``, or None for another shape."""
    if ast["value"] != "join" or len(ast["children"]) != 2:
        return None
    separator, either = ast["children"]
    if separator["type"] != "literal" or type(separator["value"]) is not str or either["type"] != "or_expression":
        return None
    projection, fallback = either["children"]
    if fallback["type"] != "literal" or fallback["value"] != [] or projection["type"] != "projection":
        return None
    flatten, right = projection["children"]
    path = _plain_path(flatten["children"][0]) if flatten["type"] == "flatten" else None
    if path is None or not (right["type"] == "field" or _is_plain_concat(right)):
        return None
    return separator["value"], path, right


def _is_plain_concat(node: AstNode) -> bool:
    return (node["type"] == "function_expression" and node["value"] == "concat" and bool(node["children"])
            and all(child["type"] == "field" or (child["type"] == "literal" and type(child["value"]) is str)
                    for child in node["children"]))


def _concat_lines(source: _Source, index: int, children: list[AstNode]) -> None:
    """An item's concat when every field it names holds text (concat's own answer: the texts joined);
    anything else (a null, a number) leaves the whole expression to its compiled form."""
    terms: list[str] = []
    names: list[str] = []
    for position, child in enumerate(children):
        if child["type"] == "field":
            value = f"c{index}_{position}"
            source.add(3, f"{value} = item.get({source.bind(f'r{index}_{position}', child['value'])})")
            names.append(value)
            terms.append(value)
        else:
            terms.append(source.bind(f"l{index}_{position}", child["value"]))
    if names:
        source.add(3, f"if {' or '.join(f'type({name}) is not str' for name in names)}:", "    break")
    source.add(3, f"parts.append({' + '.join(terms)})")


# ---- coercing, checking and writing it ----------------------------------------------------------


def _value_lines(source: _Source, index: int, field: FieldPlan, target: str, as_read: bool) -> None:
    body: list[str] = []
    if field.table is not None:
        table = source.bind(f"b{index}", field.table)
        body.append(f"raw = {table}[raw if type(raw) is str and raw.isascii() else to_text(raw)]")
    coerce = source.bind(f"c{index}", field.coerce)
    if field.coerce in _ASCII_SAME:
        encodes = "(certified or raw.isascii())" if as_read else "raw.isascii()"
        body += [f"if type(raw) is str and {encodes}:",  # a str that encodes: itself
                 "    value = raw",
                 "elif type(raw) is int:",  # what to_text and to_id give for an int (not a bool)
                 "    value = str(raw)",
                 "else:",
                 f"    value = {coerce}(raw)"]
    elif _result_kept(field):  # normalize_email(...) as an email: the address it gave
        body += ["if type(raw) is str and raw.isascii():",
                 "    value = raw",
                 "else:",
                 f"    value = {coerce}(raw)"]
    elif field.coerce in _SAME_OF_TYPE:  # an int for an integer, a bool for a boolean: the value itself
        same = source.bind(f"y{index}", _SAME_OF_TYPE[field.coerce])
        body.append(f"value = raw if type(raw) is {same} else {coerce}(raw)")
    else:
        body.append(f"value = {coerce}(raw)")
    if field.max_length is not None:
        limit = source.bind(f"m{index}", field.max_length)
        test = f"len(value) > {limit}" if field.coerce in _TEXT_RESULT \
            else f"isinstance(value, str) and len(value) > {limit}"
        body.append(f"if {test}:")
        if field.truncate:
            message = f"f'{{{target}}}: truncated from {{len(value)}} to {{{limit}}} characters'"
            body += [f"    warnings = [*warnings, {message}]", f"    value = value[:{limit}]"]
        else:
            body.append(f"    raise NeedsFullPath({target})")
    body.append(f"output[{target}] = value")
    if field.target == source.key_target:
        body.append("kv = value")
    source.add(2, *body)


def _result_kept(field: FieldPlan) -> bool:
    """The field's value is the result of a function that the field's coercer gives back unchanged."""
    ast = field.expression.ast
    return ast["type"] == "function_expression" and _RESULT_KEPT.get(ast["value"]) is field.coerce


def _parent_block(source: _Source, parent: ParentPlan) -> None:
    source.namespace.update(pe=parent.expression.evaluate, pc=parent.coerce, pr=parent.relationship, pk=parent.key)
    path = parent.expression.fast_path
    if path is not None and len(path) == 1:
        source.bind("pn", path[0])
        source.add(1, "raw = parent.get(pn) if type(parent) is dict else None if parent is None else pe(parent)")
    else:
        source.add(1, "raw = None if parent is None else pe(parent)")
    source.add(1, "if raw is not None:")
    if parent.coerce in _ASCII_SAME:
        source.add(2, "if type(raw) is int:",  # what to_text and to_id give for an int (not a bool)
                   "    output[pr] = {pk: str(raw)}",
                   "else:",
                   "    output[pr] = {pk: pc(raw)}")
    else:
        source.add(2, "output[pr] = {pk: pc(raw)}")
    if parent.required:
        source.add(1, "else:", "    raise NeedsFullPath(pr)")


def _result_block(source: _Source, upsert_keys: tuple[str, ...], result: tuple[type, str, str | None]) -> None:
    """The result object: a call of its class, which has no __init__, then its attributes one by one."""
    kind, entity, target_object = result
    source.namespace.update(R=kind, entity=entity, target_object=target_object)
    done = ["mapped = R()", "mapped.entity = entity", "mapped.object = target_object",
            "mapped.upsert_key = key", "mapped.record = output", "mapped.warnings = warnings",
            "return mapped"]
    if not upsert_keys:
        source.add(1, "key = {}", *done)
        return
    for position, key in enumerate(upsert_keys):
        name = source.bind(f"k{position}", key)
        if position == 0 and source.key_target == key:  # its field wrote it, or the record was left
            source.add(1, "if kv != '':", f"    key = {{{name}: kv}}")
            source.add(2, *done)
            continue
        source.add(1, f"value = output.get({name})",
                   "if value is not None and value != '':",
                   f"    key = {{{name}: value}}")
        source.add(2, *done)
    source.add(1, "raise NeedsFullPath(k0)")
