"""The re-sync rules: an open card against QueueStatus (module docstring of resync.py)."""

from __future__ import annotations

import pytest

from ivr.screenpop.events import PopState
from ivr.screenpop.resync import (
    MemberStatus,
    OpenCard,
    QueueSnapshot,
    WaitingCaller,
    settle,
)

IFACE = "Local/1001@agents"
WAITING = (WaitingCaller("hotline", 1, "Local/s@hotline-0000000a;2", "17.21", "0901234567", 9),)


def snapshot(*, waiting: bool, in_call: bool) -> QueueSnapshot:
    member = MemberStatus("hotline", IFACE, "Agent 1001", 2 if in_call else 1, in_call, False)
    return QueueSnapshot((member,), WAITING if waiting else ())


@pytest.mark.parametrize(("state", "waiting", "in_call", "settled"), [
    (PopState.RINGING, True, False, None),  # still ringing: nothing to show
    (PopState.RINGING, True, True, PopState.MISSED),  # the member took someone else
    (PopState.RINGING, False, True, PopState.CONNECTED),  # answered while we were away
    (PopState.RINGING, False, False, PopState.CALLER_GONE),  # hung up, or a restart
    (PopState.CONNECTED, False, True, None),
    (PopState.CONNECTED, False, False, PopState.COMPLETED),
])
def test_settle(state: PopState, waiting: bool, in_call: bool,
                settled: PopState | None) -> None:
    card = OpenCard("agent1", "C-1", state, IFACE, "17.21", "hotline")
    pop = settle(card, snapshot(waiting=waiting, in_call=in_call))
    assert (pop.state if pop else None) is settled
    if pop is not None:
        assert (pop.case_id, pop.interface, pop.uniqueid) == ("C-1", IFACE, "17.21")


def test_a_card_not_from_ami_is_left_alone() -> None:
    card = OpenCard("agent1", "C-1", PopState.RINGING, "Web/agent1", "", "")
    assert settle(card, QueueSnapshot()) is None


def test_member_state_words() -> None:
    assert MemberStatus("q", IFACE, "A", 6, False, False).state == "ringing"
    assert MemberStatus("q", IFACE, "A", 2, True, False).state == "in a call"
    assert MemberStatus("q", IFACE, "A", 1, False, True).state == "paused"
