"""Recordings with their case, on SQLite and PostgreSQL: rows made from the facts the
record node leaves when the case opens, added to an open case, read back by id; a name
that is not a plain file name never becomes a row."""

from __future__ import annotations

import pytest
from test_store_cases import draft

from ivr.store import Store, UnknownCase

pytest_plugins = ("store_fixtures",)


async def test_recordings_on_the_facts_become_rows_of_the_case(store: Store) -> None:
    made = [{"node": "describe_hazard", "file": "1733-00001-describe_hazard-1.wav", "seconds": 6.8,
             "ended_by": "key"},
            {"node": "complaint", "file": None, "seconds": 5.0},          # the simulator's
            {"node": "evil", "file": "../../etc/passwd", "seconds": 1.0},  # never a path
            {"node": "evil", "file": "/abs/x.wav", "seconds": 1.0},
            {"node": "evil", "file": "a.b.wav", "seconds": 1.0}]  # engine names have no dots
    case_id = await store.open_case(draft("call-rec", facts={"recordings": made}))
    case = await store.get_case(case_id)
    assert case is not None
    [row] = case["recordings"]
    assert row["seconds"] == pytest.approx(6.8) and row["created_at"]
    assert await store.get_recording(int(row["id"])) == {
        "id": row["id"], "path": "1733-00001-describe_hazard-1.wav",
        "seconds": pytest.approx(6.8), "case_id": case_id}
    assert await store.get_recording(int(row["id"]) + 1000) is None

    await store.add_recording(case_id, "call-rec", "1733-00001-feedback-1.wav", 12.0)
    again = await store.get_case(case_id)
    assert again is not None
    assert [r["seconds"] for r in again["recordings"]] == [pytest.approx(6.8), 12.0]
    listed = await store.list_cases(caller="0901234567", limit=5)
    assert [len(c["recordings"]) for c in listed if c["id"] == case_id] == [2]
    with pytest.raises(UnknownCase):
        await store.add_recording("C-2026-999999", "x", "a.wav", 1.0)
