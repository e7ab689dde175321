"""The mapping model: typed, immutable views of a mapping file that passed the JSON Schema.

``build_mapping`` turns the loaded data into these dataclasses; it runs only on documents that the
schema accepted, so it can rely on types and required keys. Positions stay reachable through
``Mapping.document`` (paths such as ``("fields", 3, "from")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.language.loader import LoadedDocument

DEFAULT_LANGUAGES = ("en", "fr")
PAYLOAD_OBJECT = "payload.object"  # where an event notification holds its record, unless `records` says otherwise
NO_DEFAULT: Any = object()
_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Text:
    """A text per language."""

    by_language: MappingProxyType[str, str]

    @classmethod
    def of(cls, value: dict[str, str] | None) -> Text | None:
        return None if value is None else cls(MappingProxyType(dict(value)))

    def get(self, language: str) -> str:
        return self.by_language[language]


@dataclass(frozen=True)
class FieldSpec:
    index: int
    source: str  # the `from` expression
    target: str  # the `to` field
    label: Text
    category: str
    secret: bool
    enabled: bool
    type: str | None
    max_length: int | None
    on_missing: str
    on_overflow: str
    default: Any
    values: MappingProxyType[str, Any] | None
    scope: str
    undocumented: str | None
    realtime: str | None
    description: Text | None
    events: MappingProxyType[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("fields", self.index)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(frozen=True)
class IncludeSpec:
    endpoint: str
    name: str
    params: MappingProxyType[str, Any]
    optional: bool


@dataclass(frozen=True)
class ListSpec:
    endpoint: str
    records: str | None
    params: MappingProxyType[str, Any]
    window_from: str | None
    window_to: str | None
    window_max_days: int | None
    detail: bool
    key: str | None


@dataclass(frozen=True)
class EventSpec:
    event: str
    records: str
    parent: str | None = None
    all_fields: bool = False


@dataclass(frozen=True)
class SourceSpec:
    system: str
    endpoint: str | None
    records: str | None
    include: tuple[IncludeSpec, ...]
    listing: ListSpec | None
    parent: str | None
    objects: tuple[str, ...]
    where: str | None
    events: tuple[EventSpec, ...]


@dataclass(frozen=True)
class TargetSpec:
    system: str
    object: str | None
    upsert_keys: tuple[str, ...]
    endpoint: str | None
    match_key: str | None


@dataclass(frozen=True)
class ParentSpec:
    entity: str
    relationship: str
    key: str
    source: str
    type: str
    required: bool


@dataclass(frozen=True)
class LinkSpec:
    index: int
    target: str
    object: str
    match: str
    source: str
    label: Text | None


@dataclass(frozen=True)
class DisclosureSpec:
    section: str
    order: int
    title: Text
    when: Text | None
    shown_on: Text | None
    purpose: Text | None
    data_use: str | None
    data_subjects: tuple[str, ...]


@dataclass(frozen=True)
class PermissionsSpec:
    """Least privilege, declared: a justification per Zoom OAuth scope, and each event subscription's scope."""

    scopes: MappingProxyType[str, Text] = field(default_factory=lambda: MappingProxyType({}))
    events: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Mapping:
    entity: str
    file: str
    enabled: bool
    languages: tuple[str, ...]
    description: Text | None
    source: SourceSpec
    target: TargetSpec
    parent: ParentSpec | None
    links: tuple[LinkSpec, ...]
    disclosure: DisclosureSpec | None
    fields: tuple[FieldSpec, ...]
    document: LoadedDocument
    permissions: PermissionsSpec = field(default_factory=PermissionsSpec)

    @property
    def enabled_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.enabled)

    @property
    def secret_targets(self) -> frozenset[str]:
        return frozenset(f.target for f in self.fields if f.secret)


def _frozen(value: dict[str, Any] | None) -> MappingProxyType[str, Any]:
    return MappingProxyType(dict(value or {}))


def _field(index: int, data: dict[str, Any], defaults: dict[str, Any]) -> FieldSpec:
    default = data.get("default", NO_DEFAULT)
    on_missing = data.get("on_missing") or ("default" if "default" in data else defaults.get("on_missing", "skip"))
    values = data.get("values")
    return FieldSpec(
        index=index,
        source=data["from"],
        target=data["to"],
        label=Text.of(data["label"]),  # type: ignore[arg-type]
        category=data["category"],
        secret=bool(data.get("secret", False)),
        enabled=bool(data.get("enabled", True)),
        type=data.get("type"),
        max_length=data.get("max_length"),
        on_missing=on_missing,
        on_overflow=data.get("on_overflow") or defaults.get("on_overflow", "truncate"),
        default=default,
        values=None if values is None else _frozen(values),
        scope=data.get("scope", "record"),
        undocumented=data.get("undocumented"),
        realtime=data.get("realtime"),
        description=Text.of(data.get("description")),
        events=_frozen(data.get("events")),
    )


def _source(data: dict[str, Any]) -> SourceSpec:
    listing = data.get("list")
    window = (listing or {}).get("window") or {}
    return SourceSpec(
        system=data["system"],
        endpoint=data.get("endpoint"),
        records=data.get("records"),
        include=tuple(
            IncludeSpec(item["endpoint"], item["as"], _frozen(item.get("params")), bool(item.get("optional", False)))
            for item in data.get("include", ())
        ),
        listing=None
        if listing is None
        else ListSpec(
            endpoint=listing["endpoint"],
            records=listing.get("records"),
            params=_frozen(listing.get("params")),
            window_from=window.get("from"),
            window_to=window.get("to"),
            window_max_days=window.get("max_days"),
            detail=bool(listing.get("detail", False)),
            key=listing.get("key"),
        ),
        parent=data.get("parent"),
        objects=(data["object"],) if isinstance(data.get("object"), str) else tuple(data.get("object", ())),
        where=data.get("where"),
        events=tuple(
            EventSpec(e["event"], e.get("records", PAYLOAD_OBJECT), e.get("parent"), bool(e.get("all_fields")))
            for e in data.get("events", ())
        ),
    )


def _target(data: dict[str, Any]) -> TargetSpec:
    keys = data.get("upsert_key")
    upsert_keys = (keys,) if isinstance(keys, str) else tuple(keys or ())
    return TargetSpec(data["system"], data.get("object"), upsert_keys, data.get("endpoint"), data.get("match_key"))


def _parent(data: dict[str, Any] | None) -> ParentSpec | None:
    if data is None:
        return None
    return ParentSpec(
        data["entity"],
        data["relationship"],
        data["key"],
        data["from"],
        data.get("type", "string"),
        bool(data.get("required", True)),
    )


def _disclosure(data: dict[str, Any] | None) -> DisclosureSpec | None:
    if data is None:
        return None
    return DisclosureSpec(
        section=data["section"],
        order=int(data.get("order", 100)),
        title=Text.of(data["title"]),  # type: ignore[arg-type]
        when=Text.of(data.get("when")),
        shown_on=Text.of(data.get("shown_on")),
        purpose=Text.of(data.get("purpose")),
        data_use=data.get("data_use"),
        data_subjects=tuple(data.get("data_subjects", ())),
    )


def _permissions(data: dict[str, Any] | None) -> PermissionsSpec:
    data = data or {}
    scopes = {name: Text.of(text) for name, text in (data.get("scopes") or {}).items()}
    return PermissionsSpec(
        scopes=MappingProxyType({name: text for name, text in scopes.items() if text is not None}),
        events=MappingProxyType(dict(data.get("events") or {})),
    )


def build_mapping(document: LoadedDocument) -> Mapping:
    """The model of a document the JSON Schema accepted."""
    data = document.data
    defaults = data.get("defaults", {})
    return Mapping(
        entity=data["entity"],
        file=document.file,
        enabled=bool(data.get("enabled", True)),
        languages=tuple(data.get("languages", DEFAULT_LANGUAGES)),
        description=Text.of(data.get("description")),
        source=_source(data["source"]),
        target=_target(data["target"]),
        parent=_parent(data.get("parent")),
        links=tuple(
            LinkSpec(i, link["to"], link["object"], link["match"], link["from"], Text.of(link.get("label")))
            for i, link in enumerate(data.get("links", ()))
        ),
        disclosure=_disclosure(data.get("disclosure")),
        fields=tuple(_field(i, item, defaults) for i, item in enumerate(data["fields"])),
        document=document,
        permissions=_permissions(data.get("permissions")),
    )
