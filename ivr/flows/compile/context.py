"""The bottom floor of the flow compiler: what every node compiler shares.

:class:`Compiler` holds the state of one compile (diagnostics, known variables and their
shapes, queues, exits waiting to be resolved) and the helpers every node kind uses:
prompts (``check_prompt``, ``play_items``), values and variables (``value``,
``check_ref``), exits (``exit``). :class:`NodeContext` is one node being compiled. The
node compilers (``nodes``, ``questions``, ``sections``) import only this module; the
driver (``driver``) imports them and runs the file through them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ivr.config.diagnostics import Diagnostics, Mark, did_you_mean
from ivr.config.loader import YMap, YScalar, YSeq, YValue
from ivr.config.reader import Reader, describe
from ivr.flows.compile.shapes import Shapes
from ivr.flows.model import (
    AGENT,
    Assign,
    Defaults,
    Exit,
    Literal,
    PlayItem,
    PromptItem,
    Queue,
    Ref,
    SayItem,
    Value,
)
from ivr.lookups import NO_FIELDS, LookupRegistry, LookupSpec, Shape

#: Variables every call has before any node runs.
BUILTIN_VARIABLES = frozenset({"caller", "hotline", "language", "call", "result"})
#: Prompts the engine plays when an input reads the digits back.
READ_BACK_PROMPTS = ("you_entered", "confirm_entry")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class PromptTexts(Protocol):
    """A prompt of the catalog, as far as the compiler reads it."""

    @property
    def texts(self) -> Mapping[str, str]:
        """Language -> the prompt's text in it."""
        ...


class PromptIds(Protocol):
    """What the compiler needs from ``PromptCatalog``."""

    @property
    def SAY_KINDS(self) -> frozenset[str]:
        """The kinds ``say:`` can speak (number, money, date...)."""
        ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, prompt_id: str) -> bool: ...

    def ids(self) -> Iterable[str]:
        """Every prompt id, for "did you mean" on an unknown one."""
        ...

    def entry(self, prompt_id: str) -> PromptTexts:
        """A prompt that ``has`` said exists."""
        ...


@dataclass(frozen=True, slots=True)
class LookupSignature:
    """A lookup as the compiler checks it."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] | None = None
    """None when only the name is known: inputs are then not checked."""
    returns: Shape | None = None
    """The fields of its found value; None when not known (the variable is open)."""
    not_found: Shape = field(default_factory=lambda: NO_FIELDS)
    """The fields a not_found value carries."""


LookupsLike = LookupRegistry | Mapping[str, LookupSignature] | Iterable[str]


def lookup_signatures(lookups: LookupsLike) -> Mapping[str, LookupSignature]:
    """Normalise what callers have (a registry, a name set) to name -> signature."""
    if isinstance(lookups, LookupRegistry):
        return {n: _signature(lookups.spec(n)) for n in lookups.names()}
    if isinstance(lookups, Mapping):
        return dict(lookups)
    return {name: LookupSignature() for name in lookups}


def _signature(spec: LookupSpec) -> LookupSignature:
    return LookupSignature(spec.inputs, spec.optional_inputs, spec.returns,
                           spec.not_found_returns)


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
    lookups: Mapping[str, LookupSignature]
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
        self.say_kinds = self.catalog.SAY_KINDS
        self.defaults = Defaults()
        self.default_exhausted = Exit(AGENT, Mark(self.path, 1, 1))
        self.default_keys: dict[str, Exit] = {}

    # ---- values, prompts and exits shared by the node kinds ----------------------

    def check_prompt(self, prompt_id: str, mark: Mark) -> None:
        if not self.catalog.has(prompt_id):
            hint = did_you_mean(prompt_id, self.catalog.ids())
            self.diags.error(mark, f"unknown prompt {prompt_id!r}{hint}")
            return
        texts = self.catalog.entry(prompt_id).texts
        missing = [lang for lang in self.catalog.languages
                   if lang not in texts and prompt_id not in self.untranslated]
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


class NodeContext:
    """One node being compiled: its flow, id and mapping, and exits named by key."""

    def __init__(self, c: Compiler, flow: str, node_id: str, m: YMap) -> None:
        self.c, self.flow, self.id, self.m = c, flow, node_id, m
        self.what = f"node {node_id!r}"

    @property
    def mark(self) -> Mark:
        return self.m.mark

    def exit(self, key: str, *, required: bool = True, node: YValue | None = None,
             fallback: str | None = None) -> Exit | None:
        raw = node if node is not None else self.m.get(key)
        if raw is None and fallback is not None:
            raw = self.m.get(fallback)
        if raw is None:
            if required:
                hint = f"'{key}'" + (f" or '{fallback}'" if fallback else "")
                self.c.diags.error(self.mark, f"{self.what} has no way out: add {hint}")
            return None
        return self.c.exit(raw, self.flow, self.id, f"{self.what}: {key}")
