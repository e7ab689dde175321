"""Salesforce DX source for the fields and objects an org lacks: what ``sf project deploy start`` deploys.

    write_dx_source(out, fields=[("Campaign", field)], objects=[declared_object])

writes, in source format, ``objects/<Object>/fields/<Field>.field-meta.xml`` for each field and
``objects/<Object>/<Object>.object-meta.xml`` for each custom object to create. When `out` is inside
a DX project (an ``sfdx-project.json`` in it or above it) the ``objects`` folder goes right into
`out` (give a package directory, e.g. ``force-app/main/default``); otherwise `out` becomes a DX
project of its own: ``sfdx-project.json`` and ``force-app/main/default/objects/...``. The fields
come as describe properties (:class:`~engine.salesforce.catalog.SalesforceField`); ``field_kind``
names their type the way Setup does (``Text(255)``, ``Lookup(Contact)``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from engine.salesforce.catalog import ObjectCatalog, SalesforceField

METADATA_NS = "http://soap.sforce.com/2006/04/metadata"
PACKAGE_DIR = Path("force-app") / "main" / "default"
MAX_TEXT = 255
LONG_TEXT_LINES = 3


def field_kind(field: SalesforceField) -> str:
    """The field's type as Setup shows it, with External ID and Unique."""
    kinds = {
        "string": f"Text({field.length})", "email": "Email", "phone": "Phone", "url": "URL",
        "boolean": "Checkbox", "datetime": "Date/Time", "date": "Date",
        "encryptedstring": f"Text (Encrypted)({field.length})",
        "reference": f"Lookup({', '.join(field.reference_to)})", "picklist": "Picklist",
        "multipicklist": "Picklist (Multi-Select)", "id": "Id",
    }
    if field.type == "textarea":
        kind = f"Long Text Area({field.length})" if field.length > MAX_TEXT else "Text Area(255)"
    elif field.type in ("double", "int", "currency", "percent"):
        kind = f"Number({field.precision or 18}, {field.scale})"
    else:
        kind = kinds.get(field.type, field.type)
    flags = [flag for flag, on in (("External ID", field.external_id), ("Unique", field.unique)) if on]
    return ", ".join([kind, *flags])


def _element(name: str, value: object) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return f"    <{name}>{text}</{name}>"


def _document(root: str, lines: Iterable[str]) -> str:
    body = "\n".join(lines)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{METADATA_NS}">\n{body}\n</{root}>\n'


def _type_elements(field: SalesforceField, child_relationship: str) -> list[str]:
    """The metadata type and its properties; a describe type Metadata has no name for is Text."""
    if field.type == "reference":
        return [_element("type", "Lookup"), _element("referenceTo", field.reference_to[0]),
                _element("relationshipName", child_relationship), _element("relationshipLabel",
                                                                           child_relationship.replace("_", " ")),
                _element("deleteConstraint", "SetNull")]
    if field.type == "textarea":
        if field.length > MAX_TEXT:
            return [_element("type", "LongTextArea"), _element("length", field.length),
                    _element("visibleLines", LONG_TEXT_LINES)]
        return [_element("type", "TextArea")]
    if field.type == "encryptedstring":
        return [_element("type", "EncryptedText"), _element("length", min(field.length or 175, 175)),
                _element("maskChar", "asterisk"), _element("maskType", "all")]
    if field.type in ("double", "int", "currency", "percent"):
        kind = {"currency": "Currency", "percent": "Percent"}.get(field.type, "Number")
        return [_element("type", kind), _element("precision", field.precision or 18),
                _element("scale", field.scale)]
    if field.type == "boolean":
        return [_element("type", "Checkbox"), _element("defaultValue", False)]
    if field.type in ("picklist", "multipicklist") and field.picklist_values:
        values = [f"            <value>\n                <fullName>{escape(v)}</fullName>\n"
                  f"                <default>false</default>\n                <label>{escape(v)}</label>\n"
                  f"            </value>" for v in field.picklist_values]
        kind = "Picklist" if field.type == "picklist" else "MultiselectPicklist"
        value_set = ["    <valueSet>", "        <valueSetDefinition>", "            <sorted>false</sorted>",
                     *values, "        </valueSetDefinition>", "    </valueSet>"]
        extra = [_element("visibleLines", 4)] if kind == "MultiselectPicklist" else []
        return [_element("type", kind), *extra, *value_set]
    simple = {"email": "Email", "phone": "Phone", "url": "Url", "datetime": "DateTime", "date": "Date"}
    if field.type in simple:
        return [_element("type", simple[field.type])]
    return [_element("type", "Text"), _element("length", min(field.length or MAX_TEXT, MAX_TEXT))]


def field_xml(object_name: str, field: SalesforceField) -> str:
    """``<Field>.field-meta.xml``: a custom field in source format."""
    child = f"{object_name.removesuffix('__c').replace('zoom_app__', '')}s"  # the parent's list of these records
    local = field.name.removesuffix("__c")
    if field.reference_to and local.lower() != field.reference_to[0].removesuffix("__c").lower():
        child = f"{child}_{local}"
    lines = [_element("fullName", field.name), _element("label", field.label or field.name)]
    if field.added:
        lines.append(_element("description", field.added[:1000]))
    lines += [_element("externalId", field.external_id), *_type_elements(field, child)]
    if field.unique and field.type in ("string", "email", "double", "int"):
        lines.append(_element("unique", True))
        if field.type == "string":
            lines.append(_element("caseSensitive", False))
    if field.type != "boolean" and not field.nillable:
        lines.append(_element("required", True))
    return _document("CustomField", lines)


def object_xml(declared: ObjectCatalog | None, name: str) -> str:
    """``<Object>.object-meta.xml``: a custom object with a text Name field."""
    label = declared.label if declared is not None else name.removesuffix("__c").replace("_", " ")
    plural = label if label.endswith("s") else f"{label}s"
    lines = [_element("label", label), _element("pluralLabel", plural),
             "    <nameField>", f"        <label>{escape(label)} Name</label>", "        <type>Text</type>",
             "    </nameField>", _element("deploymentStatus", "Deployed"), _element("sharingModel", "ReadWrite")]
    if declared is not None and declared.added:
        lines.insert(0, _element("description", declared.added[:1000]))
    return _document("CustomObject", lines)


@dataclass(frozen=True)
class Written:
    """Where the source went, and the folder to give ``sf project deploy start --source-dir``."""

    files: list[Path]
    source_dir: Path
    project_created: bool


def _inside_project(folder: Path) -> bool:
    return any((parent / "sfdx-project.json").is_file() for parent in (folder, *folder.parents))


def write_dx_source(out: Path, fields: Iterable[tuple[str, SalesforceField]],
                    objects: Iterable[tuple[str, ObjectCatalog | None]], api_version: str = "59.0") -> Written:
    """Write the fields and the custom objects to create as DX source under `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    created = not _inside_project(out.resolve())
    root = out / PACKAGE_DIR if created else out
    files: list[Path] = []
    if created:
        project = {"packageDirectories": [{"path": str(PACKAGE_DIR.as_posix()), "default": True}],
                   "name": "zoomforce-additions", "sourceApiVersion": api_version}
        files.append(_write(out / "sfdx-project.json", json.dumps(project, indent=2) + "\n"))
    for name, declared in objects:
        files.append(_write(root / "objects" / name / f"{name}.object-meta.xml", object_xml(declared, name)))
    for object_name, field in fields:
        files.append(_write(root / "objects" / object_name / "fields" / f"{field.name}.field-meta.xml",
                            field_xml(object_name, field)))
    return Written(files, out if created else root, created)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
