"""Fuzzing the sans-IO AGI parser: whatever bytes a peer sends, the parser yields events
or raises its own RemoteProtocolError (never IndexError, ValueError, UnicodeDecodeError,
RecursionError...), and it yields the same events fed whole or in random chunks.

Bounded and seeded (stdlib ``random``, fixed seeds): every run checks the same cases, a
failure names its seed, and the whole file takes a fraction of a second.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from fuzz_support import chunks, mutate, random_bytes

from ivr.agi.commands import Noop
from ivr.agi.protocol import (
    MAX_NUMBER_DIGITS,
    AgiConnection,
    ConnectionClosed,
    Environment,
    Event,
    Response,
    State,
)
from ivr.channels.fastagi import call_info
from ivr.testing.transcripts import from_asterisk_bytes, read_transcript
from ivr.wire import NEED_DATA, RemoteProtocolError

TRANSCRIPTS = Path(__file__).parent / "transcripts"
AGI_FILES = sorted(TRANSCRIPTS.glob("agi-*.txt"))
#: Cases per test below; 19 transcripts x MUTANTS_PER_FILE + RANDOM + REPLIES in all.
MUTANTS_PER_FILE = 80
RANDOM_CASES = 400
REPLY_CASES = 600
#: What the AGI parser gives meaning to (protocol.py), spliced in by the mutator.
TOKENS = (b"200 result=", b" endpos=", b" (", b")", b"(timeout)", b"HANGUP\n", b"510 ",
          b"511 ", b"520-", b"520 End of proper usage.\n", b"agi_arg_1: ", b"agi_",
          b": ", b"\n\n", b"200", b"result=", b"endpos=-")
ENV = b"".join(line.text.encode() + b"\n" for line in read_transcript(AGI_FILES[0])
               if line.direction == "<<" and line.text.startswith("agi_")) + b"\n"

NUMBER = re.compile(rf"-?[0-9]{{1,{MAX_NUMBER_DIGITS}}}")

Outcome = tuple[list[Event], bool]
"""The events read, and whether the stream ended in a RemoteProtocolError."""


def touch(event: Event) -> None:
    """Read every typed accessor a caller of the parser would: they must not raise."""
    if isinstance(event, Environment):
        call_info(event)
        assert isinstance(event.args, tuple) and isinstance(event.network_script, str)
    elif isinstance(event, Response):
        # A number only in the form Asterisk writes one (ASCII, optional minus, at
        # most MAX_NUMBER_DIGITS digits): not "1_0", "+3", " 7" or Arabic-Indic digits.
        plain = NUMBER.fullmatch(event.result) is not None
        assert (event.number is not None) == plain, event.result[:40]
        if event.endpos is not None:
            assert -(10**MAX_NUMBER_DIGITS) < event.endpos < 10**MAX_NUMBER_DIGITS


def drive(feed: Iterable[bytes], *, expect_environment: bool = True) -> Outcome:
    """Feed the chunks (the last one ``b""``); send a command whenever one may be sent,
    so replies are read as replies rather than refused as unsolicited."""
    conn = AgiConnection(expect_environment=expect_environment)
    events: list[Event] = []
    try:
        for chunk in feed:
            conn.receive_data(chunk)
            while (event := conn.next_event()) is not NEED_DATA:
                touch(event)
                events.append(event)
                if isinstance(event, ConnectionClosed):
                    return events, False
                if conn.state is State.IDLE:
                    conn.send(Noop())
    except RemoteProtocolError:
        # The connection is over: it says so, and says nothing more.
        assert conn.state is State.CLOSED
        assert conn.next_event() in (NEED_DATA, ConnectionClosed())
        return events, True
    raise AssertionError("end of stream gave neither ConnectionClosed nor an error")


def check(data: bytes, rng: random.Random, *, expect_environment: bool = True) -> None:
    whole = drive([data, b""], expect_environment=expect_environment)
    chunked = drive(chunks(rng, data), expect_environment=expect_environment)
    assert chunked == whole


@pytest.mark.parametrize("path", AGI_FILES, ids=lambda p: p.stem)
def test_mutated_transcripts(path: Path) -> None:
    original = from_asterisk_bytes(read_transcript(path))
    rng = random.Random(f"agi-mutants-{path.name}")
    for case in range(MUTANTS_PER_FILE):
        data = mutate(rng, original, TOKENS)
        try:
            check(data, rng)
        except Exception as exc:
            raise AssertionError(f"{path.name} case {case}: {data[:200]!r}...") from exc


@pytest.mark.parametrize("expect_environment", [True, False])
def test_random_bytes(expect_environment: bool) -> None:
    rng = random.Random(f"agi-random-{expect_environment}")
    alphabets = (None, b"200 result=-0123456789()endpos\n", b"agi_: \n\r\xff")
    for case in range(RANDOM_CASES // 2):
        data = random_bytes(rng, rng.choice(alphabets))
        try:
            check(data, rng, expect_environment=expect_environment)
        except Exception as exc:
            raise AssertionError(f"case {case}: {data!r}") from exc


def random_reply(rng: random.Random) -> bytes:
    """One line shaped like an AGI reply, with numbers and texts drawn to hurt."""
    number = rng.choice(("0", "1", "-1", "-2", "-5", "49", "1114112", "9" * 25, "9" * 5000,
                         "", "abc", "\u0663", "1_0", "+3", "53 "))
    text = rng.choice(("", "timeout", "a) endpos=5", "(", ")", "x" * 300, "\u00e9"))
    line = rng.choice((
        f"200 result={number}",
        f"200 result={number} endpos={number}",
        f"200 result={number} ({text})",
        f"200 result={number} ({text}) endpos={number}",
        f"200 result= ({text})",
        f"510 {text}", f"511 {text}", f"520-{text}", "520 End of proper usage.",
        f"520 {text}", "HANGUP", f"{number}", f"201 {text}", "200", "",
    ))
    return line.encode("utf-8", "surrogateescape") + rng.choice((b"\n", b"\r\n", b"\n\n"))


def test_random_reply_sequences() -> None:
    rng = random.Random("agi-replies")
    for case in range(REPLY_CASES):
        data = ENV + b"".join(random_reply(rng) for _ in range(rng.randint(1, 8)))
        try:
            check(data, rng)
        except Exception as exc:
            raise AssertionError(f"case {case}: {data[len(ENV):][:300]!r}") from exc


def test_the_fuzzer_reaches_deep_states() -> None:
    """The fuzz inputs are not all refused at the first line: mutants of a recording
    still get through the environment block to replies, endpos and 520 usage."""
    rng = random.Random("agi-depth")
    original = from_asterisk_bytes(read_transcript(TRANSCRIPTS / "agi-env-and-basic-commands.txt"))
    kinds: set[str] = set()
    for _ in range(50):
        events, _error = drive([mutate(rng, original, TOKENS, max_mutations=1), b""])
        kinds.update(type(e).__name__ for e in events)
        kinds.update("endpos" for e in events if isinstance(e, Response) and e.endpos)
    assert {"Environment", "Response", "Usage", "InvalidCommand", "endpos"} <= kinds
