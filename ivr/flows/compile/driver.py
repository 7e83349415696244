"""Compile a flows file into an immutable :class:`FlowSet`, collecting every problem.

``compile_flows`` never stops at the first error: it reports all of them, each as
``PATH:LINE:COL: error|warning: message``, and returns a FlowSet only when there is no
error. Node kinds are compiled in :mod:`ivr.flows.compile.nodes`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from ivr.config.diagnostics import Diagnostic, Diagnostics, Mark, did_you_mean
from ivr.config.loader import (
    MAX_NESTING_DEPTH,
    YMap,
    YScalar,
    YSeq,
    YValue,
    load_yaml,
    size_problem,
)
from ivr.config.reader import Reader, describe
from ivr.flows.compile.shapes import Shapes
from ivr.flows.model import (
    AGENT,
    HANGUP,
    REPEAT,
    SPECIAL_TARGETS,
    Assign,
    Defaults,
    Exit,
    Flow,
    FlowSet,
    Literal,
    PlayItem,
    PromptItem,
    Queue,
    Ref,
    SayItem,
    Value,
)
from ivr.lookups import ActionRegistry

#: What the prompts catalog promises for ``say:`` (``PromptCatalog.SAY_KINDS``).
DEFAULT_SAY_KINDS = frozenset({"number", "digits", "money", "date", "time", "datetime", "duration"})
#: Variables every call has before any node runs.
BUILTIN_VARIABLES = frozenset({"caller", "hotline", "language", "call", "result"})
#: Prompts the engine plays when an input reads the digits back.
READ_BACK_PROMPTS = ("you_entered", "confirm_entry")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
TOP_KEYS = ("version", "defaults", "hotlines", "queues", "flows")
log = logging.getLogger(__name__)


class PromptIds(Protocol):
    """What the compiler needs from ``PromptCatalog``."""

    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, prompt_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class ActionSignature:
    required: frozenset[str] = frozenset()
    optional: frozenset[str] | None = None
    """None when only the name is known: inputs are then not checked."""


ActionsLike = ActionRegistry | Mapping[str, ActionSignature] | Iterable[str]


def action_signatures(actions: ActionsLike) -> Mapping[str, ActionSignature]:
    """Normalise what callers have (a registry, a name set) to name -> signature."""
    if isinstance(actions, ActionRegistry):
        return {
            n: ActionSignature(actions.spec(n).inputs, actions.spec(n).optional_inputs)
            for n in actions.names()
        }
    if isinstance(actions, Mapping):
        return dict(actions)
    return {name: ActionSignature() for name in actions}


@dataclass
class PendingExit:
    exit: Exit
    flow: str | None
    """None for ``defaults`` exits, which may only use special targets."""
    node: str
    allow_repeat: bool = False


@dataclass
class Compiler:
    path: str
    catalog: PromptIds
    actions: Mapping[str, ActionSignature]
    diags: Diagnostics = field(default_factory=Diagnostics)
    variables: set[str] = field(default_factory=lambda: set(BUILTIN_VARIABLES))
    shapes: Shapes = field(default_factory=Shapes)
    flow_names: set[str] = field(default_factory=set)
    queues: dict[str, Queue] = field(default_factory=dict)
    pending: list[PendingExit] = field(default_factory=list)
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    engine_prompts: set[str] = field(default_factory=set)
    untranslated: set[str] = field(default_factory=set)
    """Prompts already warned about a missing language (one warning per prompt)."""
    declared: dict[str, set[str]] = field(default_factory=dict)
    """Node ids written in each flow, compiled or not (so one bad node is one error)."""

    def __post_init__(self) -> None:
        self.read = Reader(self.diags)
        self.say_kinds: frozenset[str] = getattr(self.catalog, "SAY_KINDS", DEFAULT_SAY_KINDS)
        self.defaults = Defaults()
        self.default_exhausted = Exit(AGENT, Mark(self.path, 1, 1))
        self.default_keys: dict[str, Exit] = {}

    # ---- values, prompts and exits shared by the node kinds ----------------------

    def check_prompt(self, prompt_id: str, mark: Mark) -> None:
        if not self.catalog.has(prompt_id):
            ids = getattr(self.catalog, "ids", None)
            hint = did_you_mean(prompt_id, ids()) if callable(ids) else ""
            self.diags.error(mark, f"unknown prompt {prompt_id!r}{hint}")
            return
        entry = getattr(self.catalog, "entry", None)
        texts = getattr(entry(prompt_id), "texts", None) if callable(entry) else None
        missing = [lang for lang in self.catalog.languages if texts is not None
                   and lang not in texts and prompt_id not in self.untranslated]
        if missing:  # the engine falls back to the default language: a caller hears it
            self.untranslated.add(prompt_id)
            self.diags.warning(mark, f"prompt {prompt_id!r} has no {'/'.join(missing)} text "
                               f"in the prompts file ({'/'.join(missing)} callers hear the "
                               f"{self.defaults.language} text instead)")

    def check_ref(self, path: str, mark: Mark, *, text_ok: bool = False) -> Ref | None:
        """``text_ok``: a quoted text could stand here (conditions), so say how."""
        if not _PATH.match(path):
            self.diags.error(mark, f"{path!r} is not a variable name like balance.amount_due")
            return None
        root = path.split(".", 1)[0]
        if root not in self.variables:
            quote = f' (quote it if you mean the text: "{path}")' if text_ok and root == path \
                else ""
            self.diags.error(
                mark, f"unknown variable {path!r}{did_you_mean(root, self.variables)}{quote}"
            )
            return None
        return self.checked_fields(Ref(path), mark)

    def checked_fields(self, ref: Ref, mark: Mark) -> Ref | None:
        problem = self.shapes.problem(ref.path)
        if problem is not None:
            self.diags.error(mark, f"unknown variable {ref.path!r}: {problem}")
            return None
        return ref

    def value(self, node: YValue, what: str) -> Value | None:
        """Plain words naming a known variable are references; anything else is literal."""
        if not isinstance(node, YScalar):
            self.diags.error(node.mark, f"{what} must be a single value, not {describe(node)}")
            return None
        raw = node.value
        if isinstance(raw, str) and not node.quoted and _PATH.match(raw):
            root = raw.split(".", 1)[0]
            if root in self.variables:
                return self.checked_fields(Ref(raw), node.mark)
            if "." in raw:  # a dotted path is a variable someone misspelt, not a text
                self.diags.error(node.mark, f"unknown variable {raw!r}"
                                 f"{did_you_mean(root, self.variables)} (quote it if you "
                                 "mean the text)")
                return None
        return Literal(raw)

    def play_items(self, node: YValue | None, what: str) -> tuple[PlayItem, ...]:
        if node is None:
            return ()
        entries = node.items if isinstance(node, YSeq) else (node,)
        items: list[PlayItem] = []
        for entry in entries:
            item = self.play_item(entry, what)
            if item is not None:
                items.append(item)
        return tuple(items)

    def play_item(self, node: YValue, what: str) -> PlayItem | None:
        if isinstance(node, YScalar):
            prompt_id = self.read.word(node, f"prompt in {what}")
            if prompt_id is None:
                return None
            self.check_prompt(prompt_id, node.mark)
            return PromptItem(prompt_id)
        m = self.read.mapping(node, f"prompt in {what}")
        if m is None:
            return None
        if len(m.items) != 1 or m.keys()[0] not in ("prompt", "say"):
            self.diags.error(m.mark, f"a prompt in {what} is a prompt id, {{prompt: id}} "
                             "or {say: {kind: variable}}")
            return None
        key, val = m.items[0]
        if key.value == "prompt":
            return self.play_item(val, what)
        say = self.read.mapping(val, f"say in {what}")
        if say is None:
            return None
        if len(say.items) != 1:
            self.diags.error(say.mark, f"say in {what} takes one kind, like "
                             "{money: balance.amount_due}")
            return None
        kind_key, ref_node = say.items[0]
        kind = str(kind_key.value)
        if kind not in self.say_kinds:
            kinds = ", ".join(sorted(self.say_kinds))
            self.diags.error(kind_key.mark, f"bad say kind {kind!r}: use one of {kinds}"
                             f"{did_you_mean(kind, self.say_kinds)}")
            return None
        path = self.read.text(ref_node, f"say {kind} in {what}")
        ref = self.check_ref(path, ref_node.mark) if path is not None else None
        return SayItem(kind, ref) if ref is not None else None

    def escalation(self, node: YValue | None, what: str) -> tuple[tuple[PlayItem, ...], ...]:
        if node is None:
            return ()
        entries = node.items if isinstance(node, YSeq) else (node,)
        return tuple(self.play_items(e, what) for e in entries)

    def assignments(self, node: YValue, what: str) -> tuple[Assign, ...]:
        m = self.read.mapping(node, what)
        if m is None:
            return ()
        out: list[Assign] = []
        for key, val in m.items:
            name = str(key.value)
            if not _NAME.match(name):
                self.diags.error(key.mark, f"{what}: {name!r} is not a variable name")
                continue
            if name in ("caller", "hotline", "call"):
                self.diags.error(key.mark, f"{what}: {name!r} is set by the call itself")
                continue
            value = self.value(val, f"{what}: {name}")
            if value is None:
                continue
            if name == "language" and isinstance(value, Literal):
                self.check_language(val, value.value)
            out.append(Assign(name, value))
        return tuple(out)

    def check_language(self, node: YValue, language: Any) -> None:
        if language not in self.catalog.languages:
            self.diags.error(node.mark, f"unknown language {language!r} (the prompts have "
                             f"{', '.join(self.catalog.languages)})")

    def exit(
        self, node: YValue | None, flow: str | None, owner: str, what: str,
        *, allow_repeat: bool = False,
    ) -> Exit | None:
        """A target: a node id, a special word, or {set:, prompt:, next:}."""
        if node is None:
            return None
        if isinstance(node, YScalar):
            target = self.read.word(node, what)
            if target is None:
                return None
            out = Exit(target, node.mark)
        else:
            m = self.read.mapping(node, what)
            if m is None:
                return None
            self.read.keys(m, ("set", "prompt", "next"), what)
            next_node = m.get("next")
            if next_node is None:
                self.diags.error(m.mark, f"{what} needs 'next' (where to go)")
                return None
            target = self.read.word(next_node, f"{what}: next")
            if target is None:
                return None
            assign = self.assignments(m.get("set") or YMap((), m.mark), f"{what}: set")
            prompts = self.play_items(m.get("prompt"), what)
            out = Exit(target, next_node.mark, assign, prompts)
        self.pending.append(PendingExit(out, flow, owner, allow_repeat))
        if flow is not None:
            self.edges.setdefault((flow, owner), []).append(out.target)
        return out

    # ---- the file ---------------------------------------------------------------

    def collect_variables(self, value: YValue) -> None:
        """Pre-pass: every name a flow stores into becomes a known variable."""
        if isinstance(value, YSeq):
            for item in value.items:
                self.collect_variables(item)
        elif isinstance(value, YMap):
            lookup, store_as = value.get("lookup"), value.get("as")
            for key, val in value.items:
                if key.value == "store" and isinstance(val, YScalar):
                    self.variables.add(str(val.value))
                    self.shapes.add_open(str(val.value))
                elif key.value == "set" and isinstance(val, YMap):
                    self.variables.update(str(k.value) for k, _ in val.items)
                    for k, v in val.items:
                        if isinstance(v, YScalar) and not v.quoted and isinstance(v.value, str):
                            self.shapes.add_alias(str(k.value), v.value)
                        else:
                            self.shapes.add_open(str(k.value))
                self.collect_variables(val)
            name = store_as if isinstance(store_as, YScalar) else lookup
            if isinstance(name, YScalar):
                self.variables.add(str(name.value))
                action = lookup.value if isinstance(lookup, YScalar) else None
                self.shapes.add_lookup(str(name.value), str(action))

    def compile(self, root: YValue, version: str) -> FlowSet | None:
        from ivr.flows.compile.loops import check_loops
        from ivr.flows.compile.nodes import compile_flow
        from ivr.flows.compile.sections import read_defaults, read_hotlines, read_queues

        top = self.read.mapping(root, "the flows file")
        if top is None:
            return None
        self.read.keys(top, TOP_KEYS, "the flows file")
        version_node = top.get("version")
        version_number = self.read.integer(version_node, "version", low=0, high=1000)
        if version_node is not None and version_number is not None and version_number != 1:
            self.diags.error(version_node.mark, f"version {version_number} is not supported "
                             "(this ivr reads version 1)")
        flows_node = self.read.mapping(top.get("flows"), "flows", dup_word="flow")
        if flows_node is None:
            if top.get("flows") is None:
                self.diags.error(top.mark, "the file has no 'flows:'")
            return None
        self.flow_names = set(flows_node.keys())
        self.collect_variables(flows_node)
        read_queues(self, top.get("queues"))
        defaults = read_defaults(self, top.get("defaults"))
        hotlines = read_hotlines(self, top.get("hotlines"))
        flows: dict[str, Flow] = {}
        for key, body in flows_node.items:
            flow = compile_flow(self, str(key.value), key.mark, body)
            if flow is not None:
                flows[flow.name] = flow
        self.resolve(flows)
        check_loops(flows, self.diags)
        self.warn_unreachable(flows)
        for prompt_id in sorted(self.engine_prompts):
            if not self.catalog.has(prompt_id):
                self.diags.error(top.mark, f"the prompts have no {prompt_id!r}, which the "
                                 "engine plays (add it to the prompts file)")
        if self.diags.failed or not flows:
            return None
        default_flow = defaults[1] or ("hotline" if "hotline" in flows else next(iter(flows)))
        return FlowSet(
            version=version, path=self.path, flows=MappingProxyType(flows),
            default_flow=default_flow, defaults=defaults[0],
            hotlines=MappingProxyType(hotlines), queues=MappingProxyType(dict(self.queues)),
        )

    # ---- after every node is known --------------------------------------------

    def resolve(self, flows: Mapping[str, Flow]) -> None:
        for p in self.pending:
            target = p.exit.target
            if target == REPEAT and p.allow_repeat:
                continue
            if target in SPECIAL_TARGETS - {REPEAT}:
                continue
            if p.flow is None:
                allowed = f"{AGENT}, {HANGUP} or repeat" if p.allow_repeat else \
                    f"{AGENT} or {HANGUP}"
                self.diags.error(p.exit.mark, f"{p.node} can only go to {allowed}, "
                                 f"not {target!r}")
                continue
            declared = self.declared.get(p.flow, set())
            if target in declared:
                flow = flows.get(p.flow)
                node = flow.nodes.get(target) if flow is not None else None
                if node is not None:
                    # Completing the frozen Exit before anyone else sees it: menus loop
                    # back to themselves, so targets cannot exist when exits are built.
                    object.__setattr__(p.exit, "node", node)
                continue
            choices = declared | (SPECIAL_TARGETS - {REPEAT})
            elsewhere = sorted(f for f, ids in self.declared.items() if target in ids)
            hint = (f" (it is in flow {elsewhere[0]!r}: a flow goes only to its own nodes; "
                    f"use a node with 'call: {elsewhere[0]}')") if elsewhere else \
                did_you_mean(target, choices)
            self.diags.error(p.exit.mark, f"node {p.node!r} goes to unknown node {target!r}"
                             f"{hint}")

    def warn_unreachable(self, flows: Mapping[str, Flow]) -> None:
        for flow in flows.values():
            if set(flow.nodes) != self.declared.get(flow.name, set()):
                continue  # a node that failed to compile hides its exits: no false alarms
            seen = {flow.start}
            todo = [flow.start]
            while todo:
                for target in self.edges.get((flow.name, todo.pop()), []):
                    if target in self.declared.get(flow.name, ()) and target not in seen:
                        seen.add(target)
                        todo.append(target)
            # One warning per forgotten branch, not one per node: the nodes only an
            # unreached node leads to are counted in its warning (a typo in one target
            # would otherwise bury its error under a screenful of warnings).
            unreached = [n for n in flow.nodes if n not in seen]
            led_to = {t for n in unreached for t in self.edges.get((flow.name, n), []) if t != n}
            for node_id in sorted(unreached, key=lambda n: n in led_to):
                if node_id in seen:
                    continue
                before, todo = len(seen), [node_id]
                while todo:
                    for t in self.edges.get((flow.name, todo.pop()), []):
                        if t in flow.nodes and t not in seen and t != node_id:
                            seen.add(t)
                            todo.append(t)
                seen.add(node_id)
                more = len(seen) - before - 1
                after = "" if not more else ", nor is the 1 node after it" if more == 1 \
                    else f", nor are the {more} nodes after it"
                self.diags.warning(flow.nodes[node_id].mark, f"node {node_id!r} is never "
                                   f"reached (nothing in flow {flow.name!r} goes to it)"
                                   f"{after}")


def compile_flows(
    data: bytes, path: str, *, catalog: PromptIds, actions: ActionsLike
) -> tuple[FlowSet | None, list[Diagnostic]]:
    """Compile a flows file. Returns the FlowSet (None on any error) and all diagnostics.

    Never raises for what is in the file: whatever goes wrong is a diagnostic, so a bad
    file can neither crash ``ivr validate`` nor stop a server's reloads."""
    too_big = size_problem(len(data), path)
    if too_big is not None:
        return None, [too_big]
    try:
        return _compile(data, path, catalog, action_signatures(actions))
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
             actions: Mapping[str, ActionSignature]) -> tuple[FlowSet | None, list[Diagnostic]]:
    version = hashlib.sha256(data).hexdigest()[:12]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Diagnostics.single(Mark(path, 1, exc.start + 1),
                                         "the file is not UTF-8 text")]
    root, problems = load_yaml(text, path)
    if root is None:
        return None, problems
    compiler = Compiler(path, catalog, actions)
    flowset = compiler.compile(root, version)
    return flowset, compiler.diags.sorted()


__all__ = ["ActionSignature", "Compiler", "compile_flows", "known_actions"]


def known_actions() -> ActionRegistry:
    """The action names and inputs flows may use, for validation without a database.

    ``build_actions`` only wires functions to a store; none runs here, so no store is
    needed to read the names and input specs.
    """
    from typing import cast

    from ivr.store.lookups import build_actions

    return build_actions(cast(Any, None))
