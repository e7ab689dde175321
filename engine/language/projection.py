"""What a mapping reads of a record, and a record cut down to it.

A dead letter keeps the record that failed so that it can be retried, but only the part the
mapping reads: a field that is not in a mapping file is never kept either (the privacy disclosure
lists only what the mappings read). :func:`read_tree` gathers the paths of every expression that
reads a record (fields, event expressions, links, include parameters, the listed key) into a tree;
:func:`project` keeps those paths of a document and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.language.expressions import FieldPath, compile_expression
from engine.language.model import Mapping
from engine.language.plan import event_readers

Tree = dict[Any, "Tree"]  # step (a name; None for every item of a list) -> what is read below it; {} = all


def _maximal(paths: list[FieldPath]) -> list[FieldPath]:
    """The paths that are not the beginning of another one (``a.b`` is read, not all of ``a``)."""
    return [p for p in paths if p and not any(len(o) > len(p) and o[: len(p)] == p for o in paths)]


def _add(tree: Tree, path: FieldPath) -> None:
    node = tree
    for step in path:
        key = None if isinstance(step, int) else step  # an index keeps the list, cut like its items
        node = node.setdefault(key, {})


def tree_of(expressions: Iterable[str]) -> Tree:
    paths = [path for text in expressions for path in compile_expression(text).field_paths()]
    tree: Tree = {}
    for path in _maximal(paths):
        _add(tree, path)
    return tree


def read_tree(mapping: Mapping) -> tuple[Tree, Tree]:
    """(what is read of a record, what is read of its parent) by `mapping`."""

    record: list[str] = []
    parent: list[str] = []
    for spec in mapping.fields:
        texts = [spec.source, *event_readers(spec, mapping).values(), *(t for t in spec.lists.values() if t)]
        (parent if spec.scope == "parent" else record if spec.scope == "record" else []).extend(texts)
    for link in mapping.links:
        (parent if link.scope == "parent" else record).extend([link.source, *(t for t in link.lists.values() if t)])
    record += [str(v) for include in mapping.source.include for v in include.params.values() if isinstance(v, str)]
    record += [listing.key for listing in mapping.source.listings if listing.key]
    if mapping.parent is not None:
        parent.append(mapping.parent.source)
    return tree_of(record), tree_of(parent)


def project(document: Any, tree: Tree) -> Any:
    """`document` with only the paths of `tree`; a value of an unexpected shape is kept as it is."""
    if not tree:
        return document
    if isinstance(document, dict):
        return {key: project(document[key], below) for key, below in tree.items()
                if isinstance(key, str) and key in document}
    if isinstance(document, list):
        items = tree.get(None, {})
        return [project(item, items) for item in document]
    return document
