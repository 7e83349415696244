"""The Channel: the only thing the flow engine knows about telephony.

FastAGI, classic AGI, the browser softphone, the simulator and the test doubles each
implement :class:`Channel`. The engine never sees AGI commands, websockets or sockets;
it asks a channel to play prompts, to gather keys, to set a variable, to hand the call
to a queue and to hang up. A caller who hangs up surfaces as :class:`CallerHungUp` from
whichever of those calls was in flight (or the next one).

Collecting digits is written once, in :func:`ask_with_keys`, on top of two primitive
operations (``play`` with escape digits and ``wait_digit``), so every channel that can
offer those primitives gets identical timeout and barge-in behaviour.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ivr.errors import IvrError

# Re-exported: the keys and transfer outcomes are the phone's words (ivr/phone.py), which
# the flow language shares without importing the channels.
from ivr.phone import ALL_KEYS as ALL_KEYS
from ivr.phone import TransferResult as TransferResult
from ivr.phone import TransferStatus as TransferStatus


class CallerHungUp(IvrError):
    """The caller hung up. An expected outcome of a call, not an error."""


class ChannelError(IvrError):
    """The channel broke in a way that is not a caller hang-up (peer garbage, I/O)."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the telephony side tells us about a call when it starts."""

    call_id: str
    """Unique id of the call leg (Asterisk ``agi_uniqueid``)."""
    caller: str
    """Caller's number as digits, ``""`` when withheld or unknown."""
    dialled: str
    """The hotline number the caller dialled (``""`` when unknown)."""
    flow: str
    """Name of the flow the telephony side asked for (FastAGI URL path)."""
    channel_name: str = ""
    language: str | None = None
    caller_name: str = ""
    args: tuple[str, ...] = ()
    synthetic: bool = False
    """A load-test call (``ivr loadtest`` asks ``agi://host/flow?synthetic=1``): its
    record and case are marked so that reports leave them out."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """One piece of audio, resolved from the catalog for one language."""

    id: str
    language: str
    text: str
    """What the prompt says: printed by the simulator, shown beside audio in the browser."""
    file: str
    """Asterisk sound file name without extension, e.g. ``ivr/vi/main_menu``."""


@dataclass(frozen=True, slots=True)
class DigitSpec:
    """How to gather keys for one question."""

    max_digits: int = 1
    terminator: str = ""
    """Key that ends the entry early (e.g. ``#``); never part of the digits."""
    first_timeout: float = 5.0
    """Seconds to wait for the first key once the prompt has finished."""
    inter_digit_timeout: float = 3.0
    """Seconds to wait for each following key."""
    barge_in: bool = True
    """Whether a key pressed during the prompt counts (and stops the prompt)."""


class EndedBy(enum.Enum):
    """Why a digit entry ended."""

    MAX_DIGITS = "max_digits"
    TERMINATOR = "terminator"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Entry:
    """What the caller keyed for one question."""

    digits: str
    ended_by: EndedBy

    @property
    def empty(self) -> bool:
        return self.digits == ""


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """Hand the caller to a queue (or a named agent) with the case attached."""

    queue: str
    case_id: str
    priority: int = 0
    timeout: float | None = None
    """Seconds the caller may wait in the queue before the flow takes over again."""
    agent: str | None = None
    """Dial this agent interface directly instead of a queue (e.g. ``PJSIP/1001``)."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """Channel variables to set before the transfer (beyond the case id)."""


class RecordEnd(enum.Enum):
    """Why a recording ended."""

    KEY = "key"
    """The caller pressed a finish key (``#``)."""
    TIMEOUT = "timeout"
    """Silence after speech, or the maximum length (Asterisk says ``(timeout)`` for both)."""
    FAILED = "failed"
    """Nothing could be recorded (Asterisk could not write the file; a channel that
    cannot record)."""


@dataclass(frozen=True, slots=True)
class RecordRequest:
    """Record the caller's words to a file, as ``RECORD FILE`` does."""

    path: str
    """Where the file goes, without extension, as the recording side sees it (Asterisk
    writes it on its own host: a directory shared with ivr, docs/asterisk.md)."""
    format: str = "wav"
    """Asterisk format; ``wav`` is 8 kHz 16-bit PCM, which browsers play as it is."""
    finish_keys: str = "#"
    max_seconds: float = 60.0
    silence_seconds: int = 3
    """Whole seconds of silence that end the recording; 0: no silence detection."""
    beep: bool = True


@dataclass(frozen=True, slots=True)
class RecordResult:
    ended_by: RecordEnd
    seconds: float = 0.0
    """Length of what was kept (Asterisk's ``endpos`` at 8 kHz)."""
    key: str | None = None
    file: str | None = None
    """The file written (path with extension), None when nothing was written."""
    detail: str = ""
    """Why it failed, for the case (``writefile``)."""


@runtime_checkable
class Recorder(Protocol):
    """A channel that can record the caller (FastAGI, classic AGI, the simulator).

    Apart from :class:`Channel` so that a channel without a microphone path needs no
    stub: the ``record`` node goes on as if nothing was said, with a note on the case."""

    async def record(self, request: RecordRequest) -> RecordResult:
        """Play the beep (if asked), record until a finish key, silence or the maximum
        length. Raises :class:`CallerHungUp` if the caller hangs up."""
        ...


@runtime_checkable
class Channel(Protocol):
    """A live call, as the engine sees it."""

    @property
    def info(self) -> CallInfo: ...

    @property
    def kind(self) -> str:
        """What carries the call: ``fastagi``, ``agi`` (classic), ``softphone`` or
        ``simulator``; the call record's ``channel``."""
        ...

    async def play(self, prompts: Sequence[Prompt], *, escape: str = "") -> str | None:
        """Play prompts in order; return the escape key that interrupted them, or None.

        Raises :class:`CallerHungUp` if the caller hangs up.
        """
        ...

    async def ask(self, prompts: Sequence[Prompt], spec: DigitSpec) -> Entry:
        """Play prompts (interruptible per ``spec.barge_in``) and gather keys per spec."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Set the case variables and run the queue; return when the caller is back."""
        ...

    async def hangup(self) -> None:
        """Hang up the call. Idempotent; never raises :class:`CallerHungUp`."""
        ...


class KeyChannel(Protocol):
    """The two primitives :func:`ask_with_keys` builds a question from."""

    async def play(self, prompts: Sequence[Prompt], *, escape: str = "") -> str | None: ...

    async def wait_digit(self, timeout: float) -> str | None:
        """Wait up to ``timeout`` seconds for one key; None on timeout."""
        ...


async def ask_with_keys(channel: KeyChannel, prompts: Sequence[Prompt], spec: DigitSpec) -> Entry:
    """Gather an entry with separate first-key and inter-key timeouts.

    Asterisk's ``GET DATA`` uses one timeout for the first key and between keys, which
    forces callers to wait or press ``#`` (a common complaint); composing ``STREAM FILE``
    with escape digits and ``WAIT FOR DIGIT`` gives both timeouts exactly.
    """
    if spec.max_digits < 1:
        raise ValueError("max_digits must be at least 1")
    escape = ALL_KEYS if spec.barge_in else ""
    digits = ""
    key = await channel.play(prompts, escape=escape) if prompts else None
    timeout = spec.first_timeout
    while True:
        if key is None:
            key = await channel.wait_digit(timeout)
            if key is None:
                return Entry(digits, EndedBy.TIMEOUT)
        if spec.terminator and key == spec.terminator:
            return Entry(digits, EndedBy.TERMINATOR)
        digits += key
        if len(digits) >= spec.max_digits:
            return Entry(digits, EndedBy.MAX_DIGITS)
        key = None
        timeout = spec.inter_digit_timeout
