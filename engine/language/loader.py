"""Load YAML with the safe loader, keeping the line and column of every key and value.

PyYAML's ``compose`` gives a node tree whose nodes carry ``start_mark``; we build the Python data
from that tree ourselves so that we also (1) refuse duplicate keys, which the safe loader would
silently overwrite, and (2) turn every mapping key into a string (``0:`` in a value table becomes
``"0"``), which is what JSON Schema and JSON output expect.

A hostile file gets one located problem, in bounded time and memory (the limits are in
:mod:`engine.language.limits`): a file over ``MAX_MAPPING_FILE_BYTES`` is not read; bytes that are
not UTF-8, control characters and a byte-order mark past the start are reported at their line and
column; the composer refuses nesting deeper than ``MAX_YAML_DEPTH`` before it recurses, more than
``MAX_YAML_NODES`` nodes, and aliases that would repeat more than ``MAX_YAML_ALIAS_NODES`` nodes
(no "billion laughs"); a key that is a list or a mapping is printed as YAML.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError

from engine.errors import Problem
from engine.language import limits

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


class _OverLimit(ComposerError):
    """A file over one of the limits: reported as the limit, not as malformed YAML."""


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, whose composer counts depth, nodes and what aliases repeat, and stops at the limits."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            node: yaml.Node | None = super().compose_node(parent, index)
            self._alias_nodes += self._sizes.get(id(node), 1)
            if self._alias_nodes > limits.MAX_YAML_ALIAS_NODES:
                limit = limits.limit_text("MAX_YAML_ALIAS_NODES")
                raise _OverLimit(None, None, f"aliases repeat more than {limits.MAX_YAML_ALIAS_NODES} nodes "
                                    f"({limit})", mark)
            return node
        event = self.peek_event()  # type: ignore[no-untyped-call]
        nested = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        if nested:
            self._depth += 1
            if self._depth > limits.MAX_YAML_DEPTH:
                raise _OverLimit(None, None, f"lists and mappings nested deeper than {limits.MAX_YAML_DEPTH} "
                                    f"levels ({limits.limit_text('MAX_YAML_DEPTH')})", event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1
        self._nodes += 1
        if self._nodes > limits.MAX_YAML_NODES:
            raise _OverLimit(None, None, f"more than {limits.MAX_YAML_NODES} YAML nodes "
                                f"({limits.limit_text('MAX_YAML_NODES')})", event.start_mark)
        if isinstance(node, yaml.SequenceNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1)
                                            for k, v in node.value)
        return node


# What PyYAML's reader refuses: C0 controls but tab and line ends, DEL, C1 controls but NEL, U+FFFE/FFFF.
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "backspace", 0x0B: "vertical tab", 0x0C: "form feed", 0x1B: "escape",
                  0x7F: "DEL"}


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _text_problem(text: str, file: str) -> Problem | None:
    """A character no YAML file may hold (a control character, a byte-order mark past the start), located."""
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        code = ord(bad.group())
        name = _CONTROL_NAMES.get(code, "a control character")
        line, column = _line_column(text, bad.start())
        return Problem(file, line, column, f"U+{code:04X} ({name}) is not allowed in a YAML file")
    bom = text.find("\ufeff")
    if bom >= 0:
        line, column = _line_column(text, bom)
        return Problem(file, line, column, "a byte-order mark (U+FEFF) is allowed only at the start of the file")
    return None


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
_STR_TAG = "tag:yaml.org,2002:str"


class _Builder:
    """Turns a composed node tree into plain data, recording positions and duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, doc: LoadedDocument):
        self.loader = loader
        self.doc = doc
        self._active: set[int] = set()
        self._too_deep = False

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.doc.positions.values[path] = _position(node)
        if len(path) > limits.MAX_YAML_DEPTH:  # aliases inside aliases nest what the composer saw flat
            if not self._too_deep:
                self._too_deep = True
                message = (f"nested deeper than {limits.MAX_YAML_DEPTH} levels once aliases are expanded "
                           f"({limits.limit_text('MAX_YAML_DEPTH')})")
                self.doc.problems.append(self.doc.problem(path, message))
            return None
        if id(node) in self._active:
            self.doc.problems.append(self.doc.problem(path, "recursive YAML alias is not allowed"))
            return None
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _COLLECTION_TAGS:
            self.doc.problems.append(self.doc.problem(path, f"malformed YAML: the tag {node.tag} is not allowed "
                                                            "(a mapping file holds plain lists and mappings)"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._active.add(id(node))
            items = [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            self._active.discard(id(node))
            return items
        try:
            return self._scalar(node)
        except ValueError as exc:  # a scalar YAML reads as a date that is no date (2026-02-30)
            self.doc.problems.append(self.doc.problem(path, f"'{node.value}' cannot be read: {exc}"))
            return node.value

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR_TAG:  # most scalars: what SafeConstructor.construct_yaml_str returns, sooner
            return node.value
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        self._active.add(id(node))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                pos = _position(key_node)
                shown = _as_yaml(self.loader.construct_object(key_node, deep=True))
                kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                message = f"a key must be a name, not {kind}: {shown}"
                self.doc.problems.append(Problem(self.doc.file, pos.line, pos.column, message, format_path(path)))
                continue
            key = _key_text(self._scalar(key_node))
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


def _as_yaml(value: Any) -> str:
    """A value as a YAML author would write it on one line, cut to 60 characters."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 60 else text[:57] + "..."


def load_yaml_text(text: str, file: str) -> LoadedDocument:
    """Parse one YAML document with the safe loader; errors become Problems, never exceptions."""
    doc = LoadedDocument(file=file, data=None, positions=SourceMap())
    text = text.removeprefix("\ufeff")  # a byte-order mark at the start is allowed (and not a column)
    problem = _text_problem(text, file)
    if problem is not None:
        doc.problems.append(problem)
        return doc
    fast = _load_with_libyaml(text, file)
    if fast is not None:
        return fast
    try:
        loader = _BoundedLoader(text)
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, 1, f"malformed YAML: {exc}"))
        return doc
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
        if exc.context_mark is not None and "end of stream" in str(exc.problem):
            mark = exc.context_mark  # a quote or a bracket never closed: where it opened, not the file's end
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "malformed YAML"
        context = ""
        if exc.context and exc.problem:
            started = f" started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            context = f" ({exc.context.removeprefix('while ')}{started})"
        prefix = "" if isinstance(exc, _OverLimit) else "malformed YAML: "
        doc.problems.append(Problem(file, line, column, f"{prefix}{reason}{context}"))
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, 1, f"malformed YAML: {exc}"))
    finally:
        loader.dispose()
    return doc


# libyaml's safe loader, where PyYAML was built with it: it composes a file in C, about ten times faster.
_CLoader: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
# What libyaml composes by recursion in C: flow brackets, indentation, and "- - -" on one line. A
# file past these bounds is composed by the pure-Python loader, which stops at MAX_YAML_DEPTH itself.
_BRACKET = re.compile(r"[\[\]{}]")
_DEEP_INDENT = re.compile(r"^[ ]{160,}\S", re.MULTILINE)
_INLINE_NESTING = re.compile(r"(?:[-?][ \t]+){8,}")


def _shallow(text: str) -> bool:
    """Whether libyaml may compose `text`: no construct nests deep enough to strain its C recursion."""
    if _DEEP_INDENT.search(text) or _INLINE_NESTING.search(text):
        return False
    depth = 0
    for bracket in _BRACKET.finditer(text):  # brackets in quoted text are counted too: a cautious bound
        depth += 1 if bracket.group() in "[{" else -1
        if depth > limits.MAX_YAML_DEPTH:
            return False
    return True


def _plain_tree_within_limits(root: yaml.Node) -> bool:
    """True for a tree (no alias) within MAX_YAML_NODES and MAX_YAML_DEPTH, as the bounded composer counts."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            return False  # an alias: the bounded composer counts what it repeats
        seen.add(id(node))
        if len(seen) > limits.MAX_YAML_NODES:
            return False
        if isinstance(node, yaml.SequenceNode):
            if depth + 1 > limits.MAX_YAML_DEPTH:
                return False
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            if depth + 1 > limits.MAX_YAML_DEPTH:
                return False
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
    return True


def _load_with_libyaml(text: str, file: str) -> LoadedDocument | None:
    """The document composed by libyaml, or None to let the pure-Python bounded loader decide.

    None for anything but a plain file within the limits: no libyaml, a deep construct, a syntax
    error, an empty file, an alias, too many nodes. The bounded loader then reports exactly what
    it always has (its messages and marks), so libyaml only ever makes a good file faster.
    """
    if _CLoader is None or not _shallow(text):
        return None
    loader = _CLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or not _plain_tree_within_limits(node):
            return None
        doc = LoadedDocument(file=file, data=None, positions=SourceMap())
        doc.data = _Builder(loader, doc).build(node, ())
        return doc
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _failed(name: str, line: int, column: int, message: str) -> LoadedDocument:
    return LoadedDocument(name, None, SourceMap(), [Problem(name, line, column, message)])


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def load_yaml_file(path: Path, display_name: str | None = None) -> LoadedDocument:
    """Read and parse one mapping file: a regular file of at most ``MAX_MAPPING_FILE_BYTES`` bytes of UTF-8."""
    name = display_name or str(path)
    cap = limits.MAX_MAPPING_FILE_BYTES
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return _failed(name, 1, 1, "not a regular file")
        with path.open("rb") as stream:
            data = stream.read(cap + 1)
    except OSError as exc:
        return _failed(name, 1, 1, f"cannot read: {exc.strerror or exc}")
    if len(data) > cap:
        limit = limits.limit_text("MAX_MAPPING_FILE_BYTES")
        return _failed(name, 1, 1, f"the file is larger than {cap} bytes ({limit})")
    if data.startswith(_UTF16_BOMS):
        return _failed(name, 1, 1, "the file is UTF-16 text (byte-order mark); save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        byte = data[exc.start]
        return _failed(name, line, column, f"not UTF-8 text: byte 0x{byte:02x} ({exc.reason})")
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
