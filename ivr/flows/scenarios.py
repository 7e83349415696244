"""Golden scenarios: calls a hotline must keep answering the same way (``scenarios.yaml``).

Each scenario is a call (caller, dialled number, keys, a pinned time) and what must
happen (prompts heard in order, the outcome, the case's intent, lookup results). The
file is read with the flows' YAML-with-positions reader and checked against the
compiled flows and the prompt catalog, so every problem is one ``PATH:LINE:COL: error:``
line like the flows' own. Running them is :mod:`ivr.scenario_runner`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Protocol

from ivr.calls import Outcome
from ivr.clock import DEFAULT_TZ
from ivr.config.diagnostics import Diagnostic, Diagnostics, Mark, did_you_mean
from ivr.config.loader import YMap, YScalar, YSeq, YValue, load_yaml
from ivr.config.reader import Reader, describe
from ivr.flows.model import FlowSet
from ivr.lookups import LookupStatus
from ivr.phone import TransferStatus, not_phone_keys

#: What one scenario may say about the call it makes...
SETUP_KEYS = ("name", "flow", "caller", "dialled", "language", "at", "seeded_at", "keys",
              "patient", "transfers", "given")
#: ...and about what must happen.
EXPECT_KEYS = ("outcome", "prompts", "nodes", "intent", "queue", "lookups")
#: What ``defaults:`` may give every scenario.
DEFAULT_KEYS = ("flow", "caller", "dialled", "language", "at", "seeded_at", "patient")
TOP_KEYS = ("version", "defaults", "scenarios")
#: Every scenario needs these, from itself or ``defaults:``.
REQUIRED = ("caller", "dialled", "at")
#: How a simulated queue may answer; ``abandoned`` is the caller's doing (run out of keys).
TRANSFER_STATUSES = tuple(s.value for s in TransferStatus if s is not TransferStatus.ABANDONED)
#: Results ``given:`` may pretend: ``found`` needs data, which only the store has.
GIVEN_STATUSES = ("not_found", "error", "timeout")
#: More scenarios than this is a generated dump, not a test suite: refuse it rather than
#: keep a publish waiting for minutes while it runs.
MAX_SCENARIOS = 2_000


class PromptIds(Protocol):
    """What the reader needs from ``PromptCatalog``."""

    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, prompt_id: str) -> bool: ...

    def flow_prompt_ids(self) -> frozenset[str]: ...

    def word_ids(self) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Expect:
    """What must happen. Unset fields are not checked (``outcome`` is always set)."""

    outcome: Outcome
    prompts: tuple[str, ...] = ()
    """Prompt ids that must be heard in this order (others may come between)."""
    nodes: tuple[str, ...] = ()
    """``flow.node`` ids the call must pass in this order (others may come between)."""
    intent: str | None = None
    """The intent of the last case opened (the one the agent sees)."""
    queue: str | None = None
    """Key in the flows file's ``queues:`` of the last transfer."""
    lookups: Mapping[str, LookupStatus] = field(default_factory=lambda: MappingProxyType({}))
    """Lookup name -> status of its last run."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    mark: Mark
    """Where the scenario starts in its file (failures cite it)."""
    flow: str
    caller: str
    dialled: str
    at: datetime
    """The call's pinned time, in the hotline's time zone."""
    expect: Expect
    language: str | None = None
    keys: str = ""
    """As ``ivr simulate --keys``: groups per question, ``-`` silence, ``h`` hang up."""
    patient: bool = False
    seeded_at: datetime | None = None
    """When the demo data is made as if seeded (None: the earliest ``at`` that day)."""
    transfers: tuple[TransferStatus, ...] = ()
    """How successive transfers end; the ones past the list complete."""
    given: Mapping[str, LookupStatus] = field(default_factory=lambda: MappingProxyType({}))
    """Lookups that answer this status without asking the store (branches the demo
    data cannot reach: a database down, an account without bills)."""


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    path: str
    scenarios: tuple[Scenario, ...]

    def select(self, pattern: str | None) -> tuple[Scenario, ...]:
        """Scenarios whose name contains ``pattern`` (any case); all for None."""
        if not pattern:
            return self.scenarios
        needle = pattern.casefold()
        return tuple(s for s in self.scenarios if needle in s.name.casefold())

    def seed_time(self, scenario: Scenario) -> datetime:
        """When ``scenario``'s demo data is seeded: its ``seeded_at``, else the earliest
        ``at`` of that day in the whole file, so ``-k`` never changes what a call finds
        and one seeded database serves the day."""
        if scenario.seeded_at is not None:
            return scenario.seeded_at
        return min(s.at for s in self.scenarios
                   if s.seeded_at is None and s.at.date() == scenario.at.date())


def load_scenarios(
    text: str, path: str, *, flowset: FlowSet, catalog: PromptIds, lookups: Iterable[str]
) -> tuple[ScenarioFile | None, list[Diagnostic]]:
    """Read a scenarios file, checked against the compiled flows, the prompt catalog and
    the lookup names. Returns the file (None on any error) and every problem found."""
    root, problems = load_yaml(text, path, kind="scenarios file")
    if root is None:
        return None, problems
    parser = _Parser(path, flowset, catalog, frozenset(lookups))
    result = parser.file(root)
    return (None if parser.diags.failed else result), parser.diags.sorted()


Fields = dict[str, Any]


class _Parser:
    def __init__(self, path: str, flowset: FlowSet, catalog: PromptIds,
                 lookups: frozenset[str]) -> None:
        self.path = path
        self.flowset = flowset
        self.catalog = catalog
        self.lookups = lookups
        self.diags = Diagnostics()
        self.read = Reader(self.diags)
        self.written_defaults: set[str] = set()
        self.names: dict[str, Mark] = {}

    def file(self, root: YValue) -> ScenarioFile | None:
        top = self.read.mapping(root, "the scenarios file")
        if top is None:
            return None
        self.read.keys(top, TOP_KEYS, "the scenarios file")
        version = top.get("version")
        number = self.read.integer(version, "version", low=0, high=1000)
        if version is not None and number is not None and number != 1:
            self.diags.error(version.mark, f"version {number} is not supported "
                             "(this ivr reads version 1)")
        defaults: Fields = {}
        dmap = self.read.mapping(top.get("defaults"), "defaults")
        if dmap is not None:
            self.read.keys(dmap, DEFAULT_KEYS, "defaults")
            defaults = self.setup(dmap, DEFAULT_KEYS, "defaults")
            # A default written but wrong is reported once, not missed by every scenario.
            self.written_defaults = set(dmap.keys())
        listed = top.get("scenarios")
        if listed is None:
            self.diags.error(top.mark, "the file has no 'scenarios:' list")
            return None
        items = self.read.seq(listed, "scenarios")
        if items is None:
            return None
        if not items:
            self.diags.error(listed.mark, "'scenarios:' is empty: a test that checks nothing "
                             "proves nothing")
        if len(items) > MAX_SCENARIOS:
            self.diags.error(listed.mark, f"more than {MAX_SCENARIOS} scenarios")
            return None
        scenarios = [s for s in (self.scenario(item, defaults) for item in items) if s]
        return ScenarioFile(self.path, tuple(scenarios))

    # ---- one scenario ------------------------------------------------------------

    def scenario(self, item: YValue, defaults: Fields) -> Scenario | None:
        smap = self.read.mapping(item, "a scenario")
        if smap is None:
            return None
        name = self.read.text(smap.get("name"), "name")
        what = f"scenario {name!r}" if name else "a scenario"
        if name is not None and name in self.names:  # -k and failures name scenarios
            self.diags.error(smap.mark, f"duplicate scenario name {name!r} (first at line "
                             f"{self.names[name].line})")
        elif name is not None:
            self.names[name] = smap.mark
        self.read.keys(smap, (*SETUP_KEYS, *EXPECT_KEYS), what)
        if smap.get("name") is None:
            self.diags.error(smap.mark, "a scenario needs a 'name:'")
        fields = {**defaults, **self.setup(smap, SETUP_KEYS, what)}
        for key in REQUIRED:
            if key not in fields and smap.get(key) is None and key not in self.written_defaults:
                self.diags.error(smap.mark, f"{what} has no '{key}:' (give it here or in "
                                 "defaults)")
        expect = self.expect(smap, what, str(fields.get("flow", self.flowset.default_flow)))
        if not name or expect is None or any(k not in fields for k in REQUIRED):
            return None
        return Scenario(
            name=name, mark=smap.mark, flow=fields.get("flow", self.flowset.default_flow),
            caller=fields["caller"], dialled=fields["dialled"], at=fields["at"],
            expect=expect, language=fields.get("language"), keys=fields.get("keys", ""),
            patient=fields.get("patient", False), seeded_at=fields.get("seeded_at"),
            transfers=fields.get("transfers", ()),
            given=MappingProxyType(fields.get("given", {})),
        )

    def setup(self, m: YMap, allowed: tuple[str, ...], what: str) -> Fields:
        """The call's fields present in ``m`` and valid (problems are reported)."""
        readers = {
            "flow": self.flow, "caller": self.number, "dialled": self.number,
            "language": self.language, "at": self.instant, "seeded_at": self.instant,
            "keys": self.keys, "patient": self.read.boolean, "transfers": self.transfers,
            "given": self.given,
        }
        out: Fields = {}
        for key, value in m.items:
            name = str(key.value)
            if name in allowed and name in readers:
                parsed = readers[name](value, name)
                if parsed is not None:
                    out[name] = parsed
        return out

    def expect(self, m: YMap, what: str, flow: str) -> Expect | None:
        outcome_node = m.get("outcome")
        outcome = None
        if outcome_node is None:
            self.diags.error(m.mark, f"{what} has no 'outcome:' (self_served, transferred, "
                             "abandoned or failed)")
        else:
            outcome = self.choice(outcome_node, "outcome", [o.value for o in Outcome])
        prompts = self.words(m.get("prompts"), "prompts", self.check_prompt)
        nodes = self.words(m.get("nodes"), "nodes", lambda v, mark: self.node(v, mark, flow))
        intent = self.read.word(m.get("intent"), "intent")
        queue_node = m.get("queue")
        queue = self.read.word(queue_node, "queue")
        if queue is not None and queue_node is not None:
            queue = self.known(queue, self.queue_keys(), queue_node.mark, "queue")
        lookups = self.statuses(m.get("lookups"), "lookups", [s.value for s in LookupStatus])
        if outcome is None or prompts is None or nodes is None or lookups is None:
            return None
        if (m.get("intent") is not None and intent is None) or (
                queue_node is not None and queue is None):
            return None
        return Expect(Outcome(outcome), prompts, nodes, intent, queue,
                      MappingProxyType(lookups))

    # ---- fields --------------------------------------------------------------------

    def flow(self, value: YValue, what: str) -> str | None:
        name = self.read.word(value, what)
        if name is None:
            return None
        return self.known(name, self.flowset.flows, value.mark, "flow")

    def number(self, value: YValue, what: str) -> str | None:
        if isinstance(value, YScalar) and isinstance(value.value, int) \
                and not isinstance(value.value, bool):
            self.diags.error(value.mark, f"{what}: write the number in quotes: unquoted, YAML "
                             "reads it as a number (and drops leading zeros)")
            return None
        text = self.read.text(value, what)
        if text is None:
            return None
        if not text.isdigit() and text != "":
            self.diags.error(value.mark, f"{what} must be digits only, not {text!r}")
            return None
        return text

    def language(self, value: YValue, what: str) -> str | None:
        return self.choice(value, what, list(self.catalog.languages))

    def instant(self, value: YValue, what: str) -> datetime | None:
        raw = value.value if isinstance(value, YScalar) else None
        at: datetime | None = None
        if isinstance(raw, datetime):
            at = raw
        elif isinstance(raw, date):
            self.diags.error(value.mark, f"{what} needs a time of day too, like "
                             f"{raw.isoformat()}T10:00:00+07:00")
            return None
        elif isinstance(raw, str):
            try:
                at = datetime.fromisoformat(raw)
            except ValueError:
                at = None
        if at is None:
            self.diags.error(value.mark, f"{what} must be a date and time like "
                             f"2026-12-01T10:00:00+07:00, not {describe(value)}")
            return None
        # Without an offset the time is the hotline's own (opening hours are local).
        return at.replace(tzinfo=DEFAULT_TZ) if at.tzinfo is None else at.astimezone(DEFAULT_TZ)

    def keys(self, value: YValue, what: str) -> str | None:
        if isinstance(value, YScalar) and not isinstance(value.value, str):
            self.diags.error(value.mark, f"{what} must be text in quotes, like \"- 2 1\", not "
                             f"{describe(value)}")
            return None
        text = self.read.text(value, what)
        if text is None:
            return None
        for group in text.split():
            problem = not_phone_keys(group)
            if problem is not None:
                self.diags.error(value.mark, f"{what}: {problem}")
                return None
        return text

    def transfers(self, value: YValue, what: str) -> tuple[TransferStatus, ...] | None:
        items = self.read.seq(value, what)
        if items is None:
            return None
        out = [self.choice(item, what, list(TRANSFER_STATUSES)) for item in items]
        if any(s is None for s in out):
            return None
        return tuple(TransferStatus(s) for s in out if s is not None)

    def given(self, value: YValue, what: str) -> dict[str, LookupStatus] | None:
        return self.statuses(value, what, list(GIVEN_STATUSES), given=True)

    # ---- helpers -------------------------------------------------------------------

    def choice(self, value: YValue, what: str, allowed: list[str]) -> str | None:
        word = self.read.word(value, what)
        if word is None:
            return None
        if word not in allowed:
            self.diags.error(value.mark, f"{what} must be one of {', '.join(allowed)}, not "
                             f"{word!r}{did_you_mean(word, allowed)}")
            return None
        return word

    def known(self, name: str, choices: Iterable[str], mark: Mark, kind: str) -> str | None:
        names = sorted(choices)
        if name in names:
            return name
        hint = did_you_mean(name, names) or f" ({kind}s: {', '.join(names)})"
        self.diags.error(mark, f"unknown {kind} {name!r}{hint}")
        return None

    def queue_keys(self) -> set[str]:
        return {*self.flowset.queues, self.flowset.defaults.agent_queue}

    def statuses(self, value: YValue | None, what: str, allowed: list[str], *,
                 given: bool = False) -> dict[str, LookupStatus] | None:
        if value is None:
            return {}
        m = self.read.mapping(value, what)
        if m is None:
            return None
        out: dict[str, LookupStatus] = {}
        ok = True
        for key, status in m.items:
            lookup = self.known(str(key.value), self.lookups, key.mark, "lookup")
            if given and isinstance(status, YScalar) and status.value == "found":
                self.diags.error(status.mark, f"{what}: {key.value}: found cannot be given "
                                 "(what is found comes from the demo data): give not_found, "
                                 "error or timeout, or pick a caller the demo data finds")
                ok = False
                continue
            word = self.choice(status, f"{what}: {key.value}", allowed)
            if lookup is None or word is None:
                ok = False
                continue
            out[lookup] = LookupStatus(word)
        return out if ok else None

    def words(self, value: YValue | None, what: str,
              check: Callable[[str, Mark], str | None]) -> tuple[str, ...] | None:
        """A list of ids (a single one may stand alone), each checked by ``check``."""
        if value is None:
            return ()
        items: tuple[YValue, ...] = value.items if isinstance(value, YSeq) else (value,)
        out: list[str] = []
        ok = True
        for item in items:
            word = self.read.word(item, what)
            checked = None if word is None else check(word, item.mark)
            if checked is None:
                ok = False
            else:
                out.append(checked)
        return tuple(out) if ok else None

    def check_prompt(self, prompt_id: str, mark: Mark) -> str | None:
        if prompt_id in self.catalog.word_ids():
            self.diags.error(mark, f"{prompt_id!r} is a word of a spoken value: list the "
                             "prompt said before the value instead")
            return None
        if not self.catalog.has(prompt_id):
            hint = did_you_mean(prompt_id, self.catalog.flow_prompt_ids())
            self.diags.error(mark, f"unknown prompt {prompt_id!r}{hint}")
            return None
        return prompt_id

    def node(self, ref: str, mark: Mark, flow: str) -> str | None:
        """``node`` (in the scenario's flow) or ``flow.node``, as ``flow.node``."""
        flow_name, _, node_id = ref.rpartition(".")
        flow_name = flow_name or flow
        if flow_name not in self.flowset.flows:
            return self.known(flow_name, self.flowset.flows, mark, "flow")
        nodes = self.flowset.flows[flow_name].nodes
        if node_id not in nodes:
            self.diags.error(mark, f"unknown node {node_id!r} in flow {flow_name!r}"
                             f"{did_you_mean(node_id, nodes)}")
            return None
        return f"{flow_name}.{node_id}"


__all__ = ["Expect", "Scenario", "ScenarioFile", "load_scenarios"]
