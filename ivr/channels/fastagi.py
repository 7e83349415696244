"""``AgiChannel``: the engine's :class:`~ivr.channels.channel.Channel` spoken as AGI commands.

The channel knows what the commands mean (``STREAM FILE`` returns the ASCII code of the
key that stopped it, ``-1`` means the caller is gone, ``QUEUESTATUS`` says how a queue
ended); a :class:`AgiLink` carries one command at a time to Asterisk and back. The
FastAGI server (asyncio, many calls) and the classic entry point (pyst2 over
stdin/stdout) each provide a link, so both run exactly this code.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from ivr import channel_vars as cv
from ivr.agi.commands import (
    AnyCommand,
    ChannelStatus,
    Exec,
    GetVariable,
    Hangup,
    RecordFile,
    SetVariable,
    StreamFile,
    Verbose,
    WaitForDigit,
)
from ivr.agi.protocol import DeadChannel, Environment, Reply, Response
from ivr.channels.channel import (
    CallerHungUp,
    CallInfo,
    ChannelError,
    DigitSpec,
    Entry,
    Prompt,
    RecordEnd,
    RecordRequest,
    RecordResult,
    TransferRequest,
    TransferResult,
    TransferStatus,
    ask_with_keys,
)

log = logging.getLogger(__name__)

#: Reply deadline for commands Asterisk answers at once (variables, VERBOSE, HANGUP,
#: CHANNEL STATUS): a real Asterisk answers in milliseconds (transcripts), so a peer that
#: is silent this long is wedged and the call should end rather than hold a task.
COMMAND_TIMEOUT = 10.0
#: WAIT FOR DIGIT returns by itself after its own timeout; this is the slack on top.
WAIT_DIGIT_MARGIN = 10.0
#: EXEC (Queue, Dial) gets no deadline: a queue call lasts as long as the agent talks.
#: Asterisk answers it (``-1`` when the caller hangs up) or the socket closes.
MEDIA_TIMEOUT: float | None = None
#: One STREAM FILE (one prompt file) gets a deadline all the same: our prompts are
#: seconds long, and Asterisk answers a hang-up with ``-1`` at once. A peer that has not
#: answered in ten minutes is wedged (or its host vanished without closing the socket);
#: ending the call then closes the socket, and the dialplan takes over
#: (``AGISTATUS=SUCCESS``, docs/asterisk.md) instead of the call task waiting forever.
PROMPT_TIMEOUT = 600.0

#: QUEUESTATUS values (app_queue) -> how the transfer ended.
QUEUE_STATUS = {
    "CONTINUE": TransferStatus.COMPLETED,
    "TIMEOUT": TransferStatus.TIMEOUT,
    "FULL": TransferStatus.FULL,
    "JOINEMPTY": TransferStatus.NO_AGENTS,
    "LEAVEEMPTY": TransferStatus.NO_AGENTS,
    "JOINUNAVAIL": TransferStatus.NO_AGENTS,
    "LEAVEUNAVAIL": TransferStatus.NO_AGENTS,
}
#: DIALSTATUS values (app_dial) for a transfer straight to an agent interface.
DIAL_STATUS = {
    "ANSWER": TransferStatus.COMPLETED,
    "NOANSWER": TransferStatus.TIMEOUT,
    "BUSY": TransferStatus.NO_AGENTS,
    "CHANUNAVAIL": TransferStatus.NO_AGENTS,
    "CONGESTION": TransferStatus.NO_AGENTS,
}
#: Asterisk reports ``agi_language: en`` for every channel whose driver sets no language
#: (all the transcripts). Taking it as the caller's choice would switch a Vietnamese
#: hotline to English for every call, so only a configured language (not this
#: built-in default) is passed on; the flow's default language applies otherwise.
ASTERISK_DEFAULT_LANGUAGE = "en"
#: Read after every Queue/Dial besides its status variable (cleared before each one).
#: The channel variables themselves are named in :mod:`ivr.channel_vars`.
RESULT_VARS = (cv.MEMBERINTERFACE, cv.ANSWEREDTIME)
#: The 16 DTMF tones. STREAM FILE and WAIT FOR DIGIT answer with the ASCII code of the
#: key (``200 result=49`` for ``1``), ``0`` for none and ``-1`` for a hang-up or failure
#: (agi-stream-file-dtmf-mid-playback.txt, agi-wait-for-digit.txt). Any other result is
#: not from Asterisk, and ``chr()`` of it is a ValueError (``1114112``) or a key no caller
#: can press.
DTMF_KEYS = frozenset("0123456789*#ABCD")
#: Samples per second of what RECORD FILE's ``endpos`` counts (8 kHz telephone audio).
RECORD_RATE = 8000
#: Slack on top of a recording's maximum length before the reply is overdue (the beep,
#: the file closing).
RECORD_MARGIN = 30.0
#: RECORD FILE's file extension per format, as Asterisk appends it to the name.
RECORD_EXTENSIONS = {"wav": "wav", "gsm": "gsm", "ulaw": "ulaw", "alaw": "alaw",
                     "sln": "sln", "wav49": "WAV"}


class AgiLink(Protocol):
    """Carries one AGI command to Asterisk and returns its reply."""

    @property
    def hangup_seen(self) -> bool:
        """True once Asterisk said the caller hung up (``HANGUP`` line, SIGHUP)."""
        ...

    @property
    def hangup_before_reply(self) -> bool:
        """True when the caller's hang-up was known before the last reply arrived: the
        ``HANGUP`` line came in ahead of it (Asterisk's AGI loop writes that line only
        between commands, so the command ran on a channel already dead)."""
        ...

    async def roundtrip(self, command: AnyCommand, timeout: float | None) -> Reply:
        """Send ``command`` and return its reply.

        Raises :class:`CallerHungUp` when the connection closes and
        :class:`ChannelError` for peer garbage or a missed ``timeout``.
        """
        ...


def _key_result(verb: str, reply: Response) -> int:
    """The result of a key-reporting command: 0, -1 or a DTMF key's code.

    Raises :class:`ChannelError` for anything else (the peer's garbage ends the call).
    """
    code = reply.number
    if code in (0, -1) or (code is not None and 0 < code < 128 and chr(code) in DTMF_KEYS):
        return code
    raise ChannelError(f"{verb}: result {reply.result[:24]!r} is not a DTMF key")


def _digits(value: str) -> str:
    # str.isdigit() is true for "²" and Arabic-Indic digits: only ASCII is a number here.
    return value if value.isascii() and value.isdigit() else ""


def _seconds(value: str | None) -> float | None:
    """``ANSWEREDTIME`` as seconds; None when empty or not a number."""
    if not value:
        return None
    plain = value.replace(".", "", 1)
    return float(value) if plain.isascii() and plain.isdigit() else None


#: ``agi://host/hotline?synthetic=1``: a load-test call (``ivr loadtest`` asks so).
SYNTHETIC_QUERY = "synthetic"


def call_info(env: Environment, flow: str | None = None) -> CallInfo:
    """What the engine needs to know about the call, from the environment block."""
    args = env.args
    # The hotline number: the dialplan can pass it as the first AGI argument; otherwise
    # the extension dialled; agi_dnid last, since it is "unknown" on Local channels
    # (agi-env-dialled-number.txt).
    dialled = (_digits(args[0]) if args else "") or _digits(env.extension) or _digits(env.dnid)
    name = env.calleridname
    return CallInfo(
        call_id=env.uniqueid,
        caller="".join(ch for ch in env.callerid if ch in "0123456789"),
        dialled=dialled,
        flow=env.network_script if flow is None else flow,
        channel_name=env.channel,
        language=None if env.language in ("", ASTERISK_DEFAULT_LANGUAGE) else env.language,
        caller_name="" if name == "unknown" else name,
        args=args,
        synthetic=env.query.get(SYNTHETIC_QUERY, "") in ("1", "yes", "true"),
    )


class AgiChannel:
    """A live call over AGI. One command is in flight at a time (callers await each)."""

    # No reference to the Environment: its ~25 strings were a third of a held call's
    # memory, and the call needs only what call_info takes from it.
    __slots__ = ("_dead", "_info", "_link", "command_timeout", "kind", "prompt_timeout")

    def __init__(self, link: AgiLink, env: Environment, *, flow: str | None = None,
                 command_timeout: float = COMMAND_TIMEOUT,
                 prompt_timeout: float = PROMPT_TIMEOUT, kind: str = "fastagi") -> None:
        self._link = link
        self.kind = kind
        """``fastagi``, or ``agi`` when a classic AGI script's stdin/stdout is the link."""
        self.command_timeout = command_timeout
        self.prompt_timeout = prompt_timeout
        self._info = call_info(env, flow)
        self._dead = False

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def hung_up(self) -> bool:
        return self._dead or self._link.hangup_seen

    # ------------------------------------------------------------ primitives

    async def _media(self, command: AnyCommand, timeout: float | None) -> Response:
        """A command that needs a live caller: refused locally once the caller is gone."""
        if self._dead or self._link.hangup_seen:
            self._dead = True
            raise CallerHungUp()
        reply = await self._link.roundtrip(command, timeout)
        if type(reply) is not Response:
            if type(reply) is DeadChannel:
                self._dead = True
                raise CallerHungUp()
            raise ChannelError(f"{command.command().verb}: unexpected reply {reply!r}")
        if self._link.hangup_seen:
            self._dead = True
            raise CallerHungUp()
        return reply

    async def _plain(self, command: AnyCommand) -> Response:
        """A command Asterisk answers at once, even on a dead channel (variables...)."""
        reply = await self._link.roundtrip(command, self.command_timeout)
        if type(reply) is not Response:
            raise ChannelError(f"{command.command().verb}: unexpected reply {reply!r}")
        return reply

    async def play(self, prompts: Sequence[Prompt], *, escape: str = "") -> str | None:
        for prompt in prompts:
            reply = await self._media(StreamFile(prompt.file, escape), self.prompt_timeout)
            code = _key_result("STREAM FILE", reply)
            if code == 0:
                continue
            if code > 0:
                return chr(code)
            # -1: the caller hung up, or the file is missing ("200 result=-1 endpos=0",
            # agi-env-and-basic-commands.txt). Ask the channel which: a missing prompt
            # must not end the call.
            await self._confirm_alive()
            log.warning("prompt %s (%s) could not be played; skipped", prompt.id, prompt.file)
        return None

    async def record(self, request: RecordRequest) -> RecordResult:
        """``RECORD FILE`` as res_agi.c answers it: ``(dtmf)`` with the finish key,
        ``(timeout)`` for silence or the maximum length (its result is then the
        milliseconds left, not a key), ``(hangup)``, ``(writefile)`` when Asterisk could
        not create the file, ``(randomerror)`` when the beep was interrupted or failed."""
        command = RecordFile(request.path, request.format, request.finish_keys,
                             int(request.max_seconds * 1000), request.beep,
                             request.silence_seconds)
        reply = await self._media(command, request.max_seconds + RECORD_MARGIN)
        what, code = reply.data or "", reply.number
        seconds = max(reply.endpos or 0, 0) / RECORD_RATE
        file = f"{request.path}.{RECORD_EXTENSIONS.get(request.format, request.format)}"
        if what == "hangup" or (code == -1 and what in ("", "waitfor")):
            self._dead = True
            raise CallerHungUp()
        if what == "dtmf":
            key = _key_result("RECORD FILE", reply)
            return RecordResult(RecordEnd.KEY, seconds, chr(key) if key > 0 else None, file)
        if what == "timeout" and code is not None and code >= 0:
            return RecordResult(RecordEnd.TIMEOUT, seconds, None, file)
        if what == "randomerror" and code is not None and code > 0:
            # A key during the beep: nothing was recorded (no file is written).
            return RecordResult(RecordEnd.KEY, 0.0, chr(_key_result("RECORD FILE", reply)))
        if code is not None and code < 0:
            await self._confirm_alive()  # a beep that could not play, or no file
            return RecordResult(RecordEnd.FAILED, detail=what or "error")
        raise ChannelError(f"RECORD FILE: unexpected reply {reply.raw[:80]!r}")

    async def _confirm_alive(self) -> None:
        reply = await self._media(ChannelStatus(), self.command_timeout)
        if reply.number is None or reply.number < 0:
            self._dead = True
            raise CallerHungUp()

    async def wait_digit(self, timeout: float) -> str | None:
        ms = max(int(timeout * 1000), 0)
        reply = await self._media(WaitForDigit(ms), timeout + WAIT_DIGIT_MARGIN)
        code = _key_result("WAIT FOR DIGIT", reply)
        if code == 0:
            return None
        if code < 0:
            self._dead = True
            raise CallerHungUp()
        return chr(code)

    def ask(self, prompts: Sequence[Prompt], spec: DigitSpec) -> Coroutine[Any, Any, Entry]:
        # Not async: the caller awaits ask_with_keys itself, one coroutine frame less on
        # every call waiting in a question (a storm holds thousands).
        return ask_with_keys(self, prompts, spec)

    async def set_variable(self, name: str, value: str) -> None:
        await self._plain(SetVariable(name, value))

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, None when unset (``200 result=0``)."""
        reply = await self._plain(GetVariable(name))
        return reply.data if reply.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self._plain(Verbose(message, level))

    # ------------------------------------------------------------ transfer

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Attach the case to the channel, run Queue (or Dial), report how it ended.

        Returns the result even when the caller hangs up after talking to an agent (the
        normal end of a transferred call); raises :class:`CallerHungUp` when the caller
        was gone before, or left the queue unanswered.
        """
        if self.hung_up:
            self._dead = True
            raise CallerHungUp()
        target = request.agent or request.queue
        if not target or any(ch in target for ch in ",\n\r"):
            raise ValueError(f"bad transfer target {target!r}")
        # What the agent's side reads is set once, inherited ("__"), and never plain
        # after it: Asterisk has one namespace per channel, and a plain IVR_CASE_ID
        # after __IVR_CASE_ID overwrites it and drops the inheritance (the agent's leg
        # then had no case id: "DestChanVariable: IVR_CASE_ID=" on a real Asterisk 22).
        await self.set_variable(cv.inherited(cv.CASE_ID), request.case_id)
        for name, value in request.variables.items():
            await self.set_variable(cv.inherited(name), value)
        if request.priority and not request.agent:
            await self.set_variable(cv.QUEUE_PRIO, str(request.priority))
        language = request.variables.get(cv.LANGUAGE)
        if language and not request.agent:
            # Queue says its announcements (position, hold time) in the channel's
            # language: the hotline's own prompts, installed as <lang>/ivr/queue-*.
            await self.set_variable(cv.CHANNEL_LANGUAGE, language)
        # Queue sets QUEUESTATUS only when it ends for a reason of its own (TIMEOUT,
        # CONTINUE...): a caller who abandons leaves the variables as they were. In a call
        # that already queued once (the demo's safety queue times out, then the agents
        # queue), the second queue's abandon would read the first one's TIMEOUT (or an
        # earlier CONTINUE and ANSWEREDTIME: "completed"). Start every transfer clean.
        for name in (cv.DIALSTATUS if request.agent else cv.QUEUESTATUS, *RESULT_VARS):
            await self.set_variable(name, "")
        if self.hung_up:  # the HANGUP line is in already: no Queue on a dead channel
            self._dead = True
            raise CallerHungUp()
        timeout = "" if request.timeout is None else str(max(int(request.timeout), 1))
        if request.agent:
            options = f"{request.agent},{timeout}" if timeout else request.agent
            return await self._run_transfer(Exec("Dial", options), cv.DIALSTATUS, DIAL_STATUS)
        # "c": continue in the script after the agent hangs up, so the call is recorded
        # (without it Queue returns -1 although the caller is still up:
        # agi-queue-to-agent-no-continue.txt).
        options = f"{request.queue},c,,,{timeout}" if timeout else f"{request.queue},c"
        return await self._run_transfer(Exec("Queue", options), cv.QUEUESTATUS, QUEUE_STATUS)

    async def _run_transfer(self, command: Exec, status_var: str,
                            table: dict[str, TransferStatus]) -> TransferResult:
        reply = await self._link.roundtrip(command, MEDIA_TIMEOUT)
        if type(reply) is not Response:
            raise ChannelError(f"EXEC {command.application}: unexpected reply {reply!r}")
        if self._link.hangup_before_reply:
            # The caller hung up as we wrote the EXEC: Asterisk wrote HANGUP, then ran
            # the application on the dead channel all the same. Queue even joins, rings
            # and connects an agent for ~45 ms and answers "200 result=0" with
            # QUEUESTATUS=CONTINUE and ANSWEREDTIME=0 (real Asterisk 22): whatever it
            # says, nobody talked to this caller.
            self._dead = True
            raise CallerHungUp()
        if reply.result == "-2":  # application not found (agi-env-and-basic-commands.txt)
            return TransferResult(TransferStatus.FAILED, raw_status="NOAPP")
        raw = await self.get_variable(status_var) or ""
        agent = await self.get_variable(cv.MEMBERINTERFACE) \
            if status_var == cv.QUEUESTATUS else command.options.split(",", 1)[0]
        talk = _seconds(await self.get_variable(cv.ANSWEREDTIME))
        status = table.get(raw)
        if status is None:
            if talk:  # an agent talked, then the caller hung up (no status of its own)
                status = TransferStatus.COMPLETED
            elif reply.result == "-1" or self.hung_up or raw == "CANCEL":
                # Gone before anyone answered: Queue answers -1, leaves QUEUESTATUS as it
                # was and sets ANSWEREDTIME to 0 (not unset: 0 is not a talk time).
                self._dead = True
                raise CallerHungUp()
            else:
                status = TransferStatus.FAILED
        if status is not TransferStatus.COMPLETED:
            agent = None
        return TransferResult(status, raw_status=raw, agent=agent or None, talk_seconds=talk)

    async def hangup(self) -> None:
        """Hang up (idempotent). The script's own ``HANGUP`` answers ``200 result=1`` and
        Asterisk then sends a ``HANGUP`` line (agi-hangup-command-from-agi.txt)."""
        if self.hung_up:
            self._dead = True
            return
        self._dead = True
        try:
            await self._link.roundtrip(Hangup(), self.command_timeout)
        except (CallerHungUp, ChannelError) as exc:
            # The call is over either way; a broken link at this point changes nothing.
            log.debug("hangup on %s: %r", self._info.call_id, exc)
