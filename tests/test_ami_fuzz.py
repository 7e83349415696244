"""Fuzzing the sans-IO AMI parser: whatever bytes a peer sends, the parser yields
messages or raises its own RemoteProtocolError (never IndexError, ValueError,
UnicodeDecodeError...), and it yields the same messages fed whole or in random chunks.
Then the client around it, over TCP: garbage, or a parser bug, drops that one
connection with one log line, and the client reconnects.

Bounded and seeded (stdlib ``random``, fixed seeds), like tests/test_agi_fuzz.py.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from pathlib import Path

import pytest
from fuzz_support import chunks, mutate, random_bytes

from ivr.ami.client import AmiClient
from ivr.ami.protocol import (
    AmiConnection,
    Banner,
    ConnectionClosed,
    Event,
    Message,
    Response,
)
from ivr.testing.ami_transcripts import transcript_bytes
from ivr.testing.fake_ami import FakeAmiServer
from ivr.wire import NEED_DATA, NeedData, RemoteProtocolError

TRANSCRIPTS = Path(__file__).parent / "transcripts"
AMI_FILES = sorted(TRANSCRIPTS.glob("ami-*.txt"))
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
#: Cases per test below: 10 transcripts x MUTANTS_PER_FILE + RANDOM + MESSAGE_CASES.
MUTANTS_PER_FILE = 120
RANDOM_CASES = 300
MESSAGE_CASES = 500
#: What the AMI parser and its typed accessors give meaning to (protocol.py).
TOKENS = (b"Asterisk Call Manager/", b"Response: ", b"Event: ", b"ActionID: ", b"\r\n",
          b"\r\n\r\n", b"\n\n", b": ", b":", b" :", b"ChanVariable: ", b"DestChanVariable: ",
          b"ChanVariable(Local/x): ", b"=", b"EventList: start\r\n", b"Privilege: call,,all",
          b"Response: Follows\r\n", b"Response: Goodbye\r\n", b"Output: ", b"Message: ")

Outcome = tuple[list[Message], bool]
"""The messages read, and whether the stream ended in a RemoteProtocolError."""


def touch(message: Message) -> None:
    """Read every typed accessor a caller of the parser would: they must not raise."""
    if isinstance(message, Banner):
        assert message.text.startswith("Asterisk Call Manager/")
        assert isinstance(message.version, str)
    elif isinstance(message, Event):
        assert message.headers[0][0].lower() == "event"
        assert all(p and p == p.strip() for p in message.privilege)
        for variables in (message.chan_vars, message.dest_chan_vars,
                          message.prefixed_chan_vars("LocalOne")):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items())
        assert message.action_id == message.headers.get("actionid")
        assert set(message.headers.as_dict()) == {name for name, _ in message.headers}
    elif isinstance(message, Response):
        assert message.headers[0][0].lower() == "response"
        assert message.raw_status == message.headers[0][1]
        assert isinstance(message.ok, bool) and isinstance(message.is_event_list, bool)
        assert message.output == message.headers.get_all("OUTPUT")


def drive(feed: Iterable[bytes]) -> Outcome:
    """Feed the chunks (the last one ``b""``), reading every message as it completes."""
    conn = AmiConnection()
    messages: list[Message] = []
    try:
        for chunk in feed:
            conn.receive_data(chunk)
            for message in conn.events():
                touch(message)
                messages.append(message)
                if isinstance(message, ConnectionClosed):
                    return messages, False
    except RemoteProtocolError:
        # The connection stays unusable: the same error class again, nothing else.
        with pytest.raises(RemoteProtocolError):
            conn.next_event()
        return messages, True
    raise AssertionError("end of stream gave neither ConnectionClosed nor an error")


def check(data: bytes, rng: random.Random) -> None:
    whole = drive([data, b""])
    assert drive(chunks(rng, data)) == whole


def recorded(path: Path) -> list[bytes]:
    """The recording as its messages (each with its blank line), banner first."""
    data = transcript_bytes(path)
    if data.startswith(BANNER):
        data = data[len(BANNER):]
    # ami-during-*: recorded mid-session, without the banner the session began with.
    return [BANNER, *(m + b"\r\n\r\n" for m in data.split(b"\r\n\r\n") if m)]


def window(rng: random.Random, messages: list[bytes]) -> bytes:
    """The banner and a run of up to 8 recorded messages: the recordings are 25-90 KB,
    and a few messages at a time reach every kind of them at a fraction of the cost."""
    start = rng.randrange(1, len(messages))
    return BANNER + b"".join(messages[start : start + rng.randint(1, 8)])


@pytest.mark.parametrize("path", AMI_FILES, ids=lambda p: p.stem)
def test_mutated_transcripts(path: Path) -> None:
    messages = recorded(path)
    rng = random.Random(f"ami-mutants-{path.name}")
    for case in range(MUTANTS_PER_FILE):
        data = mutate(rng, window(rng, messages), TOKENS)
        try:
            check(data, rng)
        except Exception as exc:
            raise AssertionError(f"{path.name} case {case}: {data[:200]!r}...") from exc


def test_random_bytes() -> None:
    rng = random.Random("ami-random")
    alphabets = (None, b"Response: Event\r\n:=()", b": \r\n\xff")
    for case in range(RANDOM_CASES):
        data = random_bytes(rng, rng.choice(alphabets))
        if rng.random() < 0.5:
            data = BANNER + data  # get past the banner to the message reader
        try:
            check(data, rng)
        except Exception as exc:
            raise AssertionError(f"case {case}: {data!r}") from exc


def random_line(rng: random.Random) -> bytes:
    """One header-ish line, with names and values drawn to hurt."""
    name = rng.choice(("Response", "Event", "ActionID", "ChanVariable", "ChanVariable(",
                       "DestChanVariable(Local/a)", "Privilege", "EventList", "Output",
                       "", " Event", "Event ", "\u00e9", "x" * 300))
    value = rng.choice(("", "Success", "Error", "Follows", "Goodbye", "start", "Complete",
                        "A=1", "=", "A", ",,", " ", "\u00e9", "v" * 500))
    sep = rng.choice((": ", ":", " : ", "", "::"))
    return f"{name}{sep}{value}".encode() + rng.choice((b"\r\n", b"\n", b"\r\r\n"))


def test_random_message_sequences() -> None:
    rng = random.Random("ami-messages")
    for case in range(MESSAGE_CASES):
        body = b"".join(
            b"".join(random_line(rng) for _ in range(rng.randint(0, 6))) + b"\r\n"
            for _ in range(rng.randint(1, 5)))
        data = BANNER + body
        try:
            check(data, rng)
        except Exception as exc:
            raise AssertionError(f"case {case}: {body[:300]!r}") from exc


def test_the_fuzzer_reaches_deep_states() -> None:
    """Mutants of a recording still get past the banner to events and responses."""
    rng = random.Random("ami-depth")
    recording = recorded(TRANSCRIPTS / "ami-session-basics.txt")
    kinds: set[str] = set()
    for _ in range(30):
        data = mutate(rng, window(rng, recording), TOKENS, max_mutations=1)
        messages, _error = drive([data, b""])
        kinds.update(type(m).__name__ for m in messages)
    assert {"Banner", "Event", "Response", "ConnectionClosed"} <= kinds
    assert NEED_DATA is not None


# ---------------------------------------------------------------- the client over TCP


class BuggyParser(AmiConnection):
    """A parser with a bug on one input: what any unexpected exception looks like."""

    def next_event(self) -> Message | NeedData:
        if b"BOOM" in self._buffer:
            raise IndexError("a parser bug")
        return super().next_event()


@pytest.mark.parametrize(("lines", "said"), [
    # (the Privilege line gets it past the fake's event mask, as a call event)
    (["Privilege: call,all", "Uniqueid: 1.1"], "RemoteProtocolError: message starts with "
                                               "neither Response nor Event"),
    (["Event: BOOM", "Privilege: call,all"],
     "AmiConnectionLost: AMI connection failed: unreadable input (IndexError: a parser bug)"),
])
async def test_client_drops_one_connection_with_one_line_and_reconnects(
        lines: list[str], said: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    import ivr.ami.client

    monkeypatch.setattr(ivr.ami.client, "AmiConnection", BuggyParser)
    async with FakeAmiServer(login_failure_delay=0.02) as server:
        ami = AmiClient("127.0.0.1", server.port, server.username, server.secret,
                        backoff_min=0.01, backoff_max=0.05, action_timeout=2.0)
        await ami.start()
        try:
            await ami.wait_connected(5)
            with caplog.at_level(logging.INFO):
                assert server.emit_raw(lines) == 1
                await server.wait_logins(2)  # the reader task lived on and reconnected
            await ami.wait_connected(5)
            assert (await ami.action("Ping")).ok
        finally:
            await ami.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and said in warnings[0], warnings
    assert [r for r in caplog.records if r.exc_info] == []
    assert ami.stats.connection_drops == 1
