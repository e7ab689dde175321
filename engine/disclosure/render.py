"""Render a Disclosure: Markdown and HTML through Jinja2 templates, JSON, and a Fides manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import yaml

from engine.disclosure.build import Disclosure, disclosure_json
from engine.errors import ConfigError

FORMATS = ("markdown", "html", "json", "fides")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_TEMPLATE_NAMES = {"markdown": "disclosure.md.j2", "html": "disclosure.html.j2"}


def _code(value: Any) -> str:
    """A Markdown code span that survives backticks inside (JMESPath literals use them)."""
    text = str(value)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _environment(autoescape: bool, folder: Path) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    environment.filters["code"] = _code
    environment.filters["cell"] = _cell
    return environment


def _render_template(disclosure: Disclosure, output_format: str, template: Path | None) -> str:
    folder, name = (template.parent, template.name) if template else (TEMPLATES_DIR, _TEMPLATE_NAMES[output_format])
    try:
        page = _environment(output_format == "html", folder).get_template(name)
        return page.render(d=disclosure, m=disclosure.messages)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"template not found: {folder / name}") from exc
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)  # only a syntax error knows its line
        line = f":{lineno}" if lineno else ""
        raise ConfigError(f"template {folder / name}{line}: {exc.message}") from exc


def fides_manifest(disclosure: Disclosure) -> dict[str, Any]:
    """A Fides system manifest: one privacy declaration per section, checked by fideslang's models."""
    from fideslang.models import PrivacyDeclaration, System

    declarations = [
        PrivacyDeclaration(
            name=section.title,
            data_categories=sorted({item.category for item in section.items}),
            data_use=section.data_use or "essential.service",
            data_subjects=section.data_subjects,
        )
        for section in disclosure.sections
        if section.items
    ]
    system = System(
        fides_key="zoomforce",
        name="zoomforce: Zoom integration for Salesforce",
        description=disclosure.messages["intro"],
        system_type="Integration",
        privacy_declarations=declarations,
    )
    return {"system": [system.model_dump(mode="json", exclude_none=True, exclude_defaults=True)]}


def render(disclosure: Disclosure, output_format: str, template: Path | None = None) -> str:
    if output_format in _TEMPLATE_NAMES:
        return _render_template(disclosure, output_format, template)
    if output_format == "json":
        return json.dumps(disclosure_json(disclosure), ensure_ascii=False, indent=2) + "\n"
    if output_format == "fides":
        return yaml.safe_dump(fides_manifest(disclosure), allow_unicode=True, sort_keys=False)
    raise ConfigError(f"unknown disclosure format '{output_format}' (expected one of {', '.join(FORMATS)})")
