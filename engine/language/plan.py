"""Compile a mapping into a plan once; run the plan per record.

A ``Plan`` holds, per enabled field, the compiled expression (a direct look-up for plain paths),
the coercer for its type, its missing-value and over-length policies, and its value table. Running
it is a pure function: source record + context (parent record, run time) -> ``MappedRecord``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from engine import secrets
from engine.errors import CoercionError, EvaluationError, MissingValue, RecordError, TooLong
from engine.language.coerce import COERCERS, Coercer, to_text
from engine.language.expressions import CompiledExpression, compile_expression, evaluate_or_none, evaluate_safely
from engine.language.model import FieldSpec, Mapping, ParentSpec
from engine.language.record_mapper import NO_WARNINGS, GeneratedMapper, RestMapper, record_mapper
from engine.language.safe_json import TOO_DEEP, Oversized, check_record, well_formed
from engine.secrets import redact_fields

_SKIP = object()


@dataclass(frozen=True)
class RunContext:
    """What a record is mapped with besides itself."""

    parent: Any = None
    run: dict[str, Any] = field(default_factory=dict)


_NO_CONTEXT = RunContext()  # frozen, and its run document is never written to


@dataclass(slots=True, init=False)
class MappedRecord:
    """One mapped record (:func:`mapped_record`). Slots and no ``__init__``: the lean path builds one per
    record (``record_mapper``) as ``MappedRecord()``, then sets its attributes."""

    entity: str
    object: str | None
    upsert_key: dict[str, Any]
    record: dict[str, Any]
    warnings: Sequence[str]  # a list of them, or NO_WARNINGS, the empty tuple every record without one shares

    def as_json(self, secrets: frozenset[str] | None = frozenset()) -> dict[str, Any]:
        """The JSON Lines shape of ``zoomforce map`` (docs/design.md), secrets in `secrets` as ``***``.

        Credential links are masked (``?pwd=***``) even with no secret named; None reveals everything.
        """
        if secrets is None:
            return {"entity": self.entity, "object": self.object, "upsert_key": dict(self.upsert_key),
                    "record": dict(self.record)}
        return {
            "entity": self.entity,
            "object": self.object,
            "upsert_key": redact_fields(self.upsert_key, secrets),
            "record": redact_fields(self.record, secrets),
        }


def mapped_record(entity: str, target_object: str | None, upsert_key: dict[str, Any], record: dict[str, Any],
                  warnings: Sequence[str]) -> MappedRecord:
    """A MappedRecord of these values (the class has no ``__init__``: see there)."""
    mapped = MappedRecord()
    mapped.entity, mapped.object, mapped.upsert_key, mapped.record = entity, target_object, upsert_key, record
    mapped.warnings = warnings or NO_WARNINGS
    return mapped


@dataclass(frozen=True)
class FieldPlan:
    target: str
    expression: CompiledExpression
    scope: str
    coerce: Coercer
    on_missing: str
    default: Any
    max_length: int | None
    truncate: bool
    table: dict[str, Any] | None
    realtime: str | None = None
    events: dict[str, CompiledExpression] = field(default_factory=dict)
    secret: bool = False
    type_name: str = "value"
    lists: dict[str, CompiledExpression | None] = field(default_factory=dict)

    def reader(self, event: str | None, listing: str | None = None) -> CompiledExpression | None:
        """The expression that reads this field from a REST record (`event` None) or from `event`;
        a record of the named `listing` is read with its `lists` expression when the field gives one.

        None: the field is not delivered by that source and is left out (Salesforce keeps its value).
        """
        if event is None:
            if listing is not None and listing in self.lists:
                return self.lists[listing]
            return None if self.realtime else self.expression
        if event in self.events:
            return self.events[event]
        return self.expression if self.scope == "run" else None

    def value(self, record: Any, context: RunContext, warnings: list[str], event: str | None = None,
              skip_masked: bool = False, listing: str | None = None) -> Any:
        if not self.secret:
            return self._value(record, context, warnings, event, skip_masked, listing)
        try:
            return self._value(record, context, warnings, event, skip_masked, listing)
        except (CoercionError, EvaluationError) as exc:  # their reasons quote the value: a credential never
            reason = f"its value cannot be used as a {self.type_name} (a secret: not shown)"  # reaches a log
            raise type(exc)(reason, field=exc.field or self.target, source=exc.source) from None

    def _value(self, record: Any, context: RunContext, warnings: list[str], event: str | None,
               skip_masked: bool, listing: str | None) -> Any:
        expression = self.reader(event, listing)
        if expression is None:
            return _SKIP
        document = record if self.scope == "record" else context.parent if self.scope == "parent" else context.run
        raw = evaluate_safely(expression, document, self.target)
        if skip_masked and secrets.is_masked(raw):
            return _SKIP  # the state kept *** in its place: Salesforce keeps its value, the next sync writes it
        if raw is None:
            return self._missing()
        try:
            value = self.coerce(self._lookup(raw))
        except RecordError as exc:  # CoercionError, or a number over the limit
            exc.field, exc.source = self.target, expression.text
            raise
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            return self._overflow(value, warnings)
        return value

    def _missing(self) -> Any:
        if self.on_missing == "skip":
            return _SKIP
        if self.on_missing == "null":
            return None
        if self.on_missing == "default":
            return self.default
        raise MissingValue("required value is missing or null", field=self.target, source=self.expression.text)

    def _lookup(self, raw: Any) -> Any:
        if self.table is None:
            return raw
        key = _table_key(raw)
        if key not in self.table:
            known = ", ".join(sorted(self.table))
            raise CoercionError(
                f"value {raw!r} is not in the field's value table (known: {known})",
                field=self.target,
                source=self.expression.text,
            )
        return self.table[key]

    def _overflow(self, value: str, warnings: list[str]) -> str:
        if not self.truncate:
            raise TooLong(
                f"{len(value)} characters, over the maximum of {self.max_length}",
                field=self.target,
                source=self.expression.text,
            )
        warnings.append(f"{self.target}: truncated from {len(value)} to {self.max_length} characters")
        return value[: self.max_length]


def _table_key(raw: Any) -> str:
    try:
        return to_text(raw)
    except CoercionError:
        raise CoercionError(f"a {type(raw).__name__} cannot be looked up in a value table") from None


@dataclass(frozen=True)
class ParentPlan:
    relationship: str
    key: str
    expression: CompiledExpression
    coerce: Coercer
    required: bool

    def reference(self, context: RunContext) -> dict[str, Any] | None:
        raw = None if context.parent is None else evaluate_safely(self.expression, context.parent, self.relationship)
        if raw is None:
            if self.required:
                raise MissingValue(
                    "no parent record: this entity is written under its parent (give it with --parent)",
                    field=self.relationship,
                    source=self.expression.text,
                )
            return None
        try:
            return {self.key: self.coerce(raw)}
        except CoercionError as exc:
            exc.field, exc.source = self.relationship, self.expression.text
            raise


@dataclass(frozen=True)
class Plan:
    entity: str
    object: str | None
    upsert_keys: tuple[str, ...]
    fields: tuple[FieldPlan, ...]
    parent: ParentPlan | None
    secrets: frozenset[str]
    skip_masked: bool = False  # a record the state kept (a dead letter, an event): a *** value is left out
    match: tuple[tuple[str, ...], ...] = ()  # a target without external id: the sets of fields that identify a record

    def map_record(self, record: Any, context: RunContext | None = None, checked: bool = False,
                   event: str | None = None, listing: str | None = None) -> MappedRecord:
        """Map one source record; raise a RecordError (without index) if it cannot be mapped.

        `event` names the event notification the record came from (its fields are read with their
        `events` expressions); None is a REST record (fields delivered only in real time are left out).
        `listing` names the listing a REST record came from (its fields' `lists` expressions), None the first.
        A target that matches records (``match``) gets its key once its links are resolved: ``match_key``.

        `checked`: the record comes from a certified document (:func:`~engine.language.safe_json.loads_certified`,
        or records joined from such documents within its bound), so :func:`check_record` is skipped:
        it would pass. Any other record is checked.
        """
        if self.skip_masked:
            if not checked:
                check_record(record)
            return self._map_in_full(record, context or _NO_CONTEXT, event, listing)
        # the plan's own function, written once: later calls of this plan's map_record go straight to it
        mapper = self._generated.map_record
        object.__setattr__(self, "map_record", mapper)  # an attribute of the instance shadows the method
        return mapper(record, context, checked, event, listing)  # type: ignore[no-any-return]

    @cached_property
    def _generated(self) -> GeneratedMapper:
        """The lean path for a REST record (:mod:`engine.language.record_mapper`), built on first use."""
        return record_mapper(self.fields, self.parent, self.upsert_keys, (MappedRecord, self.entity, self.object),
                             check_record, self._in_full)

    @property
    def _rest_mapper(self) -> RestMapper:
        """The lean path alone, which raises where it does not decide (for tests)."""
        return self._generated.run

    def _in_full(self, record: Any, context: RunContext | None, event: str | None, listing: str | None) -> MappedRecord:
        return self._map_in_full(record, context or _NO_CONTEXT, event, listing)

    def _map_in_full(self, record: Any, context: RunContext, event: str | None,
                     listing: str | None = None) -> MappedRecord:
        warnings: list[str] = []
        output: dict[str, Any] = {}
        for plan in self.fields:
            value = plan.value(record, context, warnings, event, self.skip_masked, listing)
            if value is not _SKIP:
                output[plan.target] = value
        if self.parent is not None:
            reference = self.parent.reference(context)
            if reference is not None:
                output[self.parent.relationship] = reference
        return mapped_record(self.entity, self.object, self._upsert_key(output), output, warnings)

    def key_of(self, record: Any, event: str | None = None) -> str | None:
        """The key a record that could not be mapped would have had (its dead letter's key), read raw.

        With the key field's expression for `event` (or its REST `from`), so that the same bad record
        met again updates its open dead letter instead of filing another one.
        """
        for key in self.upsert_keys:
            plan = next((f for f in self.fields if f.target == key and f.scope == "record"), None)
            expression = plan.reader(event) if plan is not None else None
            value = None if expression is None else evaluate_or_none(expression, record)
            if value not in (None, "", TOO_DEEP) and not isinstance(value, dict | list | bool | Oversized):
                try:
                    text = well_formed(str(value))[:255]
                except ValueError:  # an integer too long to print: no key
                    continue
                return text if len(self.upsert_keys) <= 1 else f"{key}={text}"
        return None

    def match_key(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The first set of match fields whose values `record` all has, with those values; None if none."""
        for fields in self.match:
            if all(record.get(name) not in (None, "") for name in fields):
                return {name: record[name] for name in fields}
        return None

    def _upsert_key(self, output: dict[str, Any]) -> dict[str, Any]:
        if not self.upsert_keys:
            return {}
        for key in self.upsert_keys:
            if output.get(key) not in (None, ""):
                return {key: output[key]}
        names = " or ".join(self.upsert_keys)
        raise MissingValue(
            f"no value for the upsert key {names}: the record cannot be matched", field=self.upsert_keys[0]
        )


def event_readers(spec: FieldSpec, mapping: Mapping) -> dict[str, str]:
    """Per event that feeds the entity, the expression that reads `spec` from its record.

    An expression in the field's `events`; else `from`, for the field's `realtime` event and for an
    event whose record has the REST names (`all_fields`). An event not in the result does not
    deliver the field.
    """
    readers = dict(spec.events)
    if spec.realtime and spec.realtime not in readers:
        readers[spec.realtime] = spec.source
    for event in mapping.source.events:
        if event.all_fields and event.event not in readers and not spec.realtime:
            readers[event.event] = spec.source
    return readers


def _field_plan(spec: FieldSpec, mapping: Mapping) -> FieldPlan:
    return FieldPlan(
        target=spec.target,
        expression=compile_expression(spec.source),
        scope=spec.scope,
        coerce=COERCERS[spec.type],
        on_missing=spec.on_missing,
        default=spec.default,
        max_length=spec.max_length,
        truncate=spec.on_overflow == "truncate",
        table=None if spec.values is None else dict(spec.values),
        realtime=spec.realtime,
        events={name: compile_expression(text) for name, text in event_readers(spec, mapping).items()},
        secret=spec.secret,
        type_name=spec.type or "value",
        lists={name: None if text is None else compile_expression(text) for name, text in spec.lists.items()},
    )


def _parent_plan(spec: ParentSpec | None) -> ParentPlan | None:
    if spec is None:
        return None
    return ParentPlan(spec.relationship, spec.key, compile_expression(spec.source), COERCERS[spec.type], spec.required)


def compile_plan(mapping: Mapping) -> Plan:
    """The plan of a validated mapping (expressions parsed once, coercers chosen once)."""
    target = mapping.target
    return Plan(
        entity=mapping.entity,
        object=target.object or target.endpoint,
        upsert_keys=target.upsert_keys or ((target.match_key,) if target.match_key else ()),
        fields=tuple(_field_plan(spec, mapping) for spec in mapping.enabled_fields),
        parent=_parent_plan(mapping.parent),
        secrets=mapping.secret_targets,
        match=target.match,
    )


@dataclass
class BatchResult:
    mapped: list[tuple[int, MappedRecord]] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def warnings(self) -> int:
        return sum(len(m.warnings) for _, m in self.mapped)


def run_batch(
    plan: Plan,
    records: list[Any],
    context: RunContext | None = None,
    on_record: Callable[[int, MappedRecord | RecordError], None] | None = None,
    event: str | None = None,
    parents: list[Any] | None = None,
) -> BatchResult:
    """Map every record; one that fails becomes a located RecordError and the batch goes on.

    `parents`, one per record, replaces the context's parent record by record (``source.each``).
    """
    result = BatchResult()
    base = context or RunContext()
    for index, record in enumerate(records):
        outcome: MappedRecord | RecordError
        here = base if parents is None else RunContext(parent=parents[index], run=base.run)
        try:
            if isinstance(record, RecordError):
                raise record
            outcome = plan.map_record(record, here, event=event)
            result.mapped.append((index, outcome))
        except RecordError as exc:
            outcome = exc.located(index, plan.entity)
            result.errors.append(outcome)
        if on_record is not None:
            on_record(index, outcome)
    return result


def secret_names(mapping: Mapping) -> frozenset[str]:
    """Target fields and source keys whose values are credentials (see :mod:`engine.secrets`)."""
    paths = []
    for spec in mapping.fields:
        if spec.secret:
            lists = {text for text in spec.lists.values() if text is not None}
            for text in {spec.source, *event_readers(spec, mapping).values(), *lists}:
                paths += [tuple(s for s in path if isinstance(s, str))
                          for path in compile_expression(text).field_paths()]
    return secrets.secret_names(mapping.secret_targets, paths)
