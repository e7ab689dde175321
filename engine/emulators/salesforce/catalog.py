"""Object catalogs of the Salesforce emulator: fields, errors, and value parsing as Salesforce does it.

A catalog file is an sObject-describe-like JSON object (``name``, ``label``, ``fields`` ...); every
``*.json`` of a folder that has a ``fields`` list is one object. Values arrive either from JSON
bodies (REST, sObject Collections) or from CSV cells (Bulk API 2.0); both are parsed here into
Python values (str, int, float, bool, date, aware datetime in UTC) and formatted back the way
Salesforce answers (datetimes as ``2026-01-05T10:00:00.000+0000``).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

Source = Literal["json", "csv"]

STRING_TYPES = frozenset(
    {"string", "textarea", "email", "url", "phone", "picklist", "multipicklist", "combobox",
     "encryptedstring", "id", "reference"}
)
INTEGER_TYPES = frozenset({"int"})
DECIMAL_TYPES = frozenset({"double", "currency", "percent"})
NUMBER_TYPES = INTEGER_TYPES | DECIMAL_TYPES

# The key prefixes of the standard objects zoomforce may write; custom objects get a derived one.
STANDARD_KEY_PREFIXES = {
    "Account": "001", "Contact": "003", "Lead": "00Q", "Event": "00U", "Task": "00T",
    "Campaign": "701", "CampaignMember": "00v", "User": "005", "Opportunity": "006", "Case": "500",
}

SYSTEM_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "Id", "label": "Record ID", "type": "id", "length": 18, "nillable": False,
     "idLookup": True, "createable": False, "updateable": False, "defaultedOnCreate": True},
    {"name": "CreatedDate", "label": "Created Date", "type": "datetime", "nillable": False,
     "createable": False, "updateable": False, "defaultedOnCreate": True},
    {"name": "LastModifiedDate", "label": "Last Modified Date", "type": "datetime", "nillable": False,
     "createable": False, "updateable": False, "defaultedOnCreate": True},
    {"name": "SystemModstamp", "label": "System Modstamp", "type": "datetime", "nillable": False,
     "createable": False, "updateable": False, "defaultedOnCreate": True},
)

_XSD_TYPES = {
    "boolean": "boolean", "int": "int", "double": "double", "currency": "double", "percent": "double",
    "date": "date", "datetime": "dateTime",
}

# Salesforce's accepted dateTime forms: yyyy-MM-ddTHH:mm:ss(.SSS)(Z|+hh:mm|+hhmm).
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:?\d{2})$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


# The marks of catalog files (written by zoomforce's catalog tools; the names are the files' format).
OBJECT_META_KEY = "x-zoomforce"  # an object's block: "added" (an object zoomforce adds), "absent"
ADDED_KEY, ABSENT_KEY = "added", "absent"
FIELD_ADDED_KEY, FIELD_ABSENT_KEY = "x-zoomforce-added", "x-zoomforce-absent"

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_INSTANCE = "7e0"  # 2-character pod + 1 reserved character, as in real ids


# ------------------------------------------------------------------------------------------- ids


def id_checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for chunk in range(3):
        flags = sum(1 << bit for bit, char in enumerate(id15[chunk * 5:chunk * 5 + 5]) if "A" <= char <= "Z")
        suffix += _CHECKSUM[flags]
    return suffix


def make_id(prefix: str, counter: int) -> str:
    digits = ""
    while counter:
        counter, rest = divmod(counter, 62)
        digits = _ALPHABET[rest] + digits
    id15 = prefix + _INSTANCE + digits.rjust(9, "0")
    return id15 + id_checksum(id15)


def normalize_id(text: str) -> str | None:
    """A 15- or 18-character id as its 18-character form, else None."""
    if len(text) not in (15, 18) or not text.isalnum() or not text.isascii():
        return None
    id15 = text[:15]
    full = id15 + id_checksum(id15)
    if len(text) == 18 and text[15:].upper() != full[15:]:
        return None
    return full


# ---------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class SfError:
    """One Salesforce error; rendered per API the way that API spells it."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def rest(self) -> dict[str, Any]:
        """REST resources: ``errorCode`` (a JSON array of these is the body)."""
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def collection(self) -> dict[str, Any]:
        """Inside sObject Collections results the key is ``statusCode``."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def bulk(self) -> str:
        """Bulk API 2.0 ``sf__Error`` cell: ``CODE:message:fields --``."""
        tail = f"{','.join(self.fields)} --" if self.fields else "--"
        return f"{self.code}:{self.message}:{tail}"


class SfRequestError(Exception):
    """The whole request fails with `status` and a JSON array of errors."""

    def __init__(self, status: int, *errors: SfError) -> None:
        super().__init__(errors[0].message if errors else str(status))
        self.status = status
        self.errors = list(errors)

    def body(self) -> list[dict[str, Any]]:
        return [{"message": e.message, "errorCode": e.code} | ({"fields": list(e.fields)} if e.fields else {})
                for e in self.errors]


def record_attributes(obj: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{record_id}"}


def not_found() -> SfRequestError:
    return SfRequestError(404, SfError("NOT_FOUND", "The requested resource does not exist"))


class ValueParseError(Exception):
    """A value that cannot be read as its field's type."""

    def __init__(self, field_def: FieldDef, value: Any) -> None:
        super().__init__(f"{field_def.name}: {value!r}")
        self.field = field_def
        self.value = value

    def json_error(self) -> SfError:
        """REST bodies: the JSON deserializer rejects the whole request."""
        kind = "START_OBJECT" if isinstance(self.value, dict) else "START_ARRAY" if isinstance(
            self.value, list) else "VALUE_STRING" if isinstance(self.value, str) else "VALUE_TOKEN"
        shown = json.dumps(self.value) if not isinstance(self.value, str) else self.value
        return SfError(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {self.field.json_type_name} from {kind} value {shown} "
            "or request may be missing a required field",
        )

    def csv_error(self, column: int) -> SfError:
        """Bulk CSV cells: the row fails with INVALID_FIELD (as Salesforce's Bulk results show)."""
        return SfError(
            "INVALID_FIELD",
            f"Failed to deserialize field at col {column}. Due to, '{self.value}' is not a valid value "
            f"for the type xsd:{self.field.xsd_type}",
            (self.field.name,),
        )


# --------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class FieldDef:
    """One field of a catalog object (the describe keys the emulator acts on)."""

    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def label(self) -> str:
        return str(self.raw.get("label") or self.name)

    @property
    def type(self) -> str:
        return str(self.raw.get("type", "string"))

    @property
    def length(self) -> int:
        return int(self.raw.get("length") or 0)

    @property
    def nillable(self) -> bool:
        return bool(self.raw.get("nillable", True))

    @property
    def createable(self) -> bool:
        return bool(self.raw.get("createable", True))

    @property
    def updateable(self) -> bool:
        return bool(self.raw.get("updateable", True))

    @property
    def defaulted(self) -> bool:
        return bool(self.raw.get("defaultedOnCreate", False))

    @property
    def unique(self) -> bool:
        return bool(self.raw.get("unique", False))

    @property
    def case_sensitive(self) -> bool:
        return bool(self.raw.get("caseSensitive", False))

    @property
    def lookup_key(self) -> bool:
        """Usable as an upsert key or a relationship's parent key (External ID or idLookup)."""
        return bool(self.raw.get("externalId") or self.raw.get("idLookup"))

    @property
    def reference_to(self) -> list[str]:
        return list(self.raw.get("referenceTo") or [])

    @property
    def relationship_name(self) -> str | None:
        name = self.raw.get("relationshipName")
        return str(name) if name else None

    @property
    def restricted_picklist(self) -> bool:
        return bool(self.raw.get("restrictedPicklist", False))

    @property
    def picklist_values(self) -> list[str]:
        return [str(v["value"]) for v in self.raw.get("picklistValues") or [] if v.get("active", True)]

    @property
    def precision(self) -> int:
        return int(self.raw.get("precision") or 0)

    @property
    def scale(self) -> int:
        return int(self.raw.get("scale") or 0)

    @property
    def required_on_create(self) -> bool:
        return (not self.nillable and self.createable and not self.defaulted
                and self.type != "boolean")

    @property
    def xsd_type(self) -> str:
        return _XSD_TYPES.get(self.type, "string")

    @property
    def json_type_name(self) -> str:
        return {"datetime": "datetime", "int": "int"}.get(self.type, _XSD_TYPES.get(self.type, "string"))

    def default_value(self) -> Any:
        if self.type == "boolean":
            return bool(self.raw.get("defaultValue") or False)
        for value in self.raw.get("picklistValues") or []:
            if value.get("defaultValue"):
                return str(value["value"])
        return None


@dataclass
class ObjectDef:
    """One sObject of the catalog; field and relationship names are looked up case-insensitively."""

    name: str
    label: str
    label_plural: str
    custom: bool
    key_prefix: str
    fields: dict[str, FieldDef]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for field_def in self.fields.values():
            rel = field_def.relationship_name
            if rel and rel.lower() == lowered:
                return field_def
        return None

    def ordered_fields(self) -> list[FieldDef]:
        return list(self.fields.values())


class Catalog:
    """Every object of the org, by case-insensitive API name and by key prefix."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self._objects = {o.name.lower(): o for o in objects}
        self._prefixes = {o.key_prefix: o for o in objects}

    def get(self, name: str) -> ObjectDef | None:
        return self._objects.get(name.lower())

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        return self._prefixes.get(prefix)

    def objects(self) -> list[ObjectDef]:
        return sorted(self._objects.values(), key=lambda o: o.name)

    def children_of(self, name: str) -> list[tuple[ObjectDef, FieldDef]]:
        return [(obj, f) for obj in self.objects() for f in obj.ordered_fields()
                if f.type == "reference" and name in f.reference_to]


def load_catalog(directory: Path, *, stock: bool = False) -> Catalog:
    """Every ``*.json`` object catalog of `directory` (files without a ``fields`` list are skipped).

    The org has what the files say, except what they declare absent (``x-zoomforce-absent``: a
    ``catalog pull`` found the org without it). `stock` serves the org as Zoom's package ships:
    the fields and objects zoomforce asks integrators to add (``x-zoomforce-added``) are left out too.
    """
    raws: list[dict[str, Any]] = []
    for path in sorted(Path(directory).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(data, dict) and isinstance(data.get("fields"), list) and data.get("name")):
            continue
        meta = data.get(OBJECT_META_KEY) or {}
        if meta.get(ABSENT_KEY) or (stock and meta.get(ADDED_KEY)):
            continue
        fields = [f for f in data["fields"] if isinstance(f, dict) and not f.get(FIELD_ABSENT_KEY)
                  and not (stock and f.get(FIELD_ADDED_KEY))]
        raws.append({**data, "fields": fields})
    return catalog_from_dicts(raws)


def catalog_from_dicts(raws: list[dict[str, Any]]) -> Catalog:
    taken: set[str] = set()
    objects = []
    for raw in sorted(raws, key=lambda r: str(r["name"])):
        prefix = _key_prefix(raw, taken)
        taken.add(prefix)
        objects.append(_object_from_dict(raw, prefix))
    return Catalog(objects)


def _key_prefix(raw: dict[str, Any], taken: set[str]) -> str:
    name = str(raw["name"])
    given = raw.get("keyPrefix") or STANDARD_KEY_PREFIXES.get(name)
    if given and given not in taken:
        return str(given)
    alphabet = _ALPHABET
    start = zlib.crc32(name.encode()) % (62 * 62)
    for step in range(62 * 62):
        n = (start + step) % (62 * 62)
        candidate = "a" + alphabet[n // 62] + alphabet[n % 62]
        if candidate not in taken:
            return candidate
    raise ValueError("no key prefix left")


def _object_from_dict(raw: dict[str, Any], prefix: str) -> ObjectDef:
    fields: dict[str, FieldDef] = {}
    for system in SYSTEM_FIELDS:
        fields[system["name"].lower()] = FieldDef(dict(system))
    for field_raw in raw["fields"]:
        fields[str(field_raw["name"]).lower()] = FieldDef(dict(field_raw))
    name = str(raw["name"])
    return ObjectDef(
        name=name,
        label=str(raw.get("label") or name),
        label_plural=str(raw.get("labelPlural") or raw.get("label") or name),
        custom=bool(raw.get("custom", name.endswith("__c"))),
        key_prefix=prefix,
        fields=fields,
        raw=raw,
    )


# ---------------------------------------------------------------------------------------- values


def parse_value(field_def: FieldDef, value: Any, source: Source) -> Any:
    """`value` (JSON value or CSV cell) as the field's Python value; raises ValueParseError."""
    if value is None:
        return None
    kind = field_def.type
    if kind == "boolean":
        return _parse_boolean(field_def, value, source)
    if kind in INTEGER_TYPES:
        return _parse_int(field_def, value)
    if kind in DECIMAL_TYPES:
        return _parse_decimal(field_def, value)
    if kind == "date":
        return _parse_date(field_def, value)
    if kind == "datetime":
        return _parse_datetime(field_def, value)
    return _parse_text(field_def, value)


def _parse_text(field_def: FieldDef, value: Any) -> str | None:
    if isinstance(value, str):
        return value or None  # Salesforce stores an empty text as null (so unique fields may repeat it)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    raise ValueParseError(field_def, value)


def _parse_boolean(field_def: FieldDef, value: Any, source: Source) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        truthy = {"true", "1", "yes"} if source == "csv" else {"true"}
        falsy = {"false", "0", "no"} if source == "csv" else {"false"}
        if lowered in truthy:
            return True
        if lowered in falsy:
            return False
    raise ValueParseError(field_def, value)


def _parse_int(field_def: FieldDef, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueParseError(field_def, value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    raise ValueParseError(field_def, value)


def _parse_decimal(field_def: FieldDef, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueParseError(field_def, value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueParseError(field_def, value) from None
    else:
        raise ValueParseError(field_def, value)
    if not math.isfinite(number):
        raise ValueParseError(field_def, value)
    return round(number, field_def.scale) if field_def.precision else number


def _parse_date(field_def: FieldDef, value: Any) -> date:
    match = _DATE_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueParseError(field_def, value)
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueParseError(field_def, value) from None


def _parse_datetime(field_def: FieldDef, value: Any) -> datetime:
    parsed = parse_datetime_text(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueParseError(field_def, value)
    return parsed


def parse_datetime_text(text: str) -> datetime | None:
    """A Salesforce dateTime literal as an aware UTC datetime (milliseconds kept), else None."""
    match = _DATETIME_RE.match(text)
    if not match:
        return None
    millis = int((match[7] or "0").ljust(3, "0"))
    try:
        local = datetime(int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]),
                         int(match[6]), millis * 1000, tzinfo=_zone(match[8]))
    except ValueError:
        return None
    return local.astimezone(UTC)


def parse_date_text(text: str) -> date | None:
    match = _DATE_RE.match(text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def check_value(field_def: FieldDef, value: Any) -> SfError | None:
    """Salesforce's checks of a parsed, non-null value: length, e-mail, picklist, numeric range."""
    if isinstance(value, str):
        return _check_text(field_def, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _check_number(field_def, value)
    return None


def _check_text(field_def: FieldDef, value: str) -> SfError | None:
    if field_def.length and len(value) > field_def.length and field_def.type not in {"id", "reference"}:
        return SfError(
            "STRING_TOO_LONG",
            f"{field_def.label}: data value too large: {value[:255]} (max length={field_def.length})",
            (field_def.name,),
        )
    if field_def.type == "email" and value and not _EMAIL_RE.match(value):
        return SfError("INVALID_EMAIL_ADDRESS", f"{field_def.label}: invalid email address: {value}",
                       (field_def.name,))
    if field_def.type == "picklist" and field_def.restricted_picklist and value not in field_def.picklist_values:
        return SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                       f"{field_def.label}: bad value for restricted picklist field: {value}", (field_def.name,))
    return None


def _check_number(field_def: FieldDef, value: float) -> SfError | None:
    digits = field_def.precision - field_def.scale
    if field_def.precision and abs(value) >= 10 ** digits:
        return SfError("NUMBER_OUTSIDE_VALID_RANGE",
                       f"{field_def.label}: value outside of valid range on numeric field: {value}",
                       (field_def.name,))
    return None


def format_value(value: Any) -> Any:
    """A stored value as Salesforce writes it in JSON (datetimes ``…SSS+0000``)."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def format_datetime(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"

