"""The fake Asterisk's channel variables and its ``Queue`` application, as Asterisk 22 runs them.

Both were written from what a real Asterisk 22 did on the wire and in its source
(``main/pbx_variables.c``, ``main/channel.c``, ``apps/app_queue.c``), because the easy
model (a dict per call, Queue setting what a test asks for) let three wrong transfers
pass the tests:

- **One namespace per channel.** ``_X`` and ``__X`` are the variable ``X`` with an
  inheritance mark. Setting ``X`` after ``__X`` deletes the old variable and adds a new
  one: the value is overwritten *and* the mark is gone, so the agent's channel inherits
  nothing (``DestChanVariable: IVR_CASE_ID=`` in AgentCalled/AgentConnect).
- **What Queue leaves behind.** At the start it clears ``ANSWEREDTIME``, ``DIALEDTIME``,
  ``QUEUEWAIT`` (and their ``_MS``) to empty (VarSet events in
  ami-during-queue-to-agent-continue.txt). A caller who hangs up before anyone answered
  gets ``200 result=-1``, ``QUEUESTATUS`` untouched and ``ANSWEREDTIME=0``.
  ``MEMBERINTERFACE`` is set only by a queue with ``setinterfacevar=yes``.
- **Queue on a dead channel.** When the caller hangs up while the server is writing
  ``EXEC Queue``, Asterisk writes ``HANGUP`` and still runs the queue: it joins, rings
  and connects an agent for ~45 ms (AgentConnect, then AgentComplete ``Reason: caller``)
  and returns ``200 result=0`` with ``QUEUESTATUS=CONTINUE`` and ``ANSWEREDTIME=0``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr import channel_vars as cv
from ivr.testing.callers import QueueOutcome

#: Variables Queue empties when it starts (VarSet ``Value: `` in the recording).
QUEUE_START_CLEARS = (cv.ANSWEREDTIME, "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS",
                      "QUEUEWAIT", "QUEUEWAIT_MS")
#: QUEUESTATUS values decided before the caller joins: Queue returns at once.
JOIN_STATUSES = frozenset({"JOINEMPTY", "JOINUNAVAIL", "FULL"})


def bare_name(name: str) -> str:
    """The name without its inheritance mark (Asterisk strips at most two ``_``)."""
    for _ in range(2):
        if name.startswith("_"):
            name = name[1:]
    return name


class ChannelVariables:
    """One channel's variables: names compared without the leading underscores, the
    underscores kept as the inheritance mark of the variable set last."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self._vars: dict[str, tuple[str, str]] = {}
        """bare name -> (name as set, value)"""
        for name, value in (initial or {}).items():
            self.set(name, value)

    def set(self, name: str, value: str) -> None:
        """``pbx_builtin_setvar_helper``: delete the variable of that bare name, add the
        new one under the name as given (so ``X`` after ``__X`` drops the mark)."""
        bare = bare_name(name)
        self._vars.pop(bare, None)
        self._vars[bare] = (name, value)

    def get(self, name: str) -> str | None:
        """``pbx_builtin_getvar_helper`` compares the name as given with each bare name,
        so ``X`` finds ``__X`` and ``__X`` finds nothing. None: unset."""
        entry = self._vars.get(name)
        return None if entry is None else entry[1]

    def set_as(self, name: str) -> str | None:
        """The name the variable was last set under (``__IVR_CASE_ID``), None if unset."""
        entry = self._vars.get(name)
        return None if entry is None else entry[0]

    def inherited(self) -> ChannelVariables:
        """What a channel created from this one gets (``ast_channel_inherit_variables``):
        ``__X`` stays ``__X`` (inherited again), ``_X`` arrives as plain ``X``."""
        child = ChannelVariables()
        for name, value in self._vars.values():
            if name.startswith("__"):
                child.set(name, value)
            elif name.startswith("_"):
                child.set(name[1:], value)
        return child

    def values(self) -> dict[str, str]:
        """Bare name -> value, as AMI ``channelvars`` reports them."""
        return {bare: value for bare, (_name, value) in self._vars.items()}


class QueueEnd(enum.Enum):
    """How one run of the Queue application ended."""

    ANSWERED = "answered"
    """An agent answered, talked, and hung up (AgentComplete ``Reason: agent``)."""
    CALLER_ENDED = "caller_ended"
    """An agent answered; the caller hung up during the conversation (``Reason: caller``)."""
    ABANDONED = "abandoned"
    """The caller hung up before anyone answered (QueueCallerAbandon)."""
    PHANTOM = "phantom"
    """The caller was gone before Queue ran; it connected an agent all the same."""
    UNANSWERED = "unanswered"
    """Queue ended for a reason of its own (TIMEOUT, JOINEMPTY, FULL...)."""


@dataclass(frozen=True, slots=True)
class QueueRun:
    """One Queue run as the AMI side sees it: who waited, who rang, with which variables."""

    queue: str
    caller_channel: str
    caller_uniqueid: str
    callerid: str
    calleridname: str
    context: str
    exten: str
    priority: str
    caller_vars: Mapping[str, str]
    """The caller channel's variables (bare name -> value) while it was queued."""
    member: str
    """The member interface that was rung, e.g. ``Local/1001@agents``."""
    agent_vars: Mapping[str, str] = field(default_factory=dict)
    """What the agent's channel inherited from the caller's (bare name -> value)."""
    end: QueueEnd = QueueEnd.ANSWERED
    agent_rang: bool = True
    """A member was free, so an agent channel was created and rung (AgentCalled)."""
    joined: bool = True
    """The caller joined the queue (False for JOINEMPTY, JOINUNAVAIL, FULL)."""
    talk_seconds: int = 0


def run_queue(chan: ChannelVariables, outcome: QueueOutcome, options: str, *,
              gone_before: bool, hangs_up_during: bool) -> tuple[int, QueueEnd]:
    """Run ``Queue(options)`` on a channel; returns (EXEC's result, how it ended).

    ``gone_before``: the caller hung up before Asterisk read the EXEC (a dead channel);
    ``hangs_up_during``: the caller hangs up while waiting or while the agent rings.
    """
    parts = options.split(",")
    continues = "c" in (parts[1] if len(parts) > 1 else "")
    status = outcome.status
    if status in JOIN_STATUSES:
        chan.set(cv.QUEUESTATUS, status)
        return 0, QueueEnd.UNANSWERED
    for name in QUEUE_START_CLEARS:
        chan.set(name, "")
    agent_free = status == "CONTINUE"
    if gone_before and agent_free:
        _answered(chan, outcome, 0)  # connected for ~45 ms: 0 whole seconds
        end = QueueEnd.PHANTOM
    elif gone_before or hangs_up_during:
        # Nobody answered: QUEUESTATUS stays as it was, ANSWEREDTIME says 0.
        chan.set(cv.ANSWEREDTIME, "0")
        return -1, QueueEnd.ABANDONED
    elif not agent_free:
        chan.set(cv.QUEUESTATUS, status)
        return 0, QueueEnd.UNANSWERED
    else:
        if outcome.answered_seconds is not None:
            _answered(chan, outcome, outcome.answered_seconds)
        elif outcome.setinterfacevar:
            chan.set(cv.MEMBERINTERFACE, outcome.member)
        end = QueueEnd.CALLER_ENDED if outcome.caller_ends else QueueEnd.ANSWERED
    if not continues:
        # Without "c" Queue returns -1 once the call ends and leaves QUEUESTATUS unset,
        # the caller still up (agi-queue-to-agent-no-continue.txt).
        return -1, end
    chan.set(cv.QUEUESTATUS, "CONTINUE")
    return 0, end


def _answered(chan: ChannelVariables, outcome: QueueOutcome, seconds: int) -> None:
    if outcome.setinterfacevar:
        chan.set(cv.MEMBERINTERFACE, outcome.member)
    chan.set(cv.ANSWEREDTIME, str(seconds))
    chan.set("ANSWEREDTIME_MS", str(seconds * 1000))
