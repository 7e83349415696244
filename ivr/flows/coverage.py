"""Which nodes and exits of a flows file a set of calls never reached.

The exits counted are those a call's record tells apart: menu options, lookup results
(``error``/``timeout`` where the node has its own exit for them), opening-hours states
and a transfer node's ``on_timeout``/``on_full``/``on_no_agents``. Branch cases are
proved by the nodes they lead to. An unreached node's exits are not listed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ivr.config.diagnostics import Mark
from ivr.flows.model import (
    AnyNode,
    Exit,
    FlowSet,
    HoursNode,
    HoursState,
    LookupNode,
    MenuNode,
    TransferNode,
)
from ivr.flows.scenario_report import Heard
from ivr.lookups import LookupStatus
from ivr.phone import TransferStatus


@dataclass(frozen=True, slots=True, order=True)
class Unreached:
    mark: Mark
    what: str

    def __str__(self) -> str:
        return f"{self.mark}: {self.what}"


@dataclass(frozen=True, slots=True)
class Coverage:
    nodes: int
    nodes_reached: int
    exits: int
    exits_taken: int
    unreached: tuple[Unreached, ...]
    """Sorted by position in the flows file."""

    @property
    def complete(self) -> bool:
        return not self.unreached

    def summary(self) -> str:
        return (f"coverage: {self.nodes_reached} of {self.nodes} nodes reached, "
                f"{self.exits_taken} of {self.exits} exits taken")


def _exits(node: AnyNode) -> Iterator[tuple[str, str, Exit]]:
    """(kind, key, exit) for every exit of ``node`` the coverage tells apart."""
    if isinstance(node, MenuNode):
        for key, out in node.options.items():
            yield "menu", f"option {key}", out
    elif isinstance(node, LookupNode):
        yield "lookup", LookupStatus.FOUND.value, node.found
        yield "lookup", LookupStatus.NOT_FOUND.value, node.not_found
        if node.error is not None:
            yield "lookup", LookupStatus.ERROR.value, node.error
        if node.timeout is not None:
            yield "lookup", LookupStatus.TIMEOUT.value, node.timeout
    elif isinstance(node, HoursNode):
        for state, out in ((HoursState.OPEN, node.open), (HoursState.CLOSED, node.closed),
                           (HoursState.HOLIDAY, node.holiday)):
            yield "hours", state.value, out
    elif isinstance(node, TransferNode):
        for key, maybe in (("on_timeout", node.on_timeout), ("on_full", node.on_full),
                           ("on_no_agents", node.on_no_agents)):
            if maybe is not None:
                yield "transfer", key, maybe


_TRANSFER_EXIT = {TransferStatus.TIMEOUT.value: "on_timeout", TransferStatus.FULL.value: "on_full",
                  TransferStatus.NO_AGENTS.value: "on_no_agents"}


def _taken(heard: Heard, flowset: FlowSet) -> set[tuple[str, str]]:
    """(``flow.node``, exit key) for every exit ``heard`` took."""
    taken = {(node, f"option {keys}") for node, keys in heard.answers}
    for node, _action, status in heard.lookups:
        key = status.value
        found = _node(flowset, node)
        if status is LookupStatus.TIMEOUT and isinstance(found, LookupNode) \
                and found.timeout is None:
            key = LookupStatus.ERROR.value  # a timeout without its own exit takes error's
        taken.add((node, key))
    taken.update(heard.hours)
    taken.update((t.node, _TRANSFER_EXIT[t.status]) for t in heard.transfers
                 if t.status in _TRANSFER_EXIT)
    return taken


def _node(flowset: FlowSet, ref: str) -> AnyNode | None:
    flow, _, node = ref.partition(".")
    return flowset.flows[flow].nodes.get(node) if flow in flowset.flows else None


def coverage(flowset: FlowSet, calls: Iterable[Heard]) -> Coverage:
    """What of ``flowset`` the ``calls`` never reached."""
    reached: set[str] = set()
    taken: set[tuple[str, str]] = set()
    for heard in calls:
        reached.update(heard.path)
        taken |= _taken(heard, flowset)
    unreached: list[Unreached] = []
    nodes = exits = exits_taken = 0
    for flow in flowset.flows.values():
        for node in flow.nodes.values():
            ref = f"{flow.name}.{node.id}"
            nodes += 1
            if ref not in reached:
                unreached.append(Unreached(node.mark, f"node {ref} never reached"))
            for kind, key, out in _exits(node):
                exits += 1
                if (ref, key) in taken:
                    exits_taken += 1
                elif ref in reached:
                    unreached.append(Unreached(out.mark, f"{kind} {ref}: {key} never taken"))
    return Coverage(nodes, len(reached & _all_refs(flowset)), exits, exits_taken,
                    tuple(sorted(unreached)))


def _all_refs(flowset: FlowSet) -> set[str]:
    return {f"{f.name}.{n}" for f in flowset.flows.values() for n in f.nodes}


__all__ = ["Coverage", "Unreached", "coverage"]
