"""Menus and inputs: one question with timeouts, retries, escalation and flow-wide keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ivr.calls import InputStep
from ivr.channels.channel import DigitSpec, Entry
from ivr.engine.turn import Turn
from ivr.flows.model import (
    AGENT,
    REPEAT,
    SPECIAL_TARGETS,
    Exit,
    InputNode,
    MenuNode,
    PromptItem,
    Question,
    Ref,
    SayItem,
)
from ivr.masking import mask

#: Where read-back keeps the digits while it speaks them.
_ENTERED = Ref("_entered")

Accept = Callable[[Entry], Awaitable[Exit | None]]


async def ask(
    turn: Turn, node: MenuNode | InputNode, spec: DigitSpec, accept: Accept, *,
    sensitive: bool = False,
) -> Exit:
    """Ask until an answer is accepted, a flow-wide key is pressed or retries run out."""
    st = turn.state
    q: Question = node.question
    prompts = q.prompt
    failures = {"no_input": 0, "no_match": 0}

    def note(digits: str, result: str) -> None:
        shown = mask(digits) if sensitive and digits else digits
        st.inputs.append(InputStep(node.flow, node.id, shown, result, turn.now()))

    while True:
        entry = await turn.ask(prompts, spec)
        key_exit = q.keys.get(entry.digits) if len(entry.digits) == 1 else None
        if key_exit is not None:
            note(entry.digits, f"key:{entry.digits}")
            if key_exit.target == REPEAT:
                prompts = q.prompt
                continue
            return key_exit
        if entry.empty:
            kind = "no_input"
        else:
            out = await accept(entry)
            if out is not None:
                note(entry.digits, "ok")
                return out
            kind = "no_match"
        note(entry.digits, kind)
        failures[kind] += 1
        if failures[kind] >= q.retries:
            if q.exhausted.target == AGENT:
                st.note = f"{node.id}: {kind} {failures[kind]} times"
            return q.exhausted
        escalation = q.no_input if kind == "no_input" else q.no_match
        step = escalation[min(failures[kind], len(escalation)) - 1] if escalation else ()
        prompts = step + q.reprompt


async def ask_menu(turn: Turn, node: MenuNode) -> Exit:
    st, q = turn.state, node.question
    spec = DigitSpec(max_digits=1, first_timeout=q.timeout,
                     inter_digit_timeout=q.inter_digit_timeout, barge_in=q.barge_in)

    async def accept(entry: Entry) -> Exit | None:
        out = node.options.get(entry.digits)
        if out is not None and not st.stack and out.target not in SPECIAL_TARGETS:
            st.last_choice = out.target  # the caller's intent, as the top flow names it
        return out

    return await ask(turn, node, spec, accept)


async def ask_input(turn: Turn, node: InputNode) -> Exit:
    st, q = turn.state, node.question
    # With a terminator, room for it after a full entry: "12345678901#" must not leave
    # the "#" behind to interrupt the next prompt.
    extra = 1 if node.terminator else 0
    spec = DigitSpec(max_digits=node.max_digits + extra, terminator=node.terminator,
                     first_timeout=q.timeout, inter_digit_timeout=q.inter_digit_timeout,
                     barge_in=q.barge_in)

    async def accept(entry: Entry) -> Exit | None:
        digits = entry.digits
        if not node.min_digits <= len(digits) <= node.max_digits:
            return None
        if node.pattern is not None and not node.pattern.fullmatch(digits):
            return None
        if node.read_back and not await _confirm(turn, node, digits):
            return None
        st.vars[node.store] = digits
        return node.next

    return await ask(turn, node, spec, accept, sensitive=node.sensitive)


async def _confirm(turn: Turn, node: InputNode, digits: str) -> bool:
    """"You entered 0 1 0 ..., press 1 to confirm, 2 to enter again."""
    st = turn.state
    st.vars["_entered"] = digits
    try:
        items = (PromptItem("you_entered"), SayItem("digits", _ENTERED),
                 PromptItem("confirm_entry"))
        spec = DigitSpec(max_digits=1, first_timeout=node.question.timeout)
        entry = await turn.ask(items, spec)
    finally:
        st.vars.pop("_entered", None)
    return entry.digits == "1"
