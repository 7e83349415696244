"""The compiled flow: immutable objects the engine runs. Never a raw dict.

Targets are resolved and checked at compile time: an :class:`Exit` names a node that
exists in its flow (or a special target), so the engine looks it up without checks.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from ivr.config.diagnostics import Mark
from ivr.flows.conditions import Condition

#: Special targets every exit may use besides a node id of its own flow.
AGENT = "agent"
"""Hand the call to the default agent queue with the case so far."""
RETURN = "return"
"""End a sub-flow and continue after the ``call`` node (ends the call at top level)."""
HANGUP = "hangup"
REPEAT = "repeat"
"""Only in ``keys_everywhere``: play the current question again."""
SPECIAL_TARGETS = frozenset({AGENT, RETURN, HANGUP, REPEAT})


@dataclass(frozen=True, slots=True)
class Ref:
    """A variable reference such as ``balance.amount_due``."""

    path: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


Value = Ref | Literal


@dataclass(frozen=True, slots=True)
class Assign:
    name: str
    value: Value


@dataclass(frozen=True, slots=True)
class PromptItem:
    prompt_id: str


@dataclass(frozen=True, slots=True)
class SayItem:
    kind: str
    """One of the catalog's say kinds: money, number, digits, date, time, datetime, duration."""
    ref: Ref


PlayItem = PromptItem | SayItem


@dataclass(frozen=True, slots=True)
class Exit:
    """Where to go next, optionally after setting variables and playing prompts."""

    target: str
    mark: Mark
    assign: tuple[Assign, ...] = ()
    prompts: tuple[PlayItem, ...] = ()
    node: AnyNode | None = field(default=None, compare=False, repr=False)
    """The target node itself, filled in by the compiler once every node exists (flows
    loop back on themselves, so it cannot be passed in). None for special targets."""


@dataclass(frozen=True, slots=True)
class Question:
    """What menus and inputs share: prompts, timeouts, retries and escalation."""

    prompt: tuple[PlayItem, ...]
    reprompt: tuple[PlayItem, ...]
    no_input: tuple[tuple[PlayItem, ...], ...]
    """Escalating prompts: the k-th no-input plays entry k (the last one repeats)."""
    no_match: tuple[tuple[PlayItem, ...], ...]
    retries: int
    exhausted: Exit
    timeout: float
    inter_digit_timeout: float
    keys: Mapping[str, Exit]
    """Flow-wide keys (``keys_everywhere``) minus the ones this question uses itself."""
    barge_in: bool = True


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    flow: str
    mark: Mark


@dataclass(frozen=True, slots=True)
class PlayNode(Node):
    items: tuple[PlayItem, ...]
    next: Exit
    keys: Mapping[str, Exit] = field(default_factory=dict)
    """Flow-wide keys (``keys_everywhere``) that stop the prompt and take their exit
    (``0`` to an agent during a 20 s balance reading, ``*`` to hear it again); empty
    when the node says ``interruptible: false`` (a legal notice plays to its end)."""
    interruptible: bool = True


@dataclass(frozen=True, slots=True)
class MenuNode(Node):
    question: Question
    options: Mapping[str, Exit]


@dataclass(frozen=True, slots=True)
class InputNode(Node):
    question: Question
    min_digits: int
    max_digits: int
    terminator: str
    pattern: re.Pattern[str] | None
    store: str
    read_back: bool
    sensitive: bool
    """Mask the digits in call records and cases: true unless the flow says ``keep: clear``."""
    next: Exit


@dataclass(frozen=True, slots=True)
class LookupNode(Node):
    lookup: str
    """The lookup's name (``lookup: balance``)."""
    inputs: tuple[tuple[str, Value], ...]
    store_as: str
    found: Exit
    not_found: Exit
    error: Exit | None
    """None: apologise and hand over to an agent with the failure on the case."""
    timeout: Exit | None
    """None: same as ``error``."""


@dataclass(frozen=True, slots=True)
class BranchNode(Node):
    cases: tuple[tuple[Condition, Exit], ...]
    otherwise: Exit


@dataclass(frozen=True, slots=True)
class SetNode(Node):
    assign: tuple[Assign, ...]
    next: Exit


@dataclass(frozen=True, slots=True)
class GotoNode(Node):
    next: Exit


@dataclass(frozen=True, slots=True)
class CallNode(Node):
    subflow: str
    next: Exit


@dataclass(frozen=True, slots=True)
class LanguageNode(Node):
    language: str
    next: Exit


@dataclass(frozen=True, slots=True)
class OpeningHours:
    weekly: tuple[tuple[tuple[time, time], ...], ...]
    """Seven entries, Monday first: the open intervals of that weekday (local time)."""
    holidays: str | None
    """Country code of the public-holiday calendar (``VN``), or None to ignore holidays."""


class HoursState(enum.Enum):
    """Which exit of an ``hours`` node a moment takes."""

    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"


@dataclass(frozen=True, slots=True)
class HoursNode(Node):
    hours: OpeningHours
    open: Exit
    closed: Exit
    holiday: Exit


@dataclass(frozen=True, slots=True)
class TransferNode(Node):
    queue: str
    """Key in the file's ``queues:``."""
    priority: int | None
    reason: str
    on_timeout: Exit | None
    on_full: Exit | None
    on_no_agents: Exit | None
    next: Exit | None
    """Where to go when the agent has finished (``None``: end the call)."""


@dataclass(frozen=True, slots=True)
class HangupNode(Node):
    items: tuple[PlayItem, ...]


@dataclass(frozen=True, slots=True)
class RecordNode(Node):
    """Record the caller's words (a hazard described, a complaint) for the case."""

    prompt: tuple[PlayItem, ...]
    max_seconds: float
    silence_seconds: int
    """Seconds of silence that end it; 0: only a finish key or the maximum length."""
    finish_keys: str
    beep: bool
    retries: int
    """Tries when nothing was said, before ``on_silence``."""
    no_input: tuple[tuple[PlayItem, ...], ...]
    next: Exit
    on_silence: Exit
    """Nothing said ``retries`` times (or the channel cannot record): default ``next``."""


AnyNode = (
    PlayNode
    | MenuNode
    | InputNode
    | LookupNode
    | BranchNode
    | SetNode
    | GotoNode
    | CallNode
    | LanguageNode
    | HoursNode
    | TransferNode
    | HangupNode
    | RecordNode
)


@dataclass(frozen=True, slots=True)
class Queue:
    key: str
    name: str
    """The Asterisk queue name."""
    priority: int = 0
    max_wait: float | None = None
    when_full: str = "hangup"
    """``offer_callback`` or ``hangup``: what happens when nobody answers in time."""


@dataclass(frozen=True, slots=True)
class Hotline:
    number: str
    corporation: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Defaults:
    language: str = "vi"
    timeout: float = 5.0
    inter_digit_timeout: float = 3.0
    retries: int = 3
    agent_queue: str = "agents"
    no_input: tuple[tuple[PlayItem, ...], ...] = ()
    no_match: tuple[tuple[PlayItem, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, AnyNode]
    mark: Mark


@dataclass(frozen=True, slots=True)
class FlowSet:
    """One compiled flows file. Calls hold on to the FlowSet they started with."""

    version: str
    """Short sha256 of the file's bytes; every call record names it."""
    path: str
    flows: Mapping[str, Flow]
    default_flow: str
    defaults: Defaults
    hotlines: Mapping[str, Hotline]
    queues: Mapping[str, Queue]

    def flow(self, name: str) -> Flow:
        """The named flow, or the default flow for an unknown name."""
        return self.flows.get(name) or self.flows[self.default_flow]
