"""What a caller waiting in the built-in queue hears: position, estimated wait, and a
periodic message, as Asterisk's ``queues.conf`` announces them natively.

The sentence follows app_queue.c's ``say_position``: first in line, "you are next"
(``queue-youarenext``) and nothing about the wait; otherwise "there are" N "calls
waiting" (``queue-thereare``, ``queue-callswaiting``), then "the estimated hold time
is" M "minutes" (``queue-holdtime``, ``queue-minutes``, or ``queue-minute`` for one)
when that rounds to a minute or more, then "thank you for your patience"
(``queue-thankyou``). The prompts are the hotline's own (``queue_*`` in the catalog),
which ``ivr prompts build --install`` also installs under Asterisk's names, so a real
queue says the same words (docs/asterisk.md).

One difference, on purpose: Asterisk rounds ``|average hold - waited|`` (a caller who
waited past the average hears the gap as if it were still to come); here the estimate
is what is left of the average, and nothing is said once it has run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ivr.channels.channel import Prompt
from ivr.prompts.asterisk_sounds import QUEUE_SOUNDS

__all__ = ["PERIODIC", "QUEUE_SOUNDS", "Announcing", "HoldTimes", "Say",
           "position_announcement", "render"]

#: Asterisk's ``announce-frequency`` / ``periodic-announce-frequency`` for the demo.
ANNOUNCE_SECONDS = 30.0
PERIODIC_SECONDS = 60.0


class Catalog(Protocol):
    """What announcements need of ``PromptCatalog``."""

    def prompt(self, prompt_id: str, language: str) -> Prompt: ...

    def say(self, kind: str, value: object, language: str) -> list[Prompt]: ...


@dataclass(frozen=True, slots=True)
class Say:
    """One piece of an announcement: a catalog prompt, or a number spoken."""

    prompt: str = ""
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Announcing:
    """The built-in queue's ``queues.conf`` announce options (0 s: off)."""

    frequency: float = ANNOUNCE_SECONDS
    """``announce-frequency``: position (and wait) every this many seconds, the first
    time as the caller starts waiting."""
    periodic_frequency: float = PERIODIC_SECONDS
    """``periodic-announce-frequency``: ``queue-periodic-announce`` every this many."""
    holdtime: bool = True
    """``announce-holdtime``."""


@dataclass
class HoldTimes:
    """Each queue's average hold (join to answer), as app_queue's ``recalc_holdtime``:
    the first answered call's, then ``(3 * old + new) / 4``."""

    seconds: dict[str, float] = field(default_factory=dict)

    def answered(self, queue: str, waited: float) -> None:
        old = self.seconds.get(queue)
        self.seconds[queue] = waited if old is None else (3 * old + waited) / 4

    def estimate(self, queue: str, waited: float) -> int:
        """Whole minutes still to wait (rounded), 0 when unknown or run out."""
        average = self.seconds.get(queue)
        if average is None:
            return 0
        return max(int((average - waited + 30) // 60), 0)


def position_announcement(position: int, minutes: int, *, holdtime: bool = True
                          ) -> tuple[Say, ...]:
    """``say_position`` for a caller at ``position`` (1: next) with ``minutes`` to go."""
    if position <= 1:
        return (Say("queue_youarenext"), Say("queue_thankyou"))
    out = [Say("queue_thereare"), Say(number=position), Say("queue_callswaiting")]
    if holdtime and minutes > 0:
        out += [Say("queue_holdtime"), Say(number=minutes),
                Say("queue_minute" if minutes == 1 else "queue_minutes")]
    return (*out, Say("queue_thankyou"))


PERIODIC = (Say("queue_periodic_announce"),)


def render(items: Sequence[Say], catalog: Catalog, language: str) -> list[Prompt]:
    """The prompts of an announcement in ``language`` (numbers as the catalog reads them)."""
    prompts: list[Prompt] = []
    for item in items:
        if item.number is not None:
            prompts += catalog.say("number", item.number, language)
        else:
            prompts.append(catalog.prompt(item.prompt, language))
    return prompts
