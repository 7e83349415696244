"""Classic AGI: one process per call over stdin/stdout, through pyst2.

Sites that run AGI scripts (``AGI(/usr/local/bin/ivr-agi.sh)``) get the same engine and
the same :class:`~ivr.channels.fastagi.AgiChannel` as FastAGI; only the link differs.
pyst2's ``asterisk.agi.AGI`` reads the environment block, installs the SIGHUP handler
Asterisk uses to say the caller hung up, and writes our commands. Replies are read with
our own sans-IO parser, because pyst2's ``get_result`` turns a ``HANGUP`` line into a
``ValueError`` (``int('')``), drops the ``(timeout)`` of ``result= (timeout)`` and
raises on every ``result=-1`` (agi-classic-pyst2-wire.txt).

pyst2 blocks, so each command runs in a worker thread (``asyncio.to_thread``); the event
loop stays free for the engine's lookups.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import IO, Any

from ivr.agi.commands import AnyCommand
from ivr.agi.protocol import AgiConnection, ConnectionClosed, Environment, HangupNotice, Reply
from ivr.channels.channel import CallerHungUp, Channel, ChannelError
from ivr.channels.fastagi import AgiChannel
from ivr.wire import NEED_DATA, RemoteProtocolError

Handler = Callable[[Channel], Awaitable[object]]


class PystLink:
    """An :class:`~ivr.channels.fastagi.AgiLink` over a pyst2 ``AGI`` object (blocking)."""

    def __init__(self, agi: Any) -> None:
        self._agi = agi
        self._conn = AgiConnection(expect_environment=False)  # pyst2 read it already
        self._notice = False
        self._before_reply = False

    @property
    def hangup_seen(self) -> bool:
        return self._notice or bool(getattr(self._agi, "_got_sighup", False))

    @property
    def hangup_before_reply(self) -> bool:
        return self._before_reply

    @property
    def environment(self) -> Environment:
        return Environment(dict(self._agi.env))

    async def roundtrip(self, command: AnyCommand, timeout: float | None) -> Reply:
        # ``timeout`` is not applied: a blocking read in a thread cannot be interrupted,
        # and a classic script dies with its Asterisk channel anyway (SIGHUP, EOF).
        line = self._conn.send(command).decode("utf-8")[:-1]  # checks state and quoting
        return await asyncio.to_thread(self._exchange, command.command().verb, line)

    def _exchange(self, verb: str, line: str) -> Reply:
        agi = self._agi
        try:
            agi.send_command(line)
        except OSError as exc:  # EPIPE: Asterisk closed our stdin/stdout
            raise CallerHungUp() from exc
        while True:
            event = self._conn.next_event()
            if event is NEED_DATA:
                text = agi.stdin.readline()
                raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
                try:
                    self._conn.receive_data(raw)
                except RemoteProtocolError as exc:
                    raise ChannelError(str(exc)) from None
                continue
            if isinstance(event, HangupNotice):
                self._notice = True
            elif isinstance(event, ConnectionClosed):
                raise CallerHungUp()
            elif isinstance(event, Environment):
                raise ChannelError(f"{verb}: unexpected environment block")
            else:
                self._before_reply = self.hangup_seen  # lines after the reply are unread
                return event


def open_classic_channel(flow: str, *, stdin: IO[str] | None = None,
                         stdout: IO[str] | None = None,
                         stderr: IO[str] | None = None) -> AgiChannel:
    """Read the environment with pyst2 and return the call's channel.

    Must run in the main thread: pyst2 installs its SIGHUP handler in ``__init__``.
    pyst2 writes debug lines to ``stderr``, which Asterisk shows on its console, so
    they go to /dev/null unless a stream is given.
    """
    from asterisk.agi import AGI

    # The sink lives as long as the process (one call), so it is not closed here.
    sink = stderr or open(os.devnull, "w")
    agi = AGI(stdin=stdin or sys.stdin, stdout=stdout or sys.stdout, stderr=sink)
    link = PystLink(agi)
    return AgiChannel(link, link.environment, flow=flow, kind="agi")


async def run_classic_call(channel: Channel, handler: Handler) -> int:
    """Run one call; 0 when the handler finished or the caller hung up, 1 otherwise."""
    try:
        await handler(channel)
    except CallerHungUp:
        return 0
    except ChannelError as exc:
        print(f"ivr agi: {exc}", file=sys.stderr)
        return 1
    return 0
