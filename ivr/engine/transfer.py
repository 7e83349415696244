"""Handing a caller to a queue: open the case, transfer, record how it ended.

The case is committed before the transfer so the agent's screen can pop it the moment
the call rings. When nobody answers (timeout, full, no agents) the transfer node's own
exits decide, else the queue's ``when_full`` (a callback offer, or goodbye).
"""

from __future__ import annotations

import asyncio
import logging

from ivr import channel_vars
from ivr.calls import CaseDraft, Outcome
from ivr.channels.channel import (
    CallerHungUp,
    DigitSpec,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from ivr.engine.state import CallState
from ivr.engine.turn import Turn
from ivr.failures import describe
from ivr.flows.model import AGENT, AnyNode, Exit, PromptItem, Queue, Ref, SayItem, TransferNode
from ivr.lookups import LookupStatus, LookupUnavailable

log = logging.getLogger(__name__)

_CALLBACK_REF = Ref("callback.reference")
#: Said when a callback the caller asked for could not be stored (optional prompt).
CALLBACK_FAILED_PROMPT = "callback_failed"
#: The apology before the agent queue takes over (an unexpected error, a failed queue).
APOLOGY_PROMPT = "sorry_transfer"
#: Seconds opening or finishing a case may take. The caller hears silence while it runs
#: (before the queue's music; after the agent hangs up; before the callback offer), so a
#: stuck database must not hold the call: past this, transfer without the case, or go on
#: without the note. As long as the write lookups' timeout (ivr/store/lookups.py).
#: The Engine's default ``case_write_timeout``.
CASE_WRITE_TIMEOUT = 4.0


def apology(st: CallState, node: AnyNode) -> Exit:
    """"Sorry, let me connect you to an agent": where every unplanned failure goes."""
    st.apologised = True
    return Exit(AGENT, node.mark, prompts=(PromptItem(APOLOGY_PROMPT),))


async def transfer(
    turn: Turn, queue_key: str, priority: int | None, reason: str, node: TransferNode | None,
) -> Exit | None:
    """Run a transfer; returns where the flow goes next, or None when the call is over."""
    st = turn.state
    queue = st.flowset.queues.get(queue_key) or Queue(
        queue_key, turn.agent_queue_fallback if queue_key == st.flowset.defaults.agent_queue
        else queue_key)
    now = turn.now()
    st.transfer_started_at = now
    intent = st.intent(reason)
    case_id = await _open_case(turn, queue, priority, intent)
    st.case_id = case_id or st.case_id
    st.transfer_queue = queue.name
    request = TransferRequest(
        queue=queue.name,
        case_id=case_id,
        priority=queue.priority if priority is None else priority,
        timeout=queue.max_wait,
        # For the agent's side (dialplan, CRM); the AGI channel sets them inherited.
        variables={channel_vars.INTENT: intent, channel_vars.LANGUAGE: st.language},
    )
    try:
        result = await turn.channel.transfer(request)
    except CallerHungUp:
        st.queue_seconds = (turn.now() - now).total_seconds()
        st.transfer_status = TransferStatus.ABANDONED
        await _finish(turn, case_id, TransferResult(TransferStatus.ABANDONED, "ABANDON"))
        raise
    st.queue_seconds = (turn.now() - now).total_seconds()
    st.transfer_status = result.status
    await _finish(turn, case_id, result)
    if result.status is TransferStatus.COMPLETED:
        st.outcome = Outcome.TRANSFERRED
        return node.next if node is not None else None
    exits = {
        TransferStatus.TIMEOUT: node.on_timeout if node else None,
        TransferStatus.FULL: node.on_full if node else None,
        TransferStatus.NO_AGENTS: node.on_no_agents if node else None,
    }
    out = exits.get(result.status)
    if out is not None:
        return out
    fallback = st.flowset.defaults.agent_queue
    if result.status is TransferStatus.FAILED and queue_key != fallback:
        # A queue the telephony side does not know (missing from queues.conf, a typo)
        # must not turn an emergency into "goodbye": apologise and hand the caller to the
        # agents, at the priority they were owed.
        log.error("call %s: transfer to queue %s failed (%s); trying the agent queue",
                  st.info.call_id, queue.name, result.raw_status or "no status")
        st.error = st.error or f"transfer to {queue.name} failed: {result.raw_status}"
        if turn.catalog.has(APOLOGY_PROMPT):
            await turn.play((PromptItem(APOLOGY_PROMPT),))
        return await transfer(turn, fallback, request.priority, reason, node)
    st.outcome = Outcome.FAILED if result.status is TransferStatus.FAILED else Outcome.TRANSFERRED
    if result.status is TransferStatus.FAILED:
        st.error = st.error or f"transfer to {queue.name} failed: {result.raw_status}"
    if queue.when_full == "offer_callback":
        await offer_callback(turn, intent)
    elif turn.catalog.has("goodbye"):
        await turn.play((PromptItem("goodbye"),))
    return None


async def _open_case(turn: Turn, queue: Queue, priority: int | None, intent: str) -> str:
    st = turn.state
    draft = CaseDraft(
        call_id=st.info.call_id,
        caller=st.info.caller,
        dialled=st.info.dialled,
        language=st.language,
        intent=intent,
        queue=queue.name,
        priority=queue.priority if priority is None else priority,
        account=st.account_code(),
        corporation=st.resolve("hotline.corporation"),
        facts=dict(st.facts),
        path=tuple(st.path),
        inputs=tuple(st.inputs),
        lookups=tuple(st.lookups),
        seconds_in_ivr=st.seconds_in_ivr(turn.now()),
        flow=str(st.vars["call"]["flow"]),
        flow_version=st.flowset.version,
        note=st.note,
        synthetic=st.info.synthetic,
    )
    try:
        async with asyncio.timeout(turn.case_write_timeout):
            return await turn.store.open_case(draft)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # no case is bad; no agent would be worse: transfer anyway
        why = f"no answer within {turn.case_write_timeout:g}s" if isinstance(exc, TimeoutError) \
            else describe(exc)
        # Refused at once (a database known down) was logged when it broke: routine now.
        level = logging.WARNING if isinstance(exc, LookupUnavailable) else logging.ERROR
        log.log(level, "call %s: cannot open the case: %s", st.info.call_id, why)
        st.error = st.error or f"open_case failed: {why}"
        return ""


async def _finish(turn: Turn, case_id: str, result: TransferResult) -> None:
    if not case_id:
        return
    # Shielded: a call cancelled by a server stop still records how its transfer ended;
    # the timeout only stops the caller waiting for it (the write itself carries on).
    write = asyncio.ensure_future(turn.store.finish_transfer(case_id, result))
    write.add_done_callback(_log_late_failure)
    try:
        async with asyncio.timeout(turn.case_write_timeout):
            await asyncio.shield(write)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        log.error("case %s: recording the transfer result takes longer than %gs; "
                  "the call goes on", case_id, turn.case_write_timeout)
    except Exception as exc:  # the transfer happened; a failed note must not end the call
        log.error("case %s: cannot record the transfer result: %s", case_id, describe(exc))


def _log_late_failure(write: asyncio.Future[None]) -> None:
    """Retrieve the outcome of a shielded write nobody awaits any more (no "exception was
    never retrieved" noise; the error was or will be logged once)."""
    if not write.cancelled() and write.exception() is not None:
        log.debug("late transfer-result write failed: %r", write.exception())


async def offer_callback(turn: Turn, intent: str) -> None:
    """"Nobody is free: press 1 and we call you back." Stored as a callback request."""
    st = turn.state
    spec = DigitSpec(max_digits=1, first_timeout=st.flowset.defaults.timeout)
    entry = await turn.ask((PromptItem("offer_callback"),), spec)
    if entry.digits == "1" and "request_callback" in turn.lookups:
        inputs = {"reason": intent, "account": st.account_code(), "phone": st.info.caller}
        result = await turn.lookups.run("request_callback", inputs, turn.lookup_context())
        if result.status is LookupStatus.FOUND:
            st.store("callback", result.value)
            await turn.play((PromptItem("callback_confirmed"), SayItem("digits", _CALLBACK_REF)))
        else:
            # The caller asked for a callback we could not store: say so, never let
            # them hang up believing someone will call.
            st.error = st.error or f"request_callback: {result.status.value} {result.error}"
            if turn.catalog.has(CALLBACK_FAILED_PROMPT):
                await turn.play((PromptItem(CALLBACK_FAILED_PROMPT),))
    await turn.play((PromptItem("goodbye"),))
