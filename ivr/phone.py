"""What a telephone can do, in the words the flow language and the channels share.

The keys a keypad sends, how a hand-over to a queue ends, and the key script a scripted
caller types (``ivr simulate --keys``, ``config/scenarios.yaml``). It lives at the
bottom of the tree, importing nothing of ``ivr``, so that the flow language can check
keys and transfer exits, and a call record hold how its transfer ended, without
importing the channels that run calls (``tests/test_import_graph.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: Every key a telephone keypad can send as DTMF.
ALL_KEYS = "0123456789*#"

#: In a key script: the caller hangs up.
HANGUP_KEY = "h"
#: In a key script: silence until the question times out.
SILENCE = "-"
PHONE_KEYS = frozenset(ALL_KEYS)


def not_phone_keys(group: str) -> str | None:
    """Why ``group`` cannot be pressed on a phone keypad (None when it can)."""
    if group in (HANGUP_KEY, SILENCE):
        return None
    bad = sorted(set(group) - PHONE_KEYS)
    if not bad:
        return None
    return (f"{''.join(bad)!r} is not on a phone keypad: keys are 0-9, * and #; "
            f"{SILENCE} is silence, {HANGUP_KEY} hangs up")


class TransferStatus(enum.Enum):
    """How a transfer ended, from Asterisk's ``QUEUESTATUS`` (or the built-in queue)."""

    COMPLETED = "completed"
    """An agent answered; the agent has since hung up (``QUEUESTATUS=CONTINUE``)."""
    TIMEOUT = "timeout"
    FULL = "full"
    NO_AGENTS = "no_agents"
    """JOINEMPTY / LEAVEEMPTY / JOINUNAVAIL / LEAVEUNAVAIL: nobody to answer."""
    FAILED = "failed"
    """The queue application could not run (unknown queue, error)."""
    ABANDONED = "abandoned"
    """The caller hung up before any agent talked to them: while waiting, while the
    agent's phone rang, or before the queue ran (Asterisk may still connect an agent
    to the dead channel for a moment; that is no conversation)."""


@dataclass(frozen=True, slots=True)
class TransferResult:
    status: TransferStatus
    raw_status: str = ""
    """The telephony side's own word for it (``QUEUESTATUS`` value), for the case."""
    agent: str | None = None
    """Who answered, when known (``MEMBERINTERFACE``, set only by a queue with
    ``setinterfacevar=yes``; the screen-pop knows the agent from AMI either way)."""
    talk_seconds: float | None = None
    """How long the agent and caller talked (``ANSWEREDTIME``); None when nobody
    answered. Queue sets ``ANSWEREDTIME=0`` on an abandon: 0 is not an answer."""
