"""Flat memory for `sync`: a parent entity keeps only what its children read of its records, a leaf
entity keeps nothing once written (engine.sync.retained).

The retained size is measured on a real run against the Zoom and Salesforce emulators (the fixtures
of ``tests/test_sync.py``): what the runner still holds per entity after the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.language.projection import WHOLE
from engine.sync.retained import merge, parent_tree, retained_trees
from engine.sync.runner import SyncOptions, SyncRunner, default_entities, ordered_entities, written_entities
from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from engine.zoom.reader import ZoomSource
from tests.test_sync import World, assert_everything_once, expected_counts, fresh, mapping_set, world  # noqa: F401

LEAVES = ("calls", "meetings", "panelists", "participants", "past_meetings", "registrants")


def test_what_each_default_entity_keeps_for_its_children(mapping_set: MappingSet) -> None:  # noqa: F811
    order = ordered_entities(mapping_set, written_entities(mapping_set, default_entities(mapping_set)))
    trees = retained_trees(mapping_set, order)
    assert trees == {"users": {"id": {}}, "webinars": {"id": {}}, **dict.fromkeys(LEAVES)}
    assert parent_tree(mapping_set.get("campaign_members")) == {"id": {}}


def test_read_trees_merge_as_a_union() -> None:
    assert merge({"id": {}}, {"settings": {"a": {}}}) == {"id": {}, "settings": {"a": {}}}
    assert merge({"settings": {"a": {}}}, {"settings": {}}) == {"settings": {}}, "all of settings wins"
    assert merge({"id": {}}, WHOLE) is WHOLE
    assert merge({}, {"id": {}}) == {"id": {}}


def test_a_sync_retains_only_the_parents_ids(
        fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:  # noqa: F811 - the fixtures above
    zoom, writer = fresh.zoom_client(), fresh.writer()
    try:
        with StateStore.open(tmp_path / "state.db") as store:
            runner = SyncRunner(mapping_set, store, ZoomSource(zoom), writer)
            report = runner.run(SyncOptions())
    finally:
        zoom.close()
        writer.close()
    expected = expected_counts(fresh.account)
    assert report.failed == 0
    assert {e: c.read for e, c in report.entities.items() if e in ("users", "webinars", "registrants")} == {
        e: expected[e] for e in ("users", "webinars", "registrants")}
    held = runner.read_records
    assert {entity: len(held[entity]) for entity in LEAVES} == dict.fromkeys(LEAVES, 0), "a leaf keeps nothing"
    assert len(held["users"]) == expected["users"] and len(held["webinars"]) == expected["webinars"]
    assert all(set(record) == {"id"} for entity in ("users", "webinars") for record in held[entity])
    size = sum(len(json.dumps(record)) for records in held.values() for record in records)
    assert size < 40 * (expected["users"] + expected["webinars"]), f"{size} bytes held after the run"


def test_records_are_written_per_batch_and_each_once(
        fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:  # noqa: F811 - the fixtures above
    zoom, writer = fresh.zoom_client(), fresh.writer()
    try:
        with StateStore.open(tmp_path / "state.db") as store:
            runner = SyncRunner(mapping_set, store, ZoomSource(zoom), writer)
            runner.write_batch = 3  # at the default size, one call per entity; here one per batch of parents
            report = runner.run(SyncOptions())
            again = SyncRunner(mapping_set, store, ZoomSource(zoom), writer).run(SyncOptions())
    finally:
        zoom.close()
        writer.close()
    expected = expected_counts(fresh.account)
    assert report.failed == 0
    assert {e: report.entities[e].written for e in expected} == expected
    assert_everything_once(fresh)
    upserts = sum(fresh.salesforce.stats()["routes"]["collections_upsert"].values())
    assert upserts > 2 * len(expected), f"{upserts} calls: one per batch, not one per entity"
    assert sum(c.written for c in again.entities.values()) == 0


def test_an_entity_read_under_none_is_written_per_batch_too(
        fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:  # noqa: F811 - the fixtures above
    """The calls are listed for the account, under no parent: they are held a batch at a time as well."""
    zoom, writer = fresh.zoom_client(), fresh.writer()
    before = sum(fresh.salesforce.stats()["routes"].get("collections_upsert", {}).values())
    try:
        with StateStore.open(tmp_path / "state.db") as store:
            runner = SyncRunner(mapping_set, store, ZoomSource(zoom), writer)
            runner.write_batch = 3
            report = runner.run(SyncOptions(entities=("calls",)))
    finally:
        zoom.close()
        writer.close()
    calls = expected_counts(fresh.account)["calls"]
    assert calls > 6 and report.entities["calls"].written == calls
    upserts = sum(fresh.salesforce.stats()["routes"]["collections_upsert"].values()) - before
    assert upserts == -(-calls // 3), f"{upserts} calls for {calls} records in batches of 3"
