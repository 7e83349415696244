"""One call as a node handler sees it: its channel, its state, the services to use.

The engine builds one :class:`Turn` per call and hands it to every node handler, so
handlers (``handlers.py``, ``questions.py``, ``transfer.py``) depend on this small
context and never on the Engine itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ivr.calls import CallStore
from ivr.channels.channel import Channel, DigitSpec, Entry, Prompt
from ivr.clock import Clock
from ivr.engine.hours import HolidayCalendar
from ivr.engine.render import render
from ivr.engine.state import CallState
from ivr.flows.model import PlayItem
from ivr.lookups import LookupContext, LookupRegistry


class Catalog(Protocol):
    """What the engine needs from ``PromptCatalog``."""

    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, prompt_id: str) -> bool: ...

    def prompt(self, prompt_id: str, language: str) -> Prompt: ...

    def say(self, kind: str, value: object, language: str) -> list[Prompt]: ...


class AudioCheck(Protocol):
    """Makes sure each prompt's audio exists before it is played (``ivr.prompts.ready``):
    a prompt published a moment ago may not be built yet. Returns the prompts to play;
    raises when one has no audio and none can be made, so the node fails and the call
    takes the apology path instead of playing silence."""

    async def playable(self, prompts: Sequence[Prompt]) -> list[Prompt]: ...


@dataclass(frozen=True, slots=True)
class Turn:
    """The per-call context. Frozen: a handler changes the call's ``state``, never which
    channel, catalog or store the call uses."""

    channel: Channel
    state: CallState
    catalog: Catalog
    clock: Clock
    store: CallStore
    lookups: LookupRegistry
    holidays: HolidayCalendar
    agent_queue_fallback: str
    """The telephony queue for the flows' agent queue when the file has no ``queues:``
    entry for it."""
    case_write_timeout: float
    """Seconds opening or finishing a case may take (see ``transfer.CASE_WRITE_TIMEOUT``)."""
    audio: AudioCheck | None = None
    recordings_dir: str = "var/recordings"
    """Where ``record`` nodes have the caller recorded, as Asterisk sees it (a directory
    shared between the two: docs/asterisk.md)."""

    def now(self) -> datetime:
        return self.clock.now()

    def render(self, items: tuple[PlayItem, ...]) -> list[Prompt]:
        return render(self.catalog, self.state, items)

    async def playable(self, items: tuple[PlayItem, ...]) -> list[Prompt]:
        """:meth:`render`, with every prompt's audio made sure of (see AudioCheck)."""
        prompts = self.render(items)
        if self.audio is None or not prompts:
            return prompts
        return await self.audio.playable(prompts)

    async def play(self, items: tuple[PlayItem, ...]) -> None:
        """Play ``items`` in the caller's language (nothing to say: nothing sent)."""
        prompts = await self.playable(items)
        if prompts:
            await self.channel.play(prompts)

    async def ask(self, items: tuple[PlayItem, ...], spec: DigitSpec) -> Entry:
        return await self.channel.ask(await self.playable(items), spec)

    def lookup_context(self) -> LookupContext:
        """Who is asking, for a lookup run on this call's behalf."""
        st = self.state
        return LookupContext(st.info.call_id, st.info.caller, st.info.dialled, st.language,
                             st.flow.name)
