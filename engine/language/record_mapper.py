"""The lean per-record path of a plan: one function per plan, written when the plan compiles.

:class:`~engine.language.plan.Plan` maps a REST record (no event, no masked values kept by the
state) with the function :func:`rest_mapper` builds. Each field's step is specialised once: where
its value is read (the record, the parent, the run), a plain one-name path as a direct ``get``,
its missing-value policy, its value table and its over-length policy; only the steps a field needs
run per record. :func:`generated_mapper` writes those steps as the blocks of one function (no call
per field or per step).

The fast path never decides an error: any exception in it (a required value missing, a value the
coercer refuses, an expression that fails) makes the plan map that record again with its
complete path (``Plan._map_in_full``), which raises the located error with its full text. Both paths
are pure, so the second run fails the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

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

# The plan imports this module: its FieldPlan, ParentPlan and RunContext are typed Any here.
FieldPlan: TypeAlias = Any
ParentPlan: TypeAlias = Any
RunContext: TypeAlias = Any

# The mapper: (record, context) -> (output record, upsert key, warnings).
RestMapper = Callable[[Any, RunContext], tuple[dict[str, Any], dict[str, Any], list[str]]]


class NeedsFullPath(Exception):
    """The fast path met a case it does not decide (a required value missing, no upsert key)."""


def rest_mapper(fields: tuple[FieldPlan, ...], parent: ParentPlan | None, upsert_keys: tuple[str, ...]) -> RestMapper:
    """The function that maps one REST record the way ``Plan.map_record`` does, or raises anything."""
    return generated_mapper(fields, parent, upsert_keys)


# ---- one function per plan, its fields inline ---------------------------------------------------
#
# Closures per step would cost a few Python calls per field (step, reader, converter, coercer). The
# mapper is one function whose body has a block per field, built from fixed templates: every name,
# target, limit, table and coercer of the mapping reaches it as a variable of its namespace
# (``n3``, ``t3``, ``c3``...), never as text of the source, so no mapping can put code into it.

# The only built-ins the generated source names.
_BUILTINS: dict[str, Any] = {"dict": dict, "str": str, "int": int, "type": type, "len": len, "isinstance": isinstance}
# Coercers whose result is always a str: the over-length check needs no type test.
_TEXT_RESULT = frozenset({to_text, to_id, to_email, to_url, to_datetime, to_date})
# Coercers that give an ASCII str back unchanged: inlined as a type test.
_ASCII_SAME = frozenset({to_text, to_id})
# Coercers that give a value of exactly this type back unchanged.
_SAME_OF_TYPE: dict[Any, type] = {to_integer: int, to_boolean: bool}


def generated_mapper(fields: tuple[FieldPlan, ...], parent: ParentPlan | None,
                     upsert_keys: tuple[str, ...]) -> RestMapper:
    """The mapper of :func:`rest_mapper`, written as the source of one function and compiled once."""
    namespace: dict[str, Any] = {"NeedsFullPath": NeedsFullPath, "to_text": to_text}
    lines = ["def run(record, context):",
             "    if type(record) is not dict:",
             "        raise NeedsFullPath('the record is not an object')",
             "    get = record.get",
             "    output = {}",
             "    warnings = []"]
    uses_parent = uses_run = False
    for index, field in enumerate(fields):
        if field.reader(None) is None:
            continue
        names = {name: f"{name}{index}" for name in ("n", "m", "e", "t", "c", "d", "b", "l")}
        namespace[names["t"]] = field.target
        namespace[names["e"]] = field.expression.evaluate
        path = field.expression.fast_path
        if field.scope == "record" and path is not None and len(path) == 1:
            namespace[names["n"]] = path[0]
            lines.append(f"    raw = get({names['n']})")
        elif field.scope == "record" and path is not None and len(path) == 2:
            namespace[names["n"]], namespace[names["m"]] = path
            lines += [f"    raw = get({names['n']})",
                      "    if raw is not None:",
                      f"        raw = raw.get({names['m']}) if type(raw) is dict else {names['e']}(record)"]
        elif field.scope == "record":
            lines.append(f"    raw = {names['e']}(record)")
        elif field.scope == "parent":
            uses_parent = True
            lines.append(f"    raw = {names['e']}(parent)")
        else:
            uses_run = True
            lines.append(f"    raw = {names['e']}(run)")
        lines.append("    if raw is not None:")
        body: list[str] = []
        if field.table is not None:
            namespace[names["b"]] = field.table
            body.append(f"raw = {names['b']}[raw if type(raw) is str and raw.isascii() else to_text(raw)]")
        coerce = field.coerce
        namespace[names["c"]] = coerce
        if coerce in _ASCII_SAME:
            body += ["if type(raw) is str and raw.isascii():",
                     "    value = raw",
                     "elif type(raw) is int:",  # what to_text and to_id give for an int (not a bool)
                     "    value = str(raw)",
                     "else:",
                     f"    value = {names['c']}(raw)"]
        elif coerce in _SAME_OF_TYPE:  # an int for an integer, a bool for a boolean: the value itself
            namespace[f"y{index}"] = _SAME_OF_TYPE[coerce]
            body += [f"value = raw if type(raw) is y{index} else {names['c']}(raw)"]
        else:
            body.append(f"value = {names['c']}(raw)")
        if field.max_length is not None:
            namespace[names["l"]] = field.max_length
            test = f"len(value) > {names['l']}" if coerce in _TEXT_RESULT \
                else f"isinstance(value, str) and len(value) > {names['l']}"
            body.append(f"if {test}:")
            if field.truncate:
                message = f"f'{{{names['t']}}}: truncated from {{len(value)}} to {{{names['l']}}} characters'"
                body += [f"    warnings.append({message})",
                         f"    value = value[:{names['l']}]"]
            else:
                body.append(f"    raise NeedsFullPath({names['t']})")
        body.append(f"output[{names['t']}] = value")
        lines += [f"        {line}" for line in body]
        if field.on_missing in ("null", "default"):
            namespace[names["d"]] = None if field.on_missing == "null" else field.default
            lines += ["    else:", f"        output[{names['t']}] = {names['d']}"]
        elif field.on_missing != "skip":
            lines += ["    else:", f"        raise NeedsFullPath({names['t']})"]
    if parent is not None:
        uses_parent = True
        namespace.update(pe=parent.expression.evaluate, pc=parent.coerce, pr=parent.relationship, pk=parent.key)
        lines += ["    raw = None if parent is None else pe(parent)",
                  "    if raw is not None:"]
        if parent.coerce in _ASCII_SAME:
            lines += ["        if type(raw) is int:",  # what to_text and to_id give for an int (not a bool)
                      "            output[pr] = {pk: str(raw)}",
                      "        else:",
                      "            output[pr] = {pk: pc(raw)}"]
        else:
            lines.append("        output[pr] = {pk: pc(raw)}")
        if parent.required:
            lines += ["    else:", "        raise NeedsFullPath(pr)"]
    if not upsert_keys:
        lines.append("    return output, {}, warnings")
    else:
        for position, key in enumerate(upsert_keys):
            namespace[f"k{position}"] = key
            lines += [f"    value = output.get(k{position})",
                      "    if value is not None and value != '':",
                      f"        return output, {{k{position}: value}}, warnings"]
        lines.append("    raise NeedsFullPath(k0)")
    if uses_parent:
        lines.insert(4, "    parent = context.parent")
    if uses_run:
        lines.insert(4, "    run = context.run")
    # The values are the parameters of a function that returns the mapper: closure cells, read faster than globals.
    bound = sorted(name for name in namespace if name not in _BUILTINS)
    source = "\n".join([f"def make({', '.join(bound)}):", *(f"    {line}" for line in lines), "    return run", ""])
    code: dict[str, Any] = {"__builtins__": _BUILTINS}
    exec(compile(source, "<zoomforce plan>", "exec"), code)  # fixed templates, the values as parameters
    mapper: RestMapper = code["make"](**{name: namespace[name] for name in bound})
    return mapper
