"""AMI queue events -> pops: recorded Asterisk 22 event blocks (and a few written from
app_queue's documentation where no recording has one) against the PopEvent each gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.ami.protocol import AmiConnection, Event
from ivr.screenpop.events import PopEvent, PopState, case_id_of, pop_from_ami
from ivr.testing.ami_transcripts import recorded_events, transcript_bytes

QUEUE_CALL = "ami-during-queue-to-agent-continue.txt"
AGENT = "Local/1001@agents"
RINGING, CONNECTED, GONE, COMPLETED, MISSED = (
    PopState.RINGING, PopState.CONNECTED, PopState.CALLER_GONE, PopState.COMPLETED,
    PopState.MISSED,
)


def events_of(path: Path) -> list[Event]:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\n" + transcript_bytes(path))
    conn.receive_data(b"")
    return [m for m in conn.events() if isinstance(m, Event)]


def event_from_lines(lines: list[str]) -> Event:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    conn.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode())
    [event] = [m for m in conn.events() if isinstance(m, Event)]
    return event


def recorded(transcripts: Path, name: str, changes: dict[str, str]) -> list[str]:
    """The recorded ``name`` block with some headers' values replaced (``ChanVariable``
    is the caller's ``IVR_CASE_ID``, ``DestChanVariable`` the agent leg's)."""
    [lines] = recorded_events(transcripts / QUEUE_CALL, [name])
    out = []
    for line in lines:
        header = line.split(":", 1)[0]
        if header in changes:
            value = changes[header]
            line = f"{header}: IVR_CASE_ID={value}" if "Variable" in header else (
                f"{header}: {value}")
        out.append(line)
    return out


#: Recorded block name, headers changed, the pop it gives. The recording's caller
#: carries IVR_CASE_ID=C-2026-0042 and its agent leg none (set without "__" then).
RECORDED_ROWS = [
    ("AgentCalled", {}, PopEvent(RINGING, "C-2026-0042", AGENT)),
    ("AgentConnect", {}, PopEvent(CONNECTED, "C-2026-0042", AGENT)),
    ("AgentComplete", {}, PopEvent(COMPLETED, "C-2026-0042", AGENT, "agent")),
    ("QueueCallerLeave", {}, None),  # answered or gone: those have events of their own
    # __IVR_CASE_ID: the agent leg carries the case; it wins over the caller's
    ("AgentConnect", {"DestChanVariable": "C-AGENT-7"}, PopEvent(CONNECTED, "C-AGENT-7", AGENT)),
    ("AgentCalled", {"ChanVariable": "", "DestChanVariable": "C-AGENT-8"},
     PopEvent(RINGING, "C-AGENT-8", AGENT)),
    # ChanVariable lists every channelvars entry, set or not: empty is no case
    ("AgentCalled", {"ChanVariable": ""}, PopEvent(RINGING, "", AGENT)),
    ("AgentCalled", {"ChanVariable": "  "}, PopEvent(RINGING, "", AGENT)),
    # AgentConnect can come ~13 ms after the caller left, then AgentComplete Reason: caller
    ("AgentComplete", {"Reason": "caller", "TalkTime": "0"},
     PopEvent(GONE, "C-2026-0042", AGENT, "caller")),
    ("AgentComplete", {"Reason": "Caller", "TalkTime": "1"},
     PopEvent(GONE, "C-2026-0042", AGENT, "caller")),
    ("AgentComplete", {"Reason": "caller", "TalkTime": "nonsense"},
     PopEvent(GONE, "C-2026-0042", AGENT, "caller")),
    ("AgentComplete", {"Reason": "caller", "TalkTime": "2"},
     PopEvent(COMPLETED, "C-2026-0042", AGENT, "caller")),
    ("AgentComplete", {"Reason": "caller", "TalkTime": "95"},
     PopEvent(COMPLETED, "C-2026-0042", AGENT, "caller")),
    ("AgentComplete", {"Reason": "transfer"},
     PopEvent(COMPLETED, "C-2026-0042", AGENT, "transfer")),
    ("AgentComplete", {"Reason": "martians", "TalkTime": "0"},
     PopEvent(COMPLETED, "C-2026-0042", AGENT, "unknown")),
]


@pytest.mark.parametrize(("name", "changes", "pop"), RECORDED_ROWS)
def test_recorded_block_gives_pop(
    transcripts_dir: Path, name: str, changes: dict[str, str], pop: PopEvent | None
) -> None:
    assert pop_from_ami(event_from_lines(recorded(transcripts_dir, name, changes))) == pop


#: Blocks no recording has (a caller giving up, a member not answering), with the
#: headers app_queue documents for them.
WRITTEN_ROWS = [
    ([
        "Event: QueueCallerAbandon", "Privilege: agent,all", "Channel: Local/s@hotline-1;2",
        "Uniqueid: 1.1", "Linkedid: 1.0", "ChanVariable: IVR_CASE_ID=C-5", "Queue: safety",
        "Position: 2", "OriginalPosition: 3", "HoldTime: 41",
    ], PopEvent(GONE, "C-5", "", "caller")),  # names no member: the case's last agent
    ([
        "Event: AgentRingNoAnswer", "Privilege: agent,all", "Uniqueid: 1.1",
        "ChanVariable: IVR_CASE_ID=", "DestChanVariable: IVR_CASE_ID=C-6", "Queue: hotline",
        "Interface: Local/1002@agents", "MemberName: Agent 1002", "RingTime: 15",
    ], PopEvent(MISSED, "C-6", "Local/1002@agents", "no answer")),
    (["Event: QueueMemberPause", "Interface: Local/1002@agents", "Paused: 1"], None),
]


@pytest.mark.parametrize(("lines", "pop"), WRITTEN_ROWS)
def test_written_block_gives_pop(lines: list[str], pop: PopEvent | None) -> None:
    assert pop_from_ami(event_from_lines(lines)) == pop


@pytest.mark.parametrize("name", [QUEUE_CALL, "ami-during-queue-to-agent-no-continue.txt"])
def test_a_recorded_queue_call_pops_ringing_connected_completed(
    transcripts_dir: Path, name: str
) -> None:
    events = events_of(transcripts_dir / name)
    pops = [pop for e in events if (pop := pop_from_ami(e)) is not None]
    assert [(p.state, p.interface, p.reason) for p in pops] == [
        (RINGING, AGENT, ""), (CONNECTED, AGENT, ""), (COMPLETED, AGENT, "agent")]
    assert len({p.case_id for p in pops}) == 1 and pops[0].case_id.startswith("C-2026-")
    popping = {"AgentCalled", "AgentConnect", "AgentComplete"}
    others = [e for e in events if e.name not in popping]
    assert others and all(pop_from_ami(e) is None for e in others)


def test_case_id_of_reads_the_agent_leg_first(transcripts_dir: Path) -> None:
    both = recorded(transcripts_dir, "AgentConnect", {"DestChanVariable": "C-AGENT-7"})
    assert case_id_of(event_from_lines(both)) == "C-AGENT-7"
    neither = recorded(transcripts_dir, "AgentConnect", {"ChanVariable": ""})
    assert case_id_of(event_from_lines(neither)) is None


def test_pops_are_frozen() -> None:
    pop = PopEvent(RINGING, "C", AGENT)
    with pytest.raises(AttributeError):
        pop.case_id = "other"  # type: ignore[misc]
