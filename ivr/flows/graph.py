"""A compiled flow as a Graphviz graph: its nodes and exits, with a period's traffic.

Pure: takes a :class:`~ivr.flows.model.Flow` and per-node figures
(:class:`~ivr.calls.NodeCounts`, counted by ``Store.node_traffic``) and returns DOT text;
rendering it (``dot -Tsvg``) is :mod:`ivr.graphviz`'s job. Every exit a node has is an
edge: ``next``, a menu's options, a lookup's ``found`` / ``not_found`` / ``error`` /
``timeout``, a branch's conditions and ``otherwise``, a transfer's ``on_timeout`` ...,
a question's "retries run out" and the flow-wide keys (``keys_everywhere``, dashed). The
special targets ``agent``, ``hangup`` and ``return`` are one node each; ``repeat`` (play
the question again) is not drawn. A lookup without ``error:`` apologises and hands the
call to an agent, and a transfer without ``next:`` ends the call: both are drawn dotted.

Each node shows its figures and is filled by drop-off (hung up there / reached), the
bands in :data:`DROP_OFF_BANDS`, explained by a legend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ivr.calls import NodeCounts
from ivr.flows.model import (
    AGENT,
    HANGUP,
    REPEAT,
    RETURN,
    AnyNode,
    CallNode,
    Exit,
    Flow,
    LookupNode,
    Question,
    TransferNode,
)

#: (upper bound of the drop-off rate, fill colour, legend text), lowest first.
DROP_OFF_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.05, "#c8e6c9", "drop-off under 5 %"),
    (0.15, "#fff59d", "5 to 15 %"),
    (0.30, "#ffcc80", "15 to 30 %"),
    (float("inf"), "#ef9a9a", "30 % or more"),
)
#: Fill of a node no call reached in the period.
NOT_REACHED = "#eeeeee"
#: The graph's own node names for the special targets (a flow's node ids are words, so
#: a name with brackets can never be one of them).
SPECIAL_NODES = {AGENT: "(agent)", HANGUP: "(hangup)", RETURN: "(return)"}
SPECIAL_LABELS = {AGENT: "agent queue", HANGUP: "hang up", RETURN: "return to caller flow"}
START = "(start)"
#: Field names of exits, as the edge label says them ("next" says nothing).
FIELD_LABELS = {"next": "", "not_found": "not found", "on_timeout": "timeout",
                "on_full": "queue full", "on_no_agents": "no agents", "otherwise": "otherwise"}


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    """A node id of the flow, or one of :data:`SPECIAL_NODES`' values."""
    labels: tuple[str, ...]
    style: str
    """``solid`` (the node's own exits), ``dashed`` (flow-wide keys), ``dotted`` (what the
    engine does when the flow says nothing)."""


def _target(exit_: Exit) -> str | None:
    if exit_.target == REPEAT:
        return None
    return SPECIAL_NODES.get(exit_.target, exit_.target)


def _exits(node: AnyNode) -> Iterator[tuple[str, Exit, str]]:
    """(label, exit, style) for every exit of ``node``, in field order."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Exit):
            yield FIELD_LABELS.get(f.name, f.name.replace("_", " ")), value, "solid"
        elif isinstance(value, Question):
            yield "retries run out", value.exhausted, "solid"
            for key, exit_ in value.keys.items():
                yield f"key {key}", exit_, "dashed"
        elif isinstance(value, Mapping):
            for key, exit_ in value.items():
                if isinstance(exit_, Exit):
                    yield str(key), exit_, "solid"
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Exit):
                    condition = getattr(item[0], "text", "")
                    yield f"when {condition}".strip(), item[1], "solid"


def _implicit(node: AnyNode) -> Iterator[tuple[str, str, str]]:
    """(label, target, style) of exits the engine takes when the flow names none."""
    if isinstance(node, LookupNode) and (node.error is None or node.timeout is None):
        yield "error (apology)", SPECIAL_NODES[AGENT], "dotted"
    if isinstance(node, TransferNode) and node.next is None:
        yield "after the agent", SPECIAL_NODES[HANGUP], "dotted"


def flow_edges(flow: Flow) -> list[Edge]:
    """Every edge of the flow; parallel exits with one target and style are one edge."""
    merged: dict[tuple[str, str, str], list[str]] = {}
    for node in flow.nodes.values():
        found: list[tuple[str, str, str]] = []
        for label, exit_, style in _exits(node):
            target = _target(exit_)
            if target is not None:
                found.append((label, target, style))
        found.extend(_implicit(node))
        for label, target, style in found:
            labels = merged.setdefault((node.id, target, style), [])
            if label and label not in labels:
                labels.append(label)
    return [Edge(src, dst, tuple(labels), style) for (src, dst, style), labels in merged.items()]


def band(counts: NodeCounts | None) -> str:
    """The fill colour for a node's drop-off."""
    rate = counts.drop_off if counts is not None else None
    if rate is None:
        return NOT_REACHED
    return next(colour for bound, colour, _ in DROP_OFF_BANDS if rate < bound)


def _q(text: str) -> str:
    """A DOT double-quoted string (escaped quotes and backslashes; ``\\n`` for lines)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def _kind(node: AnyNode) -> str:
    kind = type(node).__name__.removesuffix("Node").lower()
    if isinstance(node, CallNode):
        return f"{kind} {node.subflow}"
    if isinstance(node, LookupNode):
        return f"{kind} {node.lookup}"
    if isinstance(node, TransferNode):
        return f"{kind} {node.queue}"
    return kind


def node_label(node: AnyNode, counts: NodeCounts | None) -> str:
    lines = [node.id, _kind(node)]
    if counts is None or not counts.reached:
        lines.append("no calls")
    else:
        rate = counts.drop_off or 0.0
        lines.append(f"reached {counts.reached} · hung up {counts.hung_up} ({rate:.0%})")
        extra = []
        if counts.to_agent:
            extra.append(f"to agent {counts.to_agent}")
        if counts.failed_lookups:
            extra.append(f"failed lookups {counts.failed_lookups}")
        if extra:
            lines.append(" · ".join(extra))
    return "\n".join(lines)


def flow_dot(flow: Flow, counts: Mapping[str, NodeCounts], *, title: str = "") -> str:
    """The DOT text of ``flow`` with ``counts`` (node id -> figures; missing: no calls)."""
    edges = flow_edges(flow)
    out = [
        f"digraph {_q('flow ' + flow.name)} {{",
        f"  graph [rankdir=TB, labelloc=t, fontname=\"sans-serif\", "
        f"label={_q(title or 'flow ' + flow.name)}];",
        '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=10];',
        '  edge [fontname="sans-serif", fontsize=9, color="#555555"];',
        f'  {_q(START)} [shape=circle, label="", width=0.2, style=filled, fillcolor=black];',
    ]
    for node in flow.nodes.values():
        mine = counts.get(node.id)
        tooltip = f"{node.id} ({node.mark})"
        out.append(f"  {_q(node.id)} [label={_q(node_label(node, mine))}, "
                   f"fillcolor={_q(band(mine))}, tooltip={_q(tooltip)}];")
    used = {e.target for e in edges} & set(SPECIAL_NODES.values())
    for special, name in SPECIAL_NODES.items():
        if name in used:
            out.append(f"  {_q(name)} [label={_q(SPECIAL_LABELS[special])}, shape=ellipse, "
                       f'fillcolor="#ffffff"];')
    out.append(f"  {_q(START)} -> {_q(flow.start)};")
    for e in edges:
        attrs = [f"style={e.style}"]
        if e.labels:
            attrs.append(f"label={_q(', '.join(e.labels))}")
        out.append(f"  {_q(e.source)} -> {_q(e.target)} [{', '.join(attrs)}];")
    out += _legend()
    out.append("}")
    return "\n".join(out) + "\n"


def _legend() -> list[str]:
    """A boxed key to the colours and the edge styles."""
    rows = [(NOT_REACHED, "not reached")] + [(colour, text) for _, colour, text in
                                             DROP_OFF_BANDS]
    lines = ["  subgraph cluster_legend {",
             '    label="Legend: fill = hung up there / reached"; fontsize=10; '
             'color="#999999"; rank=sink;']
    names = []
    for i, (colour, text) in enumerate(rows):
        name = f"(legend {i})"
        names.append(name)
        lines.append(f"    {_q(name)} [label={_q(text)}, fillcolor={_q(colour)}];")
    styles = "solid: exit · dashed: key anywhere · dotted: when the flow says none"
    lines.append(f"    {_q('(legend edges)')} [label={_q(styles)}, shape=plaintext, style=\"\"];")
    names.append("(legend edges)")
    lines.append("    " + " -> ".join(_q(n) for n in names) + " [style=invis];")
    lines.append("  }")
    return lines
