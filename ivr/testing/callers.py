"""Scripted callers for the fake Asterisk: small real classes, not mocks.

A caller's ``keys`` are what it presses, in order; ``-`` means "stay silent through one
wait" (the wait times out). What differs between callers is *when* they press:

- :class:`ImpatientCaller` presses during prompts (barge-in: ``STREAM FILE`` returns
  the key with the ``endpos`` where it stopped), and the rest during waits;
- :class:`PatientCaller` always lets prompts finish and keys during ``WAIT FOR DIGIT``;
- :class:`SilentCaller` never presses anything;
- :class:`WrongKeysCaller` presses a wrong key a number of times, then its keys;
- :class:`HangUpCaller` hangs up at its k-th AGI command (any caller's keys until then);
  with ``race=True`` its hang-up races the server's next command on the wire.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

#: ``keys`` character meaning "let this wait time out".
SILENCE = "-"


@dataclass(frozen=True, slots=True)
class Speech:
    """What a caller says when a ``RECORD FILE`` starts: ``seconds`` of words, then
    ``then``: a key (``#``), ``"silence"`` (stops talking) or ``"hangup"``."""

    seconds: float = 6.0
    then: str = "#"


class Caller:
    """Base caller: presses its keys during waits only (patient); says its ``speech``
    (one entry per recording, in order) and is silent at any recording after them."""

    def __init__(self, keys: str = "", speech: Sequence[Speech] = ()) -> None:
        bad = set(keys) - set("0123456789*#" + SILENCE)
        if bad:
            raise ValueError(f"not keypad keys: {''.join(sorted(bad))!r}")
        self._keys = deque(keys)
        self._speech = deque(speech)

    def at_record(self, escape: str) -> Speech | None:
        """What the caller says when a recording starts; None: says nothing."""
        return self._speech.popleft() if self._speech else None

    @property
    def keys_left(self) -> str:
        return "".join(self._keys)

    def during_prompt(self, file: str, escape: str) -> str | None:
        """The key pressed while ``file`` plays (it stops the prompt if in ``escape``)."""
        return None

    def at_wait(self) -> str | None:
        """The key pressed during a wait, None to let it time out."""
        if not self._keys:
            return None
        key = self._keys.popleft()
        return None if key == SILENCE else key

    def hangs_up_at(self, command_number: int) -> bool:
        """Whether the caller hangs up while AGI command number ``n`` (1-based) runs."""
        return False

    def hangup_races_next_command(self) -> bool:
        """Whether a hang-up right after a command's reply reaches the server only after
        its next command (then Asterisk noticed it first and still runs that command)."""
        return False


class PatientCaller(Caller):
    """Waits until each prompt has finished, then keys."""


class ImpatientCaller(Caller):
    """Presses the next key as soon as a prompt that it can interrupt starts."""

    def during_prompt(self, file: str, escape: str) -> str | None:
        if self._keys and self._keys[0] != SILENCE and self._keys[0] in escape:
            return self._keys.popleft()
        return None


class SilentCaller(Caller):
    """Never presses anything: every wait times out."""

    def __init__(self) -> None:
        super().__init__("")


class WrongKeysCaller(PatientCaller):
    """Presses ``wrong`` ``times`` times (one per question), then ``keys``."""

    def __init__(self, wrong: str = "9", times: int = 3, keys: str = "") -> None:
        super().__init__(wrong * times + keys)


class HangUpCaller(Caller):
    """Behaves like ``inner`` and hangs up during AGI command number ``after``.

    ``race=True``: the caller hangs up just after that command's reply, while the
    server is writing its next command; Asterisk's AGI loop sees the hang-up before it
    reads that command, writes ``HANGUP`` and then runs the command on the dead channel
    (an ``EXEC Queue`` still joins, rings and connects an agent).
    """

    def __init__(self, after: int, inner: Caller | None = None, *, race: bool = False) -> None:
        super().__init__("")
        if after < 1:
            raise ValueError("after counts AGI commands from 1")
        self.after = after
        self.inner = inner or SilentCaller()
        self.race = race

    def during_prompt(self, file: str, escape: str) -> str | None:
        return self.inner.during_prompt(file, escape)

    def at_wait(self) -> str | None:
        return self.inner.at_wait()

    def at_record(self, escape: str) -> Speech | None:
        return self.inner.at_record(escape)

    def hangs_up_at(self, command_number: int) -> bool:
        return command_number == self.after

    def hangup_races_next_command(self) -> bool:
        return self.race


#: The queue member of the recordings (queues.conf ``member => Local/1001@agents``).
DEFAULT_MEMBER = "Local/1001@agents"


@dataclass(frozen=True, slots=True)
class QueueOutcome:
    """What ``EXEC Queue`` does: the ``QUEUESTATUS`` it leaves and who answered.

    ``MEMBERINTERFACE`` is set on the caller's channel only by a queue configured with
    ``setinterfacevar=yes``; Asterisk's default leaves it unset even when an agent
    answered (agi-queue-to-agent-continue.txt), and the agent is known from AMI.
    """

    status: str = "CONTINUE"
    agent: str | None = None
    """The member interface that rings and answers; None: :data:`DEFAULT_MEMBER`."""
    answered_seconds: int | None = 42
    setinterfacevar: bool = False
    """The queue has ``setinterfacevar=yes``: Queue sets ``MEMBERINTERFACE``."""
    caller_ends: bool = False
    """The caller, not the agent, ends the conversation: Queue still returns ``0`` with
    ``CONTINUE`` and the talk time, and the ``HANGUP`` line follows its reply."""

    @property
    def member(self) -> str:
        return self.agent or DEFAULT_MEMBER

    @classmethod
    def answered(cls, agent: str | None = None, seconds: int = 42, *,
                 caller_ends: bool = False) -> QueueOutcome:
        """An agent answers and talks ``seconds``; naming the agent scripts a queue with
        ``setinterfacevar=yes`` (so ``MEMBERINTERFACE`` says who it was)."""
        return cls("CONTINUE", agent, seconds, setinterfacevar=agent is not None,
                   caller_ends=caller_ends)

    @classmethod
    def unanswered(cls, status: str) -> QueueOutcome:
        """``TIMEOUT``, ``FULL``, ``JOINEMPTY``, ``LEAVEEMPTY``..."""
        return cls(status, None, None)
