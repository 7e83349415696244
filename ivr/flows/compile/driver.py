"""Compile a flows file into an immutable :class:`FlowSet`, collecting every problem.

``compile_flows`` never stops at the first error: it reports all of them, each as
``PATH:LINE:COL: error|warning: message``, and returns a FlowSet only when there is no
error. This is the top floor: it reads the file-wide sections (``sections``), every
flow's nodes (``nodes``, one row per node kind), then resolves the exits and runs the
checks that need every node (unreachable nodes, ``loops``). What they all share is in
``context``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from types import MappingProxyType

from ivr.config.diagnostics import Diagnostic, Diagnostics, Mark, did_you_mean
from ivr.config.loader import (
    MAX_NESTING_DEPTH,
    YMap,
    YScalar,
    YSeq,
    YValue,
    decode,
    load_yaml,
    size_problem,
)
from ivr.flows.compile.context import (
    Compiler,
    LookupSignature,
    LookupsLike,
    PromptIds,
    lookup_signatures,
)
from ivr.flows.compile.loops import check_loops
from ivr.flows.compile.nodes import compile_flow
from ivr.flows.compile.sections import read_defaults, read_hotlines, read_queues
from ivr.flows.model import AGENT, HANGUP, REPEAT, SPECIAL_TARGETS, Flow, FlowSet

TOP_KEYS = ("version", "defaults", "hotlines", "queues", "flows")
log = logging.getLogger(__name__)


def collect_variables(c: Compiler, value: YValue) -> None:
    """Pre-pass: every name a flow stores into becomes a known variable."""
    if isinstance(value, YSeq):
        for item in value.items:
            collect_variables(c, item)
    elif isinstance(value, YMap):
        lookup, store_as = value.get("lookup"), value.get("as")
        for key, val in value.items:
            if key.value == "store" and isinstance(val, YScalar):
                c.variables.add(str(val.value))
                c.shapes.add_open(str(val.value))
            elif key.value == "set" and isinstance(val, YMap):
                c.variables.update(str(k.value) for k, _ in val.items)
                for k, v in val.items:
                    if isinstance(v, YScalar) and not v.quoted and isinstance(v.value, str):
                        c.shapes.add_alias(str(k.value), v.value)
                    else:
                        c.shapes.add_open(str(k.value))
            collect_variables(c, val)
        name = store_as if isinstance(store_as, YScalar) else lookup
        if isinstance(name, YScalar):
            c.variables.add(str(name.value))
            sig = c.lookups.get(str(lookup.value)) if isinstance(lookup, YScalar) else None
            if sig is None:
                c.shapes.add_open(str(name.value))
            else:
                c.shapes.add_lookup(str(name.value), sig.returns, sig.not_found)


def compile_tree(c: Compiler, root: YValue, version: str) -> FlowSet | None:
    """The whole file, once loaded: sections, then every flow, then the checks that need
    every node."""
    top = c.read.mapping(root, "the flows file")
    if top is None:
        return None
    c.read.keys(top, TOP_KEYS, "the flows file")
    version_node = top.get("version")
    version_number = c.read.integer(version_node, "version", low=0, high=1000)
    if version_node is not None and version_number is not None and version_number != 1:
        c.diags.error(version_node.mark, f"version {version_number} is not supported "
                      "(this ivr reads version 1)")
    flows_node = c.read.mapping(top.get("flows"), "flows", dup_word="flow")
    if flows_node is None:
        if top.get("flows") is None:
            c.diags.error(top.mark, "the file has no 'flows:'")
        return None
    c.flow_names = set(flows_node.keys())
    collect_variables(c, flows_node)
    read_queues(c, top.get("queues"))
    defaults = read_defaults(c, top.get("defaults"))
    hotlines = read_hotlines(c, top.get("hotlines"))
    flows: dict[str, Flow] = {}
    for key, body in flows_node.items:
        flow = compile_flow(c, str(key.value), key.mark, body)
        if flow is not None:
            flows[flow.name] = flow
    resolve(c, flows)
    check_loops(flows, c.diags)
    warn_unreachable(c, flows)
    for prompt_id in sorted(c.engine_prompts):
        if not c.catalog.has(prompt_id):
            c.diags.error(top.mark, f"the prompts have no {prompt_id!r}, which the "
                          "engine plays (add it to the prompts file)")
    if c.diags.failed or not flows:
        return None
    default_flow = defaults[1] or ("hotline" if "hotline" in flows else next(iter(flows)))
    return FlowSet(
        version=version, path=c.path, flows=MappingProxyType(flows),
        default_flow=default_flow, defaults=defaults[0],
        hotlines=MappingProxyType(hotlines), queues=MappingProxyType(dict(c.queues)),
    )


def resolve(c: Compiler, flows: Mapping[str, Flow]) -> None:
    """Point every exit at its node; report targets that name none."""
    for p in c.pending:
        target = p.exit.target
        if target == REPEAT and p.allow_repeat:
            continue
        if target in SPECIAL_TARGETS - {REPEAT}:
            continue
        if p.flow is None:
            allowed = f"{AGENT}, {HANGUP} or repeat" if p.allow_repeat else \
                f"{AGENT} or {HANGUP}"
            c.diags.error(p.exit.mark, f"{p.node} can only go to {allowed}, "
                          f"not {target!r}")
            continue
        declared = c.declared.get(p.flow, set())
        if target in declared:
            flow = flows.get(p.flow)
            node = flow.nodes.get(target) if flow is not None else None
            if node is not None:
                # Completing the frozen Exit before anyone else sees it: menus loop
                # back to themselves, so targets cannot exist when exits are built.
                object.__setattr__(p.exit, "node", node)
            continue
        choices = declared | (SPECIAL_TARGETS - {REPEAT})
        elsewhere = sorted(f for f, ids in c.declared.items() if target in ids)
        hint = (f" (it is in flow {elsewhere[0]!r}: a flow goes only to its own nodes; "
                f"use a node with 'call: {elsewhere[0]}')") if elsewhere else \
            did_you_mean(target, choices)
        c.diags.error(p.exit.mark, f"node {p.node!r} goes to unknown node {target!r}"
                      f"{hint}")


def warn_unreachable(c: Compiler, flows: Mapping[str, Flow]) -> None:
    for flow in flows.values():
        if set(flow.nodes) != c.declared.get(flow.name, set()):
            continue  # a node that failed to compile hides its exits: no false alarms
        seen = {flow.start}
        todo = [flow.start]
        while todo:
            for target in c.edges.get((flow.name, todo.pop()), []):
                if target in c.declared.get(flow.name, ()) and target not in seen:
                    seen.add(target)
                    todo.append(target)
        # One warning per forgotten branch, not one per node: the nodes only an
        # unreached node leads to are counted in its warning (a typo in one target
        # would otherwise bury its error under a screenful of warnings).
        unreached = [n for n in flow.nodes if n not in seen]
        led_to = {t for n in unreached for t in c.edges.get((flow.name, n), []) if t != n}
        for node_id in sorted(unreached, key=lambda n: n in led_to):
            if node_id in seen:
                continue
            before, todo = len(seen), [node_id]
            while todo:
                for t in c.edges.get((flow.name, todo.pop()), []):
                    if t in flow.nodes and t not in seen and t != node_id:
                        seen.add(t)
                        todo.append(t)
            seen.add(node_id)
            more = len(seen) - before - 1
            after = "" if not more else ", nor is the 1 node after it" if more == 1 \
                else f", nor are the {more} nodes after it"
            c.diags.warning(flow.nodes[node_id].mark, f"node {node_id!r} is never "
                            f"reached (nothing in flow {flow.name!r} goes to it)"
                            f"{after}")


def compile_flows(
    data: bytes, path: str, *, catalog: PromptIds, lookups: LookupsLike
) -> tuple[FlowSet | None, list[Diagnostic]]:
    """Compile a flows file. Returns the FlowSet (None on any error) and all diagnostics.

    Never raises for what is in the file: whatever goes wrong is a diagnostic, so a bad
    file can neither crash ``ivr validate`` nor stop a server's reloads."""
    too_big = size_problem(len(data), path)
    if too_big is not None:
        return None, [too_big]
    try:
        return _compile(data, path, catalog, lookup_signatures(lookups))
    except RecursionError:
        # The loader's depth limit should make this unreachable; if a structure still
        # runs too deep, say so rather than crash.
        return None, [Diagnostics.single(Mark(path, 1, 1), "nested too deep to compile: a "
                                         "flows file may nest lists and mappings at most "
                                         f"{MAX_NESTING_DEPTH} levels")]
    except Exception as exc:  # a compiler bug: our fault, still one line for the supervisor
        log.error("%s: the flow compiler failed", path, exc_info=True)
        return None, [Diagnostics.single(Mark(path, 1, 1), "the flow compiler failed on this "
                                         f"file ({type(exc).__name__}: {exc}): this is a bug "
                                         "in ivr, please report it with the file")]


def _compile(data: bytes, path: str, catalog: PromptIds,
             lookups: Mapping[str, LookupSignature]) -> tuple[FlowSet | None, list[Diagnostic]]:
    version = hashlib.sha256(data).hexdigest()[:12]
    text, problems = decode(data, path)
    if text is None:
        return None, problems
    root, problems = load_yaml(text, path)
    if root is None:
        return None, problems
    compiler = Compiler(path, catalog, lookups)
    flowset = compile_tree(compiler, root, version)
    return flowset, compiler.diags.sorted()


__all__ = ["Compiler", "LookupSignature", "LookupsLike", "PromptIds", "compile_flows"]
