"""FastAgiServer: garbage peers, dropped connections, stop() with calls in flight, and
1,000 concurrent calls, all over loopback TCP with the fake Asterisk."""

from __future__ import annotations

import asyncio
import logging

import pytest
from agi_fixtures import MiniHotline, prompt, serving

from ivr.agi.server import FastAgiServer
from ivr.channels.channel import Channel, ChannelError
from ivr.testing.callers import ImpatientCaller
from ivr.testing.fake_asterisk import env_lines, run_call, run_many

ENV = "".join(line + "\n" for line in env_lines()).encode()


async def raw_peer(port: int, data: bytes, *, close: bool = False) -> bytes:
    """Send ``data``; return what the server sent back until it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if close:
        writer.close()
        await writer.wait_closed()
        return b""
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: ivr\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" * 3000,
    ENV + b"201 what is this\n",
])
async def test_garbage_peer_ends_its_call_only(garbage: bytes,
                                               caplog: pytest.LogCaptureFixture) -> None:
    hotline = MiniHotline()
    async with serving(hotline) as server:
        with caplog.at_level(logging.WARNING, logger="ivr.agi"):
            await raw_peer(server.port, garbage)
        warnings = [r for r in caplog.records if r.name.startswith("ivr.agi")]
        assert len(warnings) == 1 and not warnings[0].exc_info
        t = await run_call("127.0.0.1", server.port, ImpatientCaller("0"))
        assert t.closed_by_server and hotline.calls[-1].outcome == "completed"
        assert server.active_calls == 0


async def test_peer_closing_mid_env_block_and_mid_call() -> None:
    hotline = MiniHotline()
    async with serving(hotline) as server:
        await raw_peer(server.port, ENV[:100], close=True)
        await raw_peer(server.port, ENV, close=True)  # gone before the first reply
        t = await run_call("127.0.0.1", server.port, ImpatientCaller("1"))
        assert t.closed_by_server
        while server.active_calls:
            await asyncio.sleep(0)  # let the dropped call's task see EOF
    assert [c.outcome for c in hotline.calls] == ["abandoned", "completed"]


async def test_silent_connection_times_out_in_env() -> None:
    async with serving(MiniHotline(), env_timeout=0.05) as server:
        assert await raw_peer(server.port, b"agi_network: yes\n") == b""


async def test_handler_bug_is_logged_and_the_socket_closed(
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(channel: Channel) -> None:
        raise RuntimeError("bug in a handler")

    async with serving(broken) as server:
        with caplog.at_level(logging.ERROR, logger="ivr.agi"):
            t = await run_call("127.0.0.1", server.port)
    assert t.closed_by_server and t.commands == []
    assert "handler failed" in caplog.text


async def test_stop_waits_for_calls_then_cancels_the_rest() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()
    ended: list[str] = []

    async def handler(channel: Channel) -> None:
        slow = channel.info.flow == "slow"
        entered.set()
        try:
            await channel.play([prompt("welcome")])
            if slow:
                await asyncio.Event().wait()  # a lookup that never returns
            else:
                await release.wait()
            ended.append("finished")
        except asyncio.CancelledError:
            await channel.set_variable("IVR_RECORDED", "cancelled")  # can still record
            ended.append("cancelled")
            raise

    server = FastAgiServer(handler, port=0)
    await server.start()
    fast = asyncio.create_task(run_call("127.0.0.1", server.port, script="fast"))
    await entered.wait()
    entered.clear()
    slow = asyncio.create_task(run_call("127.0.0.1", server.port, script="slow"))
    await entered.wait()
    while server.active_calls < 2:
        await asyncio.sleep(0)
    stopping = asyncio.create_task(server.stop(grace=0.2))
    await asyncio.sleep(0)
    release.set()
    await stopping
    assert sorted(ended) == ["cancelled", "finished"]
    assert server.active_calls == 0
    slow_t, fast_t = await slow, await fast
    assert slow_t.commands[-1] == "SET VARIABLE IVR_RECORDED cancelled"
    assert fast_t.closed_by_server and slow_t.closed_by_server
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_a_thousand_concurrent_calls() -> None:
    n = 1000
    all_in = asyncio.Event()
    peak = 0

    async def handler(channel: Channel) -> None:
        nonlocal peak
        peak = max(peak, server.active_calls)
        if server.active_calls >= n:
            all_in.set()
        await all_in.wait()  # every call is connected and waiting at once
        await channel.play([prompt("welcome")], escape="1")
        await channel.set_variable("DONE", "1")

    async with serving(handler) as server:
        transcripts = await run_many("127.0.0.1", server.port, n, concurrency=n,
                                     caller_factory=lambda i: ImpatientCaller("1"))
        assert server.calls_started == n
    assert peak == n
    assert all(t.closed_by_server for t in transcripts)
    assert all(t.received[-2] == "200 result=49 endpos=4000" for t in transcripts)


async def test_a_cancelled_command_does_not_desynchronise_the_call() -> None:
    done: list[str | None] = []

    async def handler(channel: Channel) -> None:
        play = asyncio.create_task(channel.play([prompt("welcome")], escape="1"))
        await command_seen.wait()
        play.cancel()  # e.g. an engine-side timeout around a prompt
        with pytest.raises(asyncio.CancelledError):
            await play
        await channel.set_variable("AFTER", "1")  # waits for the stale reply first
        done.append(await channel.wait_digit(1.0))

    command_seen = asyncio.Event()
    async with serving(handler) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(ENV)
        assert await reader.readline() == b'STREAM FILE ivr/vi/welcome "1"\n'
        command_seen.set()
        writer.write(b"200 result=0 endpos=8000\n")  # the cancelled command's reply
        assert await reader.readline() == b"SET VARIABLE AFTER 1\n"
        writer.write(b"200 result=1\n")
        assert await reader.readline() == b"WAIT FOR DIGIT 1000\n"
        writer.write(b"200 result=55\n")
        assert await reader.read() == b""  # the call ended: the server closed
        writer.close()
    assert done == ["7"]


async def test_a_peer_that_stops_answering_ends_its_call(
        caplog: pytest.LogCaptureFixture) -> None:
    outcome: list[str] = []

    async def handler(channel: Channel) -> None:
        try:
            await channel.set_variable("A", "1")
        except ChannelError as exc:
            outcome.append(str(exc))
            raise

    async with serving(handler, command_timeout=0.05) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(ENV)
        assert await reader.readline() == b"SET VARIABLE A 1\n"
        with caplog.at_level(logging.WARNING, logger="ivr.agi"):
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
    assert outcome == ["no reply to SET VARIABLE within 0.05 s"]
    assert len([r for r in caplog.records if r.name.startswith("ivr.agi")]) == 1


async def test_a_prompt_that_never_ends_ends_its_call(caplog: pytest.LogCaptureFixture) -> None:
    """STREAM FILE has no command timeout (prompts are long), but not none at all: a
    peer wedged mid-prompt must not hold the call task and its socket forever."""
    outcome: list[str] = []

    async def handler(channel: Channel) -> None:
        try:
            await channel.play([prompt("welcome")])
        except ChannelError as exc:
            outcome.append(str(exc))
            raise

    async with serving(handler, prompt_timeout=0.05) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(ENV)
        assert await reader.readline() == b'STREAM FILE ivr/vi/welcome ""\n'
        with caplog.at_level(logging.WARNING, logger="ivr.agi"):
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
    assert outcome == ["no reply to STREAM FILE within 0.05 s"]


async def test_call_sockets_keep_alive() -> None:
    """EXEC Queue has no reply deadline: a vanished Asterisk host is noticed by TCP
    keepalive, so every call's socket has it on."""
    import socket

    from ivr.agi.server import KEEPALIVE_IDLE
    from ivr.channels.fastagi import AgiChannel

    seen: list[tuple[int, int]] = []

    async def handler(channel: Channel) -> None:
        assert isinstance(channel, AgiChannel)
        sock = channel._link._transport.get_extra_info("socket")  # type: ignore[attr-defined]
        seen.append((sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                     sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)))

    async with serving(handler) as server:
        await run_call("127.0.0.1", server.port)
    assert seen == [(1, KEEPALIVE_IDLE)]


async def test_fake_asterisk_reports_a_silent_server_instead_of_hanging() -> None:
    from ivr.testing.fake_asterisk import ServerSilent

    stuck = asyncio.Event()

    async def handler(channel: Channel) -> None:
        await channel.set_variable("A", "1")
        await stuck.wait()  # a lookup that never returns

    async with serving(handler) as server:
        with pytest.raises(ServerSilent, match="SET VARIABLE A 1") as info:
            await run_call("127.0.0.1", server.port, idle_timeout=0.05)
        assert info.value.transcript.commands == ["SET VARIABLE A 1"]
        stuck.set()
