"""An unchanged record costs no Salesforce call at all: not its write, not its link look-up.

Against the Zoom and Salesforce emulators (the fixtures of ``tests/test_sync.py``): a registrant
linked to a Contact by e-mail keeps its link on an unchanged rerun that sends no query for it;
a participant listed twice (a rejoin) is not looked up for the listing that is not written; a
changed registrant is looked up again, and so is every one with ``--full-refresh``.
"""

from __future__ import annotations

from pathlib import Path

from engine.sync.state.store import StateStore
from engine.validate.mapping_set import MappingSet
from tests.test_sync import OBJECTS, World, fresh, mapping_set, records, run_sync, world  # noqa: F401 - fixtures


def _queries(emulators: World) -> int:
    return int(sum(emulators.salesforce.stats()["routes"].get("query", {}).values()))


def test_an_unchanged_rerun_looks_nothing_up_and_keeps_the_links(
        fresh: World, mapping_set: MappingSet, tmp_path: Path) -> None:  # noqa: F811 - the fixtures above
    registrant = next(r for w in fresh.account.webinar_ids()
                      for r in fresh.account.find_webinar(str(w)).registrants if r.get("status") == "approved")
    contact = fresh.salesforce.app.state.store.create("Contact", {"LastName": "Known", "Email": registrant["email"]})
    entities = ("registrants", "participants")
    with StateStore.open(tmp_path / "state.db") as store:
        first = run_sync(fresh, store, mapping_set, entities=entities)
        assert first.failed == 0
        # a participant who rejoined is listed twice: only the last listing is written, and on the rerun
        # the earlier one (which hashes unlike what was written) must not be looked up either
        assert first.entities["participants"].unchanged > 0
        before = _queries(fresh)
        second = run_sync(fresh, store, mapping_set, entities=entities)
        assert all(counts.written == 0 for counts in second.entities.values())
        assert _queries(fresh) - before == 0  # no look-up, not even for a rejoin
        rows = records(fresh, OBJECTS["registrants"], "zoom_app__External_key__c, Contact__c")
        assert {r["zoom_app__External_key__c"]: r["Contact__c"] for r in rows}[registrant["id"]] == contact.id
        before = _queries(fresh)
        refreshed = run_sync(fresh, store, mapping_set, entities=entities, full_refresh=True)
        assert sum(counts.written for counts in refreshed.entities.values()) > 0
        assert _queries(fresh) - before > 1  # a full refresh looks every link up again
