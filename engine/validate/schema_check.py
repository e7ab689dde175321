"""First validation pass: the JSON Schema of the mapping language, errors mapped back to YAML.

jsonschema gives each error an instance path (``fields/3/on_overflow``); the loader's SourceMap
turns it into the line and column of the offending key or value. Messages name what was expected
and, for a misspelt key or value, the nearest valid one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.describe import article, json_type
from engine.errors import Problem
from engine.language.loader import LoadedDocument, PathKey
from engine.resources import schemas_dir
from engine.suggest import close_matches, suggestion


@cache
def mapping_validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "mapping.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)  # the schema is checked against the meta-schema in tests/test_mapping_schema.py


def schema_problems(document: LoadedDocument) -> list[Problem]:
    """Every schema violation of `document`, one Problem each, sorted by position."""
    found: dict[tuple[int, int, str], Problem] = {}
    for error in mapping_validator().iter_errors(document.data):
        for problem in _problems_for(error, document):
            found.setdefault((problem.line, problem.column, problem.message), problem)
    return sorted(found.values())


def _problems_for(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        yield from _problems_for(_deepest(error.context), document)
        return
    handler = _HANDLERS.get(str(error.validator), _generic)
    yield from handler(error, document)


def _deepest(errors: list[ValidationError]) -> ValidationError:
    from jsonschema.exceptions import best_match

    return best_match(errors) or errors[0]


def _path(error: ValidationError) -> PathKey:
    return tuple(error.absolute_path)


# Every error a validator yields carries the failing subschema and the keyword's value; the stubs
# also allow jsonschema's "unset" marker, which only a ValidationError built by hand has.
def _subschema(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _keyword_value(error: ValidationError) -> Any:
    """What the failing keyword is set to in the schema: any JSON value."""
    return error.validator_value


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _yaml_type(json_type_name: str) -> str:
    """A JSON Schema type as a YAML author calls it: ``object`` is a mapping, ``array`` a list."""
    return {"object": "mapping", "array": "list"}.get(json_type_name, json_type_name)


def _additional_properties(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    allowed = sorted(_subschema(error).get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    for key in instance:
        if key in allowed:
            continue
        hint = suggestion(key, allowed)
        expected = f" (expected one of: {', '.join(allowed)})" if not hint else ""
        yield document.problem((*_path(error), key), f"unknown key '{key}'{hint}{expected}", at_key=True)


def _required(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    known = _subschema(error).get("properties", {})
    unknown_keys = [key for key in instance if key not in known]
    for name in _keyword_value(error):
        if name in instance:
            continue
        if close_matches(name, unknown_keys):
            continue  # a misspelt key: its "unknown key ...; did you mean" error says it all
        yield document.problem(_path(error), f"missing required key '{name}'")


def _enum(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    choices = [str(c) if c is not None else "null" for c in _keyword_value(error)]
    value = error.instance
    hint = suggestion(str(value), choices) if isinstance(value, str) else ""
    yield document.problem(_path(error), f"expected one of {', '.join(choices)}; got {_describe(value)}{hint}")


def _type(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    expected = _keyword_value(error)
    names = expected if isinstance(expected, list) else [expected]
    wanted = " or ".join(article(_yaml_type(n)) for n in names)
    got = _yaml_type(json_type(error.instance))
    yield document.problem(_path(error), f"expected {wanted}, got {article(got)} {_describe(error.instance)}")


def _pattern(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    description = _subschema(error).get("description", "")
    why = f" ({description})" if description else ""
    yield document.problem(_path(error), f"{_describe(error.instance)} does not match {_keyword_value(error)}{why}")


def _property_names(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    for name in error.instance if isinstance(error.instance, dict) else ():
        if not Draft202012Validator(_keyword_value(error)).is_valid(name):
            yield document.problem(
                (*_path(error), name), f"'{name}' is not a language code (expected e.g. en, fr)", at_key=True
            )


def _generic(error: ValidationError, document: LoadedDocument) -> Iterator[Problem]:
    yield document.problem(_path(error), error.message)


_HANDLERS: dict[str, Callable[[ValidationError, LoadedDocument], Iterator[Problem]]] = {
    "additionalProperties": _additional_properties,
    "required": _required,
    "enum": _enum,
    "type": _type,
    "pattern": _pattern,
    "propertyNames": _property_names,
}
