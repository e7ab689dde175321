"""engine.errors: the tree drawn in its docstring is the class hierarchy, and holds every product error."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import engine
from engine import errors
from engine.errors import ZoomforceError

_NODE = re.compile(r"^    (?:[│ ]   )*(?:[├└]── )?([A-Z]\w+)\s")


def _drawn_tree() -> dict[str, str | None]:
    """Each class of the docstring's tree -> the class it is drawn under (None for the root)."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        found = _NODE.match(line)
        if found is None:
            continue
        depth = (found.start(1) - 4) // 4
        del stack[depth:]
        parents[found.group(1)] = stack[-1] if stack else None
        stack.append(found.group(1))
    return parents


def _product_errors() -> set[type[ZoomforceError]]:
    """Every ZoomforceError subclass of the product (emulators aside), with every module imported."""
    for module in pkgutil.walk_packages(engine.__path__, "engine."):
        if not module.name.startswith("engine.emulators") and module.name != "engine.__main__":
            importlib.import_module(module.name)
    seen: set[type[ZoomforceError]] = set()
    pending = [ZoomforceError]
    while pending:
        cls = pending.pop()
        seen.add(cls)
        pending.extend(sub for sub in cls.__subclasses__() if sub.__module__.startswith("engine."))
    return seen


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    drawn = _drawn_tree()
    classes = {cls.__name__: cls for cls in _product_errors()}
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        parent = next((base for base in cls.__bases__ if issubclass(base, ZoomforceError)), None)
        assert drawn[name] == (parent.__name__ if parent else None), name


def test_product_errors_are_defined_in_engine_errors() -> None:
    assert {cls.__module__ for cls in _product_errors()} == {"engine.errors"}
    assert {name for name, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, ZoomforceError)} == set(_drawn_tree())
