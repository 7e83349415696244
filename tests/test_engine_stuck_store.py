"""A database that stops answering while a caller is being transferred must not leave
that caller in silence: opening the case and recording the transfer result are bounded
(the Engine's ``case_write_timeout``), like saving the call record is."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from agi_fixtures import serving
from flows_support import HCMC_HOTLINE, Harness, MemoryStore, prompt_ids

from ivr.calls import CallRecord, CaseDraft, Outcome, record_from_json
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.engine.engine import Engine
from ivr.testing.callers import HangUpCaller, SilentCaller
from ivr.testing.fake_asterisk import run_call


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


class SlowRecordStore(MemoryStore):
    """A store whose call-record write blocks until the test lets it go (a busy
    database taking the record)."""

    def __init__(self) -> None:
        super().__init__()
        self.saving = asyncio.Event()
        self.let_go = asyncio.Event()

    async def save_call(self, record: CallRecord) -> None:
        self.saving.set()
        await self.let_go.wait()
        await super().save_call(record)


@pytest.mark.parametrize("hang_up_at", [None, 4])
async def test_the_socket_closes_before_the_record_is_written(
    tmp_path: Path, hang_up_at: int | None,
) -> None:
    """Asterisk holds the caller's channel until the FastAGI socket closes: after the
    conversation (the flow's own hang-up, or the caller's), the socket closes at once
    and the call record is written after, however long the database takes."""
    h = Harness.build(tmp_path)
    store = SlowRecordStore()
    engine = engine_with(h, store)
    caller = SilentCaller() if hang_up_at is None else HangUpCaller(hang_up_at, SilentCaller())
    async with serving(engine.run) as server:
        transcript = await run_call("127.0.0.1", server.port, caller, uniqueid="slow.1",
                                    extension=HCMC_HOTLINE)
        assert transcript.closed_by_server  # the fake Asterisk saw the socket close...
        await asyncio.wait_for(store.saving.wait(), 10)
        assert store.calls == [] and server.active_calls == 1  # ...with the write blocked
        store.let_go.set()
        await server.wait_idle()
    assert [r.call_id for r in store.calls] == ["slow.1"]
    assert store.calls[0].outcome is (Outcome.TRANSFERRED if hang_up_at is None
                                      else Outcome.ABANDONED)


class TimeoutStore(MemoryStore):
    async def save_call(self, record: CallRecord) -> None:
        raise TimeoutError  # str() is '': the log line must still say what failed


async def test_a_failed_save_says_what_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness.build(tmp_path)
    await engine_with(h, TimeoutStore()).run(h.channel("0"))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cannot save its record (TimeoutError)" in errors[0], errors
    assert h.unsaved.read_text(encoding="utf-8").count("\n") == 1
