"""Loops that can only end in the engine's step guard: nodes that never ask the caller.

A cycle through a menu, an input, a record or a transfer waits for someone each time round. A cycle
of the other nodes (goto, branch, play, set, lookup, hours, language, call) spins until
the engine stops it after ``MAX_STEPS_PER_CALL`` steps (or ``MAX_CALL_DEPTH`` sub-flows)
and hands the caller over with an apology. Only loops with *no way out* are refused: from
them every path stays among such nodes forever, whatever the variables, the clock or the
lookups say. A loop with an exit that leads out (a branch, the ``closed`` of an hours
node) may be what the supervisor meant, so it is left alone.

The walk is over "silent" nodes, in the frame of each flow: a ``call`` node leads to its
``next`` when the sub-flow can come back (reach ``return``) without asking anything, and
out of the loop when the sub-flow can ask, hang up or go to an agent. Both are found as
the least fixpoint over all flows, so sub-flows calling each other are handled. Every
walk is iterative: a flows file may hold thousands of nodes in a row.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ivr.config.diagnostics import Diagnostics
from ivr.flows.model import (
    AGENT,
    HANGUP,
    RETURN,
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
    PlayNode,
    RecordNode,
    SetNode,
    TransferNode,
)

Key = tuple[str, str]
"""(flow, node id)"""
ASKING = (MenuNode, InputNode, TransferNode, HangupNode, RecordNode)
"""Nodes that wait for the caller or an agent, or end the call: a loop through one is
not a spin."""
SILENT = (PlayNode, SetNode, GotoNode, LanguageNode, BranchNode, LookupNode, HoursNode,
          CallNode)
"""Nodes that go on by themselves (``_exits`` and ``steps`` know where). Every node kind
is in exactly one of ASKING and SILENT (tests/test_flows_kinds.py)."""


@dataclass(frozen=True, slots=True)
class _Steps:
    """Where one silent node can go within its flow's frame."""

    nodes: tuple[Key, ...] = ()
    out: bool = False
    """Can leave the silence: ask, hang up, go to an agent (or fail a lookup into the
    apology, which hands over)."""
    returns: bool = False
    """Can reach this flow's ``return``."""
    calls: Key | None = None
    """A call node's sub-flow start, when that flow neither returns nor leads out."""


def _exits(node: AnyNode) -> tuple[Exit | None, ...]:
    """Every exit of a silent node; None is the implicit apology of a lookup."""
    if isinstance(node, PlayNode | SetNode | GotoNode | LanguageNode):
        return (node.next,)
    if isinstance(node, BranchNode):
        return (*(out for _, out in node.cases), node.otherwise)
    if isinstance(node, LookupNode):
        return (node.found, node.not_found, node.error, node.timeout)
    if isinstance(node, HoursNode):
        return (node.open, node.closed, node.holiday)
    raise TypeError(f"not a silent node: {type(node).__name__}")  # pragma: no cover


_Frame = tuple[dict[Key, _Steps], set[Key], set[Key]]
"""A flow's silent nodes with their steps; those that can lead out; those that can
reach ``return``."""


class _Analysis:
    def __init__(self, flows: Mapping[str, Flow]) -> None:
        self.flows = flows
        self.leads_out = {name: False for name in flows}
        """The flow, from its start, can ask or end without returning."""
        self.comes_back = {name: False for name in flows}
        """The flow, from its start, can reach ``return`` without asking."""
        self._calls = {name: sorted({n.subflow for n in flow.nodes.values()
                                     if isinstance(n, CallNode) and n.subflow in flows})
                       for name, flow in flows.items()}
        self._frames: dict[str, tuple[tuple[tuple[bool, bool], ...], _Frame]] = {}
        """Each flow's frame, with what its sub-flows were known to do when it was made:
        a frame changes only when they do (a big flow is walked once, not every round)."""

    def silent(self, flow: str, node_id: str) -> AnyNode | None:
        node = self.flows[flow].nodes.get(node_id)
        return None if node is None or isinstance(node, ASKING) else node

    def target(self, flow: str, out: Exit | None) -> _Steps:
        if out is None or out.target in (AGENT, HANGUP):
            return _Steps(out=True)
        if out.target == RETURN:
            return _Steps(returns=True)
        if self.silent(flow, out.target) is None:  # asks, or failed to compile: no alarm
            return _Steps(out=True)
        return _Steps(nodes=((flow, out.target),))

    def steps(self, flow: str, node: AnyNode) -> _Steps:
        if isinstance(node, CallNode):
            sub = node.subflow
            if sub not in self.flows:
                return _Steps(out=True)
            after = self.target(flow, node.next) if self.comes_back[sub] else _Steps()
            calls = None if self.comes_back[sub] or self.leads_out[sub] else \
                (sub, self.flows[sub].start)
            return _Steps(after.nodes, after.out or self.leads_out[sub], after.returns, calls)
        parts = [self.target(flow, out) for out in _exits(node)]
        return _Steps(tuple(k for p in parts for k in p.nodes), any(p.out for p in parts),
                      any(p.returns for p in parts))

    def frame(self, flow: str) -> _Frame:
        """Each silent node's steps, and which can lead out / reach ``return``."""
        known = tuple((self.leads_out[s], self.comes_back[s]) for s in self._calls[flow])
        cached = self._frames.get(flow)
        if cached is not None and cached[0] == known:
            return cached[1]
        steps = {(flow, i): self.steps(flow, n) for i, n in self.flows[flow].nodes.items()
                 if self.silent(flow, i) is not None}
        made = steps, _reaching(steps, "out"), _reaching(steps, "returns")
        self._frames[flow] = known, made
        return made

    def solve(self) -> None:
        changed = True
        while changed:  # monotone: each round only turns flags on
            changed = False
            for name, flow in self.flows.items():
                start = (name, flow.start)
                _, out, back = self.frame(name)
                leads_out = start in out or self.silent(name, flow.start) is None
                comes_back = start in back
                if (leads_out, comes_back) != (self.leads_out[name], self.comes_back[name]):
                    self.leads_out[name], self.comes_back[name] = leads_out, comes_back
                    changed = True


def _reaching(steps: Mapping[Key, _Steps], flag: str) -> set[Key]:
    """Nodes with a path (within the frame) to a step that has ``flag`` set."""
    before: dict[Key, list[Key]] = {}
    for key, s in steps.items():
        for k in s.nodes:
            before.setdefault(k, []).append(key)
    found = {key for key, s in steps.items() if getattr(s, flag)}
    todo = list(found)
    while todo:
        for k in before.get(todo.pop(), ()):
            if k not in found:
                found.add(k)
                todo.append(k)
    return found


@dataclass(frozen=True, slots=True)
class Loop:
    cycle: tuple[Key, ...]
    """One way round, starting at the loop's earliest node in the file."""
    also: tuple[Key, ...]
    """Other nodes caught in the same loop, in file order."""


def endless_loops(flows: Mapping[str, Flow]) -> list[Loop]:
    """Every loop with no way out, in file order."""
    analysis = _Analysis(flows)
    analysis.solve()
    stuck: dict[Key, tuple[Key, ...]] = {}
    for name in flows:
        steps, out, back = analysis.frame(name)
        for key, s in steps.items():
            if key not in out and key not in back:
                stuck[key] = s.nodes + ((s.calls,) if s.calls else ())
    loops = []
    for component in _closed_components(stuck):
        first = min(component, key=lambda k: _position(flows, k))
        cycle = _shortest_cycle(stuck, component, first)
        also = sorted(component - set(cycle), key=lambda k: _position(flows, k))
        loops.append(Loop(tuple(cycle), tuple(also)))
    return sorted(loops, key=lambda loop: _position(flows, loop.cycle[0]))


def _position(flows: Mapping[str, Flow], key: Key) -> tuple[int, int]:
    mark = flows[key[0]].nodes[key[1]].mark
    return mark.line, mark.col


def _closed_components(edges: Mapping[Key, tuple[Key, ...]]) -> Iterator[set[Key]]:
    """Strongly connected components with no edge leaving them (Tarjan, iteratively).
    Every stuck node has a stuck successor, so each such component holds a cycle."""
    index: dict[Key, int] = {}
    low: dict[Key, int] = {}
    on_stack: set[Key] = set()
    stack: list[Key] = []
    component_of: dict[Key, int] = {}
    components: list[set[Key]] = []
    for root in edges:
        if root in index:
            continue
        work: list[tuple[Key, Iterator[Key]]] = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[Key] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    component_of[member] = len(components)
                    if member == node:
                        break
                components.append(component)
    for number, component in enumerate(components):
        if all(component_of[n] == number for k in component for n in edges[k]):
            yield component


def _shortest_cycle(edges: Mapping[Key, tuple[Key, ...]], component: set[Key],
                    first: Key) -> list[Key]:
    """The shortest way from ``first`` back to itself inside ``component``."""
    came_from: dict[Key, Key] = {}
    todo = deque([first])
    while todo:
        node = todo.popleft()
        for nxt in edges[node]:
            if nxt == first:
                path = [node]
                while path[-1] != first:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if nxt in component and nxt not in came_from:
                came_from[nxt] = node
                todo.append(nxt)
    raise AssertionError("a closed component always has a cycle")  # pragma: no cover


def check_loops(flows: Mapping[str, Flow], diags: Diagnostics) -> None:
    """One error per loop with no way out, at its earliest node, naming its nodes."""
    for loop in endless_loops(flows):
        one_flow = len({flow for flow, _ in loop.cycle + loop.also}) == 1

        def name(key: Key, one_flow: bool = one_flow, *, step: bool = True) -> str:
            node = flows[key[0]].nodes[key[1]]
            shown = key[1] if one_flow else f"{key[0]}.{key[1]}"
            if step and isinstance(node, CallNode):
                return f"{shown} (call: {node.subflow})"
            return shown

        first = loop.cycle[0]
        path = " -> ".join([*(name(k) for k in loop.cycle), name(first, step=False)])
        who = f"node {first[1]!r} loops" if len(loop.cycle) == 1 and not loop.also else \
            "these nodes loop"
        also = f" (and through {', '.join(name(k) for k in loop.also)})" if loop.also else ""
        diags.error(flows[first[0]].nodes[first[1]].mark,
                    f"{who} forever without asking the caller anything: {path}{also}; ask "
                    "something in the loop (a menu or an input) or give it a way out "
                    "(hangup, agent or return)")
