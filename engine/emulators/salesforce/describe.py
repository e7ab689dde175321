"""sObject describes of the Salesforce emulator, with the keys a real describe has.

``GET /sobjects`` lists :func:`global_entry` per object; ``GET /sobjects/{Obj}/describe`` is
:func:`describe_sobject`. The key sets are those of real describes (recorded by CumulusCI,
``reference/salesforce/describe.*.cumulusci.json``): 45 top-level keys, 57 per field, 8 per child
relationship, and the Master record type every object has. What a catalog file says of a field
(type, length, external id, ...) wins over the defaults here; the rest takes the value a plain
field of that type has in a real org.
"""

from __future__ import annotations

from typing import Any

from engine.emulators.salesforce.catalog import SYSTEM_FIELDS, Catalog, FieldDef, ObjectDef

SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
              "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
              "datetime": "xsd:dateTime"}
MASTER_RECORD_TYPE = "012000000000000AAA"
_SYSTEM_NAMES = frozenset(str(f["name"]) for f in SYSTEM_FIELDS)
_EXTRA_TYPES = {"textarea": "plaintextarea"}


def describe_field(field_def: FieldDef) -> dict[str, Any]:
    raw = field_def.raw
    kind = field_def.type
    references = list(raw.get("referenceTo") or [])
    system = field_def.name in _SYSTEM_NAMES
    base: dict[str, Any] = {
        "aggregatable": kind != "textarea", "aiPredictionField": False, "autoNumber": False,
        "byteLength": field_def.length * 3, "calculated": False, "calculatedFormula": None, "cascadeDelete": False,
        "caseSensitive": False, "compoundFieldName": None, "controllerName": None, "createable": True,
        "custom": field_def.name.endswith("__c"), "defaultValue": None, "defaultValueFormula": None,
        "defaultedOnCreate": False, "dependentPicklist": False, "deprecatedAndHidden": False, "digits": 0,
        "displayLocationInDecimal": False, "encrypted": False, "externalId": False,
        "extraTypeInfo": _EXTRA_TYPES.get(kind), "filterable": kind != "textarea", "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False, "groupable": kind != "textarea", "highScaleNumber": False,
        "htmlFormatted": False, "idLookup": False, "inlineHelpText": None, "label": field_def.label, "length": 0,
        "mask": None, "maskType": None, "name": field_def.name, "nameField": field_def.name == "Name",
        "namePointing": len(references) > 1, "nillable": True,
        "permissionable": field_def.nillable and not system, "picklistValues": [],
        "polymorphicForeignKey": len(references) > 1, "precision": 0, "queryByDistance": False,
        "referenceTargetField": None, "referenceTo": [], "relationshipName": None, "relationshipOrder": None,
        "restrictedDelete": False, "restrictedPicklist": False, "scale": 0,
        "searchPrefilterable": kind == "reference", "soapType": SOAP_TYPES.get(kind, "xsd:string"),
        "sortable": kind != "textarea", "type": kind, "unique": False, "updateable": True,
        "writeRequiresMasterRead": False,
    }
    return base | {k: v for k, v in raw.items() if not k.startswith("x-")}


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
            "approvalLayouts": f"{base}/describe/approvalLayouts", "listviews": f"{base}/listviews",
            "describe": f"{base}/describe", "quickActions": f"{base}/quickActions",
            "layouts": f"{base}/describe/layouts", "sobject": base}


def global_entry(obj: ObjectDef, version: str) -> dict[str, Any]:
    """One object of ``GET /sobjects``."""
    return {
        "activateable": False, "associateEntityType": None, "associateParentEntity": None, "createable": True,
        "custom": obj.custom, "customSetting": False, "deepCloneable": False, "deletable": True,
        "deprecatedAndHidden": False, "feedEnabled": False, "hasSubtypes": False, "isInterface": False,
        "isSubtype": False, "keyPrefix": obj.key_prefix, "label": obj.label, "labelPlural": obj.label_plural,
        "layoutable": True, "mergeable": False, "mruEnabled": False, "name": obj.name, "queryable": True,
        "replicateable": True, "retrieveable": True, "searchable": True, "triggerable": True, "undeletable": True,
        "updateable": True, "urls": _urls(obj, version),
    }


def describe_sobject(catalog: Catalog, obj: ObjectDef, version: str, instance: str = "") -> dict[str, Any]:
    """``GET /sobjects/{Obj}/describe``; `instance` is the root URL of the ``ui*`` templates."""
    entry = global_entry(obj, version)
    entry["urls"] |= {"uiDetailTemplate": f"{instance}/{{ID}}", "uiEditTemplate": f"{instance}/{{ID}}/e",
                      "uiNewRecord": f"{instance}/{obj.key_prefix}/e"}
    plural = obj.label_plural
    out = entry | {
        "actionOverrides": [], "compactLayoutable": True, "defaultImplementation": None, "extendedBy": None,
        "extendsInterfaces": None, "implementedBy": None, "implementsInterfaces": None, "listviewable": None,
        "lookupLayoutable": None, "namedLayoutInfos": [], "networkScopeFieldName": None, "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": f"All {plural.lower()}", "name": "everything"},
                            {"label": f"My {plural.lower()}", "name": "mine"}],
        "fields": [describe_field(f) for f in obj.ordered_fields()],
        "childRelationships": [
            {"cascadeDelete": False, "childSObject": child.name, "deprecatedAndHidden": False,
             "field": ref.name, "junctionIdListNames": [], "junctionReferenceTo": [],
             "relationshipName": None, "restrictedDelete": False}
            for child, ref in catalog.children_of(obj.name)
        ],
        "recordTypeInfos": [
            {"active": True, "available": True, "defaultRecordTypeMapping": True, "developerName": "Master",
             "master": True, "name": "Master", "recordTypeId": MASTER_RECORD_TYPE,
             "urls": {"layout": f"/services/data/v{version}/sobjects/{obj.name}/describe/layouts/"
                                f"{MASTER_RECORD_TYPE}"}}],
    }
    return out | {k: v for k, v in obj.raw.items() if k not in ("fields",) and not k.startswith("x-")
                  and k not in out}
