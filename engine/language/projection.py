"""What a mapping reads of a record, and a record cut down to it.

A dead letter keeps the record that failed so that it can be retried, but only the part the
mapping reads: a field that is not in a mapping file is never kept either (the privacy disclosure
lists only what the mappings read). :func:`read_tree` gathers the paths of every expression that
reads a record (fields, event expressions, links, include parameters, the listed key) into a tree;
:func:`project` keeps those paths of a document and nothing else. A mapping that reads nothing of
a record (of the parent, typically) keeps nothing of it; one that reads the whole record (``@``,
``keys(@)``, ``*``) keeps it whole (:data:`WHOLE`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.language.expressions import AstNode, FieldPath, compile_expression
from engine.language.model import Mapping
from engine.language.plan import event_readers

Tree = dict[Any, "Tree"]  # step (a name; None for every item of a list) -> what is read below it; {} = all
WHOLE: Tree = {}  # the tree of a document read whole (by identity: an empty tree at the top reads nothing)

# Nodes whose first child is evaluated against the document and the others against its result.
_CHAINS = frozenset({"subexpression", "index_expression", "projection", "filter_projection", "pipe",
                     "value_projection", "flatten"})


def _reads_whole(node: AstNode) -> bool:
    """Whether an expression may read the whole document it is given (``@``, ``keys(@)``, ``@[*]``, ``*``).

    Conservative: a chain that starts from ``@`` (``@.a``) counts as a whole read only when every
    step is ``@``; anything else that holds ``@`` where the document is used counts as whole.
    """
    kind = node["type"]
    if kind in ("current", "identity"):
        return True
    if kind in ("field", "literal", "expref"):
        return False
    children = [child for child in node.get("children", ()) if isinstance(child, dict)]
    if kind == "subexpression":
        return all(_reads_whole(child) for child in children)
    if kind in _CHAINS:
        return bool(children) and _reads_whole(children[0])
    return any(_reads_whole(child) for child in children)


def _maximal(paths: list[FieldPath]) -> list[FieldPath]:
    """The paths that are not the beginning of another one (``a.b`` is read, not all of ``a``)."""
    return [p for p in paths if p and not any(len(o) > len(p) and o[: len(p)] == p for o in paths)]


def _add(tree: Tree, path: FieldPath) -> None:
    node = tree
    for step in path:
        key = None if isinstance(step, int) else step  # an index keeps the list, cut like its items
        node = node.setdefault(key, {})


def tree_of(expressions: Iterable[str]) -> Tree:
    compiled = [compile_expression(text) for text in expressions]
    if any(_reads_whole(expression.ast) for expression in compiled):
        return WHOLE
    paths = [path for expression in compiled for path in expression.field_paths()]
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
    """`document` with only the paths of `tree`: nothing (None) for an empty tree, all of it for :data:`WHOLE`.

    A value of an unexpected shape on a read path is kept as it is.
    """
    if tree is WHOLE:
        return document
    if not tree or document is None:
        return None
    return _project(document, tree)


def _project(document: Any, tree: Tree) -> Any:
    if not tree:
        return document
    if isinstance(document, dict):
        return {key: _project(document[key], below) for key, below in tree.items()
                if isinstance(key, str) and key in document}
    if isinstance(document, list):
        items = tree.get(None, {})
        return [_project(item, items) for item in document]
    return document
