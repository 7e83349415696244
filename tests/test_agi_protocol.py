"""The sans-IO AGI protocol against the recorded Asterisk transcripts: fed whole, byte by
byte and in random chunks; commands rendered byte for byte as recorded."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.agi.commands import (
    Answer,
    ChannelStatus,
    Exec,
    GetVariable,
    Hangup,
    Noop,
    Quoted,
    SetVariable,
    StreamFile,
    Verbose,
    WaitForDigit,
    parse_command,
    render,
)
from ivr.agi.protocol import (
    MAX_ENV_LINES,
    MAX_LINE_LENGTH,
    AgiConnection,
    ConnectionClosed,
    DeadChannel,
    Environment,
    Event,
    HangupNotice,
    InvalidCommand,
    Response,
    State,
    Usage,
    parse_response,
)
from ivr.testing.transcripts import WireLine, from_asterisk_bytes, read_transcript
from ivr.wire import NEED_DATA, LocalProtocolError, RemoteProtocolError

TRANSCRIPTS = Path(__file__).parent / "transcripts"
AGI_FILES = sorted(p.name for p in TRANSCRIPTS.glob("agi-*.txt"))


def expected_kinds(lines: list[WireLine]) -> list[tuple[str, object]]:
    """The script of one transcript: ('send', line) and ('event', kind) in wire order,
    classified independently of the parser under test."""
    steps: list[tuple[str, object]] = []
    in_env = True
    in_usage = False
    for line in lines:
        if line.direction == ">>":
            steps.append(("send", line.text))
            continue
        if line.direction != "<<":
            continue
        text = line.text
        if in_env:
            if text == "":
                in_env = False
                steps.append(("event", Environment))
            continue
        if in_usage:
            if text.startswith("520 "):
                in_usage = False
                steps.append(("event", Usage))
            continue
        if text == "HANGUP":
            steps.append(("event", HangupNotice))
        elif text.startswith("520-"):
            in_usage = True
        elif text.startswith("200 "):
            steps.append(("event", Response))
        elif text.startswith("510 "):
            steps.append(("event", InvalidCommand))
        elif text.startswith("511 "):
            steps.append(("event", DeadChannel))
        else:
            raise AssertionError(f"unclassified line {text!r}")
    steps.append(("event", ConnectionClosed))
    return steps


def chunkings(data: bytes, mode: str) -> Iterator[bytes]:
    if mode == "whole":
        yield data
    elif mode == "bytewise":
        for i in range(len(data)):
            yield data[i : i + 1]
    else:
        rng = random.Random(mode)
        i = 0
        while i < len(data):
            n = rng.randint(1, 40)
            yield data[i : i + n]
            i += n
    yield b""


def replay(name: str, mode: str) -> list[Event]:
    lines = read_transcript(TRANSCRIPTS / name)
    chunks = chunkings(from_asterisk_bytes(lines), mode)
    conn = AgiConnection()
    events: list[Event] = []
    for step, what in expected_kinds(lines):
        if step == "send":
            assert isinstance(what, str)
            assert conn.send(parse_command(what)) == what.encode() + b"\n"
            continue
        while (event := conn.next_event()) is NEED_DATA:
            conn.receive_data(next(chunks))
        assert type(event) is what, (name, events[-3:], event)
        events.append(event)
    return events


@pytest.mark.parametrize("mode", ["whole", "bytewise", "random-1", "random-2"])
@pytest.mark.parametrize("name", AGI_FILES)
def test_transcript_replays_to_the_expected_events(name: str, mode: str) -> None:
    events = replay(name, mode)
    env = events[0]
    assert isinstance(env, Environment)
    assert env.uniqueid and env.channel.startswith("Local/")
    assert env.values["agi_accountcode"] == ""  # trailing space on the wire, empty value


def test_fastagi_environment_accessors() -> None:
    env = replay("agi-env-dialled-number.txt", "whole")[0]
    assert isinstance(env, Environment)
    assert env.network_script == "hotline"
    assert env.request == "agi://127.0.0.1:4573/hotline"
    assert env.args == ("arg1",)
    assert env.callerid == "0901234567"
    assert env.calleridname == "Test Caller"
    assert env.extension == "19001234"
    assert env.dnid == "unknown"
    assert env.uniqueid == "1795848819.5"
    assert env.channel == "Local/19001234@hotline-00000002;2"
    assert env.language == "en"
    assert env.context == "hotline"
    assert len(env.values) == 23


def test_classic_environment_has_no_network_script() -> None:
    env = replay("agi-classic-env-and-commands.txt", "whole")[0]
    assert isinstance(env, Environment)
    assert env.network_script == ""
    assert env.request == "/srv/agi/classic_agi_logger.py"
    assert env.callerid == "unknown"


@pytest.mark.parametrize(("line", "result", "data", "endpos"), [
    ("200 result=0", "0", None, None),
    ("200 result=1 (hello world)", "1", "hello world", None),
    ('200 result=1 (say "hi" now)', "1", 'say "hi" now', None),
    ("200 result=1 ()", "1", "", None),
    ("200 result=1 (0901234567/s/Local/s@hotline-00000001;2)", "1",
     "0901234567/s/Local/s@hotline-00000001;2", None),
    ("200 result= (timeout)", "", "timeout", None),
    ("200 result=12 (timeout)", "12", "timeout", None),
    ("200 result=", "", None, None),
    ("200 result=*0", "*0", None, None),
    ("200 result=-1", "-1", None, None),
    ("200 result=-1 endpos=0", "-1", None, 0),
    ("200 result=53 endpos=14080", "53", None, 14080),
    ("200 result=0 endpos=-1", "0", None, -1),
    # RECORD FILE form (panoramisk's greedy regex merges these)
    ("200 result=1 (dtmf) endpos=5", "1", "dtmf", 5),
    # a variable whose value itself ends like an endpos stays whole
    ("200 result=1 (a) endpos=5)", "1", "a) endpos=5", None),
])
def test_response_forms(line: str, result: str, data: str | None, endpos: int | None) -> None:
    response = parse_response(line)
    assert (response.code, response.result, response.data, response.endpos) == (
        200, result, data, endpos)
    assert response.raw == line


def test_response_number() -> None:
    assert parse_response("200 result=53 endpos=14080").number == 53
    assert parse_response("200 result=").number is None
    assert parse_response("200 result=*0").number is None


def test_usage_collects_all_lines_including_lookalike_reply() -> None:
    events = replay("agi-env-and-basic-commands.txt", "whole")
    usages = [e for e in events if isinstance(e, Usage)]
    assert len(usages) == 6
    last = usages[-1]
    assert last.lines[0] == "Invalid command syntax.  Proper usage follows:"
    assert "Example return code: 200 result=1 (testvariable)" in last.lines
    assert last.lines[-1] == "End of proper usage."


def test_hangup_notice_ahead_of_reply() -> None:
    events = replay("agi-hangup-during-get-data.txt", "bytewise")
    kinds = [type(e).__name__ for e in events[:6]]
    assert kinds == ["Environment", "Response", "Response", "Response", "HangupNotice",
                     "Response"]
    assert events[3] == Response(200, "-1", None, None, "200 result=-1")
    assert events[5] == Response(200, "1", "C-2026-0077", None, "200 result=1 (C-2026-0077)")


# ------------------------------------------------------------ rendering


@pytest.mark.parametrize(("command", "wire"), [
    (Answer(), "ANSWER"),
    (StreamFile("hotline-welcome", "0123456789*#"), 'STREAM FILE hotline-welcome "0123456789*#"'),
    (StreamFile("hotline-short", ""), 'STREAM FILE hotline-short ""'),
    (StreamFile("hotline-short", "0123456789*#", 0), 'STREAM FILE hotline-short "0123456789*#" 0'),
    (WaitForDigit(5000), "WAIT FOR DIGIT 5000"),
    (WaitForDigit(-1), "WAIT FOR DIGIT -1"),
    (SetVariable("IVR_CASE_ID", "C-2026-0001"), "SET VARIABLE IVR_CASE_ID C-2026-0001"),
    (SetVariable("GREETING", "hello world"), 'SET VARIABLE GREETING "hello world"'),
    (SetVariable("EMPTY_BUT_SET", ""), 'SET VARIABLE EMPTY_BUT_SET ""'),
    (SetVariable("QUOTED", 'say "hi" now'), r'SET VARIABLE QUOTED "say \"hi\" now"'),
    (SetVariable("PATH", "a\\b"), r'SET VARIABLE PATH "a\\b"'),
    (GetVariable("QUEUESTATUS"), "GET VARIABLE QUEUESTATUS"),
    (GetVariable("CALLERID(num)"), "GET VARIABLE CALLERID(num)"),
    (Exec("Queue", "hotline,c,,,60"), "EXEC Queue hotline,c,,,60"),
    (Exec("Queue", "hotline"), "EXEC Queue hotline"),
    (Exec("Verbose", "1,two,args"), "EXEC Verbose 1,two,args"),
    (Verbose("hello from the fastagi logger", 1), 'VERBOSE "hello from the fastagi logger" 1'),
    (Verbose("plain-word", None), "VERBOSE plain-word"),
    (Hangup(), "HANGUP"),
    (ChannelStatus(), "CHANNEL STATUS"),
    (Noop(), "NOOP"),
])
def test_typed_commands_render_as_recorded(command: object, wire: str) -> None:
    assert render(command) == wire.encode() + b"\n"  # type: ignore[arg-type]


def test_every_recorded_command_round_trips() -> None:
    seen = 0
    for name in AGI_FILES:
        for line in read_transcript(TRANSCRIPTS / name):
            if line.direction == ">>":
                assert render(parse_command(line.text)) == line.text.encode() + b"\n", name
                seen += 1
    assert seen > 100


def test_parse_command_recognises_verbs() -> None:
    parsed = parse_command('GET FULL VARIABLE "${GREETING}" Local/s@hotline-00000001;2')
    assert parsed.canonical == "GET FULL VARIABLE"
    assert parsed.args == (Quoted("${GREETING}"), "Local/s@hotline-00000001;2")
    assert parse_command("answer").canonical == "ANSWER"
    assert parse_command("THIS IS NOT A COMMAND").canonical == ""
    assert parse_command(r'SET VARIABLE QUOTED "say \"hi\" now"').text(1) == 'say "hi" now'


@pytest.mark.parametrize("bad", ["a\nNOOP", "x\r", "nul\0"])
def test_line_breaks_in_arguments_are_our_bug(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        render(SetVariable("X", bad))


# ------------------------------------------------------------ state and limits


def ready() -> AgiConnection:
    conn = AgiConnection()
    conn.receive_data(b"agi_network: yes\nagi_network_script: hotline\n\n")
    assert isinstance(conn.next_event(), Environment)
    return conn


def test_one_command_in_flight() -> None:
    conn = AgiConnection()
    with pytest.raises(LocalProtocolError):
        conn.send(Answer())  # before the environment
    conn = ready()
    conn.send(Answer())
    with pytest.raises(LocalProtocolError):
        conn.send(Noop())
    conn.receive_data(b"200 result=0\n")
    assert isinstance(conn.next_event(), Response)
    assert conn.state is State.IDLE
    conn.send(Noop())


def test_idle_hangup_and_eof() -> None:
    conn = ready()
    conn.receive_data(b"HANGUP\n")
    assert conn.next_event() == HangupNotice()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"more")


def test_eof_while_awaiting_reply_is_a_close() -> None:
    conn = ready()
    conn.send(StreamFile("x"))
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"agi_network yes\n\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\xaa" * (MAX_LINE_LENGTH + 10),
])
def test_garbage_environment_is_the_peers_fault(garbage: bytes) -> None:
    conn = AgiConnection()
    conn.receive_data(garbage)
    with pytest.raises(RemoteProtocolError):
        while conn.next_event() is NEED_DATA:
            conn.receive_data(b"")
    assert conn.state is State.CLOSED


def test_env_block_line_limit() -> None:
    conn = AgiConnection()
    conn.receive_data(b"".join(b"agi_arg_%d: x\n" % i for i in range(MAX_ENV_LINES + 1)))
    with pytest.raises(RemoteProtocolError, match="too large"):
        conn.next_event()


def test_eof_inside_environment() -> None:
    conn = AgiConnection()
    conn.receive_data(b"agi_network: yes\nagi_netw")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="ENVIRONMENT"):
        conn.next_event()


def test_unsolicited_reply_and_unknown_code() -> None:
    conn = ready()
    conn.receive_data(b"200 result=0\n")
    with pytest.raises(RemoteProtocolError, match="no command in flight"):
        conn.next_event()
    conn = ready()
    conn.send(Noop())
    conn.receive_data(b"999 what\n")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_single_line_520_and_crlf_tolerated() -> None:
    conn = ready()
    conn.send(Noop())
    conn.receive_data(b"520 Invalid command syntax.  Proper usage not available.\r\n")
    assert conn.next_event() == Usage(("Invalid command syntax.  Proper usage not available.",))


def test_network_script_from_request_and_query() -> None:
    env = Environment({"agi_request": "agi://10.0.0.1:4573/billing/?lang=vi"})
    assert env.network_script == "billing"
    env = Environment({"agi_network_script": "hotline?x=1", "agi_arg_1": "a",
                       "agi_arg_2": "", "agi_arg_4": "gap"})
    assert env.network_script == "hotline"
    assert env.args == ("a", "")
