"""The flow engine: runs a compiled flow over a Channel and leaves one CallRecord per call.

Every way a call can end is an outcome, never an escaped exception: the caller hanging
up (``abandoned``), a transfer (``transferred``), the flow finishing (``self_served``),
our own failure (``failed``). A failing lookup without an ``error`` exit, or a bug in a
node, apologises (prompt ``sorry_transfer``) and hands the caller to the agent queue with
the failure on the case: never dead air, never a silent hang-up.

Per call, :meth:`Engine.run` builds one :class:`~ivr.engine.turn.Turn` (the channel, the
call's state, the services) and walks the nodes; what each kind of node does is in
``handlers.py`` (``HANDLERS``), questions in ``questions.py``, handing over in
``transfer.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from ivr.calls import CallRecord, CallStore, Outcome, PathStep, jsonable
from ivr.channels.channel import CallerHungUp, Channel, ChannelError, TransferStatus
from ivr.clock import Clock
from ivr.engine.handlers import FlowBug, handler_for
from ivr.engine.hours import HolidayCalendar
from ivr.engine.state import CallState
from ivr.engine.transfer import CASE_WRITE_TIMEOUT, apology, transfer
from ivr.engine.turn import AudioCheck, Catalog, Turn
from ivr.failures import describe
from ivr.flows.model import AGENT, HANGUP, RETURN, AnyNode, Exit
from ivr.flows.source import FlowSource
from ivr.logs import call_logging
from ivr.lookups import LookupRegistry, LookupUnavailable
from ivr.metrics import NO_METRICS, MetricsHooks
from ivr.spill import SpillFile

log = logging.getLogger(__name__)

#: Nodes one call may pass through. Questions bound their own retries, but a loop of
#: gotos/branches without a question would spin forever: stop it and hand over.
MAX_STEPS_PER_CALL = 1000
DEFAULT_UNSAVED_PATH = Path("var/unsaved-calls.jsonl")
#: Seconds a call record may take to save before it goes to the fallback file: a stuck
#: database must not hold a finished call's task (and a server shutdown) forever.
SAVE_TIMEOUT = 10.0


@runtime_checkable
class Releasable(Protocol):
    """A channel that can let the telephony side go before the call record is saved.

    FastAGI: Asterisk holds the caller's channel until the script closes its socket, so
    the socket closes as soon as the conversation is over, and a slow database delays
    only the record, never the channel."""

    def release(self) -> None: ...


class Engine:
    def __init__(
        self,
        flows: FlowSource,
        lookups: LookupRegistry,
        catalog: Catalog,
        store: CallStore,
        clock: Clock,
        *,
        agent_queue_fallback: str = "agents",
        unsaved_path: Path = DEFAULT_UNSAVED_PATH,
        holidays: HolidayCalendar | None = None,
        case_write_timeout: float = CASE_WRITE_TIMEOUT,
        save_timeout: float = SAVE_TIMEOUT,
        metrics: MetricsHooks = NO_METRICS,
        recordings_dir: str = "var/recordings",
    ) -> None:
        self.flows = flows
        self.lookups = lookups
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.agent_queue_fallback = agent_queue_fallback
        self.unsaved_path = unsaved_path
        self.spill = SpillFile(unsaved_path)
        self.holidays = holidays or HolidayCalendar()
        self.case_write_timeout = case_write_timeout
        self.save_timeout = save_timeout
        self.metrics = metrics
        self.audio: AudioCheck | None = None
        """Makes sure a prompt's audio exists before it is played (``ivr serve`` sets it
        when it builds prompt audio); None plays prompts as they are."""
        self.recordings_dir = recordings_dir

    async def run(self, channel: Channel) -> CallRecord:
        """Run one call to its end and save its record. Raises only CancelledError."""
        with call_logging(channel.info.call_id):  # JSON log lines carry the call id
            return await self._run(channel)

    async def _run(self, channel: Channel) -> CallRecord:
        # This call keeps this version and its catalog, whatever reloads: one read of
        # the reference, so the flows and the prompts they name always match.
        live = self.flows.live
        flowset = live.flowset
        catalog = (cast(Catalog, live.catalog) if self.flows.prompts is not None
                   else self.catalog)
        if channel.info.flow not in flowset.flows:
            log.info("call %s asked for flow %r: running %r", channel.info.call_id,
                     channel.info.flow, flowset.default_flow)
        st = CallState.start(flowset, channel.info, self.clock.now(), channel.kind,
                             tuple(catalog.languages))
        flow = st.flow.name  # the flow the call started in, whatever it calls
        self.metrics.call_started(flow)
        cancelled: asyncio.CancelledError | None = None
        outcome = Outcome.FAILED
        try:
            await self._interpret(self._turn(channel, st, catalog))
            outcome = st.outcome or Outcome.SELF_SERVED
        except CallerHungUp:
            # Hanging up after an agent took the call is the normal end of a transfer.
            done = st.transfer_status is TransferStatus.COMPLETED
            outcome = Outcome.TRANSFERRED if done else Outcome.ABANDONED
        except ChannelError as exc:
            st.error = st.error or f"channel: {exc}"
            log.warning("call %s: channel failed: %s", channel.info.call_id, exc)
        except asyncio.CancelledError as exc:
            cancelled = exc
            st.error = st.error or "call cancelled (server stopping)"
            outcome = (Outcome.TRANSFERRED if st.transfer_status is TransferStatus.COMPLETED
                       else Outcome.FAILED)
        except Exception as exc:  # a bug past the apology path: record it, keep serving
            st.error = st.error or f"{type(exc).__name__}: {exc}"
            log.exception("call %s failed", channel.info.call_id)
        if isinstance(channel, Releasable):
            channel.release()
        record = st.record(self.clock.now(), outcome)
        self.metrics.call_ended(flow, outcome.value)
        # Shielded: a cancelled call (server stopping) still leaves its record.
        await asyncio.shield(self._save(record))
        if cancelled is not None:
            raise cancelled
        return record

    async def _save(self, record: CallRecord) -> None:
        deadline = asyncio.timeout(self.save_timeout)
        try:
            async with deadline:
                await self.store.save_call(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # down or stuck database: keep the record on disk instead
            why = (f"no answer within {self.save_timeout:g}s" if deadline.expired()
                   else describe(exc))
            # A database known to be down (refused at once) was logged when it broke:
            # each record spilled meanwhile is routine, not another alarm.
            level = logging.WARNING if isinstance(exc, LookupUnavailable) else logging.ERROR
            log.log(level, "call %s: cannot save its record (%s); writing it to %s",
                    record.call_id, why, self.unsaved_path)
            line = json.dumps(jsonable(asdict(record)), ensure_ascii=False)
            try:
                await self.spill.append(line)
                self.metrics.record_spilled()
            except OSError as file_exc:
                log.critical("call %s: record lost: %s\n%s", record.call_id,
                             describe(file_exc), line)

    # ---- the interpreter -------------------------------------------------------

    def _turn(self, channel: Channel, st: CallState, catalog: Catalog) -> Turn:
        return Turn(channel, st, catalog, self.clock, self.store, self.lookups,
                    self.holidays, self.agent_queue_fallback, self.case_write_timeout,
                    self.audio, self.recordings_dir)

    async def _interpret(self, turn: Turn) -> None:
        st = turn.state
        node: AnyNode | None = st.flow.nodes[st.flow.start]
        while node is not None:
            current = node
            try:
                node = await self._visit(turn, current)
            except (CallerHungUp, ChannelError):
                raise
            except Exception as exc:  # a bug or broken data inside a node: hand over
                log.exception("call %s: node %s failed", st.info.call_id, current.id)
                st.error = st.error or f"node {current.id}: {type(exc).__name__}: {exc}"
                if st.apologised:
                    raise  # the apology path itself failed: end the call as failed
                st.note = f"error in node {current.id}: {exc}"
                node = await self._follow(turn, apology(st, current))
        if st.outcome is None:
            st.outcome = Outcome.SELF_SERVED
        await _hang_up(turn.channel)

    async def _visit(self, turn: Turn, node: AnyNode) -> AnyNode | None:
        st = turn.state
        st.steps += 1
        if st.steps > MAX_STEPS_PER_CALL:
            raise FlowBug(f"more than {MAX_STEPS_PER_CALL} steps: the flow loops")
        st.path.append(PathStep(node.flow, node.id, turn.now()))
        out = await handler_for(node)(turn, node)
        return None if out is None else await self._follow(turn, out)

    async def _follow(self, turn: Turn, out: Exit) -> AnyNode | None:
        st = turn.state
        for a in out.assign:
            st.vars[a.name] = st.value(a.value)
        if out.prompts:
            await turn.play(out.prompts)
        st.vars.pop("result", None)
        if out.target == RETURN:
            if not st.stack:
                return None  # the top flow returned: the call is done
            st.flow, after = st.stack.pop()
            return await self._follow(turn, after)
        if out.target == HANGUP:
            return None
        if out.target == AGENT:
            back = await transfer(turn, st.flowset.defaults.agent_queue, None, "", None)
            return None if back is None else await self._follow(turn, back)
        return out.node if out.node is not None else st.flow.nodes[out.target]


async def _hang_up(ch: Channel) -> None:
    try:
        await ch.hangup()
    except ChannelError as exc:
        log.info("hangup on a broken channel: %s", exc)



__all__ = ["Engine", "FlowBug"]
