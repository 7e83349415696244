"""The sans-IO AMI layer against every recorded AMI transcript: fed whole, byte by byte
and in random chunks, it must yield the same messages, matching the transcript's own
message boundaries."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ivr.ami.protocol import (
    MAX_HEADERS,
    MAX_LINE_BYTES,
    Action,
    AmiConnection,
    Banner,
    ConnectionClosed,
    Event,
    Message,
    Response,
    ResponseStatus,
)
from ivr.testing.ami_transcripts import transcript_bytes, transcript_messages
from ivr.wire import NEED_DATA, LocalProtocolError, RemoteProtocolError

TRANSCRIPTS = sorted(
    (Path(__file__).parent / "transcripts").glob("ami-*.txt"), key=lambda p: p.name
)


def parse(chunks: list[bytes]) -> list[Message]:
    conn = AmiConnection()
    out: list[Message] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        out.extend(conn.events())
    conn.receive_data(b"")
    out.extend(conn.events())
    return out


def random_chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    chunks, i = [], 0
    while i < len(data):
        n = rng.randint(1, 300)
        chunks.append(data[i : i + n])
        i += n
    return chunks


def first_lines(messages: list[Message]) -> list[str]:
    out = []
    for m in messages:
        if isinstance(m, Banner):
            out.append(m.text)
        elif isinstance(m, Event):
            out.append(f"Event: {m.name}")
        elif isinstance(m, Response):
            out.append(f"Response: {m.raw_status}")
    return out


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
@pytest.mark.parametrize("feed", ["whole", "bytewise", "random"])
def test_transcripts_parse_the_same_however_fed(path: Path, feed: str) -> None:
    data = transcript_bytes(path)
    expected = transcript_messages(path)
    if not expected[0][0].startswith("Asterisk Call Manager/"):
        # ami-during-*: recorded mid-session; prepend the banner the session began with.
        data = b"Asterisk Call Manager/11.0.0\r\n" + data
        expected = [["Asterisk Call Manager/11.0.0"], *expected]
    chunks = {
        "whole": [data],
        "bytewise": [data[i : i + 1] for i in range(len(data))],
        "random": random_chunks(data, seed=len(data)),
    }[feed]
    messages = parse(chunks)
    assert isinstance(messages[-1], ConnectionClosed)
    assert first_lines(messages) == [m[0] for m in expected]
    # every header line survives, in order, repeats included
    for message, lines in zip(messages[1:], expected[1:], strict=False):
        assert isinstance(message, Event | Response)
        assert [f"{k}: {v}" for k, v in message.headers] == lines


def test_session_basics_typed_messages(transcripts_dir: Path) -> None:
    messages = parse([transcript_bytes(transcripts_dir / "ami-session-basics.txt")])
    banner = messages[0]
    assert banner == Banner("Asterisk Call Manager/11.0.0")
    assert isinstance(banner, Banner) and banner.version == "11.0.0"
    login = messages[1]
    assert isinstance(login, Response)
    assert (login.status, login.action_id, login.message, login.ok) == (
        ResponseStatus.SUCCESS, "h1", "Authentication accepted", True,
    )
    responses = {m.action_id: m for m in messages if isinstance(m, Response)}
    assert responses["h2"].get("Ping") == "Pong"
    assert responses["h10"].status is ResponseStatus.ERROR
    assert responses["h10"].message == "No such channel"
    assert responses["h9"].get("Value") == ""  # "Value: " is an empty value
    assert responses["h11"].output[0].startswith("Asterisk GIT-22-")
    assert responses["h13"].status is ResponseStatus.GOODBYE
    # the failed async Originate: queued "Success", then OriginateResponse Failure
    assert responses["h4"].ok
    originates = [m for m in messages if isinstance(m, Event) and m.name == "OriginateResponse"]
    by_id = {e.action_id: e for e in originates}
    assert by_id["h4"]["Response"] == "Failure"
    assert by_id["h4"]["Uniqueid"] == "<unknown>"
    assert by_id["h3"].chan_vars == {"IVR_CASE_ID": "C-ORIG-1"}  # ChanVariable(<chan>):
    assert isinstance(messages[-1], ConnectionClosed)


def test_chan_variables_in_all_three_spellings(transcripts_dir: Path) -> None:
    messages = parse([transcript_bytes(transcripts_dir / "ami-session-basics.txt")])
    events = [m for m in messages if isinstance(m, Event)]
    newchannel = next(e for e in events if e.name == "Newchannel")
    assert newchannel.chan_vars == {"IVR_CASE_ID": ""}
    bridge = next(e for e in events if e.name == "LocalBridge")
    assert bridge.prefixed_chan_vars("LocalOne") == {"IVR_CASE_ID": "C-ORIG-1"}
    assert bridge.prefixed_chan_vars("LocalTwo") == {"IVR_CASE_ID": "C-ORIG-1"}
    assert bridge.chan_vars == {}
    dial = next(e for e in events if e.name == "DialBegin")
    assert dial.dest_chan_vars == {"IVR_CASE_ID": "C-ORIG-1"}
    assert "call" in dial.privilege
    assert dial.headers.get("accountcode") is None  # DestAccountCode only
    assert dial.headers.get("destaccountcode") == ""  # names are case-insensitive


def test_login_failure_then_eof(transcripts_dir: Path) -> None:
    messages = parse([transcript_bytes(transcripts_dir / "ami-login-failure.txt")])
    assert isinstance(messages[1], Response)
    assert messages[1].status is ResponseStatus.ERROR
    assert messages[1].message == "Authentication failed"
    assert isinstance(messages[2], ConnectionClosed)


def test_need_data_until_the_empty_line() -> None:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n")
    assert isinstance(conn.next_event(), Banner)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\r\n")
    assert isinstance(conn.next_event(), Response)
    assert conn.next_event() is NEED_DATA


def test_trailing_data_stays_buffered() -> None:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\nEvent: A\r\n\r\nEvent: B\r\nX: 1")
    assert [type(m) for m in conn.events()] == [Banner, Event]
    conn.receive_data(b"\r\n\r\n")
    (b,) = list(conn.events())
    assert isinstance(b, Event) and b.name == "B" and b["X"] == "1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "not an AMI banner"),
        (b"Asterisk Call Manager/11.0.0\r\nFoo: bar\r\n\r\n", "neither Response nor Event"),
        (b"Asterisk Call Manager/11.0.0\r\n" + b"x" * (MAX_LINE_BYTES + 1), "line longer"),
        (
            b"Asterisk Call Manager/11.0.0\r\nEvent: X\r\n" + b"A: 1\r\n" * MAX_HEADERS,
            "more than",
        ),
    ],
)
def test_garbage_is_a_remote_protocol_error(data: bytes, message: str) -> None:
    conn = AmiConnection()
    conn.receive_data(data)
    with pytest.raises(RemoteProtocolError, match=message):
        list(conn.events())
    with pytest.raises(RemoteProtocolError):  # and the connection stays unusable
        conn.next_event()


def test_eof_mid_message_is_a_remote_protocol_error() -> None:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\nEvent: Hangup\r\n")
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), Banner)
    with pytest.raises(RemoteProtocolError, match="closed in the middle"):
        conn.next_event()


def test_send_renders_crlf_message_with_repeated_headers() -> None:
    action = Action.create(
        "Originate",
        action_id="ivr-1",
        headers={"Channel": "Local/s@hotline", "Variable": ["A=1", "B=2"], "Timeout": 30000},
    )
    assert AmiConnection().send(action) == (
        b"Action: Originate\r\nActionID: ivr-1\r\nChannel: Local/s@hotline\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nTimeout: 30000\r\n\r\n"
    )
    assert AmiConnection().send(Action("Ping")) == b"Action: Ping\r\n\r\n"


@pytest.mark.parametrize(
    "action",
    [
        Action("Ping\r\nAction: Originate"),
        Action("Setvar", headers=(("Value", "x\r\nAction: Originate"),)),
        Action("Setvar", headers=(("Value", "x\nY: 1"),)),
        Action("Setvar", headers=(("Bad: name", "x"),)),
        Action("Setvar", headers=(("", "x"),)),
        Action("Ping", action_id="1\r\n"),
        Action("Ping", headers=(("ActionID", "sneaky"),)),
    ],
)
def test_send_refuses_injection(action: Action) -> None:
    with pytest.raises(LocalProtocolError):
        AmiConnection().send(action)


def test_lf_only_lines_are_tolerated() -> None:
    messages = parse([b"Asterisk Call Manager/11.0.0\nEvent: X\nA: 1\n\n"])
    assert isinstance(messages[1], Event) and messages[1]["A"] == "1"


def test_refused_value_is_not_echoed_because_it_may_be_the_secret() -> None:
    with pytest.raises(LocalProtocolError) as caught:
        AmiConnection().send(Action("Login", headers=(("Secret", "hunter2\r\nX: y"),)))
    assert "hunter2" not in str(caught.value)
    assert "Secret" in str(caught.value)
