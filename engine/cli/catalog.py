"""``zoomforce catalog pull``: replace the inferred Salesforce catalog with a live org's describes.

The shipped catalog infers the types and flags of the ``zoom_app`` package's fields (Zoom publishes
none). An integrator with an org that runs the package pulls the real describes once::

    zoomforce catalog pull --out salesforce-catalog
    zoomforce validate mappings --catalog salesforce-catalog

and validation then checks the mappings against the org's own names, types, lengths and
external ids. The objects pulled are those the mappings write, link to and read, unless named.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.options import resolve_mappings_dir
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.validate.mapping_set import MappingSet


def catalog_objects(mapping_set: MappingSet) -> list[str]:
    """Every Salesforce object the enabled mappings write, link to, or read."""
    names: set[str] = set()
    for mapping in mapping_set.mappings.values():
        if not mapping.enabled:
            continue
        if mapping.target.system == "salesforce" and mapping.target.object:
            names.add(mapping.target.object)
        names.update(link.object for link in mapping.links)
        if mapping.source.system == "salesforce":
            names.update(mapping.source.objects)
    return sorted(names)


@click.group("catalog")
def catalog_group() -> None:
    """The Salesforce object catalog that validate checks the mappings against."""


@catalog_group.command("pull")
@click.argument("objects", nargs=-1)
@click.option("--mappings", "mappings_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of mapping files whose objects are pulled (default ./mappings, else the built-in set).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("salesforce-catalog"),
              show_default=True, help="Folder the catalog files are written to (one <Object>.json each).")
def pull_command(objects: tuple[str, ...], mappings_dir: Path | None, out_dir: Path) -> None:
    """Write the describe of each object from the org in SF_INSTANCE_URL as a catalog file."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.cli.connect import salesforce_from_env
    from engine.salesforce.catalog import write_catalog
    from engine.validate.mapping_set import load_mapping_set

    names = list(objects) or catalog_objects(load_mapping_set([resolve_mappings_dir(mappings_dir)]))
    writer = salesforce_from_env(os.environ)
    assert writer is not None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out_dir}: {exc.strerror}") from exc
    try:
        for name in names:
            path = write_catalog(writer.describe(name), out_dir)
            click.echo(f"{path}")
    finally:
        writer.close()
