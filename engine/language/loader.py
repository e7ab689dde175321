"""Load YAML with the safe loader, keeping the line and column of every key and value.

PyYAML's ``compose`` gives a node tree whose nodes carry ``start_mark``; we build the Python data
from that tree ourselves so that we also (1) refuse duplicate keys, which the safe loader would
silently overwrite, and (2) turn every mapping key into a string (``0:`` in a value table becomes
``"0"``), which is what JSON Schema and JSON output expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Problem

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based
    text_column: int | None = None  # where a one-line scalar's text starts (after a quote), if known


@dataclass
class SourceMap:
    """Positions of every value (and of every mapping key) by its path in the document."""

    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)

    def value(self, path: PathKey) -> Position:
        """The position of the value at `path`, or of its nearest ancestor present."""
        return self._nearest(self.values, path)

    def key(self, path: PathKey) -> Position:
        """The position of the key that introduces `path` (the value's, for list items)."""
        if path in self.keys:
            return self.keys[path]
        return self.value(path)

    def _nearest(self, table: dict[PathKey, Position], path: PathKey) -> Position:
        for cut in range(len(path), -1, -1):
            found = table.get(path[:cut])
            if found is not None:
                return found
        return Position(1, 1)


@dataclass
class LoadedDocument:
    """One YAML file: its data, where each part of it stands, and what went wrong reading it."""

    file: str
    data: Any
    positions: SourceMap
    problems: list[Problem] = field(default_factory=list)

    def problem(
        self, path: PathKey, message: str, *, at_key: bool = False, severity: str = "error", offset: int | None = None
    ) -> Problem:
        """A Problem at `path`; `offset` (1-based) points inside a one-line scalar, e.g. an expression's column."""
        pos = self.positions.key(path) if at_key else self.positions.value(path)
        column = pos.column
        if offset is not None and pos.text_column is not None and not at_key:
            column = pos.text_column + offset - 1
        return Problem(self.file, pos.line, column, message, format_path(path), severity)  # type: ignore[arg-type]


def format_path(path: PathKey) -> str:
    """``("fields", 3, "from")`` -> ``fields[3].from``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _position(node: yaml.Node) -> Position:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    text_column = None
    if isinstance(node, yaml.ScalarNode) and node.start_mark.line == node.end_mark.line:
        text_column = column + (1 if node.style in ("'", '"') else 0)
    return Position(line, column, text_column)


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class _Builder:
    """Turns a composed node tree into plain data, recording positions and duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, doc: LoadedDocument):
        self.loader = loader
        self.doc = doc
        self._active: set[int] = set()

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.doc.positions.values[path] = _position(node)
        if id(node) in self._active:
            self.doc.problems.append(self.doc.problem(path, "recursive YAML alias is not allowed"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._active.add(id(node))
            items = [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            self._active.discard(id(node))
            return items
        try:
            return self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # a scalar YAML reads as a date that is no date (2026-02-30)
            self.doc.problems.append(self.doc.problem(path, f"'{node.value}' cannot be read: {exc}"))
            return node.value

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        self._active.add(id(node))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(self.loader.construct_object(key_node, deep=True))
            child = (*path, key)
            if key in result:
                first = self.doc.positions.keys[child]
                pos = _position(key_node)
                message = f"duplicate key '{key}' (first given at line {first.line})"
                self.doc.problems.append(Problem(self.doc.file, pos.line, pos.column, message, format_path(child)))
                continue
            self.doc.positions.keys[child] = _position(key_node)
            result[key] = self.build(value_node, child)
        self._active.discard(id(node))
        return result


def load_yaml_text(text: str, file: str) -> LoadedDocument:
    """Parse one YAML document with the safe loader; errors become Problems, never exceptions."""
    doc = LoadedDocument(file=file, data=None, positions=SourceMap())
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            doc.problems.append(
                Problem(file, 1, 1, "the file is empty: expected a mapping with entity, source, target, fields")
            )
            return doc
        doc.data = _Builder(loader, doc).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "malformed YAML"
        context = ""
        if exc.context and exc.problem:
            started = f" started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            context = f" ({exc.context.removeprefix('while ')}{started})"
        doc.problems.append(Problem(file, line, column, f"malformed YAML: {reason}{context}"))
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, 1, f"malformed YAML: {exc}"))
    finally:
        loader.dispose()
    return doc


def load_yaml_file(path: Path, display_name: str | None = None) -> LoadedDocument:
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return LoadedDocument(name, None, SourceMap(), [Problem(name, 1, 1, f"not UTF-8 text: {exc.reason}")])
    except OSError as exc:
        return LoadedDocument(name, None, SourceMap(), [Problem(name, 1, 1, f"cannot read: {exc.strerror}")])
    return load_yaml_text(text, name)


MAPPING_SUFFIXES = (".yaml", ".yml")
#: The file of a mappings folder that holds the disclosure's document-level facts, not a mapping.
DOCUMENT_FACTS_FILES = ("disclosure.yaml", "disclosure.yml")


def is_document_facts_file(path: Path) -> bool:
    return path.name in DOCUMENT_FACTS_FILES


def iter_mapping_files(paths: list[Path]) -> Iterator[Path]:
    """Expand folders into their ``*.yaml``/``*.yml`` files (sorted), keep files as given; the
    disclosure's document-level facts (``disclosure.yaml``) are not a mapping and are left out."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.iterdir()
                if p.suffix in MAPPING_SUFFIXES and p.is_file() and not is_document_facts_file(p)
            )
        elif not is_document_facts_file(path):
            yield path


def sub_document(document: LoadedDocument, base: PathKey) -> LoadedDocument:
    """The part of `document` at `base` as a document of its own (a block of a larger file), whose
    positions still point into the file (its problems' paths are relative to `base`)."""
    data: Any = document.data
    for part in base:
        data = data.get(part) if isinstance(data, dict) else None
    cut = len(base)
    positions = SourceMap(
        values={path[cut:]: pos for path, pos in document.positions.values.items() if path[:cut] == base},
        keys={path[cut:]: pos for path, pos in document.positions.keys.items() if path[:cut] == base},
    )
    return LoadedDocument(document.file, data, positions)
