"""``zoomforce catalog pull`` and ``zoomforce catalog missing``: the org's Salesforce catalog, and what it lacks.

The shipped catalog infers the types and flags of the ``zoom_app`` package's fields (Zoom publishes
none). An integrator pulls their org's real describes into the project's catalog::

    zoomforce catalog pull              # into the project's catalog (zoomforce.yaml: catalog)
    zoomforce validate                  # checks the mappings against the org's own names and types

A pull merges: it keeps the designated upsert keys and every field declared ahead of the org
(``x-zoomforce-added``). ``catalog missing`` lists every object and field the enabled mappings
write, read or match on that the org (by default a fresh look at it, else ``--catalog DIR``)
lacks, and ``--out DIR`` writes them as Salesforce DX source.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.options import MAPPINGS_OPTION
from engine.cli.settings import PROJECT_OPTION, load_settings
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.salesforce.catalog import ObjectCatalog
    from engine.salesforce.writer import SalesforceWriter
    from engine.validate.mapping_set import MappingSet
    from engine.validate.requirements import Lookup, Missing

DEFAULT_OUT = Path("salesforce-catalog")


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
    """The Salesforce object catalog that the mappings are checked against, and what the org lacks."""


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


@catalog_group.command("pull")
@click.argument("objects", nargs=-1)
@MAPPINGS_OPTION
@click.option("--catalog", "catalog_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The catalog folder to write into (default: the project's catalog, else ./salesforce-catalog).")
@PROJECT_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write into this folder instead (same as --catalog).")
def pull_command(objects: tuple[str, ...], mappings_dir: Path | None, catalog_dir: Path | None,
                 project_file: Path | None, out_dir: Path | None) -> None:
    """Write the describe of each object from the org in SF_INSTANCE_URL into the catalog, merging.

    The objects are those the mappings write, link to and read, unless named. Fields declared ahead
    of the org (x-zoomforce-added) are kept: marked x-zoomforce-absent while the org lacks them.
    """
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.cli.connect import salesforce_from_env
    from engine.errors import SalesforceApiError
    from engine.salesforce.catalog import (
        ABSENT_KEY,
        mark_absent,
        previous_document,
        write_catalog,
        write_document,
    )
    from engine.validate.mapping_set import load_mapping_set  # deferred too

    settings = load_settings(project_file, mappings=mappings_dir, creates_catalog=True).usable()
    destination = out_dir or catalog_dir or settings.project.catalog or DEFAULT_OUT
    names = list(objects) or catalog_objects(load_mapping_set([settings.mappings]))
    writer = salesforce_from_env(os.environ, api_version=settings.api_version)
    assert writer is not None
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {destination}: {exc.strerror}") from exc
    day = _today()
    try:
        for name in names:
            try:
                describe = writer.describe(name)
            except SalesforceApiError as exc:
                if exc.status != 404:
                    raise
                previous = previous_document(destination, name)
                if previous is None:
                    click.echo(f"zoomforce: warning: the org has no object {name}; nothing written for it", err=True)
                    continue
                path = write_document(mark_absent(previous, day), destination)
                click.echo(f"zoomforce: warning: the org has no object {name}; kept the catalog's declaration, "
                           f"marked absent (zoomforce catalog missing lists it)", err=True)
                click.echo(str(path))
                continue
            path = write_catalog(describe, destination, today=day)
            click.echo(str(path))
            absent = [f["name"] for f in json.loads(path.read_text(encoding="utf-8"))["fields"] if f.get(ABSENT_KEY)]
            if absent:
                click.echo(f"zoomforce: {name}: kept {len(absent)} declared field(s) the org has not got yet: "
                           f"{', '.join(absent)} (zoomforce catalog missing lists them)", err=True)
    finally:
        writer.close()


@catalog_group.command("missing")
@click.argument("entities", nargs=-1)
@MAPPINGS_OPTION
@click.option("--catalog", "catalog_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Compare with this catalog folder instead of the org in SF_INSTANCE_URL.")
@PROJECT_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write what is missing as Salesforce DX source into DIR (for sf project deploy start).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything is missing.")
def missing_command(entities: tuple[str, ...], mappings_dir: Path | None, catalog_dir: Path | None,
                    project_file: Path | None, out_dir: Path | None, output_format: str, exit_code: bool) -> None:
    """List every object and field the enabled mappings (of ENTITIES, default all) need that the org lacks.

    By default the org in SF_INSTANCE_URL is described afresh; --catalog DIR compares with a catalog
    instead. Each one is shown with the type and length to create it with: the project catalog's
    declaration, else what its mapping needs.
    """
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.validate.mapping_set import load_mapping_set
    from engine.validate.requirements import missing, needs

    settings = load_settings(project_file, mappings=mappings_dir).usable()
    mapping_set = load_mapping_set([settings.mappings], settings.catalog, settings.languages)
    for name in entities:
        mapping_set.get(name)  # UnknownEntity, with a suggestion
    _warn_unloaded(mapping_set)
    declared = _catalog_lookup(settings.catalog)
    writer = None
    if catalog_dir is not None:
        org = _catalog_lookup(catalog_dir)
    else:
        # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
        from engine.cli.connect import salesforce_from_env

        writer = salesforce_from_env(os.environ, api_version=settings.api_version)
        assert writer is not None
        org = _org_lookup(writer)
    try:
        gaps = missing(needs(mapping_set, entities or None, declared), org, declared)
    finally:
        if writer is not None:
            writer.close()
    _print_gaps(gaps, output_format)
    if out_dir is not None:
        _write_source(gaps, out_dir, settings.api_version)
    sys.exit(1 if exit_code and gaps else 0)


def _warn_unloaded(mapping_set: MappingSet) -> None:
    loaded = {m.file for m in mapping_set.mappings.values()}
    unloaded = [f for f in mapping_set.files if f not in loaded]
    if unloaded:
        click.echo(f"zoomforce: warning: {', '.join(unloaded)} did not load (zoomforce validate says why); "
                   "what they need is not listed", err=True)


def _catalog_lookup(folder: Path | None) -> Lookup:
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.salesforce.catalog import UnknownObject, load_catalog

    def lookup(name: str) -> ObjectCatalog | None:
        try:
            return load_catalog(name, folder)
        except UnknownObject:
            return None

    return lookup


def _org_lookup(writer: SalesforceWriter) -> Lookup:
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.sync.preflight import OrgDescribes

    return OrgDescribes(writer).get


def _print_gaps(gaps: list[Missing], output_format: str) -> None:
    import json  # deferred for start-up speed: `zoomforce --help` loads no json

    if output_format == "json":
        click.echo(json.dumps({"missing": [_gap_json(g) for g in gaps]}, ensure_ascii=False, indent=2))
        return
    for gap in gaps:
        click.echo(gap.text())
    objects = sum(1 for g in gaps if g.field is None)
    if gaps:
        click.echo(f"zoomforce: {objects} object(s) and {len(gaps) - objects} field(s) missing or unusable",
                   err=True)
    else:
        click.echo("zoomforce: the org has every object and field the enabled mappings need", err=True)


def _gap_json(gap: Missing) -> dict[str, object]:
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.salesforce.dx_source import field_kind

    return {
        "object": gap.object, "field": gap.field, "problem": gap.problem,
        "type": field_kind(gap.definition) if gap.definition is not None else None,
        "length": gap.definition.length if gap.definition is not None else None,
        "needed_by": [{"entity": n.entity, "use": n.use, "at": n.at} for n in gap.needs],
    }


def _write_source(gaps: list[Missing], out_dir: Path, api_version: str | None) -> None:
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.salesforce.dx_source import write_dx_source

    creatable = [g for g in gaps if g.problem in ("missing", "absent")]
    objects = [(g.object, g.declared_object) for g in creatable if g.field is None and g.object.endswith("__c")]
    standard = sorted({g.object for g in creatable if g.field is None and not g.object.endswith("__c")})
    fields = [(g.object, g.definition) for g in creatable if g.field is not None and g.definition is not None]
    for gap in gaps:
        if gap.problem not in ("missing", "absent"):
            click.echo(f"zoomforce: warning: {gap.name} is {gap.problem}: change it in Setup (not written as "
                       "source)", err=True)
    for name in standard:
        click.echo(f"zoomforce: warning: {name} is a standard object the org does not offer (a feature or "
                   "licence to enable): not written as source", err=True)
    try:
        written = write_dx_source(out_dir, fields, objects, api_version or "59.0")
    except OSError as exc:
        raise InputError(f"cannot write {out_dir}: {exc.strerror}") from exc
    where = "" if written.project_created else " (from inside your Salesforce DX project)"
    click.echo(f"zoomforce: wrote {len(written.files)} file(s) to {out_dir}; deploy them{where} with: "
               f"sf project deploy start --source-dir {written.source_dir}", err=True)
    if fields or objects:
        click.echo("zoomforce: then give the integration user access to the new fields (field-level security, "
                   "e.g. in a permission set): the API does not show a field it cannot see", err=True)
