"""The AGI wire protocol as a sans-IO state machine (the script's side).

Bytes in, typed events out; typed commands in, bytes out. No sockets, no asyncio, no
clocks: the FastAGI server, the classic (stdin/stdout) entry point and the tests all
drive the same :class:`AgiConnection`. Every rule here cites the recorded transcripts in
``tests/transcripts/`` (a real Asterisk 22), not the documentation.

    conn = AgiConnection()
    conn.receive_data(bytes_from_asterisk)     # b"" means the peer closed
    event = conn.next_event()                  # None: feed more bytes
    wire = conn.send(StreamFile("ivr/vi/welcome", "0123456789*#"))
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

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


class ProtocolError(Exception):
    """Base of both protocol error families."""


class LocalProtocolError(ProtocolError):
    """We misused the protocol (a command while another is in flight, a newline in an
    argument...): a bug on our side."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something Asterisk never sends: that connection cannot go on."""


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

    @property
    def network_script(self) -> str:
        """Path part of the FastAGI URL (``agi://host:4573/hotline?x`` -> ``hotline``)."""
        script = self.values.get("agi_network_script")
        if script is None:
            request = self.request
            if "://" not in request:
                return ""  # classic AGI: agi_request is the script's file path
            script = request.split("://", 1)[1].partition("/")[2]
        return script.partition("?")[0].strip("/")

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
        """``result`` as an int, None when it is empty or not a number."""
        try:
            return int(self.result)
        except ValueError:
            return None


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

# ---------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Quoted:
    """An argument rendered in double quotes even when it would not need them."""

    text: str


Arg = str | Quoted


@dataclass(frozen=True, slots=True)
class Command:
    """Any command as a verb and arguments; the typed commands below build one."""

    verb: str
    args: tuple[Arg, ...] = ()
    #: Media commands are refused with 511 once the channel is dead (transcripts).
    media: bool = False

    def command(self) -> Command:
        return self


@dataclass(frozen=True, slots=True)
class Answer:
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("ANSWER", (), True)


@dataclass(frozen=True, slots=True)
class StreamFile:
    file: str
    escape: str = ""
    offset: int | None = None
    media: ClassVar[bool] = True

    def command(self) -> Command:
        # Escape digits are always quoted, "" when none (as every recorded client sends).
        args: tuple[Arg, ...] = (self.file, Quoted(self.escape))
        if self.offset is not None:
            args += (str(self.offset),)
        return Command("STREAM FILE", args, True)


@dataclass(frozen=True, slots=True)
class WaitForDigit:
    timeout_ms: int
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("WAIT FOR DIGIT", (str(self.timeout_ms),), True)


@dataclass(frozen=True, slots=True)
class SetVariable:
    name: str
    value: str
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("SET VARIABLE", (self.name, self.value))


@dataclass(frozen=True, slots=True)
class GetVariable:
    name: str
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("GET VARIABLE", (self.name,))


@dataclass(frozen=True, slots=True)
class Exec:
    application: str
    options: str = ""
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("EXEC", (self.application, self.options) if self.options else
                       (self.application,))


@dataclass(frozen=True, slots=True)
class Verbose:
    message: str
    level: int | None = 1
    media: ClassVar[bool] = False

    def command(self) -> Command:
        if self.level is None:
            return Command("VERBOSE", (self.message,))
        return Command("VERBOSE", (self.message, str(self.level)))


@dataclass(frozen=True, slots=True)
class Hangup:
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("HANGUP", (), True)


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("CHANNEL STATUS", (), True)


@dataclass(frozen=True, slots=True)
class Noop:
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("NOOP")


AnyCommand = (Command | Answer | StreamFile | WaitForDigit | SetVariable | GetVariable | Exec
              | Verbose | Hangup | ChannelStatus | Noop)

_NEEDS_QUOTES = re.compile(r'[\s"\\]')
_FORBIDDEN = re.compile(r"[\r\n\0]")


def quote(arg: Arg) -> str:
    """Render one argument the way Asterisk's ``parse_args`` reads it back: quoted when
    empty or holding whitespace, ``"`` or ``\\`` (those two escaped with ``\\``)."""
    forced = isinstance(arg, Quoted)
    text = arg.text if isinstance(arg, Quoted) else arg
    if _FORBIDDEN.search(text):
        # A newline would end the command early and let the rest run as a new one.
        raise LocalProtocolError(f"AGI argument contains a line break or NUL: {text!r}")
    if not forced and text and not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(command: AnyCommand) -> bytes:
    """The wire bytes of one command, LF-terminated."""
    cmd = command.command()
    if _FORBIDDEN.search(cmd.verb) or not cmd.verb:
        raise LocalProtocolError(f"bad AGI verb: {cmd.verb!r}")
    parts = [cmd.verb]
    parts.extend(quote(a) for a in cmd.args)
    return (" ".join(parts) + "\n").encode("utf-8")


# ---------------------------------------------------------------- connection

_RESULT_TAIL = re.compile(r"^(?: \((.*)\))?(?: endpos=(-?\d+))?$", re.DOTALL)


def parse_response(line: str) -> Response:
    """Parse a ``200`` line. ``result=`` may be empty (``#`` alone in GET DATA), be
    followed by ``(data)`` (with a space: ``result= (timeout)``) and by ``endpos=N``
    (agi-get-data-*.txt, agi-stream-file-*.txt)."""
    if not line.startswith("200 result="):
        raise RemoteProtocolError(f"200 reply without result=: {line[:80]!r}")
    rest = line[11:]
    value, space, tail = rest.partition(" ")
    tail = space + tail
    match = _RESULT_TAIL.match(tail)
    if match is None:
        # An unknown tail form: keep it whole as data rather than drop the call.
        return Response(200, value, tail.strip(), None, line)
    data, endpos = match.groups()
    return Response(200, value, data, int(endpos) if endpos is not None else None, line)


class AgiConnection:
    """The script's side of one AGI session: feed it bytes, read events, send commands."""

    __slots__ = ("_buffer", "_env", "_env_bytes", "_eof", "_usage", "state")

    def __init__(self, *, expect_environment: bool = True) -> None:
        # Classic AGI via pyst2 reads the environment itself and hands us the rest.
        self.state = State.ENVIRONMENT if expect_environment else State.IDLE
        self._buffer = bytearray()
        self._env: dict[str, str] = {}
        self._env_bytes = 0
        self._usage: list[str] = []
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

    def next_event(self) -> Event | None:
        """The next event, or None when more bytes are needed."""
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
            self._env = {}
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
            self._usage = []
            return Usage(lines)
        if len(self._usage) >= MAX_USAGE_LINES:
            self.state = State.CLOSED
            raise RemoteProtocolError("520 usage reply too long")
        self._usage.append(line)
        return None


def _known_verbs() -> dict[str, tuple[tuple[str, ...], ...]]:
    verbs = """ANSWER|ASYNCAGI BREAK|CHANNEL STATUS|CONTROL STREAM FILE|DATABASE DEL|
    DATABASE DELTREE|DATABASE GET|DATABASE PUT|EXEC|GET DATA|GET FULL VARIABLE|GET OPTION|
    GET VARIABLE|GOSUB|HANGUP|NOOP|RECEIVE CHAR|RECEIVE TEXT|RECORD FILE|SAY ALPHA|SAY DATE|
    SAY DATETIME|SAY DIGITS|SAY NUMBER|SAY PHONETIC|SAY TIME|SEND IMAGE|SEND TEXT|
    SET AUTOHANGUP|SET CALLERID|SET CONTEXT|SET EXTENSION|SET MUSIC|SET PRIORITY|
    SET VARIABLE|STREAM FILE|TDD MODE|VERBOSE|WAIT FOR DIGIT"""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for verb in verbs.replace("\n", "").split("|"):
        words = tuple(verb.split())
        by_first.setdefault(words[0], []).append(words)
    # longest match first within each first word ("GET FULL VARIABLE" before "GET")
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()}


#: Asterisk's AGI verbs, indexed by their first word.
KNOWN_VERBS = _known_verbs()


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command line as Asterisk reads it (used by the fake Asterisk)."""

    verb: str
    """As written (``answer`` stays lowercase)."""
    canonical: str
    """Upper-case known verb (``ANSWER``), or ``""`` for an unknown command."""
    args: tuple[Arg, ...] = field(default=())

    def command(self) -> Command:
        return Command(self.verb, self.args)

    def text(self, index: int, default: str = "") -> str:
        if index >= len(self.args):
            return default
        arg = self.args[index]
        return arg.text if isinstance(arg, Quoted) else arg


def split_args(line: str) -> list[Arg]:
    """Split like Asterisk's ``parse_args``: whitespace separates, ``"`` groups, ``\\``
    escapes the next character. Quoted words come back as :class:`Quoted`."""
    if '"' not in line and "\\" not in line:
        return list(line.split())  # the common case, without a character loop
    words: list[Arg] = []
    current: list[str] = []
    in_word = quoted = in_quotes = escaped = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = in_word = True
        elif ch == '"':
            in_quotes = not in_quotes
            quoted = in_word = True
        elif ch.isspace() and not in_quotes:
            if in_word:
                text = "".join(current)
                words.append(Quoted(text) if quoted else text)
            current, in_word, quoted = [], False, False
        else:
            current.append(ch)
            in_word = True
    if in_word:
        text = "".join(current)
        words.append(Quoted(text) if quoted else text)
    return words


def parse_command(line: str) -> ParsedCommand:
    """Parse one command line (without its LF) into verb and arguments."""
    words = split_args(line)
    first = words[0] if words else ""
    for verb in KNOWN_VERBS.get(first.upper() if isinstance(first, str) else "", ()):
        n = len(verb)
        head = words[:n]
        if len(head) == n and all(isinstance(w, str) and w.upper() == v
                                  for w, v in zip(head, verb, strict=True)):
            written = " ".join(w for w in head if isinstance(w, str))
            return ParsedCommand(written, " ".join(verb), tuple(words[n:]))
    if not words:
        return ParsedCommand("", "", ())
    first = words[0]
    return ParsedCommand(first if isinstance(first, str) else first.text, "", tuple(words[1:]))
