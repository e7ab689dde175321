"""The Salesforce permission set the integration user needs: exactly the object and field access of
the disclosure's permissions part, as Salesforce DX source (``*.permissionset-meta.xml``).

Read, create and edit on each object written, read on each object read; read and edit on each field
written, read on each field read or matched on. Nothing else: no delete, no view or modify all, no
system permission (API access comes with the integration user's profile). Required fields have no
field permission in Salesforce and are left out; every user with the object reads and edits them.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from engine.disclosure.model import Disclosure
from engine.errors import InputError

API_NAME = "Zoomforce_Integration"
FILE_NAME = f"{API_NAME}.permissionset-meta.xml"
FOLDER = "permissionsets"  # where Salesforce DX source keeps permission sets, under a package directory


def _flag(value: bool) -> str:
    return "true" if value else "false"


def permission_set_xml(disclosure: Disclosure) -> str:
    """The permission set's metadata, elements in the order Salesforce writes them."""
    m, permissions = disclosure.messages, disclosure.permissions
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">',
        f"    <description>{escape(m['permission_set_description'])}</description>",
    ]
    for field in permissions.fields:
        if not field.permissionable:
            continue
        lines += [
            "    <fieldPermissions>",
            f"        <editable>{_flag(field.edit)}</editable>",
            f"        <field>{escape(field.name)}</field>",
            f"        <readable>{_flag(field.read)}</readable>",
            "    </fieldPermissions>",
        ]
    lines += [
        "    <hasActivationRequired>false</hasActivationRequired>",
        f"    <label>{escape(m['permission_set_label'])}</label>",
    ]
    for access in permissions.objects:
        lines += [
            "    <objectPermissions>",
            f"        <allowCreate>{_flag(access.create)}</allowCreate>",
            "        <allowDelete>false</allowDelete>",
            f"        <allowEdit>{_flag(access.edit)}</allowEdit>",
            f"        <allowRead>{_flag(access.read)}</allowRead>",
            "        <modifyAllRecords>false</modifyAllRecords>",
            f"        <object>{escape(access.object)}</object>",
            "        <viewAllRecords>false</viewAllRecords>",
            "    </objectPermissions>",
        ]
    lines.append("</PermissionSet>")
    return "\n".join(lines) + "\n"


def write_permission_set(disclosure: Disclosure, folder: Path) -> Path:
    """Write the permission set under `folder` (a Salesforce DX package directory, such as
    ``force-app/main/default``) as ``permissionsets/Zoomforce_Integration.permissionset-meta.xml``."""
    target = folder / FOLDER / FILE_NAME
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(permission_set_xml(disclosure), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from exc
    return target
