"""Reading a call's recorded path against the flows it ran: what the caller came for,
and which nodes ask a question whose answer a lookup records (the survey).

Paths are the call records' JSON: ``[{"flow": ..., "node": ..., "at": ...}, ...]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ivr.flows.model import AnyNode, Exit, FlowSet, InputNode, LookupNode, MenuNode, Question


def node_exits(node: AnyNode) -> Iterator[Exit]:
    """Every exit of ``node``, of any kind: its fields are searched for exits, so a new
    node kind needs nothing here."""
    for f in dataclasses.fields(node):
        yield from _exits_in(getattr(node, f.name))


def _exits_in(value: Any) -> Iterator[Exit]:
    if isinstance(value, Exit):
        yield value  # not into its fields: ``node`` is the target, not an exit of ours
    elif isinstance(value, Question):
        yield from _exits_in(value.keys)
        yield value.exhausted
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _exits_in(item)
    elif isinstance(value, tuple):
        for item in value:
            yield from _exits_in(item)


def questions_recorded_by(flowset: FlowSet, lookup: str) -> frozenset[tuple[str, str]]:
    """``(flow, node)`` of every question (menu or input) with an exit straight to a
    lookup node named ``lookup``: for ``record_survey``, the survey's question, so a call
    whose path has it was offered the survey."""
    found = set()
    for flow in flowset.flows.values():
        for node in flow.nodes.values():
            if not isinstance(node, MenuNode | InputNode):
                continue
            for out in node_exits(node):
                target = flow.nodes.get(out.target)
                if isinstance(target, LookupNode) and target.lookup == lookup:
                    found.add((flow.name, node.id))
    return frozenset(found)


def reached(path: Sequence[Mapping[str, Any]], nodes: frozenset[tuple[str, str]]) -> bool:
    return any((str(s.get("flow", "")), str(s.get("node", ""))) in nodes for s in path)


def first_choice(flowset: FlowSet, path: Sequence[Mapping[str, Any]]) -> str:
    """What the caller came for: the node a menu sent them to and that they never came
    back from to that menu (a language switch or a "repeat" returns to it, so it is not
    the choice). ``""`` when the call made no menu choice."""
    steps = [(str(s.get("flow", "")), str(s.get("node", ""))) for s in path]
    for i, (flow_name, node_id) in enumerate(steps[:-1]):
        flow = flowset.flows.get(flow_name)
        if flow is None or not isinstance(flow.nodes.get(node_id), MenuNode):
            continue
        if (flow_name, node_id) in steps[i + 1:]:
            continue  # came back to this menu: not the choice that took the call on
        return steps[i + 1][1]
    return ""
