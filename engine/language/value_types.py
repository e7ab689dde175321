"""The value types a field may declare (``type: datetime``): one table, read by coercion, by
validation and by the Salesforce target catalog.

For each type it says:

- ``coercer``: the function of ``engine.language.coerce`` that turns an extracted value into what is
  written (``COERCERS`` there is built from this table);
- ``text``: whether it is text, so ``max_length`` applies;
- ``holds``: the static result types of an expression (``CompiledExpression.result_type``) whose
  value it can take;
- ``literals``: the JSON types a literal of it may have (a value-table entry, a ``default``);
- ``in_tables``: whether a value table (``values``) can produce it;
- ``salesforce``: the Salesforce field types (describe ``type``) that take a value of it;
- ``creates``: the Salesforce field (describe ``type``, length, scale) that ``zoomforce catalog
  missing`` proposes for a field of this type that no catalog declares (a text's length is its
  ``max_length`` when it has one).

The mapping schema's ``value_type`` enum (``scripts/mapping_schema_source.yaml``) lists the same
names in the same order; a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from engine.describe import JSON_TYPES


@dataclass(frozen=True)
class ValueType:
    coercer: str
    text: bool
    holds: frozenset[str]
    literals: frozenset[str]
    in_tables: bool
    salesforce: frozenset[str]
    creates: tuple[str, int, int] = ("string", 255, 0)


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


# Salesforce text fields take any text-like value, and integers too (Zoom meeting ids are kept as
# text); number fields take integers and numbers; references and ids take ids or plain strings.
SALESFORCE_TEXT = _set("string", "textarea", "phone", "combobox", "encryptedstring")
SALESFORCE_NUMBER = _set("double", "currency", "percent")
_SCALAR = _set("string", "integer", "number")

VALUE_TYPES: MappingProxyType[str, ValueType] = MappingProxyType({
    "string": ValueType(
        "to_text", True, _set("string", "integer", "number", "boolean", "datetime", "date", "any"), JSON_TYPES,
        True, SALESFORCE_TEXT | _set("email", "url", "picklist", "multipicklist", "reference", "id"),
        ("string", 255, 0),
    ),
    "integer": ValueType(
        "to_integer", False, _set("integer", "number", "string", "any"), _set("integer"),
        True, SALESFORCE_TEXT | SALESFORCE_NUMBER | _set("int"), ("double", 0, 0),
    ),
    "number": ValueType(
        "to_number", False, _set("integer", "number", "string", "any"), _set("integer", "number"),
        True, SALESFORCE_NUMBER, ("double", 0, 2),
    ),
    "boolean": ValueType(
        "to_boolean", False, _set("boolean", "integer", "string", "any"), _set("boolean"), True, _set("boolean"),
        ("boolean", 0, 0),
    ),
    "datetime": ValueType(
        "to_datetime", False, _set("datetime", "string", "integer", "any"), _SCALAR, False, _set("datetime"),
        ("datetime", 0, 0),
    ),
    "date": ValueType(
        "to_date", False, _set("date", "datetime", "string", "any"), _SCALAR, False, _set("date"), ("date", 0, 0),
    ),
    "email": ValueType(
        "to_email", True, _set("string", "any"), _SCALAR, True, SALESFORCE_TEXT | _set("email"), ("email", 80, 0),
    ),
    "url": ValueType(
        "to_url", True, _set("string", "any"), _SCALAR, True, SALESFORCE_TEXT | _set("url"), ("url", 255, 0),
    ),
    # A link that carries a credential in its query (a join link's pwd=, a registrant's tk=): written
    # whole to Salesforce, its credential parameters masked everywhere else (engine.secrets).
    "credential_url": ValueType(
        "to_url", True, _set("string", "any"), _SCALAR, True, SALESFORCE_TEXT | _set("url"),
    ),
    "picklist": ValueType(
        "to_text", True, _set("string", "integer", "number", "boolean", "any"), _SCALAR,
        True, SALESFORCE_TEXT | _set("picklist", "multipicklist"), ("picklist", 255, 0),
    ),
    "id": ValueType(
        "to_id", True, _set("string", "integer", "any"), _SCALAR, True, SALESFORCE_TEXT | _set("reference", "id"),
        ("string", 18, 0),
    ),
})
