"""Compiling each node kind (one verb per node), and :data:`NODE_KINDS`, the one table of them.

A new node kind is its class in :mod:`ivr.flows.model` (and in ``AnyNode``), a compile
function over :class:`NodeContext`, and one row in ``NODE_KINDS``; the engine's handler
table and the loop check are tested against this table, so a forgotten place fails a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from types import MappingProxyType

from ivr.config.diagnostics import Mark, did_you_mean
from ivr.config.loader import YScalar, YSeq, YValue
from ivr.flows.compile.context import Compiler, NodeContext
from ivr.flows.compile.questions import compile_input, compile_menu
from ivr.flows.compile.record import compile_record
from ivr.flows.conditions import ConditionError, parse_condition
from ivr.flows.model import (
    SPECIAL_TARGETS,
    AnyNode,
    BranchNode,
    CallNode,
    Exit,
    Flow,
    GotoNode,
    HangupNode,
    HoursNode,
    InputNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    OpeningHours,
    PlayNode,
    RecordNode,
    SetNode,
    TransferNode,
    Value,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def compile_flow(c: Compiler, name: str, mark: Mark, body: YValue) -> Flow | None:
    what = f"flow {name!r}"
    m = c.read.mapping(body, what)
    if m is None:
        return None
    c.read.keys(m, ("start", "nodes"), what)
    nodes_map = c.read.mapping(
        m.get("nodes"), f"{what}: nodes",
        dup_message=lambda key, line: f"duplicate node id {key!r} (first defined at line {line})")
    if nodes_map is None:
        if m.get("nodes") is None:
            c.diags.error(m.mark, f"{what} has no 'nodes:'")
        return None
    nodes: dict[str, AnyNode] = {}
    c.declared[name] = set(nodes_map.keys())
    for key, node_body in nodes_map.items:
        node_id = str(key.value)
        if not _ID.match(node_id):
            c.diags.error(key.mark, f"node id {node_id!r} must be a word of letters, "
                          "digits and _")
            continue
        if node_id in SPECIAL_TARGETS:
            c.diags.error(key.mark, f"node id {node_id!r} is reserved (it is a special target)")
            continue
        node = compile_node(c, name, node_id, node_body)
        if node is not None:
            nodes[node_id] = node
    start = c.read.word(m.get("start"), f"{what}: start")
    if m.get("start") is None:
        c.diags.error(m.mark, f"{what} has no 'start:' node")
    elif start is not None and start not in {str(k.value) for k, _ in nodes_map.items}:
        c.diags.error(m.key_mark("start"), f"{what} starts at unknown node {start!r}"
                      f"{did_you_mean(start, nodes)}")
        start = None
    if start is None:
        return None
    return Flow(name, start, MappingProxyType(nodes), mark)


def compile_node(c: Compiler, flow: str, node_id: str, body: YValue) -> AnyNode | None:
    m = c.read.mapping(body, f"node {node_id!r}")
    if m is None:
        return None
    kinds = [k for k in m.keys() if k in NODE_KINDS]
    if len(kinds) != 1:
        if kinds:
            c.diags.error(m.mark, f"node {node_id!r} has two verbs: {kinds[0]!r} and "
                          f"{kinds[1]!r} (one verb per node)")
        else:
            hints = [did_you_mean(k, NODE_KINDS) for k in m.keys()]
            hint = next((h for h in hints if h), "")
            c.diags.error(m.mark, f"node {node_id!r} has no verb{hint}: give one of "
                          f"{', '.join(NODE_KINDS)}")
        return None
    verb = kinds[0]
    kind = NODE_KINDS[verb]
    ctx = NodeContext(c, flow, node_id, m)
    c.read.keys(m, (verb, *kind.keys), ctx.what)
    return kind.compile(ctx, m.get(verb) or YScalar(None, m.key_mark(verb)))


def _play(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c = ctx.c
    items = c.play_items(v, ctx.what)
    nxt = ctx.exit("next")
    # Informational prompts take the flow-wide keys like questions do (a caller who
    # presses 0 during a long reading wants an agent now), unless marked otherwise.
    interruptible = c.read.boolean(ctx.m.get("interruptible"),
                                   f"{ctx.what}: interruptible") is not False
    keys = MappingProxyType(dict(c.default_keys) if interruptible else {})
    return PlayNode(ctx.id, ctx.flow, ctx.mark, items, nxt, keys,
                    interruptible) if nxt else None


def _lookup(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c, what = ctx.c, ctx.what
    lookup = c.read.word(v, f"{what}: lookup")
    if lookup is None:
        return None
    sig = c.lookups.get(lookup)
    if sig is None:
        c.diags.error(v.mark, f"unknown lookup {lookup!r}{did_you_mean(lookup, c.lookups)}")
    inputs: list[tuple[str, Value]] = []
    w = c.read.mapping(ctx.m.get("with"), f"{what}: with")
    for key, val in w.items if w else ():
        name = str(key.value)
        if sig is not None and sig.optional is not None:
            known = sig.required | sig.optional
            if name not in known:
                c.diags.error(key.mark, f"lookup {lookup!r} has no input {name!r}"
                              f"{did_you_mean(name, known)}")
        value = c.value(val, f"{what}: with {name}")
        if value is not None:
            inputs.append((name, value))
    given = set(w.keys()) if w else set()  # a bad value is its own error, not a missing input
    for missing in sorted((sig.required if sig else frozenset()) - given):
        c.diags.error(v.mark, f"lookup {lookup!r} needs input {missing!r} under 'with:'")
    store_as = c.read.word(ctx.m.get("as"), f"{what}: as") or lookup
    found = ctx.exit("found", fallback="next")
    not_found = ctx.exit("not_found", fallback="next")
    error = ctx.exit("error", required=False)
    timeout = ctx.exit("timeout", required=False)
    if found is None or not_found is None:
        return None
    return LookupNode(ctx.id, ctx.flow, ctx.mark, lookup, tuple(inputs), store_as, found,
                      not_found, error, timeout)


def _branch(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c, what = ctx.c, ctx.what
    entries = c.read.seq(v, f"{what}: branch")
    if entries is None:
        return None
    cases = []
    otherwise: Exit | None = None
    for entry in entries:
        e = c.read.mapping(entry, f"{what}: branch entry")
        if e is None:
            continue
        if e.get("otherwise") is not None:
            c.read.keys(e, ("otherwise",), f"{what}: branch entry")
            otherwise = ctx.exit("otherwise", node=e.get("otherwise"))
            continue
        c.read.keys(e, ("when", "next"), f"{what}: branch entry")
        cond_node = e.get("when")
        text = c.read.text(cond_node, f"{what}: when")
        if cond_node is None or text is None:
            c.diags.error(e.mark, f"{what}: a branch entry needs 'when' and 'next', "
                          "or 'otherwise'")
            continue
        assert isinstance(cond_node, YScalar)  # text() accepted it
        shift = 1 if cond_node.quoted else 0
        try:
            cond = parse_condition(text)
        except ConditionError as exc:
            c.diags.error(cond_node.mark.shifted(exc.offset + shift),
                          f"{what}: bad condition: {exc}")
            continue
        ok = all(c.check_ref(var.path, cond_node.mark.shifted(var.offset + shift), text_ok=True)
                 for var in cond.variables())
        nxt = ctx.exit("next", node=e.get("next"))
        if nxt is None:
            c.diags.error(e.mark, f"{what}: a branch entry needs 'next'")
        elif ok:
            cases.append((cond, nxt))
    if otherwise is None:
        c.diags.error(v.mark, f"{what} has no way out when nothing matches: add "
                      "'- otherwise: <node>'")
        return None
    return BranchNode(ctx.id, ctx.flow, ctx.mark, tuple(cases), otherwise)


def _set(ctx: NodeContext, v: YValue) -> AnyNode | None:
    assign = ctx.c.assignments(v, f"{ctx.what}: set")
    nxt = ctx.exit("next")
    return SetNode(ctx.id, ctx.flow, ctx.mark, assign, nxt) if nxt else None


def _goto(ctx: NodeContext, v: YValue) -> AnyNode | None:
    nxt = ctx.exit("goto", node=v)
    return GotoNode(ctx.id, ctx.flow, ctx.mark, nxt) if nxt else None


def _call(ctx: NodeContext, v: YValue) -> AnyNode | None:
    sub = ctx.c.read.word(v, f"{ctx.what}: call")
    if sub is not None and sub not in ctx.c.flow_names:
        ctx.c.diags.error(v.mark, f"{ctx.what} calls unknown flow {sub!r}"
                          f"{did_you_mean(sub, ctx.c.flow_names)}")
        sub = None
    nxt = ctx.exit("next")
    return CallNode(ctx.id, ctx.flow, ctx.mark, sub, nxt) if nxt and sub else None


def _language(ctx: NodeContext, v: YValue) -> AnyNode | None:
    lang = ctx.c.read.word(v, f"{ctx.what}: language")
    if lang is not None:
        ctx.c.check_language(v, lang)
    nxt = ctx.exit("next")
    return LanguageNode(ctx.id, ctx.flow, ctx.mark, lang, nxt) if nxt and lang else None


def _opening_hours(ctx: NodeContext, v: YValue) -> OpeningHours | None:
    c, what = ctx.c, f"{ctx.what}: hours"
    m = c.read.mapping(v, what)
    if m is None:
        return None
    weekly: list[list[tuple[time, time]]] = [[] for _ in WEEKDAYS]
    holidays = "VN"
    for key, val in m.items:
        name = str(key.value)
        if name == "holidays":
            raw = val.value if isinstance(val, YScalar) else None
            holidays = raw if isinstance(raw, str) and raw.isalpha() else ""
            if raw is False or raw is None:
                holidays = ""
            elif not holidays:
                c.diags.error(val.mark, f"{what}: holidays must be a country code like VN, "
                              "or false")
            continue
        days = _days(name)
        if days is None:
            c.diags.error(key.mark, f"{what}: {name!r} is not a day or range like mon-fri"
                          f"{did_you_mean(name, (*WEEKDAYS, 'mon-fri', 'holidays'))}")
            continue
        spans = val.items if isinstance(val, YSeq) else (val,)
        for span in spans:
            text = c.read.text(span, f"{what}: {name}")
            match = _HHMM.match(text or "")
            if text is not None and match is None:
                closed = text.strip().lower() in ("closed", "off", "none", "no", "false")
                c.diags.error(span.mark, f"{what}: {text!r} is not opening hours like "
                              "\"07:30-17:00\"" + (f" (leave {name!r} out: a day not "
                                                   "listed is closed)" if closed else ""))
            if match is None:
                continue
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 > 0):
                c.diags.error(span.mark, f"{what}: {text!r} is not a valid time span "
                              "(times go from 00:00 to 24:00)")
                continue
            if (h1, m1) >= (h2, m2):
                c.diags.error(span.mark, f"{what}: {text!r} is not a valid time span "
                              "(it must end after it starts, on the same day: split a span "
                              "past midnight into two days)")
                continue
            end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
            for d in days:
                weekly[d].append((time(h1, m1), end))
    return OpeningHours(tuple(tuple(day) for day in weekly), holidays or None)


def _days(name: str) -> list[int] | None:
    if name in WEEKDAYS:
        return [WEEKDAYS.index(name)]
    first, _, last = name.partition("-")
    if first in WEEKDAYS and last in WEEKDAYS:
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
        return list(range(a, b + 1)) if a <= b else None
    return None


def _hours(ctx: NodeContext, v: YValue) -> AnyNode | None:
    hours = _opening_hours(ctx, v)
    opened = ctx.exit("open")
    closed = ctx.exit("closed")
    holiday = ctx.exit("holiday", required=False) or closed
    if hours is None or opened is None or closed is None or holiday is None:
        return None
    return HoursNode(ctx.id, ctx.flow, ctx.mark, hours, opened, closed, holiday)


def _transfer(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c, what = ctx.c, f"{ctx.what}: transfer"
    t = c.read.mapping(v, what)
    if t is None:
        return None
    c.read.keys(t, ("queue", "priority", "reason"), f"transfer {ctx.id!r}")
    queue = c.read.word(t.get("queue"), f"{what}: queue") or c.defaults.agent_queue
    if c.queues and queue not in c.queues:
        c.diags.error(t.key_mark("queue"), f"{ctx.what} transfers to unknown queue {queue!r}"
                      f"{did_you_mean(queue, c.queues)}")
    priority = c.read.integer(t.get("priority"), f"{what}: priority", low=0, high=100)
    reason = c.read.text(t.get("reason"), f"{what}: reason") or ""
    return TransferNode(
        ctx.id, ctx.flow, ctx.mark, queue, priority, reason,
        on_timeout=ctx.exit("on_timeout", required=False),
        on_full=ctx.exit("on_full", required=False),
        on_no_agents=ctx.exit("on_no_agents", required=False),
        next=ctx.exit("next", required=False),
    )


def _hangup(ctx: NodeContext, v: YValue) -> AnyNode | None:
    if isinstance(v, YScalar) and (v.value is None or v.value is True):
        return HangupNode(ctx.id, ctx.flow, ctx.mark, ())
    return HangupNode(ctx.id, ctx.flow, ctx.mark, ctx.c.play_items(v, ctx.what))


CompileFn = Callable[[NodeContext, YValue], AnyNode | None]
"""Compiles the value under the verb (the node's mapping is ``ctx.m``); None after an
error, which it has reported."""


@dataclass(frozen=True, slots=True)
class NodeKind:
    """One verb of the flow language."""

    keys: tuple[str, ...]
    """The keys a node of this kind may have beside its verb (any other is an error)."""
    compile: CompileFn
    model: type[AnyNode]
    """The class it compiles to: the engine has one handler per class."""


NODE_KINDS: Mapping[str, NodeKind] = MappingProxyType({
    "play": NodeKind(("next", "interruptible"), _play, PlayNode),
    "menu": NodeKind((), compile_menu, MenuNode),
    "input": NodeKind(("next",), compile_input, InputNode),
    "lookup": NodeKind(("with", "as", "found", "not_found", "error", "timeout", "next"),
                       _lookup, LookupNode),
    "branch": NodeKind((), _branch, BranchNode),
    "set": NodeKind(("next",), _set, SetNode),
    "goto": NodeKind((), _goto, GotoNode),
    "call": NodeKind(("next",), _call, CallNode),
    "language": NodeKind(("next",), _language, LanguageNode),
    "hours": NodeKind(("open", "closed", "holiday"), _hours, HoursNode),
    "transfer": NodeKind(("on_timeout", "on_full", "on_no_agents", "next"), _transfer,
                         TransferNode),
    "hangup": NodeKind((), _hangup, HangupNode),
    "record": NodeKind(("next", "on_silence"), compile_record, RecordNode),
})
"""Every node kind by its verb, in the order the error for a node without one lists them."""
