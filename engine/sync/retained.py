"""What a sync keeps of an entity's source records once they are read: only what its children read.

Children are read under their parent's records (registrants per webinar, meetings per user), so
the runner keeps a parent entity's records until its children are read. It keeps only the part
they read (:func:`engine.language.projection.project`): the path parameters of their endpoints
(``id`` unless ``list.params`` says otherwise), their parent-scope fields and links, and the
Salesforce parent relation's ``from``. A leaf entity (no child in the run) keeps nothing: its
records are let go once written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.language.model import Mapping
from engine.language.projection import WHOLE, Tree, project, read_tree, tree_of
from engine.validate.mapping_set import MappingSet

_PLACEHOLDER = re.compile(r"\{([^}]+)\}")


def path_expressions(child: Mapping) -> list[str]:
    """The expressions over the parent record that fill `child`'s endpoint paths (``id`` by default)."""
    source = child.source
    if not source.listings:
        return ["id" for _ in _PLACEHOLDER.findall(source.endpoint or "")]
    return [str(listing.params.get(name, "id")) for listing in source.listings
            for name in _PLACEHOLDER.findall(listing.endpoint)]


def parent_tree(child: Mapping) -> Tree:
    """What `child` reads of each record of its parent entity (``source.parent``)."""
    return merge(tree_of(path_expressions(child)), read_tree(child)[1])


def merge(a: Tree, b: Tree, top: bool = True) -> Tree:
    """The union of two read trees (at the top an empty tree reads nothing; below, all of it)."""
    if top:
        if a is WHOLE or b is WHOLE:
            return WHOLE
        if not a or not b:
            return dict(a or b)
    elif not a or not b:
        return {}
    merged: Tree = {}
    for key in {**a, **b}:
        merged[key] = merge(a[key], b[key], False) if key in a and key in b else a[key] if key in a else b[key]
    return merged


def retained_trees(mapping_set: MappingSet, entities: Iterable[str]) -> dict[str, Tree | None]:
    """Per entity of the run, what its records keep after they are read; None: nothing (a leaf)."""
    names = list(entities)
    trees: dict[str, Tree | None] = dict.fromkeys(names)
    for name in names:
        parent = mapping_set.get(name).source.parent
        if parent in trees:
            current = trees[parent]
            tree = parent_tree(mapping_set.get(name))
            trees[parent] = tree if current is None else merge(current, tree)
    return trees


def retain(record: dict[str, Any], tree: Tree | None) -> dict[str, Any] | None:
    """`record` cut down to `tree`; None when nothing of it is kept."""
    if tree is None:
        return None
    kept = project(record, tree)
    return kept if isinstance(kept, dict) else None
