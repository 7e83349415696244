"""Asterisk Manager Interface (AMI) wire protocol, sans-IO.

Feed the bytes read from the socket to :meth:`AmiConnection.receive_data` (``b""`` at
end of stream) and take typed messages out of :meth:`AmiConnection.next_event`; render
actions with :meth:`AmiConnection.send`. Nothing here touches a socket, asyncio or time.

Wire format (recorded from Asterisk 22, ``tests/transcripts/ami-*.txt``): one banner line
``Asterisk Call Manager/11.0.0``, then messages made of ``Name: value`` lines ended by
``\\r\\n``, each message ended by an empty line. Header names repeat (``ChanVariable``
once per variable listed in manager.conf ``channelvars``), so headers are an ordered
multi-map, not a dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from ivr.wire import NEED_DATA, LocalProtocolError, NeedData, RemoteProtocolError

#: Longest single line we accept. ``Command`` output and ``RequestType`` echo whole lines;
#: 64 KiB is far beyond anything Asterisk sends and stops a peer streaming bytes with no
#: line end from filling our memory.
MAX_LINE_BYTES = 64 * 1024
#: Largest message (all its lines). A ``Command`` reply with long CLI output is the biggest
#: thing seen; 1 MiB bounds memory per connection while leaving room for it.
MAX_MESSAGE_BYTES = 1024 * 1024
#: Most header lines in one message; channel events carry ~20 plus one per channelvar.
MAX_HEADERS = 4096

BANNER_PREFIX = "Asterisk Call Manager/"


class Headers(Sequence[tuple[str, str]]):
    """Ordered multi-map of ``(name, value)`` pairs; lookups ignore the name's case."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> tuple[str, str]:  # type: ignore[override]
        return self._items[index]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(n.lower() == key for n, _ in self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for n, v in self._items:
            if n.lower() == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in wire order."""
        key = name.lower()
        return [v for n, v in self._items if n.lower() == key]

    def as_dict(self) -> dict[str, str]:
        """First value per name (for logs and JSON); repeated headers are lost."""
        out: dict[str, str] = {}
        for n, v in self._items:
            out.setdefault(n, v)
        return out


def _variables(headers: Headers, prefix: str) -> dict[str, str]:
    """``<prefix>ChanVariable: NAME=value`` and ``<prefix>ChanVariable(<chan>): NAME=value``.

    Asterisk adds one such header per manager.conf ``channelvars`` entry to every channel
    event, with an empty value when the variable is unset. OriginateResponse uses the
    ``ChanVariable(<channel>)`` spelling.
    """
    base = f"{prefix}chanvariable".lower()
    out: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low == base or (low.startswith(base + "(") and low.endswith(")")):
            var, _, val = value.partition("=")
            out[var] = val
    return out


@dataclass(frozen=True, slots=True)
class Banner:
    """The first line: ``Asterisk Call Manager/11.0.0``."""

    text: str

    @property
    def version(self) -> str:
        return self.text.removeprefix(BANNER_PREFIX)


@dataclass(frozen=True, slots=True)
class Event:
    """An unsolicited (or list-member) message: ``Event: <name>`` plus headers."""

    name: str
    headers: Headers

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def __getitem__(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise KeyError(name)
        return value

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    @property
    def privilege(self) -> frozenset[str]:
        """Event classes from ``Privilege: call,all``."""
        raw = self.headers.get("Privilege") or ""
        return frozenset(p.strip() for p in raw.split(",") if p.strip())

    @property
    def chan_vars(self) -> dict[str, str]:
        """The (first) channel's variables (``ChanVariable``); ``""`` means unset."""
        return _variables(self.headers, "")

    @property
    def dest_chan_vars(self) -> dict[str, str]:
        """The second channel's variables (``DestChanVariable``), e.g. the agent leg."""
        return _variables(self.headers, "Dest")

    def prefixed_chan_vars(self, prefix: str) -> dict[str, str]:
        """Variables of a prefixed channel, e.g. ``LocalOne`` in LocalBridge."""
        return _variables(self.headers, prefix)


class ResponseStatus(StrEnum):
    SUCCESS = "Success"
    ERROR = "Error"
    GOODBYE = "Goodbye"
    """Answer to Logoff; Asterisk closes the socket right after."""
    FOLLOWS = "Follows"
    """Old-style command output; Asterisk 22 sends ``Output:`` headers instead."""
    OTHER = "Other"


@dataclass(frozen=True, slots=True)
class Response:
    """The answer to one action, matched to it by ``ActionID``."""

    status: ResponseStatus
    raw_status: str
    action_id: str | None
    message: str
    headers: Headers
    events: tuple[Event, ...] = field(default=())
    """Filled by the client for list actions (``EventList: start`` ... ``Complete``)."""

    @property
    def ok(self) -> bool:
        return self.status in (ResponseStatus.SUCCESS, ResponseStatus.FOLLOWS)

    @property
    def is_event_list(self) -> bool:
        return (self.headers.get("EventList") or "").lower() == "start"

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def output(self) -> list[str]:
        """``Command`` output lines (``Output:`` headers)."""
        return self.headers.get_all("Output")


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the stream after a complete message."""


Message = Banner | Response | Event | ConnectionClosed


@dataclass(frozen=True, slots=True)
class Action:
    """An action to send. ``headers`` may repeat a name (``Variable`` in Originate)."""

    name: str
    action_id: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def create(
        cls,
        name: str,
        action_id: str | None = None,
        headers: Mapping[str, str | int | Sequence[str]] | None = None,
    ) -> Action:
        """Build from a mapping; a list value becomes one header line per item."""
        items: list[tuple[str, str]] = []
        for key, value in (headers or {}).items():
            if isinstance(value, str | int):
                items.append((key, str(value)))
            else:
                items.extend((key, str(v)) for v in value)
        return cls(name=name, action_id=action_id, headers=tuple(items))


class _State(Enum):
    BANNER = "banner"
    """Waiting for the ``Asterisk Call Manager/x.y.z`` line."""
    MESSAGES = "messages"
    """Reading messages."""
    CLOSED = "closed"
    """End of stream seen."""
    ERROR = "error"
    """The peer sent garbage; nothing more can be read."""


def _check_text(kind: str, text: str, *, name: bool = False) -> None:
    # Values are not echoed in the message: one may be the Login secret.
    shown = f": {text!r}" if name else ""
    if "\r" in text or "\n" in text:
        raise LocalProtocolError(f"AMI {kind} must not contain CR or LF{shown}")
    if name and (not text or ":" in text or text != text.strip()):
        raise LocalProtocolError(f"AMI {kind} must be a non-empty name without ':'{shown}")


class AmiConnection:
    """The client side of one AMI connection: bytes in, messages out, actions to bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0
        self._lines: list[str] = []
        self._message_bytes = 0
        self._state = _State.BANNER
        self._eof = False

    @property
    def banner_seen(self) -> bool:
        return self._state is not _State.BANNER

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the peer; ``b""`` means end of stream."""
        if self._eof and data:
            raise LocalProtocolError("receive_data after end of stream")
        if not data:
            self._eof = True
            return
        self._buffer += data

    def events(self) -> Iterator[Message]:
        """Every complete message now available (stops at NEED_DATA or after closing)."""
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            yield event
            if isinstance(event, ConnectionClosed):
                return

    def next_event(self) -> Message | NeedData:
        if self._state is _State.ERROR:
            raise RemoteProtocolError("connection is unusable after an earlier protocol error")
        if self._state is _State.CLOSED:
            return ConnectionClosed()
        try:
            return self._next()
        except RemoteProtocolError:
            self._state = _State.ERROR
            raise

    def _read_line(self) -> str | None:
        end = self._buffer.find(b"\n", self._scan_from)
        if end < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise RemoteProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
            # Remember how far we looked so a byte-by-byte feed stays linear.
            self._scan_from = len(self._buffer)
            return None
        if end > MAX_LINE_BYTES:
            raise RemoteProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scan_from = 0
        # Asterisk ends lines with CRLF; a bare LF is accepted rather than stalling.
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        # Caller names may be Latin-1 from old trunks: never fail on encoding.
        return raw.decode("utf-8", errors="replace")

    def _next(self) -> Message | NeedData:
        while True:
            line = self._read_line()
            if line is None:
                if self._eof:
                    self._state = _State.CLOSED
                    if self._buffer or self._lines:
                        raise RemoteProtocolError("connection closed in the middle of a message")
                    return ConnectionClosed()
                return NEED_DATA
            if self._state is _State.BANNER:
                if not line.startswith(BANNER_PREFIX):
                    raise RemoteProtocolError(f"not an AMI banner: {line[:80]!r}")
                self._state = _State.MESSAGES
                return Banner(line)
            if line == "":
                if not self._lines:
                    continue  # stray blank line between messages: harmless
                lines, self._lines, self._message_bytes = self._lines, [], 0
                return _build_message(lines)
            self._message_bytes += len(line) + 2
            if self._message_bytes > MAX_MESSAGE_BYTES:
                raise RemoteProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
            if len(self._lines) >= MAX_HEADERS:
                raise RemoteProtocolError(f"message with more than {MAX_HEADERS} header lines")
            self._lines.append(line)

    def send(self, action: Action) -> bytes:
        """Render an action: ``Action: X\\r\\nActionID: ...\\r\\n...\\r\\n\\r\\n``."""
        _check_text("action name", action.name, name=True)
        lines = [f"Action: {action.name}"]
        if action.action_id is not None:
            _check_text("ActionID", action.action_id)
            lines.append(f"ActionID: {action.action_id}")
        for key, value in action.headers:
            _check_text("header name", key, name=True)
            _check_text(f"value of {key}", value)
            if key.lower() in ("action", "actionid"):
                raise LocalProtocolError(f"header {key!r} is set by the Action itself")
            lines.append(f"{key}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _parse_header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name or name != name.strip():
        # Pre-12 ``Response: Follows`` carried raw CLI lines; keep them as Output.
        return ("Output", line)
    # One space follows the colon; more is part of the value ("AccountCode: " is empty).
    return (name, value[1:] if value.startswith(" ") else value)


def _build_message(lines: list[str]) -> Response | Event:
    headers = Headers(_parse_header(line) for line in lines)
    first_name, first_value = headers[0]
    kind = first_name.lower()
    if kind == "event":
        return Event(name=first_value, headers=headers)
    if kind == "response":
        try:
            status = ResponseStatus(first_value)
        except ValueError:
            status = ResponseStatus.OTHER
        return Response(
            status=status,
            raw_status=first_value,
            action_id=headers.get("ActionID"),
            message=headers.get("Message") or "",
            headers=headers,
        )
    raise RemoteProtocolError(f"message starts with neither Response nor Event: {lines[0][:80]!r}")
