"""The desk's tables on SQLite and PostgreSQL: availability, after-call work and its
seconds, the agent's day, the callback worklist's order and attempts, and the schema
the models and migration 0004 agree on."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from store_helpers import NOW

from ivr.calls import CaseDraft
from ivr.clock import FixedClock
from ivr.store import Store
from ivr.store.desk import CB_DONE, CB_OPEN, DeskStore, start_of_day
from ivr.store.models import metadata

pytest_plugins = ("store_fixtures",)


def _at(store: Store, seconds: float) -> Store:
    """The same database seen at NOW + seconds (the desk reads the store's clock)."""
    return Store(store.engine, FixedClock(NOW + timedelta(seconds=seconds)),
                 schema=store.schema)


async def test_models_match_the_migrations(store: Store) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_availability_and_after_call_work(store: Store) -> None:
    desk = DeskStore(store)
    assert await desk.agent_state("agent1") is None
    await desk.set_state("agent1", "available")
    assert (await desk.agent_state("agent1") or {})["state"] == "available"
    case_id = await store.open_case(CaseDraft(call_id="c1", caller="0901234567",
                                              dialled="1900545454", language="vi",
                                              queue="hotline", intent="billing"))
    assert await desk.begin_wrap_up("agent1", case_id)
    assert not await desk.begin_wrap_up("agent1", case_id)  # seen twice: once
    state = await desk.agent_state("agent1") or {}
    assert (state["state"], state["case_id"]) == ("wrap_up", case_id)
    later = DeskStore(_at(store, 37.5))
    work = await later.end_wrap_up("agent1", ended_by="disposition", disposition="resolved")
    assert work == {"case_id": case_id, "seconds": 37.5}
    assert (await desk.agent_state("agent1") or {})["state"] == "available"
    assert await later.end_wrap_up("agent1", ended_by="ready") is None
    day = await desk.work_today("agent1", start_of_day(NOW))
    assert [(c["id"], c["wrap_up_seconds"]) for c in day] == [(case_id, 37.5)]


async def test_the_worklist_is_urgent_first_then_oldest(store: Store) -> None:
    desk = DeskStore(store)
    refs = []
    for minutes, phone, reason in ((60, "0901111111", "new_connection"),
                                   (5, "0902222222", "electrical_safety"),
                                   (30, "0903333333", "meter_relocation")):
        ref = await _at(store, -60 * minutes).request_callback(
            call_id=f"c-{phone}", caller=phone, dialled="1900545454", language="vi",
            phone=phone, reason=reason)
        refs.append(int(ref) - 3_000_000)
    work = await desk.callbacks()
    assert [c["callback_id"] for c in work] == [refs[1], refs[0], refs[2]]
    assert await desk.claim_callback(refs[0], "agent1")
    assert not await desk.claim_callback(refs[0], "agent2")  # one caller at a time
    assert await desk.start_attempt(refs[0], "agent1", "a1") == 1
    await desk.finish_attempt(refs[0], "a1", agent="agent1", outcome="no_answer", reason=4,
                              status=CB_OPEN, detail="DialStatus NOANSWER")
    assert await desk.start_attempt(refs[0], "agent1", "a2") == 2
    await desk.finish_attempt(refs[0], "a2", agent="agent1", outcome="answered", reason=4,
                              status=CB_DONE, detail="DialStatus ANSWER")
    assert [c["callback_id"] for c in await desk.callbacks()] == [refs[1], refs[2]]
    case = await store.get_case(work[1]["case_id"])
    assert case is not None and case["status"] == "connected"
    assert [e["event"] for e in case["events"]][-4:] == [
        "callback_dialling", "callback_no_answer", "callback_dialling", "callback_answered"]
