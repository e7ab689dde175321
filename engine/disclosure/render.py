"""Render a Disclosure: Markdown and HTML through Jinja2 templates, JSON, the Fides manifests, and
the Salesforce permission set. Every format renders the model and its messages only."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup, escape

from engine.disclosure.export import disclosure_json
from engine.disclosure.fides import fides_manifests
from engine.disclosure.model import Disclosure
from engine.disclosure.permissionset import permission_set_xml
from engine.errors import ConfigError

FORMATS = ("markdown", "html", "json", "fides", "salesforce-permissionset")
TEXT_FORMATS = ("markdown", "html", "json", "fides")  # those written to one file or standard output
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_TEMPLATE_NAMES = {"markdown": "disclosure.md.j2", "html": "disclosure.html.j2"}
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


def code(value: Any) -> str:
    """A Markdown code span that survives backticks inside (JMESPath literals use them)."""
    text = str(value)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def wrap(value: Any) -> Markup:
    """An identifier for HTML, breakable after ``_``, ``.`` and ``/`` rather than mid-word."""
    return Markup(re.sub(r"([_./])(?=[^_./])", r"\1<wbr>", str(escape(str(value)))))


def inline_code(value: Any) -> Markup:
    """A sentence with Markdown code spans, as HTML: escaped, the spans as ``<code>``."""
    text = str(escape(str(value)))
    return Markup(re.sub(r"`([^`]+)`", lambda m: f"<code>{wrap(Markup(m.group(1)).unescape())}</code>", text))


def duration(period: str, messages: dict[str, str]) -> str:
    """An ISO 8601 duration in words: ``P1Y6M`` is "1 year and 6 months"."""
    found = _DURATION.match(period)
    if found is None:
        return period
    parts = []
    for amount, unit in zip(found.groups(), ("year", "month", "week", "day"), strict=True):
        if amount:
            count = int(amount)
            parts.append(messages[f"dur_{unit}" if count == 1 else f"dur_{unit}s"].format(n=count))
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + messages["word_and"] + parts[-1]


def long_date(value: str, messages: dict[str, str]) -> str:
    """``2026-01-15`` as "15 January 2026" in the document's language."""
    year, month, day = value.split("-")
    return messages["date_format"].format(day=int(day), month=messages[f"month_{int(month)}"], year=year)


def _messages(context: Any) -> dict[str, str]:
    messages: dict[str, str] = context["m"]
    return messages


@jinja2.pass_context
def _duration_filter(context: Any, period: str) -> str:
    return duration(period, _messages(context))


@jinja2.pass_context
def _date_filter(context: Any, value: str) -> str:
    return long_date(value, _messages(context))


@jinja2.pass_context
def _yesno_filter(context: Any, value: Any) -> str:
    messages = _messages(context)
    return messages["answer_yes"] if value else messages["answer_no"]


@functools.cache
def environment(autoescape: bool, folder: Path) -> jinja2.Environment:
    """The Jinja2 environment of a template folder, built once: templates compile on first use.
    Filters that need words take them from the ``m`` the template is rendered with."""
    found = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    found.filters.update({"code": code, "cell": cell, "wrap": wrap, "inline_code": inline_code,
                          "duration": _duration_filter, "date": _date_filter, "yesno": _yesno_filter})
    return found


def _render_template(disclosure: Disclosure, output_format: str, template: Path | None) -> str:
    folder, name = (template.parent, template.name) if template else (TEMPLATES_DIR, _TEMPLATE_NAMES[output_format])
    try:
        page = environment(output_format == "html", folder.resolve()).get_template(name)
        return page.render(d=disclosure, m=disclosure.messages)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"template not found: {folder / name}") from exc
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)  # only a syntax error knows its line
        line = f":{lineno}" if lineno else ""
        raise ConfigError(f"template {folder / name}{line}: {exc.message}") from exc


def render(disclosure: Disclosure, output_format: str, template: Path | None = None) -> str:
    if output_format in _TEMPLATE_NAMES:
        return _render_template(disclosure, output_format, template)
    if output_format == "json":
        return json.dumps(disclosure_json(disclosure), ensure_ascii=False, indent=2) + "\n"
    if output_format == "fides":
        return yaml.safe_dump(fides_manifests(disclosure), allow_unicode=True, sort_keys=False)
    if output_format == "salesforce-permissionset":
        return permission_set_xml(disclosure)
    raise ConfigError(f"unknown disclosure format '{output_format}' (expected one of {', '.join(FORMATS)})")
