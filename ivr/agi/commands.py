"""AGI commands: typed commands, quoting as Asterisk's ``parse_args`` reads it, and the
reverse (splitting a command line), which the fake Asterisk uses. Sans-IO."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from ivr.wire import LocalProtocolError


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

    def wire(self) -> bytes:
        if not self.verb or _FORBIDDEN.search(self.verb):
            raise LocalProtocolError(f"bad AGI verb: {self.verb!r}")
        if not self.args:
            return (self.verb + "\n").encode()
        return (self.verb + " " + " ".join([quote(a) for a in self.args]) + "\n").encode()


@dataclass(frozen=True, slots=True)
class Answer:
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("ANSWER", (), True)

    def wire(self) -> bytes:
        return self.command().wire()


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

    def wire(self) -> bytes:
        # Hot path (every prompt): one f-string instead of a Command and a join.
        tail = "" if self.offset is None else f" {int(self.offset)}"
        return f"STREAM FILE {quote(self.file)} {_quoted(self.escape)}{tail}\n".encode()


@dataclass(frozen=True, slots=True)
class WaitForDigit:
    timeout_ms: int
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("WAIT FOR DIGIT", (str(self.timeout_ms),), True)

    def wire(self) -> bytes:
        return b"WAIT FOR DIGIT %d\n" % self.timeout_ms


@dataclass(frozen=True, slots=True)
class SetVariable:
    name: str
    value: str
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("SET VARIABLE", (self.name, self.value))

    def wire(self) -> bytes:
        return f"SET VARIABLE {quote(self.name)} {quote(self.value)}\n".encode()


@dataclass(frozen=True, slots=True)
class GetVariable:
    name: str
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("GET VARIABLE", (self.name,))

    def wire(self) -> bytes:
        return f"GET VARIABLE {quote(self.name)}\n".encode()


@dataclass(frozen=True, slots=True)
class Exec:
    application: str
    options: str = ""
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("EXEC", (self.application, self.options) if self.options else
                       (self.application,))

    def wire(self) -> bytes:
        return self.command().wire()


@dataclass(frozen=True, slots=True)
class Verbose:
    message: str
    level: int | None = 1
    media: ClassVar[bool] = False

    def command(self) -> Command:
        if self.level is None:
            return Command("VERBOSE", (self.message,))
        return Command("VERBOSE", (self.message, str(self.level)))

    def wire(self) -> bytes:
        return self.command().wire()


@dataclass(frozen=True, slots=True)
class Hangup:
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("HANGUP", (), True)

    def wire(self) -> bytes:
        return self.command().wire()


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    media: ClassVar[bool] = True

    def command(self) -> Command:
        return Command("CHANNEL STATUS", (), True)

    def wire(self) -> bytes:
        return self.command().wire()


@dataclass(frozen=True, slots=True)
class RecordFile:
    """``RECORD FILE <file> <format> <escape> <timeout ms> [offset] [BEEP] [s=<secs>]``.

    Asterisk (res_agi.c handle_recordfile) plays the beep when the argument after the
    offset is present and not ``s=``, so a beep needs the offset: ``... 0 BEEP s=3``."""

    file: str
    format: str
    escape: str
    timeout_ms: int
    beep: bool = True
    silence_seconds: int = 0
    media: ClassVar[bool] = True

    def command(self) -> Command:
        args: tuple[Arg, ...] = (self.file, self.format, Quoted(self.escape),
                                 str(int(self.timeout_ms)))
        if self.beep:
            args += ("0", "BEEP")
        if self.silence_seconds > 0:
            args += (f"s={int(self.silence_seconds)}",)
        return Command("RECORD FILE", args, True)

    def wire(self) -> bytes:
        return self.command().wire()


@dataclass(frozen=True, slots=True)
class Noop:
    media: ClassVar[bool] = False

    def command(self) -> Command:
        return Command("NOOP")

    def wire(self) -> bytes:
        return self.command().wire()


AnyCommand = (Command | Answer | StreamFile | WaitForDigit | SetVariable | GetVariable | Exec
              | Verbose | Hangup | ChannelStatus | Noop | RecordFile)

#: Characters that make an argument need quotes (NUL is refused below).
_SPECIAL = re.compile(r'[\s"\\\0]')
_FORBIDDEN = re.compile(r"[\r\n\0]")


def quote(arg: Arg) -> str:
    """Render one argument the way Asterisk's ``parse_args`` reads it back: quoted when
    empty or holding whitespace, ``"`` or ``\\`` (those two escaped with ``\\``)."""
    if isinstance(arg, Quoted):
        return _quoted(arg.text)
    if arg and _SPECIAL.search(arg) is None:
        return arg  # the common case: one regex scan, no copy
    return _quoted(arg)


def _quoted(text: str) -> str:
    if _FORBIDDEN.search(text):
        # A newline would end the command early and let the rest run as a new one.
        raise LocalProtocolError(f"AGI argument contains a line break or NUL: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(command: AnyCommand | ParsedCommand) -> bytes:
    """The wire bytes of one command, LF-terminated."""
    return command.wire()


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

    def wire(self) -> bytes:
        return self.command().wire()

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
