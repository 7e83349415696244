"""After an AMI reconnect: what the queues hold now, and which open cards it settles.

Asterisk does not replay the events a lost connection missed, and a restarted Asterisk has
lost every call without saying so. So after each login the AMI feed asks ``QueueStatus``
(``QueueMember``: each member's ``InCall`` and device ``Status``; ``QueueEntry``: each
caller still waiting, by ``Uniqueid``) and ``QueueSummary`` (callers waiting, members
logged in and available per queue), and the dispatcher settles each card it still shows
as ringing or connected (:func:`settle`):

- a ringing card whose caller still waits: kept, unless the member is now in a call
  (someone else's: this ring is over, *missed*);
- a ringing card whose caller left the queue: *connected* if the member is in a call
  (answered while we were away), else *caller gone* (hung up, or lost in a restart);
- a connected card: kept while the member is in a call, else *completed*.

(``InCall`` is app_queue's ``mem->starttime``: set when the member answered, cleared at
the end of the call; a Local member's device ``Status`` cannot tell ringing from talking,
so the rules read ``InCall`` and the callers waiting only.) A card already in the state
the snapshot says is left alone, so a reconnect never shows a pop twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.ami.protocol import Event, Response
from ivr.screenpop.events import PopEvent, PopState

#: The reason the case's history gives for a pop the re-sync made.
RESYNC_REASON = "AMI re-sync"
#: ``ast_device_state`` names for QueueMember ``Status`` (include/asterisk/devicestate.h).
DEVICE_STATES = {0: "unknown", 1: "not in use", 2: "in use", 3: "busy", 4: "invalid",
                 5: "unavailable", 6: "ringing", 7: "ringing, in use", 8: "on hold"}


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """A ``QueueMember`` event: one member of one queue."""

    queue: str
    interface: str
    name: str
    status: int
    in_call: bool
    paused: bool

    @property
    def state(self) -> str:
        """What a supervisor would call it: in a call, paused, or the device state."""
        if self.in_call:
            return "in a call"
        if self.paused:
            return "paused"
        return DEVICE_STATES.get(self.status, "unknown")


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """A ``QueueEntry`` event: a caller waiting in a queue."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    callerid: str
    wait_seconds: int


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """A ``QueueSummary`` event: one queue's counts."""

    queue: str
    logged_in: int
    available: int
    callers: int
    longest_hold_seconds: int


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """What the queues of one Asterisk held when it answered QueueStatus/QueueSummary."""

    members: tuple[MemberStatus, ...] = ()
    waiting: tuple[WaitingCaller, ...] = ()
    figures: tuple[QueueFigures, ...] = ()
    at: str = ""

    def is_waiting(self, uniqueid: str, queue: str = "") -> bool:
        return any(w.uniqueid == uniqueid and (not queue or w.queue == queue)
                   for w in self.waiting)

    def in_call(self, interface: str, queue: str = "") -> bool:
        """Whether that member is talking (in ``queue``, or any queue when unknown)."""
        wanted = interface.strip().lower()
        return any(m.in_call for m in self.members
                   if m.interface.lower() == wanted and (not queue or m.queue == queue))


@dataclass(frozen=True, slots=True)
class OpenCard:
    """A card the dispatcher shows as ringing or connected, with where its call is."""

    agent: str
    case_id: str
    state: PopState
    interface: str
    uniqueid: str
    queue: str


def _int(event: Event, name: str) -> int:
    try:
        return int((event.get(name) or "0").strip())
    except ValueError:
        return 0


def snapshot_from_ami(status: Response, summary: Response | None = None, *,
                      at: str = "") -> QueueSnapshot:
    """The snapshot in a ``QueueStatus`` answer (and a ``QueueSummary`` one, if given)."""
    members: list[MemberStatus] = []
    waiting: list[WaitingCaller] = []
    for event in status.events:
        queue = event.get("Queue") or ""
        if event.name == "QueueMember":
            members.append(MemberStatus(
                queue, event.get("Location") or event.get("StateInterface") or "",
                event.get("Name") or "", _int(event, "Status"), _int(event, "InCall") == 1,
                _int(event, "Paused") == 1))
        elif event.name == "QueueEntry":
            waiting.append(WaitingCaller(
                queue, _int(event, "Position"), event.get("Channel") or "",
                event.get("Uniqueid") or "", event.get("CallerIDNum") or "",
                _int(event, "Wait")))
    figures = tuple(
        QueueFigures(event.get("Queue") or "", _int(event, "LoggedIn"),
                     _int(event, "Available"), _int(event, "Callers"),
                     _int(event, "LongestHoldTime"))
        for event in (summary.events if summary is not None else ())
        if event.name == "QueueSummary"
    )
    return QueueSnapshot(tuple(members), tuple(waiting), figures, at)


def settle(card: OpenCard, snapshot: QueueSnapshot) -> PopEvent | None:
    """The pop that brings ``card`` to what the snapshot says (None: it is right).

    A card without the caller's ``Uniqueid`` did not come from AMI (the built-in queue's
    are never stale): left alone.
    """
    if not card.uniqueid:
        return None
    waiting = snapshot.is_waiting(card.uniqueid, card.queue)
    talking = snapshot.in_call(card.interface, card.queue)
    if card.state is PopState.RINGING:
        if waiting:
            state = PopState.MISSED if talking else None
        else:
            state = PopState.CONNECTED if talking else PopState.CALLER_GONE
    elif card.state is PopState.CONNECTED:
        state = None if talking else PopState.COMPLETED
    else:
        return None
    if state is None:
        return None
    return PopEvent(state, card.case_id, card.interface, RESYNC_REASON,
                    uniqueid=card.uniqueid, queue=card.queue)
