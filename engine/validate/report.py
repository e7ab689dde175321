"""Render validation problems as text lines, JSON, or GitHub workflow annotations."""

from __future__ import annotations

import json

from engine.errors import Problem

FORMATS = ("text", "json", "github")


def render_text(problems: list[Problem]) -> str:
    return "".join(f"{problem}\n" for problem in problems)


def render_json(problems: list[Problem]) -> str:
    valid = not any(p.severity == "error" for p in problems)
    payload = {"valid": valid, "errors": [p.as_json() for p in problems]}
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(problems: list[Problem]) -> str:
    lines = []
    for p in problems:
        message = f"{p.path}: {p.message}" if p.path else p.message
        lines.append(
            f"::{p.severity} file={_escape_property(p.file)},line={p.line},col={p.column},"
            f"title={_escape_property('zoomforce validate')}::{_escape_data(message)}\n"
        )
    return "".join(lines)


RENDERERS = {"text": render_text, "json": render_json, "github": render_github}
