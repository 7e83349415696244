"""A fake Asterisk Manager Interface server that speaks as the recorded Asterisk 22 did.

Byte for byte as ``tests/transcripts/ami-*.txt``: the banner, Login answered with
``Authentication accepted`` plus ``FullyBooted`` (always) and ``SuccessfulAuth`` (class
``security``), a wrong secret answered ``Authentication failed`` after a delay (about 1 s
on a real Asterisk; configurable, short in tests) and then the socket closed, Ping/Pong,
Logoff -> ``Response: Goodbye`` then EOF, ``QueueStatus`` / ``QueueSummary`` answered as
``app_queue.c`` (``manager_queues_status``, ``manager_queues_summary``) and ``manager.c``'s
list helpers write them, from the queue state the events sent so far describe, async
Originate answered ``Success`` first and a failure reported only in ``OriginateResponse``
(``Reason`` 3 rang out, 5 busy... per
channel: ``originate_reasons``), the answered channel's ``Dial`` to the ``Exten`` with
``DialBegin``/``DialEnd`` (``dial_statuses``), manager.conf users with ``read``/``write``
classes (``users``; Originate needs ``write = originate``, else ``Permission denied``),
unknown actions answered ``Error`` plus a ``RequestBadFormat`` event. Events are
delivered according to the Login ``Events:`` mask.

Test hooks: :meth:`FakeAmiServer.emit` / :meth:`FakeAmiServer.emit_raw` push events
(e.g. recorded AgentConnect blocks with a chosen case id, see
:func:`recorded_events` and :func:`with_case_id`), :meth:`FakeAmiServer.emit_queue_run`
sends what a real Asterisk sends for a queue call of the fake Asterisk (pass it as
``run_call(on_queue=...)``: answered, abandoned while ringing, or the ~45 ms agent
connection of a caller already gone; see :mod:`ivr.testing.fake_ami_queue`),
:meth:`FakeAmiServer.drop_connections` drops every connection (a network break: the
calls go on), :meth:`FakeAmiServer.stop` then :meth:`FakeAmiServer.start` is an Asterisk
restart (same port; every call and ring is gone), :meth:`FakeAmiServer.wait_logins` and
:meth:`FakeAmiServer.wait_action` let tests wait on what happened instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ivr import channel_vars
from ivr.ami.protocol import Headers
from ivr.testing.ami_transcripts import (
    read_transcript,
    recorded_events,
    transcript_bytes,
    transcript_messages,
    with_case_id,
)
from ivr.testing.fake_ami_queue import MemberState, QueueState, queue_run_events
from ivr.testing.fake_queue import QueueRun

__all__ = [
    "FakeAmiServer",
    "FakeAmiUser",
    "ReceivedAction",
    "read_transcript",
    "recorded_events",
    "transcript_bytes",
    "transcript_messages",
    "with_case_id",
]

BANNER: Final = "Asterisk Call Manager/11.0.0"
#: Largest action we read; a real client sends a few hundred bytes.
MAX_ACTION_BYTES: Final = 64 * 1024
#: The fixed time stamp in security events (the recorded one; tests compare bytes).
EVENT_TV: Final = "2026-11-28T06:56:53.441+0000"
#: The queue of the recorded set-up (transcripts README, queues.conf).
DEFAULT_QUEUES: Final = {"hotline": (("Local/1001@agents", "Agent 1001"),)}
#: Actions Asterisk accepts before authentication; others get "Permission denied".
PRE_LOGIN_ACTIONS: Final = frozenset({"login", "logoff", "challenge"})


def _render(lines: Iterable[str]) -> bytes:
    return b"".join(line.encode("utf-8") + b"\r\n" for line in lines) + b"\r\n"


def _classes(raw: str | None) -> frozenset[str] | None:
    """Login ``Events:`` mask; None means every class."""
    if raw is None or raw.strip().lower() in {"on", "all", "yes", "true"}:
        return None
    if raw.strip().lower() in {"off", "no", "false", ""}:
        return frozenset()
    return frozenset(c.strip().lower() for c in raw.split(",") if c.strip())


@dataclass(frozen=True, slots=True)
class FakeAmiUser:
    """A manager.conf user: its secret and its ``read``/``write`` classes (None: all)."""

    secret: str
    read: frozenset[str] | None = None
    write: frozenset[str] | None = None


#: The write class an action needs (manager.c registers Originate with
#: EVENT_FLAG_ORIGINATE); actions not listed need none in this fake.
ACTION_WRITE_CLASS: Final = {"originate": "originate"}
#: OriginateResponse ``Reason`` codes (main/pbx.c pbx_dial_reason, AST_CONTROL_*): 0 no
#: such channel or other failure, 1 hung up, 3 rang out (no answer), 4 answered, 5 busy,
#: 8 congestion.
REASON_ANSWERED: Final = 4


@dataclass(frozen=True, slots=True)
class ReceivedAction:
    name: str
    headers: Headers
    logged_in: bool
    """Whether the connection was authenticated when the action arrived."""

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")


class _Client:
    def __init__(self, writer: asyncio.StreamWriter, session_id: str) -> None:
        self.writer = writer
        self.session_id = session_id
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        remote = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.local = f"{local[0]}/{local[1]}"
        self.remote = f"{remote[0]}/{remote[1]}"
        self.logged_in = False
        self.mask: frozenset[str] | None = None
        self.user: FakeAmiUser | None = None
        self.closing = False

    def wants(self, privilege: str) -> bool:
        if not self.logged_in:
            return False
        classes = {c.strip().lower() for c in privilege.split(",")} - {"all"}
        read = self.user.read if self.user is not None else None
        if read is not None and not classes & read:
            return False  # manager.conf read= does not include this class
        if self.mask is None:
            return True
        return bool(classes & self.mask)

    def may(self, action: str) -> bool:
        """manager.conf ``write=`` allows this action."""
        needed = ACTION_WRITE_CLASS.get(action)
        write = self.user.write if self.user is not None else None
        return needed is None or write is None or needed in write

    def send(self, lines: Iterable[str]) -> None:
        if not self.writer.is_closing():
            self.writer.write(_render(lines))

    def event(self, lines: Sequence[str]) -> None:
        """An event for this session only if its read= and Events: take its class
        (OriginateResponse is class ``call``: a user without ``read = call`` never
        hears how its Originate went)."""
        privilege = next((line.partition(": ")[2] for line in lines
                          if line.startswith("Privilege: ")), "all")
        if self.wants(privilege):
            self.send(lines)


class FakeAmiServer:
    """Loopback AMI server for tests and demos; see the module docstring."""

    def __init__(
        self,
        *,
        username: str = "ivr",
        secret: str = "ivr-secret",  # noqa: S107 - the fake's own test credential
        host: str = "127.0.0.1",
        port: int = 0,
        login_failure_delay: float = 1.0,
        answer_pings: bool = True,
        channelvars: Sequence[str] = channel_vars.AMI_CHANNELVARS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        queue_members: Mapping[str, Sequence[tuple[str, str]]] = DEFAULT_QUEUES,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.username = username
        self.secret = secret
        self.host = host
        self._port = port
        self.login_failure_delay = login_failure_delay
        self.answer_pings = answer_pings
        """False makes Ping go unanswered (a hung Asterisk) to test keep-alive."""
        self.channelvars = tuple(channelvars)
        self.queue_members = {q: tuple(m) for q, m in queue_members.items()}
        """queues.conf: queue -> (member interface, member name), in file order."""
        self._now = now
        self.queues: dict[str, QueueState] = {}
        """What app_queue holds now: members' states, callers waiting (see reset_queues)."""
        self.reset_queues()
        self._sleep = sleep
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Task[object]] = set()
        self._changed = asyncio.Condition()
        self._uniqueids = itertools.count(46)
        self.users: dict[str, FakeAmiUser] = {}
        """More manager.conf users beside ``username`` (which may do everything), e.g.
        a least-privilege one for Originate: ``FakeAmiUser(secret, read=frozenset({"call"}),
        write=frozenset({"originate"}))``."""
        self.originate_reasons: dict[str, list[int]] = {}
        """Per Originate ``Channel`` (the agent's interface), the OriginateResponse
        ``Reason`` of each next attempt: 4 answered (the default), 3 rang out, 5 busy..."""
        self.dial_statuses: dict[str, list[str]] = {}
        """Per ``Exten`` the originated channel's dialplan dials (the customer), the
        ``DialStatus`` of each next attempt: ANSWER (the default), NOANSWER, BUSY..."""
        self.logins = 0
        self.login_failures = 0
        self.connections_total = 0
        self.actions: list[ReceivedAction] = []
        self.emitted: list[list[str]] = []
        """Every event message sent by the test hooks, as lines, in order."""

    # ---- lifecycle ------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeAmiServer not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        """Listen; after a :meth:`stop`, again on the same port (an Asterisk restart)."""
        if self._server is not None:
            raise RuntimeError("FakeAmiServer already started")
        self._server = await asyncio.start_server(
            self._handle, self.host, self._port, limit=MAX_ACTION_BYTES
        )
        self._port = self.port  # a restart comes back where the clients look for it

    def reset_queues(self) -> None:
        """Asterisk (re)started: every member free, nobody waiting, counters at 0."""
        login = int(self._now())
        self.queues = {
            name: QueueState(name, [MemberState(i, n, login_time=login) for i, n in members])
            for name, members in self.queue_members.items()
        }

    async def stop(self) -> None:
        """Stop listening, close every connection and wait for their handlers to end.

        Asterisk going down takes its calls with it: the queues are empty when it starts
        again (callers waiting and rings in progress are gone, no event says so).
        """
        self.reset_queues()
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            handlers = list(self._handlers)
            if handlers:
                # Closed sockets end the handlers at once; the bound is for safety.
                _, stuck = await asyncio.wait(handlers, timeout=5.0)
                for task in stuck:
                    task.cancel()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeAmiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- test hooks -------------------------------------------------------------------

    def emit(
        self,
        event: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        *,
        privilege: str = "call,all",
    ) -> int:
        """Send an event to every logged-in connection whose mask takes ``privilege``."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        lines = [f"Event: {event}", f"Privilege: {privilege}"]
        lines += [f"{k}: {v}" for k, v in pairs]
        return self.emit_raw(lines)

    def emit_raw(self, lines: Sequence[str]) -> int:
        """Send one message given as lines (no CRLF), e.g. a recorded event block."""
        privilege = next(
            (line.partition(": ")[2] for line in lines if line.startswith("Privilege: ")), "all"
        )
        self.emitted.append(list(lines))
        self._track(lines)
        sent = 0
        for client in list(self._clients):
            if client.wants(privilege):
                client.send(lines)
                sent += 1
        return sent

    def _track(self, lines: Sequence[str]) -> None:
        """Let a queue event move the queue state QueueStatus reports."""
        fields: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(": ")
            fields.setdefault(name, value)  # the first channel is the caller's
        queue = self.queues.get(fields.get("Queue", ""))
        if queue is not None:
            queue.apply(fields.get("Event", ""), fields, self._now())

    def emit_queue_run(self, run: QueueRun) -> list[list[str]]:
        """Send the queue events of one fake Asterisk Queue run; returns the blocks.

        ``ChanVariable``/``DestChanVariable`` list this server's ``channelvars`` with the
        caller's and the agent leg's own values: the agent leg has only what it inherited.
        """
        n = next(self._uniqueids)
        blocks = queue_run_events(run, self.channelvars, sequence=n,
                                  agent_uniqueid=f"1795849013.{n}")
        for block in blocks:
            self.emit_raw(block)
        return blocks

    def drop_connections(self) -> int:
        """Close every client connection at once; the calls go on (a network break, or
        ``manager reload``). For a restart, which loses them, :meth:`stop` and
        :meth:`start`."""
        dropped = 0
        for client in list(self._clients):
            client.closing = True
            client.writer.close()
            dropped += 1
        return dropped

    async def wait_logins(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` successful logins happened in total."""
        await self._wait(lambda: self.logins >= count, timeout)

    async def wait_connections(self, count: int, timeout: float = 5.0) -> None:
        """Wait until exactly ``count`` clients are connected (0: all have gone)."""
        await self._wait(lambda: len(self._clients) == count, timeout)

    async def wait_login_failures(self, count: int, timeout: float = 5.0) -> None:
        await self._wait(lambda: self.login_failures >= count, timeout)

    async def wait_action(self, name: str, count: int = 1, timeout: float = 5.0) -> ReceivedAction:
        """Wait for the ``count``-th action called ``name`` and return it."""
        def matching() -> list[ReceivedAction]:
            return [a for a in self.actions if a.name.lower() == name.lower()]

        await self._wait(lambda: len(matching()) >= count, timeout)
        return matching()[count - 1]

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- the protocol -----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        client = _Client(writer, f"0x7f55380{self.connections_total:05x}")
        self._clients.add(client)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        writer.write(f"{BANNER}\r\n".encode())
        try:
            while not client.closing:
                try:
                    block = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break
                lines = [line for line in block.decode("utf-8", "replace").split("\r\n") if line]
                pairs = []
                for line in lines:
                    name, _, value = line.partition(":")
                    pairs.append((name.strip(), value[1:] if value.startswith(" ") else value))
                headers = Headers(pairs)
                action = ReceivedAction(headers.get("Action") or "", headers, client.logged_in)
                self.actions.append(action)
                await self._answer(client, action)
                await self._notify()
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._clients.discard(client)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            await self._notify()

    async def _answer(self, client: _Client, action: ReceivedAction) -> None:
        name = action.name.lower()
        aid = [f"ActionID: {action.action_id}"] if action.action_id is not None else []
        if not client.logged_in and name not in PRE_LOGIN_ACTIONS:
            client.send(["Response: Error", *aid, "Message: Permission denied"])
            return
        handler = getattr(self, f"_action_{name}", None)
        if handler is not None and not client.may(name):
            client.send(["Response: Error", *aid, "Message: Permission denied"])
            return
        if handler is None:
            client.send([
                "Response: Error",
                *aid,
                f"Message: Invalid/unknown command: {action.name}. "
                "Use Action: ListCommands to show available commands.",
            ])
            if client.wants("security,all"):
                client.send([
                    *self._security_event(client, "RequestBadFormat", "Error"),
                    *self._addresses(client),
                    f"RequestType: Action: {action.name}",
                    f"SessionTV: {EVENT_TV}",
                    f"AccountID: {self.username}",
                ])
            return
        await handler(client, action, aid)

    def _security_event(self, client: _Client, name: str, severity: str) -> list[str]:
        """Security-class event head, fields in Asterisk 22's order (transcripts)."""
        return [
            f"Event: {name}",
            "Privilege: security,all",
            f"EventTV: {EVENT_TV}",
            f"Severity: {severity}",
            "Service: AMI",
            "EventVersion: 1",
        ]

    def _addresses(self, client: _Client) -> list[str]:
        return [
            f"SessionID: {client.session_id}",
            f"LocalAddress: IPV4/TCP/{client.local}",
            f"RemoteAddress: IPV4/TCP/{client.remote}",
        ]

    async def _action_login(self, client: _Client, action: ReceivedAction, aid: list[str]) -> None:
        h = action.headers
        user = self.users.get(h.get("Username") or "")
        if user is None and h.get("Username") == self.username:
            user = FakeAmiUser(self.secret)
        if user is None or h.get("Secret") != user.secret:
            # Asterisk delays the refusal (~1 s) and then hangs up: ami-login-failure.txt.
            await self._sleep(self.login_failure_delay)
            self.login_failures += 1
            client.send(["Response: Error", *aid, "Message: Authentication failed"])
            client.closing = True
            return
        client.logged_in = True
        client.user = user
        client.mask = _classes(h.get("Events"))
        self.logins += 1
        client.send(["Response: Success", *aid, "Message: Authentication accepted"])
        # FullyBooted is written straight to the new session, whatever the mask.
        client.send([
            "Event: FullyBooted", "Privilege: system,all", "Uptime: 378",
            "LastReload: 378", "Status: Fully Booted",
        ])
        if client.wants("security,all"):
            client.send([
                *self._security_event(client, "SuccessfulAuth", "Informational"),
                f"AccountID: {self.username}",
                *self._addresses(client),
                "UsingPassword: 0",
                f"SessionTV: {EVENT_TV}",
            ])

    async def _action_logoff(self, client: _Client, action: ReceivedAction, aid: list[str]) -> None:
        client.send(["Response: Goodbye", *aid, "Message: Thanks for all the fish."])
        client.closing = True

    async def _action_challenge(
        self, client: _Client, action: ReceivedAction, aid: list[str]
    ) -> None:
        client.send(["Response: Error", *aid, "Message: Must specify AuthType"])

    async def _action_ping(self, client: _Client, action: ReceivedAction, aid: list[str]) -> None:
        if self.answer_pings:
            client.send(["Response: Success", *aid, "Ping: Pong", "Timestamp: 1795849013.742392"])

    async def _action_userevent(
        self, client: _Client, action: ReceivedAction, aid: list[str]
    ) -> None:
        client.send(["Response: Success", *aid, "Message: Event Sent"])
        rest = [f"{k}: {v}" for k, v in action.headers if k.lower() not in {"action", "actionid"}]
        user = [line for line in rest if line.lower().startswith("userevent:")]
        others = [line for line in rest if not line.lower().startswith("userevent:")]
        self.emit_raw(["Event: UserEvent", "Privilege: user,all", *user, *aid, *others])

    async def _action_originate(
        self, client: _Client, action: ReceivedAction, aid: list[str]
    ) -> None:
        h = action.headers
        channel = h.get("Channel") or ""
        # Even a doomed async Originate is "successfully queued" (transcript, README #9).
        client.send(["Response: Success", *aid, "Message: Originate successfully queued"])
        app = [f"Application: {h.get('Application')}", f"Data: {h.get('Data') or ''}"] if h.get(
            "Application"
        ) else [f"Context: {h.get('Context')}", f"Exten: {h.get('Exten')}"]
        if "@nowhere" in channel:
            client.event([
                "Event: OriginateResponse", "Privilege: call,all", *aid, "Response: Failure",
                f"Channel: {channel}", *app, "Reason: 0", "Uniqueid: <unknown>",
                "CallerIDNum: <unknown>", "CallerIDName: <unknown>",
            ])
            return
        reasons = self.originate_reasons.get(channel)
        reason = reasons.pop(0) if reasons else REASON_ANSWERED
        if reason != REASON_ANSWERED:
            # The agent's phone did not answer: Failure, the requested name, no channel.
            client.event([
                "Event: OriginateResponse", "Privilege: call,all", *aid, "Response: Failure",
                f"Channel: {channel}", *app, f"Reason: {reason}", "Uniqueid: <unknown>",
                "CallerIDNum: <unknown>", "CallerIDName: <unknown>",
            ])
            return
        # Only Local channels have the ;1/;2 halves; PJSIP/agent1-0000002f has none.
        suffix = ";1" if channel.lower().startswith("local/") else ""
        name = f"{channel}-{next(self._uniqueids):08x}{suffix}"
        uniqueid = f"1795849013.{next(self._uniqueids)}"
        variables = dict(v.partition("=")[::2] for v in h.get_all("Variable"))
        chanvars = [f"{var}={variables.get(var, '')}" for var in self.channelvars]
        client.event([
            "Event: OriginateResponse", "Privilege: call,all", *aid, "Response: Success",
            f"Channel: {name}", *app, "Reason: 4", f"Uniqueid: {uniqueid}",
            "CallerIDNum: <unknown>", "CallerIDName: <unknown>",
            *(f"ChanVariable({name}): {var}" for var in chanvars),
        ])
        if h.get("Application") or not h.get("Exten"):
            return
        # The answered channel runs its dialplan: Dial() to the customer in Exten, with
        # the DialBegin/DialEnd pair of every Dial (fields as the recorded DialEnd).
        exten, context = h.get("Exten") or "", h.get("Context") or ""
        statuses = self.dial_statuses.get(exten)
        status = statuses.pop(0) if statuses else "ANSWER"
        cid = (h.get("CallerID") or "").rpartition("<")[2].rstrip(">") or "<unknown>"
        dest = f"PJSIP/trunk-{next(self._uniqueids):08x}"
        caller = [
            f"Channel: {name}", "ChannelState: 6", "ChannelStateDesc: Up",
            f"CallerIDNum: {cid}", "CallerIDName: <unknown>",
            f"ConnectedLineNum: {exten}", "ConnectedLineName: <unknown>", "Language: en",
            "AccountCode: ", f"Context: {context}", f"Exten: {exten}", "Priority: 1",
            f"Uniqueid: {uniqueid}", f"Linkedid: {uniqueid}",
            *(f"ChanVariable: {var}" for var in chanvars),
        ]
        up = status == "ANSWER"
        callee = [
            f"DestChannel: {dest}", f"DestChannelState: {6 if up else 5}",
            f"DestChannelStateDesc: {'Up' if up else 'Ringing'}",
            f"DestCallerIDNum: {exten}", "DestCallerIDName: <unknown>",
            f"DestConnectedLineNum: {cid}", "DestConnectedLineName: <unknown>",
            "DestLanguage: en", "DestAccountCode: ", f"DestContext: {context}",
            f"DestExten: {exten}", "DestPriority: 1",
            f"DestUniqueid: 1795849013.{next(self._uniqueids)}", f"DestLinkedid: {uniqueid}",
            *(f"DestChanVariable: {var}" for var in chanvars),
        ]
        self.emit_raw(["Event: DialBegin", "Privilege: call,all", *caller, *callee,
                       f"DialString: trunk/{exten}"])
        self.emit_raw(["Event: DialEnd", "Privilege: call,all", *caller, *callee,
                       f"DialStatus: {status}"])

    async def _action_queuestatus(
        self, client: _Client, action: ReceivedAction, aid: list[str]
    ) -> None:
        # astman_send_listack: Response, ActionID, EventList, Message (manager.c order).
        client.send([
            "Response: Success", *aid, "EventList: start", "Message: Queue status will follow",
        ])
        wanted = (action.headers.get("Queue") or "").lower()
        member = action.headers.get("Member") or ""
        items = 0
        now = self._now()
        for queue in self.queues.values():
            if wanted and queue.name.lower() != wanted:
                continue
            for block in queue.status_events(aid, now, member):
                client.send(block)
                items += 1
        client.send([
            "Event: QueueStatusComplete", *aid, "EventList: Complete", f"ListItems: {items}",
        ])

    async def _action_queuesummary(
        self, client: _Client, action: ReceivedAction, aid: list[str]
    ) -> None:
        client.send([
            "Response: Success", *aid, "EventList: start", "Message: Queue summary will follow",
        ])
        wanted = (action.headers.get("Queue") or "").lower()
        items = 0
        now = self._now()
        for queue in self.queues.values():
            if not wanted or queue.name.lower() == wanted:
                client.send(queue.summary_event(aid, now))
                items += 1
        client.send([
            "Event: QueueSummaryComplete", *aid, "EventList: Complete", f"ListItems: {items}",
        ])

    async def _action_command(
        self, client: _Client, action: ReceivedAction, aid: list[str]
    ) -> None:
        client.send([
            "Response: Success", *aid, "Message: Command output follows",
            "Output: Asterisk GIT-22-69535d4837 built by root @ vm on a x86_64 running Linux",
        ])
