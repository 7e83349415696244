"""A database that stops answering while a caller is being transferred must not leave
that caller in silence: opening the case and recording the transfer result are bounded
(the Engine's ``case_write_timeout``), like saving the call record is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from flows_support import Harness, MemoryStore, prompt_ids

from ivr.calls import CallRecord, CaseDraft, Outcome, record_from_json
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.engine.engine import Engine


class StuckStore(MemoryStore):
    """A store whose case writes hang (a locked table, a lost database connection)."""

    def __init__(self, *, stuck_open: bool = False, stuck_finish: bool = False,
                 stuck_save: bool = False) -> None:
        super().__init__()
        self.stuck_open = stuck_open
        self.stuck_finish = stuck_finish
        self.stuck_save = stuck_save
        self.never = asyncio.Event()  # nobody sets it: the database never answers

    async def save_call(self, record: CallRecord) -> None:
        if self.stuck_save:
            await self.never.wait()
        await super().save_call(record)

    async def open_case(self, draft: CaseDraft) -> str:
        if self.stuck_open:
            await self.never.wait()
        return await super().open_case(draft)

    async def finish_transfer(self, case_id: str, result: TransferResult) -> None:
        if self.stuck_finish:
            await self.never.wait()
        await super().finish_transfer(case_id, result)


#: Seconds the engine waits for a write here: short, as the stuck store never answers.
SHORT_WRITE = 0.05


def engine_with(h: Harness, store: MemoryStore) -> Engine:
    return Engine(h.source, h.data.registry(), h.catalog, store, h.clock,
                  unsaved_path=h.unsaved, case_write_timeout=SHORT_WRITE,
                  save_timeout=SHORT_WRITE)


async def test_a_stuck_case_insert_still_transfers_the_caller(tmp_path: Path) -> None:
    h = Harness.build(tmp_path)
    store = StuckStore(stuck_open=True)
    ch = h.channel("0")  # 0 = an agent, from the first question
    record = await asyncio.wait_for(engine_with(h, store).run(ch), 10)
    assert [t.case_id for t in ch.transfers] == [""]  # transferred without the case
    assert record.outcome is Outcome.TRANSFERRED
    assert "open_case failed: no answer within" in (record.error or "")


async def test_a_stuck_transfer_result_still_offers_the_callback(tmp_path: Path) -> None:
    h = Harness.build(tmp_path)
    store = StuckStore(stuck_finish=True)
    ch = h.channel("0", transfer_results=[TransferResult(TransferStatus.TIMEOUT, "TIMEOUT")])
    record = await asyncio.wait_for(engine_with(h, store).run(ch), 10)
    assert len(ch.transfers) == 1 and ch.transfers[0].case_id
    assert prompt_ids(ch)[-1] == "offer_callback"  # not silence
    assert record.transfer_status == "timeout"
    assert store.calls == [record]


async def test_a_stuck_record_save_spills_the_record_to_the_fallback_file(tmp_path: Path) -> None:
    h = Harness.build(tmp_path)
    store = StuckStore(stuck_save=True)
    record = await asyncio.wait_for(engine_with(h, store).run(h.channel("0")), 10)
    assert store.calls == []
    (line,) = h.unsaved.read_text(encoding="utf-8").splitlines()
    assert record_from_json(json.loads(line)) == record
