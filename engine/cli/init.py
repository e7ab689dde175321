"""``zoomforce init [DIR] [--without-additions] [--force]``: scaffold an integrator's repository.

It writes ``zoomforce.yaml``, a copy of the default mappings, a copy of the shipped catalog, the
mapping and project schemas where the files' ``$schema`` modelines point, a GitHub Actions workflow
(``zoomforce validate --format github`` and the disclosure diff against the base branch), a
``.pre-commit-config.yaml`` and a ``.gitignore`` for the state (engine.project.scaffold). It refuses
a folder that is not empty unless ``--force``. ``--without-additions`` writes the mappings with every
field, link or mapping switched off whose target an org running Zoom's package lacks until the
additions are deployed, so a stock org syncs with no failure on day one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine import __version__
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.language.loader import PathKey
    from engine.salesforce.catalog import ObjectCatalog
    from engine.validate.mapping_set import MappingSet
    from engine.validate.requirements import Missing


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--without-additions", is_flag=True,
              help="Switch off what Zoom's package lacks (the fields and objects zoomforce adds): a stock org "
                   "syncs with no failure.")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (files of the same names are "
                                            "replaced, the others kept).")
def init_command(directory: Path, without_additions: bool, force: bool) -> None:
    """Scaffold an integrator's repository in DIR (default: the working directory)."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.project.scaffold import MAPPINGS, scaffold_files
    from engine.resources import default_mappings_dir, schemas_dir

    if directory.exists() and any(directory.iterdir()) and not force:
        raise InputError(f"{directory} is not empty: give a new or empty folder, or --force to write into it")
    files = scaffold_files(default_mappings_dir(), schemas_dir() / "salesforce", schemas_dir(), __version__)
    switched: list[str] = []
    if without_additions:
        switched = _without_additions(files, MAPPINGS)
    try:
        for relative, text in files.items():
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {directory}: {exc.strerror}") from exc
    click.echo(f"zoomforce: wrote {len(files)} file(s) to {directory}", err=True)
    for line in switched:
        click.echo(f"zoomforce: switched off {line}", err=True)
    click.echo("next: cd into it, set SF_INSTANCE_URL and the SF_* credentials, then: zoomforce catalog pull; "
               "zoomforce validate; zoomforce catalog missing; zoomforce sync --dry-run", err=True)
    sys.exit(0)


def _without_additions(files: dict[str, str], mappings: str) -> list[str]:
    """Switch off, in the mapping texts of `files`, what the stock org lacks; one line per item switched off."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.language.loader import load_yaml_text
    from engine.project.scaffold import switch_off
    from engine.resources import default_mappings_dir
    from engine.salesforce.catalog import UnknownObject, load_catalog
    from engine.validate.mapping_set import load_mapping_set
    from engine.validate.requirements import missing, needs

    mapping_set = load_mapping_set([default_mappings_dir()]).raise_if_invalid()

    def declared(name: str) -> ObjectCatalog | None:
        try:
            return load_catalog(name)
        except UnknownObject:
            return None

    def stock(name: str) -> ObjectCatalog | None:
        found = declared(name)
        return found.as_shipped() if found is not None else None

    gaps = missing(needs(mapping_set, None, declared), stock, declared)
    off = _items_to_switch_off(mapping_set, gaps)
    lines: list[str] = []
    for entity, items in sorted(off.items()):
        mapping = mapping_set.mappings[entity]
        name = Path(mapping.file).name
        relative = f"{mappings}/{name}"
        document = load_yaml_text(files[relative], relative)
        for path, why in items:
            files[relative] = switch_off(files[relative], document, [path], why)
            document = load_yaml_text(files[relative], relative)
            lines.append(f"{relative} {_describe(path)}: {why}")
    return lines


def _describe(path: PathKey) -> str:
    return "the whole mapping" if not path else f"{path[0]}[{path[1]}]"


def _items_to_switch_off(mapping_set: MappingSet, gaps: Iterable[Missing]) -> dict[str, list[tuple[PathKey, str]]]:
    """Per entity, the fields and links (or the whole mapping: ``()``) whose target the stock org lacks."""
    off: dict[str, dict[PathKey, str]] = {}
    for gap in gaps:
        why = f"needs {gap.name}, which Zoom's package lacks (README: Your own org)"
        for need in gap.needs:
            mapping = mapping_set.mappings[need.entity]
            item: PathKey = need.path[:2] if need.path[:1] in (("fields",), ("links",)) else ()
            if item and need.use in ("link match", "object"):
                item = ()  # the linked object itself is missing: the link goes, not only its lookup field
            if not mapping.enabled:
                continue
            off.setdefault(need.entity, {}).setdefault(item, why)
    _disable_dependents(mapping_set, off)
    return {entity: [((), items[()])] if () in items else sorted(items.items(), key=lambda kv: [str(k) for k in kv[0]])
            for entity, items in off.items()}


def _disable_dependents(mapping_set: MappingSet, off: dict[str, dict[PathKey, str]]) -> None:
    """A mapping that stands on a switched-off one (its parent, a link's entity) is switched off too."""
    changed = True
    while changed:
        changed = False
        gone = {entity for entity, items in off.items() if () in items}
        for mapping in mapping_set.mappings.values():
            if not mapping.enabled or () in off.get(mapping.entity, {}):
                continue
            stands_on = [mapping.source.parent, mapping.parent.entity if mapping.parent else None,
                         *(link.entity for link in mapping.links)]
            if any(name in gone for name in stands_on if name):
                off.setdefault(mapping.entity, {})[()] = "stands on a mapping switched off (README: Your own org)"
                changed = True
