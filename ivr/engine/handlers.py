"""What each kind of node does when a call reaches it: one handler per node class.

A handler takes the call's :class:`~ivr.engine.turn.Turn` and its node, and returns the
exit to follow (``None``: the call is over). :data:`HANDLERS` is the one table from
node class to handler; a new node kind needs a row here, and
``tests/test_engine_handlers.py`` fails until every node class of the language has one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from ivr.calls import InputStep, LookupStep, jsonable
from ivr.engine.hours import hours_state
from ivr.engine.questions import ask_input, ask_menu
from ivr.engine.record import record
from ivr.engine.transfer import apology, transfer
from ivr.engine.turn import Turn
from ivr.errors import IvrError
from ivr.flows.model import (
    HANGUP,
    REPEAT,
    BranchNode,
    CallNode,
    Exit,
    GotoNode,
    HangupNode,
    HoursNode,
    HoursState,
    InputNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    RecordNode,
    SetNode,
    TransferNode,
)
from ivr.lookups import LookupStatus

#: Nested ``call`` depth; deeper is a sub-flow calling itself.
MAX_CALL_DEPTH = 8


class FlowBug(IvrError, RuntimeError):
    """The flow did something the compiler cannot rule out (a loop, runaway recursion)."""


Handler = Callable[[Turn, Any], Awaitable[Exit | None]]
"""A node handler; :func:`_row` checks each one accepts the class it is filed under."""

N = TypeVar("N", bound=Node)


async def play(turn: Turn, node: PlayNode) -> Exit:
    if not node.keys:  # interruptible: false, or a flow without keys_everywhere
        await turn.play(node.items)
        return node.next
    prompts = await turn.playable(node.items)  # audio made sure of, as every prompt's
    escape = "".join(node.keys)
    while prompts:
        key = await turn.channel.play(prompts, escape=escape)
        out = node.keys.get(key) if key else None
        if out is None:
            break
        # Recorded like a question's flow-wide key, so the path shows why it stopped.
        turn.state.inputs.append(InputStep(node.flow, node.id, key or "", f"key:{key}",
                                           turn.now()))
        if out.target != REPEAT:
            return out
    return node.next


async def lookup(turn: Turn, node: LookupNode) -> Exit:
    st = turn.state
    inputs = {name: st.value(v) for name, v in node.inputs}
    result = await turn.lookups.run(node.lookup, inputs, turn.lookup_context())
    st.lookups.append(LookupStep(node.flow, node.id, node.lookup, result.status.value,
                                 result.error, result.elapsed_ms, turn.now()))
    if result.status in (LookupStatus.FOUND, LookupStatus.NOT_FOUND):
        st.store(node.store_as, result.value)
        st.vars["result"] = dict(result.value)
        if result.status is LookupStatus.FOUND:
            st.facts[node.store_as] = jsonable(result.value)
            return node.found
        return node.not_found
    failure = f"lookup {node.lookup} {result.status.value}: {result.error}".rstrip(": ")
    st.facts.setdefault("failures", []).append(failure)
    out = node.timeout if result.status is LookupStatus.TIMEOUT else None
    out = out or node.error
    if out is not None:
        return out
    st.note = failure
    return apology(st, node)


async def branch(turn: Turn, node: BranchNode) -> Exit:
    for cond, out in node.cases:
        if cond.evaluate(turn.state.resolve):
            return out
    return node.otherwise


async def set_vars(turn: Turn, node: SetNode) -> Exit:
    st = turn.state
    for a in node.assign:
        st.vars[a.name] = st.value(a.value)
    return node.next


async def goto(turn: Turn, node: GotoNode) -> Exit:
    return node.next


async def call(turn: Turn, node: CallNode) -> Exit:
    st = turn.state
    if len(st.stack) >= MAX_CALL_DEPTH:
        raise FlowBug(f"sub-flows nested deeper than {MAX_CALL_DEPTH}")
    st.stack.append((st.flow, node.next))
    st.flow = st.flowset.flows[node.subflow]
    return Exit(st.flow.start, node.mark)


async def language(turn: Turn, node: LanguageNode) -> Exit:
    turn.state.vars["language"] = node.language
    return node.next


async def hours(turn: Turn, node: HoursNode) -> Exit:
    state = hours_state(node.hours, turn.now(), turn.holidays)
    return {HoursState.OPEN: node.open, HoursState.CLOSED: node.closed,
            HoursState.HOLIDAY: node.holiday}[state]


async def transfer_to_queue(turn: Turn, node: TransferNode) -> Exit | None:
    return await transfer(turn, node.queue, node.priority, node.reason, node)


async def hangup(turn: Turn, node: HangupNode) -> Exit:
    await turn.play(node.items)
    return Exit(HANGUP, node.mark)


def _row(cls: type[N], handler: Callable[[Turn, N], Awaitable[Exit | None]]
         ) -> tuple[type[Node], Handler]:
    return cls, handler


#: Node class -> its handler: the whole of what the engine does per node kind.
HANDLERS: Mapping[type[Node], Handler] = MappingProxyType(dict((
    _row(PlayNode, play),
    _row(MenuNode, ask_menu),
    _row(InputNode, ask_input),
    _row(LookupNode, lookup),
    _row(BranchNode, branch),
    _row(SetNode, set_vars),
    _row(GotoNode, goto),
    _row(CallNode, call),
    _row(LanguageNode, language),
    _row(HoursNode, hours),
    _row(TransferNode, transfer_to_queue),
    _row(HangupNode, hangup),
    _row(RecordNode, record),
)))


def handler_for(node: Node) -> Handler:
    """The handler of ``node``'s class; a class without one is our bug, not the flow's."""
    handler = HANDLERS.get(type(node))
    if handler is None:  # pragma: no cover - tests/test_engine_handlers.py rules it out
        raise FlowBug(f"unknown node kind {type(node).__name__}")
    return handler
