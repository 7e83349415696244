"""The FastAGI server: one asyncio task per call, the sans-IO protocol underneath.

Asterisk connects (``AGI(agi://host:4573/hotline)``), sends the environment block, and
then waits for commands. For each connection we feed bytes to an
:class:`~ivr.agi.protocol.AgiConnection`; once the environment is complete a task runs
``handler(ServedChannel)``; when the conversation is over (the engine calls
``release()``) or the handler returns, the socket is closed, which tells Asterisk the
script ended (``AGISTATUS=SUCCESS``, agi-server-closes-*.txt).

A peer that sends garbage or drops the connection ends its own call only: one log line,
no traceback. The per-command path is a buffer append, a line split and a future.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import cast

from ivr.agi.commands import AnyCommand, Hangup
from ivr.agi.protocol import (
    AgiConnection,
    ConnectionClosed,
    Environment,
    HangupNotice,
    Reply,
    State,
)
from ivr.channels.channel import CallerHungUp, Channel, ChannelError
from ivr.channels.fastagi import COMMAND_TIMEOUT, PROMPT_TIMEOUT, AgiChannel
from ivr.metrics import NO_METRICS, MetricsHooks
from ivr.wire import NEED_DATA, RemoteProtocolError

log = logging.getLogger(__name__)

#: Seconds a new connection may take to send its environment block. Asterisk sends it
#: at once (< 1 ms in the transcripts); a connection that says nothing is not Asterisk
#: and must not hold a file descriptor forever.
ENV_TIMEOUT = 10.0
#: listen() backlog: a burst of calls (every line of a trunk ringing at once) connects
#: faster than one accept loop iteration; the default 100 makes the rest retry SYNs.
BACKLOG = 1024
#: How often one sweep checks every connection's reply deadline. One periodic sweep
#: instead of a timer per command keeps the per-command path free of timer handles;
#: deadlines are seconds long, so half a second of slack is nothing.
WATCHDOG_INTERVAL = 0.5
#: TCP keepalive on every call's socket: EXEC Queue has no reply deadline (a queued call
#: lasts as long as the agent talks), so if Asterisk's host vanishes without closing the
#: connection (power loss, a network cut) only the kernel can notice: first probe after
#: 60 s idle, then every 10 s, the socket fails after 6 unanswered probes (~2 minutes),
#: the call ends as abandoned and its record is saved instead of waiting forever.
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 6
Handler = Callable[[Channel], Awaitable[object]]


class ServedChannel(AgiChannel):
    """The channel of one FastAGI connection; ``release()`` closes the socket.

    Asterisk holds the caller's channel (and the dialplan after ``AGI()``) until the
    script closes the connection, so the engine releases it the moment the conversation
    is over, before the call record is saved: a busy database delays the record only.
    """

    __slots__ = ("_call",)

    def __init__(self, call: _CallConnection, env: Environment, *, command_timeout: float,
                 prompt_timeout: float) -> None:
        super().__init__(call, env, command_timeout=command_timeout,
                         prompt_timeout=prompt_timeout)
        self._call = call

    def release(self) -> None:
        self._call.close()


def _keepalive(sock: socket.socket | None) -> None:
    """Turn TCP keepalive on (the tuning options exist on Linux and macOS only)."""
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE), ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
                        ("TCP_KEEPCNT", KEEPALIVE_COUNT)):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


class _CallConnection(asyncio.Protocol):
    """One Asterisk connection: the protocol state, the link the channel talks over."""

    # Slots: a storm holds thousands of these at once (a per-instance dict was ~0.6 KiB
    # of each held call).
    __slots__ = ("_closed", "_command", "_conn", "_error", "_loop", "_reported", "_server",
                 "_timeout", "_transport", "_waiter", "deadline", "hangup_before_reply",
                 "hangup_seen", "task")

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
        self._conn = AgiConnection()
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Reply] | None = None
        self._loop = asyncio.get_running_loop()
        self.deadline = 0.0
        """loop.time() by which Asterisk must have answered; 0.0: no deadline."""
        self._timeout = 0.0
        """The deadline's length, for the message when it passes; what it was for is
        ``_command`` (None: the environment block)."""
        self._error: str | None = None
        self._reported = False
        """The peer error reached the handler, which logs it (the engine does, and
        _run does for a handler that lets it out): the server must not log it twice."""
        self._command: AnyCommand | None = None
        self._closed = False
        self.hangup_seen = False
        self.hangup_before_reply = False
        """Whether HANGUP had come in when the last reply did (AgiLink)."""
        self.task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- asyncio side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport on either loop: uvloop's TCPTransport does not subclass
        # asyncio.Transport (an isinstance check refused every uvloop call).
        self._transport = cast(asyncio.Transport, transport)
        _keepalive(transport.get_extra_info("socket"))
        self._server._connections.add(self)
        self._timeout = self._server.env_timeout
        self.deadline = self._loop.time() + self._server.env_timeout

    def data_received(self, data: bytes) -> None:
        self._feed(data)

    def eof_received(self) -> bool:
        if not self._closed:
            self._feed(b"")
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self)
        self.deadline = 0.0
        if not self._closed:
            self._closed = True
            self._fail_waiter(CallerHungUp())

    def _feed(self, data: bytes) -> None:
        """Feed the parser and act on its events; never raises.

        An exception out of data_received would make asyncio log "Fatal error:
        protocol.data_received() call failed" with a traceback for a peer's garbage;
        whatever the core raises ends this one connection with one line instead.
        """
        try:
            self._conn.receive_data(data)
            self._pump()
        except RemoteProtocolError as exc:
            self._protocol_error(str(exc))
        except Exception as exc:  # a parser bug: this call ends, the server goes on
            log.debug("AGI connection %s: parser failure", self._peer(), exc_info=True)
            self._protocol_error(f"unreadable input ({type(exc).__name__}: {exc})")

    def _pump(self) -> None:
        conn = self._conn
        while (event := conn.next_event()) is not NEED_DATA:
            kind = type(event)
            if kind is HangupNotice:
                self.hangup_seen = True
            elif kind is ConnectionClosed:
                self._closed = True
                self._fail_waiter(CallerHungUp())
                return
            elif kind is Environment:
                assert isinstance(event, Environment)
                self._start_call(event)
            else:
                waiter = self._waiter
                if waiter is not None and not waiter.done():
                    # Noted now: a HANGUP read in the same chunk *after* this reply
                    # sets hangup_seen before the channel resumes.
                    self.hangup_before_reply = self.hangup_seen
                    waiter.set_result(event)  # type: ignore[arg-type]

    def _peer(self) -> object:
        return self._transport.get_extra_info("peername") if self._transport else None

    def _protocol_error(self, message: str) -> None:
        """End the connection for the peer's garbage (or a missed deadline); logged once:
        by the call's handler when it sees the error, else here or when the call ends."""
        if self._closed:
            return
        self._error = message
        self._closed = True
        if self.task is None or self.task.done():
            self._report()  # no call to tell
        elif self._waiter is not None and not self._waiter.done():
            self._fail_waiter(self._peer_error())
        if self._transport is not None:
            self._transport.abort()

    def _peer_error(self) -> ChannelError:
        """The error the handler sees; the handler reports it, except HANGUP's:
        AgiChannel.hangup ignores a broken link (the call is over either way)."""
        if type(self._command) is not Hangup:
            self._reported = True
        return ChannelError(self._error)

    def _report(self, call_id: str | None = None) -> None:
        if self._error is not None and not self._reported:
            self._reported = True
            who = f"call {call_id}: AGI peer" if call_id is not None else "AGI peer"
            log.warning("%s %s: %s; call ended", who, self._peer(), self._error)

    def _fail_waiter(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def expire(self) -> None:
        """Called by the server's watchdog once ``deadline`` has passed."""
        self.deadline = 0.0
        command = self._command
        what = "the environment block" if command is None else command.command().verb
        self._protocol_error(f"no reply to {what} within {self._timeout:g} s")

    def _start_call(self, env: Environment) -> None:
        self.deadline = 0.0
        if log.isEnabledFor(logging.DEBUG):  # which process took which call (--workers)
            log.debug("call %s from %s", env.uniqueid, self._peer())
        channel = ServedChannel(self, env, command_timeout=self._server.command_timeout,
                                prompt_timeout=self._server.prompt_timeout)
        self.task = self._server._spawn(self._run(channel))

    async def _run(self, channel: AgiChannel) -> None:
        try:
            await self._server._handler(channel)
        except CallerHungUp:
            pass  # an expected end of a call
        except ChannelError as exc:
            self._reported = True  # this line is the one about it
            log.warning("call %s: %s", channel.info.call_id, exc)
        except Exception:
            log.exception("call %s: handler failed", channel.info.call_id)
        finally:
            self._report(channel.info.call_id)  # a peer error the handler never saw
            self.close()

    def close(self) -> None:
        """Close the connection (idempotent): Asterisk then ends the AGI() step."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # ---------------------------------------------------------------- AgiLink side

    async def roundtrip(self, command: AnyCommand, timeout: float | None) -> Reply:
        self._command = command
        if self._closed:
            if self._error is not None:
                raise self._peer_error()
            raise CallerHungUp()
        conn = self._conn
        if conn.state is not State.IDLE:
            # The previous command was cancelled while in flight (wait_for, task
            # cancel). AGI cannot cancel a command: its reply comes first, then ours.
            await self._await_reply()
        data = conn.send(command)
        assert self._transport is not None
        with self._server.metrics.agi_command(command.command().verb):
            # No drain(): one short command is in flight at a time, so the write buffer
            # can never grow past a line; awaiting drain would only add a call per command.
            self._transport.write(data)
            if timeout is not None:
                self._timeout = timeout
                self.deadline = self._loop.time() + timeout
            # _await_reply inline: one coroutine frame less for every call waiting.
            waiter: asyncio.Future[Reply] = self._loop.create_future()
            self._waiter = waiter
            try:
                return await waiter
            finally:
                self._waiter = None
                self.deadline = 0.0

    async def _await_reply(self) -> Reply:
        waiter: asyncio.Future[Reply] = self._loop.create_future()
        self._waiter = waiter
        try:
            return await waiter
        finally:
            self._waiter = None
            self.deadline = 0.0


class FastAgiServer:
    """Serve FastAGI calls: ``handler(channel)`` runs once per call, in its own task."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 4573,
                 env_timeout: float = ENV_TIMEOUT,
                 command_timeout: float = COMMAND_TIMEOUT,
                 prompt_timeout: float = PROMPT_TIMEOUT, reuse_port: bool = False,
                 metrics: MetricsHooks = NO_METRICS) -> None:
        self._handler = handler
        self.metrics = metrics
        self.reuse_port = reuse_port
        """Bind with SO_REUSEPORT: ``ivr serve --workers`` processes share the port and
        the kernel spreads new connections between them."""
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.prompt_timeout = prompt_timeout
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[_CallConnection] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self.calls_started = 0

    @property
    def active_calls(self) -> int:
        """Calls whose handler is running now."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Return once no call's handler runs (the socket closes before the call record
        is saved: a test that reads the record after a call waits for this first)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def start(self) -> None:
        """Bind and start accepting; ``port`` is then the actual port (0 = any free)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _CallConnection(self), self.host, self.port, backlog=BACKLOG,
            reuse_port=self.reuse_port or None)
        self.port = self._server.sockets[0].getsockname()[1]
        self._watchdog = asyncio.ensure_future(self._sweep())
        log.debug("FastAGI listening on %s:%d", self.host, self.port)

    async def _sweep(self) -> None:
        """Expire connections whose reply (or environment block) is overdue."""
        loop = asyncio.get_running_loop()
        interval = min(WATCHDOG_INTERVAL, self.env_timeout / 2, self.command_timeout / 2)
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for conn in [c for c in self._connections if 0.0 < c.deadline <= now]:
                conn.expire()

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.calls_started += 1
        return task

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let calls finish for up to ``grace`` seconds, then cancel the
        rest (their handlers see CancelledError and can record the call) and wait."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            if conn.task is None:
                conn.abort()  # still in the environment block: no call to finish
        tasks = set(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.wait([self._watchdog])
            self._watchdog = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
