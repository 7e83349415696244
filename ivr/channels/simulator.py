"""A Channel without telephony: scripted or typed keys, prompts as text.

``ivr simulate`` and the engine tests run calls through :class:`SimulatorChannel`.
Keys come in groups, one group per question: ``"1 01000123456# -"`` answers three
questions (``-`` is silence until the timeout, ``h`` hangs up). When the groups run out
the caller hangs up. A *patient* caller waits for each prompt to finish before keying;
an *impatient* one barges in with the first key; both must reach the same result.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ivr.channels.channel import (
    CallerHungUp,
    CallInfo,
    DigitSpec,
    Entry,
    Prompt,
    RecordEnd,
    RecordRequest,
    RecordResult,
    TransferRequest,
    TransferResult,
    TransferStatus,
    ask_with_keys,
)
from ivr.phone import HANGUP_KEY, SILENCE, not_phone_keys

Event = dict[str, Any]


class KeySource(Protocol):
    async def next_group(self) -> str | None:
        """The keys for the next question (``""`` = silence), or None: the caller hangs up."""
        ...


class ScriptedKeys:
    def __init__(self, script: str | Sequence[str]) -> None:
        groups = script.split() if isinstance(script, str) else list(script)
        self._groups = list(groups)

    async def next_group(self) -> str | None:
        if not self._groups:
            return None
        group = self._groups.pop(0)
        if group == HANGUP_KEY:
            self._groups.clear()
            return None
        return "" if group == SILENCE else group


class TerminalKeys:
    """Reads one line of keys per question from a terminal (or any text stream)."""

    def __init__(
        self,
        read_line: Callable[[], str] | None = None,
        *,
        read_line_async: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """``read_line`` runs in a thread; ``read_line_async`` (which wins) in the loop,
        so that cancelling the call (Ctrl-C) does not wait for a thread stuck reading."""
        self._read_line = read_line or (lambda: input("keys (- silence, h hang up)> "))
        self._read_line_async = read_line_async

    async def _next_line(self) -> str:
        if self._read_line_async is not None:
            return await self._read_line_async()
        return await asyncio.to_thread(self._read_line)

    async def next_group(self) -> str | None:
        while True:
            try:
                line = (await self._next_line()).strip()
            except EOFError:
                return None
            if line == HANGUP_KEY:
                return None
            group = "" if line in ("", SILENCE) else line.replace(" ", "")
            problem = not_phone_keys(group)
            if problem is None:
                return group
            print(f"  !!!  {problem}", file=sys.stderr)  # ask again: a typo is not a key


#: Seconds a simulated caller "speaks" at a ``record`` node.
SIMULATED_SPEECH = 5.0


class SimulatorChannel:
    """Implements :class:`ivr.channels.channel.Channel`; records what the caller heard and did."""

    kind = "simulator"

    def __init__(
        self,
        info: CallInfo,
        keys: KeySource,
        *,
        patient: bool = False,
        transfer_results: Sequence[TransferResult] = (),
        hangup_after: int | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self._info = info
        self._keys = keys
        self.patient = patient
        self._results = list(transfer_results)
        self._hangup_after = hangup_after
        self._on_event = on_event
        self.events: list[Event] = []
        self.transfers: list[TransferRequest] = []
        self.variables: dict[str, str] = {}
        self.operations = 0
        self.hung_up = False
        self._group: list[str] | None = None

    @property
    def info(self) -> CallInfo:
        return self._info

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _operation(self) -> None:
        """Count a channel operation; the scripted hang-up happens at the chosen one."""
        if self.hung_up:
            raise CallerHungUp()
        self.operations += 1
        if self._hangup_after is not None and self.operations > self._hangup_after:
            self.hung_up = True
            self._emit({"type": "hangup", "by": "caller"})
            raise CallerHungUp()

    async def _fill_group(self) -> list[str]:
        if self._group is None:
            group = await self._keys.next_group()
            if group is None:
                self.hung_up = True
                self._emit({"type": "hangup", "by": "caller"})
                raise CallerHungUp()
            self._group = list(group)
        return self._group

    async def play(self, prompts: Sequence[Prompt], *, escape: str = "") -> str | None:
        self._operation()
        for p in prompts:
            self._emit({"type": "prompt", "id": p.id, "text": p.text, "language": p.language})
        # Keys pressed during a play node belong to the next question's group.
        return None

    async def wait_digit(self, timeout: float) -> str | None:
        group = await self._fill_group()
        return group.pop(0) if group else None

    async def ask(self, prompts: Sequence[Prompt], spec: DigitSpec) -> Entry:
        self._operation()
        self._group = None  # filled after the prompts are out (the terminal reads then)
        try:
            entry = await ask_with_keys(_Primitives(self), prompts, spec)
        finally:
            self._group = None
        self._emit({"type": "input", "digits": entry.digits, "ended_by": entry.ended_by.value})
        return entry

    async def record(self, request: RecordRequest) -> RecordResult:
        """No microphone here: the caller is taken to speak for :data:`SIMULATED_SPEECH`
        seconds and press the finish key. Nothing is written (no file on the case)."""
        self._operation()
        self._emit({"type": "record", "max_seconds": request.max_seconds,
                    "finish_keys": request.finish_keys, "beep": request.beep,
                    "seconds": SIMULATED_SPEECH})
        key = request.finish_keys[:1] or None
        return RecordResult(RecordEnd.KEY if key else RecordEnd.TIMEOUT, SIMULATED_SPEECH, key)

    async def set_variable(self, name: str, value: str) -> None:
        self._operation()
        self.variables[name] = value

    async def transfer(self, request: TransferRequest) -> TransferResult:
        self._operation()
        self.transfers.append(request)
        result = self._results.pop(0) if self._results else TransferResult(
            TransferStatus.COMPLETED, "CONTINUE", agent="SIM/agent", talk_seconds=0.0)
        self._emit({"type": "transfer", "queue": request.queue, "case_id": request.case_id,
                    "priority": request.priority, "status": result.status.value})
        return result

    async def hangup(self) -> None:
        if not self.hung_up:
            self.hung_up = True
            self._emit({"type": "hangup", "by": "ivr"})


class _Primitives:
    """The two primitives ask_with_keys needs, with keys available during the prompt."""

    def __init__(self, channel: SimulatorChannel) -> None:
        self._ch = channel

    async def play(self, prompts: Sequence[Prompt], *, escape: str = "") -> str | None:
        ch = self._ch
        for p in prompts:
            ch._emit({"type": "prompt", "id": p.id, "text": p.text, "language": p.language})
        group = await ch._fill_group()
        if escape and not ch.patient and group and group[0] in escape:
            return group.pop(0)
        return None

    async def wait_digit(self, timeout: float) -> str | None:
        return await self._ch.wait_digit(timeout)


class EventPrinter:
    """Prints events as a transcript; the words of one spoken value share a line."""

    def __init__(self, out: Any = None) -> None:
        self._out = out or sys.stdout
        self._words: list[str] = []
        self._closed = False

    def __call__(self, event: Event) -> None:
        if event["type"] == "prompt" and str(event["id"]).startswith("w_"):
            self._words.append(str(event["text"]))
            return
        self.flush()
        kind = event["type"]
        if kind == "prompt":
            self._line(f"  IVR  {event['text']}")
        elif kind == "input":
            self._line(f"  you  {event['digits'] or '(silence)'}")
        elif kind == "transfer":
            self._line(f"  ...  transfer to queue {event['queue']} (case {event['case_id']}): "
                       f"{event['status']}")
        elif kind == "record":
            self._line(f"  REC  {'(beep) ' if event['beep'] else ''}you speak for "
                       f"{event['seconds']:g} s (simulated: nothing is recorded)")
        elif kind == "hangup":
            self._line("  ...  you hang up" if event["by"] == "caller"
                       else "  ...  the IVR hangs up")

    def flush(self) -> None:
        if self._words:
            words, self._words = self._words, []
            self._line(f"  IVR  <{' '.join(words)}>")

    def _line(self, text: str) -> None:
        if self._closed:
            return
        try:
            print(text, file=self._out, flush=True)
        except BrokenPipeError:
            # The reader left (`ivr simulate | head`): stop printing and let the call end
            # as it would, rather than fail it and print tracebacks.
            self._closed = True
            quiet_broken_pipe(self._out)


def quiet_broken_pipe(out: Any) -> None:
    """Point ``out``'s file descriptor at /dev/null so later writes and the flush at exit
    do not raise again."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
