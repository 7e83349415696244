"""Replies Asterisk never sends, over real TCP: each ends its own call cleanly, with one
log line and no traceback; the call record is written as for any channel failure; the
server goes on serving the next call.

The hostile peer is the fake Asterisk's own sans-IO call (``FakeCall``) with one reply
swapped for garbage, driven over a raw socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agi_fixtures import MiniHotline, serving

from ivr.agi.commands import Noop
from ivr.agi.protocol import MAX_NUMBER_DIGITS, AgiConnection, Event, State, parse_response
from ivr.testing.callers import SilentCaller
from ivr.testing.fake_asterisk import FakeCall, env_lines, run_call
from ivr.wire import NEED_DATA, NeedData, RemoteProtocolError

ROOT = Path(__file__).resolve().parent.parent
HUGE_ENDPOS = "200 result=0 endpos=" + "9" * 5000


class HostileCall(FakeCall):
    """Answers like Asterisk, except that the first command starting with ``verb`` gets
    ``reply`` instead."""

    def __init__(self, verb: str, reply: str) -> None:
        super().__init__(SilentCaller())
        self.verb = verb
        self.reply: str | None = reply

    def handle(self, line: str) -> list[str]:
        out = super().handle(line)
        if self.reply is not None and line.startswith(self.verb):
            out, self.reply = [self.reply], None
        return out


async def hostile_call(port: int, call: HostileCall, uniqueid: str) -> list[str]:
    """Place one call; return the commands the server sent before it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[str] = []
    try:
        env = env_lines(extension="19001234", uniqueid=uniqueid, port=port)
        writer.write("".join(line + "\n" for line in env).encode())
        async with asyncio.timeout(10):  # a stuck server fails the test, not hangs it
            while True:
                try:
                    raw = await reader.readline()
                except ConnectionError:  # the server aborted the connection
                    raw = b""
                if not raw.endswith(b"\n"):
                    return commands
                commands.append(raw[:-1].decode())
                writer.write("".join(r + "\n" for r in call.handle(commands[-1])).encode())
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def warnings_and_tracebacks(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    records = caplog.records
    return ([r.getMessage() for r in records if r.levelno >= logging.WARNING],
            [r.getMessage() for r in records if r.exc_info])


# ---------------------------------------------------------------- the parser


def test_a_5000_digit_endpos_is_the_peers_error() -> None:
    with pytest.raises(RemoteProtocolError, match=f"longer than {MAX_NUMBER_DIGITS} digits"):
        parse_response(HUGE_ENDPOS)
    conn = AgiConnection(expect_environment=False)
    conn.send(Noop())
    conn.receive_data(HUGE_ENDPOS.encode() + b"\n200 result=0\n")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.CLOSED
    assert conn.next_event() is NEED_DATA  # nothing more is read from a broken peer


@pytest.mark.parametrize(("result", "number"), [
    ("49", 49), ("-1", -1), ("0", 0), ("9" * MAX_NUMBER_DIGITS, int("9" * MAX_NUMBER_DIGITS)),
    ("9" * (MAX_NUMBER_DIGITS + 1), None), ("9" * 5000, None), ("+3", None), ("1_0", None),
    (" 7", None), ("\u0663", None), ("", None), ("*0", None),
])
def test_result_numbers_only_in_asterisks_form(result: str, number: int | None) -> None:
    assert parse_response(f"200 result={result}").number == number


# ---------------------------------------------------------------- over TCP


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[object]:
    from ivr.config.settings import load_settings
    from ivr.service import open_core

    environ = {**os.environ, "IVR_NOW": "2026-12-01T10:00:00+07:00"}
    settings = load_settings(environ, {
        "data_dir": tmp_path, "flows_path": ROOT / "config" / "flows.yaml",
        "prompts_path": ROOT / "config" / "prompts.yaml"})
    opened = await open_core(settings, environ)
    try:
        yield opened
    finally:
        await opened.close()


HOSTILE = [
    pytest.param("STREAM FILE", "200 result=1114112", "'1114112' is not a DTMF key",
                 id="stream-file-past-unicode"),
    pytest.param("STREAM FILE", "200 result=-5", "'-5' is not a DTMF key",
                 id="stream-file-negative"),
    pytest.param("WAIT FOR DIGIT", "200 result=1114112", "'1114112' is not a DTMF key",
                 id="wait-for-digit-past-unicode"),
    pytest.param("WAIT FOR DIGIT", "200 result=120", "'120' is not a DTMF key",
                 id="wait-for-digit-not-a-key"),
    pytest.param("STREAM FILE", HUGE_ENDPOS, "endpos= longer than 20 digits",
                 id="endpos-5000-digits"),
]


@pytest.mark.parametrize(("verb", "reply", "said"), HOSTILE)
async def test_engine_call_ends_with_one_line_and_its_record(
        core: object, verb: str, reply: str, said: str,
        caplog: pytest.LogCaptureFixture) -> None:
    from ivr.service import Core

    assert isinstance(core, Core)

    async def handler(channel: object) -> None:
        await core.engine.run(channel)  # type: ignore[arg-type]

    async with serving(handler) as server:
        with caplog.at_level(logging.INFO):
            commands = await hostile_call(server.port, HostileCall(verb, reply), "666.1")
            while server.active_calls:
                await asyncio.sleep(0)  # the call task records the call, then ends
        assert any(c.startswith(verb) for c in commands)
        warnings, tracebacks = warnings_and_tracebacks(caplog)
        assert len(warnings) == 1 and said in warnings[0] and "666.1" in warnings[0], warnings
        assert tracebacks == []
        # the next call is served as ever (silence: the demo hands over to an agent)
        t = await run_call("127.0.0.1", server.port, SilentCaller(), extension="19001234")
        assert t.closed_by_server and t.has_command("EXEC Queue")
        await server.wait_idle()  # the socket closes first, the record is saved after
    calls = {c["call_id"]: c for c in await core.store.list_calls(limit=10)}
    assert calls["666.1"]["outcome"] == "failed"
    assert calls["666.1"]["error"].startswith("channel: ") and said in calls["666.1"]["error"]
    assert len(calls) == 2


@pytest.mark.parametrize(("verb", "reply", "said"), HOSTILE)
async def test_bare_handler_call_ends_with_one_line(
        verb: str, reply: str, said: str, caplog: pytest.LogCaptureFixture) -> None:
    """A handler that lets the ChannelError out (not the engine): the server's line."""
    hotline = MiniHotline()
    async with serving(hotline) as server:
        with caplog.at_level(logging.INFO):
            await hostile_call(server.port, HostileCall(verb, reply), "666.2")
            while server.active_calls:
                await asyncio.sleep(0)
        warnings, tracebacks = warnings_and_tracebacks(caplog)
        assert len(warnings) == 1 and said in warnings[0] and "666.2" in warnings[0], warnings
        assert tracebacks == []
        t = await run_call("127.0.0.1", server.port, SilentCaller())
        assert t.closed_by_server
    assert hotline.calls[-1].outcome == "completed"


async def test_garbage_between_commands_is_logged_once_when_the_call_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    """Garbage while no command is in flight, and the handler's last word is HANGUP
    (which ignores a broken link): the server still says it, once."""
    got_env = asyncio.Event()
    garbage_in = asyncio.Event()

    async def handler(channel: object) -> None:
        from ivr.channels.channel import Channel

        assert isinstance(channel, Channel)
        got_env.set()
        await garbage_in.wait()
        await channel.hangup()

    async with serving(handler) as server:
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write("".join(x + "\n" for x in env_lines(uniqueid="666.3")).encode())
            await got_env.wait()
            writer.write(HUGE_ENDPOS.encode() + b"\n")
            with contextlib.suppress(ConnectionError):
                assert await reader.read() == b""  # aborted by the server
            garbage_in.set()
            while server.active_calls:
                await asyncio.sleep(0)
            writer.close()
        warnings, tracebacks = warnings_and_tracebacks(caplog)
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("call 666.3: AGI peer ('127.0.0.1', ")
        assert warnings[0].endswith(f"reply with no command in flight: {HUGE_ENDPOS[:80]!r}; "
                                    "call ended")
        assert tracebacks == []


class BuggyParser(AgiConnection):
    """A parser with a bug on one input: what any unexpected exception looks like."""

    def next_event(self) -> Event | NeedData:
        if b"BOOM" in self._buffer:
            raise IndexError("a parser bug")
        return super().next_event()


async def test_a_parser_bug_ends_one_connection_not_the_server(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """No exception escapes data_received (asyncio would log "Fatal error:
    protocol.data_received() call failed" with a traceback)."""
    import ivr.agi.server

    hotline = MiniHotline()
    async with serving(hotline) as server:
        monkeypatch.setattr(ivr.agi.server, "AgiConnection", BuggyParser)
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"agi_network: yes\nBOOM\n")
            with contextlib.suppress(ConnectionError):
                assert await reader.read() == b""
            writer.close()
        warnings, tracebacks = warnings_and_tracebacks(caplog)
        assert len(warnings) == 1, warnings
        assert "unreadable input (IndexError: a parser bug); call ended" in warnings[0]
        assert tracebacks == []
        t = await run_call("127.0.0.1", server.port, SilentCaller())
        assert t.closed_by_server and hotline.calls[-1].outcome == "completed"
