"""The AGI wire protocol as a sans-IO state machine (the script's side).

Bytes in, typed events out; typed commands in, bytes out. No sockets, no asyncio, no
clocks: the FastAGI server, the classic (stdin/stdout) entry point and the tests all
drive the same :class:`AgiConnection`. Every rule here cites the recorded transcripts in
``tests/transcripts/`` (a real Asterisk 22), not the documentation.

    conn = AgiConnection()
    conn.receive_data(bytes_from_asterisk)     # b"" means the peer closed
    event = conn.next_event()                  # NEED_DATA: feed more bytes
    wire = conn.send(StreamFile("ivr/vi/welcome", "0123456789*#"))

Typed commands and quoting live in :mod:`ivr.agi.commands`; the two error families and
``NEED_DATA``, shared with the AMI core, in :mod:`ivr.wire`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ivr.agi.commands import AnyCommand, render
from ivr.wire import NEED_DATA, LocalProtocolError, NeedData, RemoteProtocolError

#: Longest line we accept from Asterisk. Its own replies are short (a 520 usage line is
#: ~600 bytes); the long ones carry a variable's value, which Asterisk caps well below
#: this. A peer that sends more without a newline is not Asterisk.
MAX_LINE_LENGTH = 16 * 1024
#: Environment lines: ~23 ``agi_*`` keys plus up to 127 ``agi_arg_N`` (Asterisk's
#: MAX_ARGS is 128). Anything past this is a runaway peer, not a call.
MAX_ENV_LINES = 256
#: Bytes in the whole environment block (23 short lines are ~600 bytes in practice).
MAX_ENV_BYTES = 64 * 1024
#: Lines in one multi-line ``520-`` usage reply (real ones have 2-6).
MAX_USAGE_LINES = 200
#: Digits in a number field (``result=``, ``endpos=``). Asterisk prints an int or a
#: sample offset (int64: 19 digits); a longer "number" is not from Asterisk, and past
#: 4300 digits Python's int() refuses it with a ValueError instead of parsing it.
MAX_NUMBER_DIGITS = 20


class State(enum.Enum):
    """Where the conversation with Asterisk stands."""

    ENVIRONMENT = "environment"
    """Reading the ``agi_*: value`` block that ends with an empty line."""
    IDLE = "idle"
    """No command in flight; only an unsolicited ``HANGUP`` may arrive."""
    AWAITING_REPLY = "awaiting_reply"
    """A command was sent; its reply (possibly after a ``HANGUP`` line) is due."""
    USAGE = "usage"
    """Inside a multi-line ``520-`` usage reply, until ``520 End of proper usage.``"""
    CLOSED = "closed"
    """The peer closed the connection (or sent garbage); nothing more will come."""


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Environment:
    """The ``agi_*`` block Asterisk sends first, with typed accessors."""

    values: Mapping[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    @property
    def request(self) -> str:
        return self.get("agi_request")

    def _script_and_query(self) -> str:
        script = self.values.get("agi_network_script")
        if script is None:
            request = self.request
            if "://" not in request:
                return ""  # classic AGI: agi_request is the script's file path
            script = request.split("://", 1)[1].partition("/")[2]
        return script

    @property
    def network_script(self) -> str:
        """Path part of the FastAGI URL (``agi://host:4573/hotline?x`` -> ``hotline``)."""
        return self._script_and_query().partition("?")[0].strip("/")

    @property
    def query(self) -> Mapping[str, str]:
        """The FastAGI URL's query (``agi://host/hotline?synthetic=1`` ->
        ``{"synthetic": "1"}``); the line limit bounds it."""
        return dict(parse_qsl(self._script_and_query().partition("?")[2]))

    @property
    def args(self) -> tuple[str, ...]:
        """``agi_arg_1``, ``agi_arg_2``, ... in order (stops at the first gap)."""
        out: list[str] = []
        while (value := self.values.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(value)
        return tuple(out)

    @property
    def callerid(self) -> str:
        return self.get("agi_callerid")

    @property
    def calleridname(self) -> str:
        return self.get("agi_calleridname")

    @property
    def dnid(self) -> str:
        return self.get("agi_dnid")

    @property
    def extension(self) -> str:
        return self.get("agi_extension")

    @property
    def context(self) -> str:
        return self.get("agi_context")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @property
    def language(self) -> str:
        return self.get("agi_language")


@dataclass(frozen=True, slots=True)
class Response:
    """A ``200 result=...`` reply: ``result`` as sent (may be ``""``), the text in
    parentheses (``data``), the ``endpos=`` sample offset."""

    code: int
    result: str
    data: str | None = None
    endpos: int | None = None
    raw: str = ""

    @property
    def number(self) -> int | None:
        """``result`` as an int; None when it is empty or not a number as Asterisk
        writes one (``int()`` alone would take ``+3``, ``1_0`` or Arabic-Indic digits)."""
        if _NUMBER.fullmatch(self.result) is None:
            return None
        return int(self.result)


@dataclass(frozen=True, slots=True)
class InvalidCommand:
    """``510 Invalid or unknown command``."""

    text: str


@dataclass(frozen=True, slots=True)
class DeadChannel:
    """``511 Command Not Permitted on a dead channel or intercept routine``."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """``520`` wrong usage; Asterisk sends ``520-...`` lines up to ``520 End of proper
    usage.`` (agi-env-and-basic-commands.txt); ``lines`` holds them without the codes."""

    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """The unsolicited ``HANGUP`` line: the caller is gone. It can arrive between
    commands or in front of the next command's reply (agi-hangup-during-get-data.txt)."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the connection."""


Reply = Response | InvalidCommand | DeadChannel | Usage
Event = Environment | Reply | HangupNotice | ConnectionClosed

# ---------------------------------------------------------------- connection

_NUMBER = re.compile(rf"-?[0-9]{{1,{MAX_NUMBER_DIGITS}}}")
# [0-9], not \d: \d would match any Unicode digit, and int() would convert it.
_RESULT_TAIL = re.compile(r"^(?: \((.*)\))?(?: endpos=(-?[0-9]+))?$", re.DOTALL)


def parse_response(line: str) -> Response:
    """Parse a ``200`` line. ``result=`` may be empty (``#`` alone in GET DATA), be
    followed by ``(data)`` (with a space: ``result= (timeout)``) and by ``endpos=N``
    (agi-get-data-*.txt, agi-stream-file-*.txt)."""
    if not line.startswith("200 result="):
        raise RemoteProtocolError(f"200 reply without result=: {line[:80]!r}")
    rest = line[11:]
    value, space, tail = rest.partition(" ")
    if not space:
        return Response(200, value, None, None, line)  # the common "200 result=N"
    tail = space + tail
    match = _RESULT_TAIL.match(tail)
    if match is None:
        # An unknown tail form: keep it whole as data rather than drop the call.
        return Response(200, value, tail.strip(), None, line)
    data, endpos = match.groups()
    if endpos is None:
        return Response(200, value, data, None, line)
    if _NUMBER.fullmatch(endpos) is None:
        raise RemoteProtocolError(f"endpos= longer than {MAX_NUMBER_DIGITS} digits")
    return Response(200, value, data, int(endpos), line)


#: The empty containers a connection holds outside the environment block and a 520
#: usage reply, shared by every connection instead of two of its own (a storm holds
#: thousands of connections). Never written: each state starts a fresh one.
_NO_ENV: dict[str, str] = {}
_NO_USAGE: list[str] = []


class AgiConnection:
    """The script's side of one AGI session: feed it bytes, read events, send commands."""

    __slots__ = ("_buffer", "_env", "_env_bytes", "_eof", "_usage", "state")

    def __init__(self, *, expect_environment: bool = True) -> None:
        # Classic AGI via pyst2 reads the environment itself and hands us the rest.
        self.state = State.ENVIRONMENT if expect_environment else State.IDLE
        self._buffer = bytearray()
        self._env: dict[str, str] = {} if expect_environment else _NO_ENV
        self._env_bytes = 0
        self._usage: list[str] = _NO_USAGE
        self._eof = False

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means it closed the connection."""
        if self._eof:
            if data:
                raise LocalProtocolError("data fed after end of stream")
            return
        if data:
            self._buffer += data
        else:
            self._eof = True

    def send(self, command: AnyCommand) -> bytes:
        """Bytes to write for ``command``; one command may be in flight at a time."""
        if self.state is not State.IDLE:
            raise LocalProtocolError(f"cannot send a command in state {self.state.name}")
        data = render(command)
        self.state = State.AWAITING_REPLY
        return data

    def next_event(self) -> Event | NeedData:
        """The next event, or ``NEED_DATA`` when more bytes are needed.

        Raises :class:`RemoteProtocolError` for anything Asterisk never sends; the
        connection is then CLOSED for good (as h11 does: no half-trusted state after).
        """
        try:
            event = self._next_event()
        except RemoteProtocolError:
            self.state = State.CLOSED
            raise
        return NEED_DATA if event is None else event

    def _next_event(self) -> Event | None:
        if self.state is State.ENVIRONMENT and not self._env_bytes:
            whole = self._whole_environment()
            if whole is not None:
                return whole
        while True:
            if self.state is State.CLOSED:
                return ConnectionClosed() if self._eof else None
            line = self._next_line()
            if line is None:
                # _next_line may have moved us to CLOSED on end of stream.
                now: State = self.state
                return ConnectionClosed() if now is State.CLOSED and self._eof else None
            event = self._handle_line(line)
            if event is not None:
                return event

    def _whole_environment(self) -> Environment | None:
        """The environment block in one pass, when all of it is in the buffer and every
        line is one Asterisk writes (it sends the block in one write: the common case);
        None otherwise, and the line-by-line path reads it, with its exact errors.

        The same result as that path: a LF never occurs inside a UTF-8 sequence, so
        decoding the block whole replaces exactly what decoding line by line would.
        """
        buffer = self._buffer
        end = buffer.find(b"\n\n")
        if end <= 0 or end > MAX_LINE_LENGTH:  # empty block, or over a line's limit
            return None
        block = bytes(buffer[:end])
        if b"\r" in block:
            return None
        lines = block.decode("utf-8", "replace").split("\n")
        if len(lines) > MAX_ENV_LINES:
            return None
        values: dict[str, str] = {}
        for line in lines:
            key, sep, value = line.partition(":")
            if not sep or not key or " " in key:
                return None
            values[key] = value[1:] if value.startswith(" ") else value
        del buffer[: end + 2]
        self.state = State.IDLE
        self._env = _NO_ENV
        return Environment(values)

    def _next_line(self) -> str | None:
        buffer = self._buffer
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > MAX_LINE_LENGTH:
                self.state = State.CLOSED
                raise RemoteProtocolError(f"line longer than {MAX_LINE_LENGTH} bytes")
            if self._eof:
                previous = self.state
                self.state = State.CLOSED
                if buffer or previous in (State.ENVIRONMENT, State.USAGE):
                    raise RemoteProtocolError(
                        f"connection closed in state {previous.name} "
                        f"with {len(buffer)} bytes of an unfinished line")
            return None
        if end > MAX_LINE_LENGTH:
            self.state = State.CLOSED
            raise RemoteProtocolError(f"line longer than {MAX_LINE_LENGTH} bytes")
        raw = bytes(buffer[:end])
        del buffer[: end + 1]
        if self.state is State.ENVIRONMENT:
            self._env_bytes += end + 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]  # Asterisk sends LF only; tolerate CRLF from other peers
        return raw.decode("utf-8", "replace")

    def _handle_line(self, line: str) -> Event | None:
        state = self.state
        if state is State.ENVIRONMENT:
            return self._env_line(line)
        if line == "HANGUP":
            return HangupNotice()
        if state is State.USAGE:
            return self._usage_line(line)
        if state is not State.AWAITING_REPLY:
            self.state = State.CLOSED
            raise RemoteProtocolError(f"reply with no command in flight: {line[:80]!r}")
        code = line[:3]
        if code == "200":
            self.state = State.IDLE
            return parse_response(line)
        if code == "510":
            self.state = State.IDLE
            return InvalidCommand(line[4:])
        if code == "511":
            self.state = State.IDLE
            return DeadChannel(line[4:])
        if code == "520":
            if line[3:4] == "-":
                self.state = State.USAGE
                self._usage = [line[4:]]
                return None
            self.state = State.IDLE  # single-line form: "520 Invalid command syntax..."
            return Usage((line[4:],))
        self.state = State.CLOSED
        raise RemoteProtocolError(f"unexpected reply line: {line[:80]!r}")

    def _env_line(self, line: str) -> Event | None:
        if line == "":
            self.state = State.IDLE
            env = Environment(self._env)
            self._env = _NO_ENV
            return env
        if len(self._env) >= MAX_ENV_LINES or self._env_bytes > MAX_ENV_BYTES:
            self.state = State.CLOSED
            raise RemoteProtocolError("environment block too large")
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            self.state = State.CLOSED
            raise RemoteProtocolError(f"not an environment line: {line[:80]!r}")
        # Asterisk writes "agi_%s: %s\n"; the value may legitimately be empty
        # ("agi_accountcode: "), so drop exactly the one separating space.
        self._env[key] = value[1:] if value.startswith(" ") else value
        return None

    def _usage_line(self, line: str) -> Event | None:
        if line.startswith("520 "):
            self.state = State.IDLE
            lines = (*self._usage, line[4:])
            self._usage = _NO_USAGE
            return Usage(lines)
        if len(self._usage) >= MAX_USAGE_LINES:
            self.state = State.CLOSED
            raise RemoteProtocolError("520 usage reply too long")
        self._usage.append(line)
        return None
