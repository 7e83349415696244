"""The flow engine: runs a compiled flow over a Channel and leaves one CallRecord per call.

Every way a call can end is an outcome, never an escaped exception: the caller hanging
up (``abandoned``), a transfer (``transferred``), the flow finishing (``self_served``),
our own failure (``failed``). A failing lookup without an ``error`` exit, or a bug in a
node, apologises (prompt ``sorry_transfer``) and hands the caller to the agent queue with
the failure on the case: never dead air, never a silent hang-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from ivr.calls import CallRecord, CallStore, LookupStep, Outcome, PathStep, jsonable
from ivr.channels.channel import CallerHungUp, Channel, ChannelError, Prompt, TransferStatus
from ivr.clock import Clock
from ivr.engine.hours import HolidayCalendar, HoursState, hours_state
from ivr.engine.questions import ask_input, ask_menu
from ivr.engine.render import render
from ivr.engine.state import CallState
from ivr.engine.transfer import APOLOGY_PROMPT, transfer
from ivr.flows.model import (
    AGENT,
    HANGUP,
    RETURN,
    AnyNode,
    BranchNode,
    CallNode,
    Exit,
    GotoNode,
    HangupNode,
    HoursNode,
    InputNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    PlayItem,
    PlayNode,
    PromptItem,
    SetNode,
    TransferNode,
)
from ivr.flows.source import FlowSource
from ivr.lookups import ActionContext, ActionRegistry, LookupStatus

log = logging.getLogger(__name__)

#: Nodes one call may pass through. Questions bound their own retries, but a loop of
#: gotos/branches without a question would spin forever: stop it and hand over.
MAX_STEPS_PER_CALL = 1000
#: Nested ``call`` depth; deeper is a sub-flow calling itself.
MAX_CALL_DEPTH = 8
DEFAULT_UNSAVED_PATH = Path("var/unsaved-calls.jsonl")
#: Seconds a call record may take to save before it goes to the fallback file: a stuck
#: database must not hold a finished call's task (and a server shutdown) forever.
SAVE_TIMEOUT = 10.0


class FlowBug(RuntimeError):
    """The flow did something the compiler cannot rule out (a loop, runaway recursion)."""


class Catalog(Protocol):
    """What the engine needs from ``PromptCatalog``."""

    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, prompt_id: str) -> bool: ...

    def prompt(self, prompt_id: str, language: str) -> Prompt: ...

    def say(self, kind: str, value: object, language: str) -> list[Prompt]: ...


class Engine:
    def __init__(
        self,
        flows: FlowSource,
        actions: ActionRegistry,
        catalog: Catalog,
        store: CallStore,
        clock: Clock,
        *,
        agent_queue_fallback: str = "agents",
        unsaved_path: Path = DEFAULT_UNSAVED_PATH,
        holidays: HolidayCalendar | None = None,
    ) -> None:
        self.flows = flows
        self.actions = actions
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.agent_queue_fallback = agent_queue_fallback
        self.unsaved_path = unsaved_path
        self.holidays = holidays or HolidayCalendar()

    async def run(self, channel: Channel) -> CallRecord:
        """Run one call to its end and save its record. Raises only CancelledError."""
        flowset = self.flows.current  # this call keeps this version, whatever reloads
        if channel.info.flow not in flowset.flows:
            log.info("call %s asked for flow %r: running %r", channel.info.call_id,
                     channel.info.flow, flowset.default_flow)
        st = CallState.start(flowset, channel.info, self.clock.now(), channel.kind,
                             tuple(self.catalog.languages))
        cancelled: asyncio.CancelledError | None = None
        outcome = Outcome.FAILED
        try:
            await self._interpret(channel, st)
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
        record = st.record(self.clock.now(), outcome)
        # Shielded: a cancelled call (server stopping) still leaves its record.
        await asyncio.shield(self._save(record))
        if cancelled is not None:
            raise cancelled
        return record

    async def _save(self, record: CallRecord) -> None:
        try:
            async with asyncio.timeout(SAVE_TIMEOUT):
                await self.store.save_call(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # down or stuck database: keep the record on disk instead
            log.error("call %s: cannot save its record (%s); writing it to %s",
                      record.call_id, exc, self.unsaved_path)
            line = json.dumps(jsonable(asdict(record)), ensure_ascii=False)
            try:
                await asyncio.to_thread(_append_line, self.unsaved_path, line)
            except OSError as file_exc:
                log.critical("call %s: record lost: %s\n%s", record.call_id, file_exc, line)

    # ---- the interpreter -------------------------------------------------------

    async def _interpret(self, ch: Channel, st: CallState) -> None:
        node: AnyNode | None = st.flow.nodes[st.flow.start]
        while node is not None:
            current = node
            try:
                node = await self._visit(ch, st, current)
            except (CallerHungUp, ChannelError):
                raise
            except Exception as exc:  # a bug or broken data inside a node: hand over
                log.exception("call %s: node %s failed", st.info.call_id, current.id)
                st.error = st.error or f"node {current.id}: {type(exc).__name__}: {exc}"
                if st.apologised:
                    raise  # the apology path itself failed: end the call as failed
                st.note = f"error in node {current.id}: {exc}"
                node = await self._follow(ch, st, apology(st, current))
        if st.outcome is None:
            st.outcome = Outcome.SELF_SERVED
        await _hang_up(ch)

    async def _visit(self, ch: Channel, st: CallState, node: AnyNode) -> AnyNode | None:
        st.steps += 1
        if st.steps > MAX_STEPS_PER_CALL:
            raise FlowBug(f"more than {MAX_STEPS_PER_CALL} steps: the flow loops")
        st.path.append(PathStep(node.flow, node.id, self.clock.now()))
        out = await self._step(ch, st, node)
        return None if out is None else await self._follow(ch, st, out)

    async def _follow(self, ch: Channel, st: CallState, out: Exit) -> AnyNode | None:
        for a in out.assign:
            st.vars[a.name] = st.value(a.value)
        if out.prompts:
            await self.play(ch, st, out.prompts)
        st.vars.pop("result", None)
        if out.target == RETURN:
            if not st.stack:
                return None  # the top flow returned: the call is done
            st.flow, after = st.stack.pop()
            return await self._follow(ch, st, after)
        if out.target == HANGUP:
            return None
        if out.target == AGENT:
            back = await transfer(self, ch, st, st.flowset.defaults.agent_queue, None, "", None)
            return None if back is None else await self._follow(ch, st, back)
        return out.node if out.node is not None else st.flow.nodes[out.target]

    async def play(self, ch: Channel, st: CallState, items: tuple[PlayItem, ...]) -> None:
        prompts = render(self.catalog, st, items)
        if prompts:
            await ch.play(prompts)

    async def _step(self, ch: Channel, st: CallState, node: AnyNode) -> Exit | None:
        if isinstance(node, PlayNode):
            await self.play(ch, st, node.items)
            return node.next
        if isinstance(node, MenuNode):
            return await ask_menu(self, ch, st, node)
        if isinstance(node, InputNode):
            return await ask_input(self, ch, st, node)
        if isinstance(node, LookupNode):
            return await self._lookup(st, node)
        if isinstance(node, BranchNode):
            for cond, out in node.cases:
                if cond.evaluate(st.resolve):
                    return out
            return node.otherwise
        if isinstance(node, SetNode):
            for a in node.assign:
                st.vars[a.name] = st.value(a.value)
            return node.next
        if isinstance(node, GotoNode):
            return node.next
        if isinstance(node, CallNode):
            if len(st.stack) >= MAX_CALL_DEPTH:
                raise FlowBug(f"sub-flows nested deeper than {MAX_CALL_DEPTH}")
            st.stack.append((st.flow, node.next))
            st.flow = st.flowset.flows[node.subflow]
            return Exit(st.flow.start, node.mark)
        if isinstance(node, LanguageNode):
            st.vars["language"] = node.language
            return node.next
        if isinstance(node, HoursNode):
            state = hours_state(node.hours, self.clock.now(), self.holidays)
            return {HoursState.OPEN: node.open, HoursState.CLOSED: node.closed,
                    HoursState.HOLIDAY: node.holiday}[state]
        if isinstance(node, TransferNode):
            return await transfer(self, ch, st, node.queue, node.priority, node.reason, node)
        if isinstance(node, HangupNode):
            await self.play(ch, st, node.items)
            return Exit(HANGUP, node.mark)
        raise FlowBug(f"unknown node kind {type(node).__name__}")  # pragma: no cover

    async def _lookup(self, st: CallState, node: LookupNode) -> Exit:
        inputs = {name: st.value(v) for name, v in node.inputs}
        ctx = ActionContext(st.info.call_id, st.info.caller, st.info.dialled, st.language,
                            st.flow.name)
        result = await self.actions.run(node.action, inputs, ctx)
        st.lookups.append(LookupStep(node.flow, node.id, node.action, result.status.value,
                                     result.error, result.elapsed_ms, self.clock.now()))
        if result.status in (LookupStatus.FOUND, LookupStatus.NOT_FOUND):
            st.store(node.store_as, result.value)
            st.vars["result"] = dict(result.value)
            if result.status is LookupStatus.FOUND:
                st.facts[node.store_as] = jsonable(result.value)
                return node.found
            return node.not_found
        failure = f"lookup {node.action} {result.status.value}: {result.error}".rstrip(": ")
        st.facts.setdefault("failures", []).append(failure)
        out = node.timeout if result.status is LookupStatus.TIMEOUT else None
        out = out or node.error
        if out is not None:
            return out
        st.note = failure
        return apology(st, node)


def apology(st: CallState, node: AnyNode) -> Exit:
    """"Sorry, let me connect you to an agent": where every unplanned failure goes."""
    st.apologised = True
    return Exit(AGENT, node.mark, prompts=(PromptItem(APOLOGY_PROMPT),))


async def _hang_up(ch: Channel) -> None:
    try:
        await ch.hangup()
    except ChannelError as exc:
        log.info("hangup on a broken channel: %s", exc)


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


__all__ = ["Engine", "FlowBug"]
