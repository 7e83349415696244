"""A fake Asterisk that calls a FastAGI server over real TCP, speaking the recorded wire.

It writes the environment block line for line as the transcripts show it (LF endings,
``agi_accountcode: `` with its trailing space), answers each command the way Asterisk 22
did, and lets a scripted caller (:mod:`ivr.testing.callers`) decide when keys are pressed
and when the caller hangs up. Time is virtual: prompts and timeouts are answered at once.

What it reproduces from the transcripts' README list of easy mistakes:

- a caller hanging up during a media command gets ``200 result=-1`` and the unsolicited
  ``HANGUP`` line arrives *after* the script's next command, ahead of its reply;
- an idle hang-up sends ``HANGUP`` at once; a script's own ``HANGUP`` gets
  ``200 result=1`` and then the ``HANGUP`` line;
- after a hang-up, media commands get ``511`` while variables, VERBOSE, EXEC and NOOP
  still get ``200``; Asterisk never closes the socket itself;
- ``200 result= (timeout)``, ``200 result=12 (timeout)``, ``200 result=`` for ``#``
  alone, multi-line ``520`` usage, ``510`` for unknown commands, ``-2`` for unknown apps;
- one variable namespace per channel where ``X`` after ``__X`` drops the inheritance,
  and Queue as Asterisk 22 runs it, on a dead channel too (:mod:`ivr.testing.fake_queue`);
  ``on_queue`` hears of every Queue run (e.g. :meth:`FakeAmiServer.emit_queue_run`
  sends the AMI events a real one sends, with the agent leg's inherited variables).

A :class:`Hold` plays a storm's end: calls parked in a prompt until all are in, then
hung up together (``200 result=-1``, then the ``HANGUP`` line, as
agi-hangup-during-get-data.txt shows).

Every call's wire conversation is recorded in a :class:`CallTranscript`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import time
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ivr import channel_vars as cv
from ivr.agi.commands import ParsedCommand, parse_command
from ivr.errors import IvrError
from ivr.testing.callers import Caller, QueueOutcome, SilentCaller, Speech
from ivr.testing.fake_queue import (
    JOIN_STATUSES,
    ChannelVariables,
    QueueEnd,
    QueueRun,
    run_queue,
)

__all__ = ["AGENT_ANSWERS", "CallTranscript", "FakeCall", "FakeRecording", "Hold",
           "QueueOutcome", "QueueRun", "ServerSilent", "env_lines", "run_call", "run_many"]

#: A runaway script (a flow looping forever) is stopped after this many commands.
MAX_COMMANDS = 5000
#: Seconds run_call waits for the server's next command before giving up. Time is
#: virtual, so only a stuck server (or a lookup far past its own timeout) waits this long.
IDLE_TIMEOUT = 60.0
#: Samples in a prompt the length table does not know (1 s at 8 kHz, like hotline-short).
DEFAULT_PROMPT_SAMPLES = 8000
#: RECORD FILE's sample rate (``endpos`` counts 8 kHz samples) and file extensions.
RECORD_RATE = 8000
RECORD_EXTENSIONS = {"wav": "wav", "gsm": "gsm", "ulaw": "ulaw", "alaw": "alaw",
                     "sln": "sln", "wav49": "WAV"}
#: Milliseconds res_agi.c rewinds to chop the finish key's tone off a recording.
DTMF_REWIND_MS = 200
#: Commands Asterisk refuses on a dead channel with 511 (agi-hangup-during-get-data.txt).
DEAD_REFUSED = frozenset({
    "ANSWER", "CHANNEL STATUS", "CONTROL STREAM FILE", "GET DATA", "GET OPTION", "HANGUP",
    "RECORD FILE", "SAY ALPHA", "SAY DATE", "SAY DATETIME", "SAY DIGITS", "SAY NUMBER",
    "SAY PHONETIC", "SAY TIME", "STREAM FILE", "WAIT FOR DIGIT",
})
#: Commands during which a caller can hang up "in flight" (they block in Asterisk).
BLOCKING = DEAD_REFUSED - {"ANSWER", "CHANNEL STATUS", "HANGUP"} | {"EXEC"}
#: Applications the fake knows; any other EXEC answers -2 like a missing app.
KNOWN_APPS = frozenset({"queue", "dial", "playback", "set", "verbose", "noop", "wait",
                        "answer", "musiconhold", "userevent", "hangup"})
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
USAGE = ("520-Invalid command syntax.  Proper usage follows:",
         "Usage: see 'agi show commands' for this command.",
         "520 End of proper usage.")
#: The default queue outcome: an agent answers and talks 42 s (MEMBERINTERFACE unset).
AGENT_ANSWERS = QueueOutcome()
_VAR_REF = re.compile(r"\$\{([^}]*)\}")
_ids = itertools.count(1)
QueueHook = Callable[[QueueRun], None]
#: Queue ends after which the talk time is the outcome's (the others talked 0 s).
TALKED = frozenset({QueueEnd.ANSWERED, QueueEnd.CALLER_ENDED})


def env_values(lines: Sequence[str]) -> dict[str, str]:
    """``agi_x: value`` lines -> {"agi_x": "value"}."""
    return {k: v for k, _, v in (line.partition(": ") for line in lines if line)}


def env_lines(*, script: str = "hotline", callerid: str = "0901234567",
              calleridname: str = "Test Caller", extension: str = "s", dnid: str = "unknown",
              args: Sequence[str] = ("arg1",), uniqueid: str | None = None,
              channel: str | None = None, language: str = "en", context: str = "hotline",
              host: str = "127.0.0.1", port: int = 4573) -> list[str]:
    """The environment block as recorded (agi-env-and-basic-commands.txt), in order."""
    n = next(_ids)
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://{host}:{port}/{script}",
        f"agi_channel: {channel or f'Local/{extension}@{context}-{n:08x};2'}",
        f"agi_language: {language}",
        "agi_type: Local",
        # Asterisk's form is "<epoch>.<sequence>"; the pid keeps two load runs against
        # one database from reusing call ids.
        f"agi_uniqueid: {uniqueid or f'{int(time.time())}.{os.getpid()}{n:05d}'}",
        "agi_version: GIT-22-69535d4837",
        f"agi_callerid: {callerid}",
        f"agi_calleridname: {calleridname}",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        f"agi_dnid: {dnid}",
        "agi_rdnis: unknown",
        f"agi_context: {context}",
        f"agi_extension: {extension}",
        "agi_priority: 3",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 140004734400192",
    ]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    return [*lines, ""]


@dataclass
class CallTranscript:
    """One call's wire conversation: ``>>`` to Asterisk (commands), ``<<`` from it."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    """Seconds from each reply written to the next command read: the server's turn."""
    command_count: int = 0
    closed_by_server: bool = False
    """The script closed the socket (normal end); False if the fake gave up."""
    hung_up: bool = False
    queue_runs: list[QueueRun] = field(default_factory=list)
    """Every Queue the call ran, with the variables its agent leg inherited."""
    recordings: list[FakeRecording] = field(default_factory=list)
    """Every RECORD FILE of the call, with the file it wrote."""
    call_id: str = ""
    """``agi_uniqueid``: the call record's id on the server."""
    streamed: list[str] = field(default_factory=list)
    """The files of every ``STREAM FILE``, in order (kept with ``record=False`` too)."""
    parked: bool = False
    """A :class:`Hold` parked this call in a prompt and hung it up with the others."""
    seconds: float = 0.0
    """From connecting to the end of the conversation."""
    ended_at: float = 0.0
    """perf_counter() at the end of the conversation."""
    error: str = ""
    """Why the call failed (could not connect, server silent); empty when it did not."""

    @property
    def commands(self) -> list[str]:
        return [text for d, text in self.lines if d == ">>"]

    @property
    def received(self) -> list[str]:
        return [text for d, text in self.lines if d == "<<"]

    def text(self) -> str:
        """The conversation in the recorded transcripts' format, without times."""
        return "".join(f"{d} {t}\n" if t else f"{d}\n" for d, t in self.lines)

    def has_command(self, prefix: str) -> bool:
        return any(c.startswith(prefix) for c in self.commands)


@dataclass(frozen=True, slots=True)
class FakeRecording:
    """One RECORD FILE as the fake ran it: what was asked and what it wrote."""

    file: str
    format: str
    escape: str
    timeout_ms: int
    beep: bool
    silence_seconds: int
    written: str | None
    """The file written on "the Asterisk host" (here: this machine), None if none."""
    reply: str


def _write_wav(path: str, spoken: int, total: int) -> None:
    """8 kHz 16-bit mono, as Asterisk's ``wav`` format: a quiet 400 Hz tone for the
    ``spoken`` samples (a voice stand-in), then silence up to ``total``."""
    period = b"".join(int(3000 * ((i % 20) - 10) / 10).to_bytes(2, "little", signed=True)
                      for i in range(20))
    voice = (period * (spoken // 20 + 1))[: spoken * 2]
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RECORD_RATE)
        out.writeframes(voice + b"\0\0" * max(total - spoken, 0))


class FakeCall:
    """One call's Asterisk side, sans-IO: a command line in, reply lines out."""

    def __init__(self, caller: Caller, *, queue: QueueOutcome = AGENT_ANSWERS,
                 prompt_samples: Mapping[str, int] | None = None,
                 missing_files: frozenset[str] = frozenset(),
                 missing_apps: frozenset[str] = frozenset(),
                 variables: Mapping[str, str] | None = None,
                 env: Mapping[str, str] | None = None,
                 on_queue: QueueHook | None = None) -> None:
        self.caller = caller
        self.queue = queue
        self.prompt_samples = prompt_samples or {}
        self.missing_files = missing_files
        self.missing_apps = frozenset(a.lower() for a in missing_apps)
        self.variables = ChannelVariables(variables)
        self.env: Mapping[str, str] = env or env_values(env_lines())
        self.on_queue = on_queue
        self.queue_runs: list[QueueRun] = []
        self.recordings: list[FakeRecording] = []
        self.dead = False
        self.notice_due = False
        self.count = 0

    def handle(self, line: str) -> list[str]:
        """The lines Asterisk writes after receiving command ``line``."""
        self.count += 1
        out: list[str] = []
        if self.notice_due:  # the HANGUP line lands ahead of this command's reply
            out.append("HANGUP")
            self.notice_due = False
        cmd = parse_command(line)
        verb = cmd.canonical
        if not self.dead and self.caller.hangs_up_at(self.count):
            if verb in BLOCKING:
                self.dead = self.notice_due = True
                out += self._hung_up_during(cmd)
                return out
            out += self._reply(cmd)
            self.dead = True
            if self.caller.hangup_races_next_command():
                self.notice_due = True  # Asterisk writes HANGUP after our next command came
            elif not self.notice_due:  # (the script's own HANGUP schedules its notice)
                out.append("HANGUP")  # idle hang-up right after this reply: unprompted
            return out
        if self.dead and verb in DEAD_REFUSED:
            out.append(DEAD)
            return out
        out += self._reply(cmd)
        return out

    def hang_up_in(self, line: str) -> list[str]:
        """The caller hangs up while command ``line`` runs (a :class:`Hold` let it run
        until now): the command answers ``-1`` and the ``HANGUP`` line follows it
        (agi-hangup-during-get-data.txt: ``200 result=-1``, then ``HANGUP`` 2 ms later;
        here the server has not sent its next command yet, so they go together)."""
        self.count += 1
        out = ["HANGUP"] if self.notice_due else []
        self.notice_due = False
        out += self._hung_up_during(parse_command(line))
        self.dead = True
        return [*out, "HANGUP"]

    def _hung_up_during(self, cmd: ParsedCommand) -> list[str]:
        """The reply to a blocking command the caller hangs up in (``-1``; a Queue
        leaves what an abandon leaves)."""
        if cmd.canonical == "EXEC" and cmd.text(0).lower() == "queue" \
                and "queue" not in self.missing_apps:
            return self._queue(cmd.text(1), hangs_up_during=True)
        if cmd.canonical == "RECORD FILE":
            return ["200 result=-1 (hangup) endpos=0"]
        return ["200 result=-1 endpos=0" if "STREAM" in cmd.canonical else "200 result=-1"]

    def _samples(self, file: str) -> int:
        return self.prompt_samples.get(file, DEFAULT_PROMPT_SAMPLES)

    def _reply(self, cmd: ParsedCommand) -> list[str]:
        verb = cmd.canonical
        nargs = len(cmd.args)
        if verb == "":
            return ["510 Invalid or unknown command"]
        if verb in ("ANSWER", "NOOP"):
            return ["200 result=0"]
        if verb == "VERBOSE":
            return ["200 result=1"] if nargs else list(USAGE)
        if verb == "CHANNEL STATUS":
            return ["200 result=6"]
        if verb == "HANGUP":
            self.dead = self.notice_due = True
            return ["200 result=1"]
        if verb == "STREAM FILE":
            return self._stream(cmd) if nargs >= 2 else list(USAGE)
        if verb == "WAIT FOR DIGIT":
            if nargs < 1:
                return list(USAGE)
            key = self.caller.at_wait()
            return [f"200 result={ord(key) if key else 0}"]
        if verb == "GET DATA":
            return self._get_data(cmd) if nargs >= 1 else list(USAGE)
        if verb == "SET VARIABLE":
            if nargs < 2:
                return list(USAGE)
            self.variables.set(cmd.text(0), cmd.text(1))
            return ["200 result=1"]
        if verb == "GET VARIABLE":
            if nargs < 1:
                return list(USAGE)
            value = self.variables.get(cmd.text(0))
            return ["200 result=0" if value is None else f"200 result=1 ({value})"]
        if verb == "GET FULL VARIABLE":
            if nargs < 1:
                return list(USAGE)
            expanded = _VAR_REF.sub(lambda m: self.variables.get(m.group(1)) or "", cmd.text(0))
            return [f"200 result=1 ({expanded})"]
        if verb == "EXEC":
            return self._exec(cmd.text(0), cmd.text(1)) if nargs >= 1 else list(USAGE)
        if verb == "RECORD FILE":
            return self._record(cmd)
        if verb.startswith("SAY "):
            if nargs < 2:
                return list(USAGE)
            escape = cmd.text(1)
            key = self.caller.during_prompt(cmd.text(0), escape) if escape else None
            return [f"200 result={ord(key) if key else 0}"]
        return ["200 result=0"]

    def _stream(self, cmd: ParsedCommand) -> list[str]:
        file, escape = cmd.text(0), cmd.text(1)
        if file in self.missing_files:
            return ["200 result=-1 endpos=0"]
        samples = self._samples(file)
        key = self.caller.during_prompt(file, escape) if escape else None
        if key is not None and key in escape:
            return [f"200 result={ord(key)} endpos={samples // 2}"]
        return [f"200 result=0 endpos={samples}"]

    def _record(self, cmd: ParsedCommand) -> list[str]:
        """RECORD FILE as res_agi.c handle_recordfile answers it (Asterisk 22)."""
        n = len(cmd.args)
        if n < 4 or not re.fullmatch(r"-?\d+", cmd.text(3)):
            return list(USAGE)
        file, fmt, escape, ms = cmd.text(0), cmd.text(1), cmd.text(2), int(cmd.text(3))
        extra = [cmd.text(i) for i in range(4, min(n, 7))]
        silence = 0
        for arg in extra:  # the first of the optional arguments with "s=" in it
            if "s=" in arg:
                tail = arg[arg.index("s=") + 2:]
                silence = int(tail) if tail.isdigit() else 0
                break
        # The beep: an argument after the timeout that is neither an offset nor s=, or
        # any second one that is not s= (the backward-compatible rule of res_agi.c).
        beep = (len(extra) > 0 and not extra[0].lstrip("-").isdigit()
                and not extra[0].startswith("s=")) or (
            len(extra) > 1 and not extra[1].startswith("s="))
        speech = self.caller.at_record(escape) or Speech(0.0, "silence")
        written = f"{file}.{RECORD_EXTENSIONS.get(fmt, fmt)}"

        def done(reply: str, spoken: int, total: int) -> list[str]:
            _write_wav(written, spoken, total)
            self.recordings.append(FakeRecording(file, fmt, escape, ms, beep, silence,
                                                 written, reply))
            return [reply]

        if not os.path.isabs(file) or not os.path.isdir(os.path.dirname(file)):
            # ast_writefile() cannot create the file (Asterisk makes no directories;
            # a relative name would go under its sounds directory, not modelled here).
            reply = "200 result=-1 (writefile)"
            self.recordings.append(FakeRecording(file, fmt, escape, ms, beep, silence,
                                                 None, reply))
            return [reply]
        limit = ms * RECORD_RATE // 1000 if ms >= 0 else None
        spoken = int(speech.seconds * RECORD_RATE)
        if limit is not None and spoken >= limit:
            return done(f"200 result=0 (timeout) endpos={limit}", limit, limit)
        if speech.then == "hangup":
            self.dead = self.notice_due = True
            return done(f"200 result=-1 (hangup) endpos={spoken}", spoken, spoken)
        if len(speech.then) == 1 and speech.then in escape:
            kept = max(spoken - DTMF_REWIND_MS * RECORD_RATE // 1000, 0)
            return done(f"200 result={ord(speech.then)} (dtmf) endpos={kept}", kept, kept)
        # The caller stops talking (a key that is no finish key is ignored).
        heard = spoken + silence * RECORD_RATE
        if silence > 0 and (limit is None or heard < limit):
            # Silence detected: rewound to keep 1 s of it; the result is what
            # ast_waitfor() had left of the maximum, in ms (not a key).
            kept = spoken + RECORD_RATE
            left = max(ms - heard * 1000 // RECORD_RATE, 1) if ms >= 0 else 1
            return done(f"200 result={left} (timeout) endpos={kept}", spoken, kept)
        total = limit if limit is not None else heard
        return done(f"200 result=0 (timeout) endpos={total}", spoken, total)

    def _get_data(self, cmd: ParsedCommand) -> list[str]:
        max_digits = int(cmd.text(2, "1024") or "1024")
        digits = ""
        first = self.caller.during_prompt(cmd.text(0), "0123456789*#")
        key = first if first is not None else self.caller.at_wait()
        while key is not None:
            if key == "#":
                return [f"200 result={digits}"]
            digits += key
            if len(digits) >= max_digits:
                return [f"200 result={digits}"]
            key = self.caller.at_wait()
        return [f"200 result={digits} (timeout)"]

    def _exec(self, app: str, options: str) -> list[str]:
        name = app.lower()
        if name not in KNOWN_APPS or name in self.missing_apps:
            return ["200 result=-2"]
        if name == "set" and "=" in options:
            key, _, value = options.partition("=")
            self.variables.set(key, value)
        if name == "queue":
            return self._queue(options, hangs_up_during=False)
        if name == "dial":
            answered = self.queue.status == "CONTINUE"
            self.variables.set(cv.DIALSTATUS, "ANSWER" if answered else "NOANSWER")
            if answered and self.queue.answered_seconds is not None:
                self.variables.set(cv.ANSWEREDTIME, str(self.queue.answered_seconds))
        return ["200 result=0"]

    def _queue(self, options: str, *, hangs_up_during: bool) -> list[str]:
        gone_before = self.dead and not hangs_up_during
        caller_vars = self.variables.values()  # as AMI reports them while it is queued
        agent_vars = self.variables.inherited().values()  # the member channel, at its birth
        result, end = run_queue(self.variables, self.queue, options,
                                gone_before=gone_before, hangs_up_during=hangs_up_during)
        q, env = self.queue, self.env
        run = QueueRun(
            queue=options.split(",", 1)[0], caller_channel=env.get("agi_channel", ""),
            caller_uniqueid=env.get("agi_uniqueid", ""), callerid=env.get("agi_callerid", ""),
            calleridname=env.get("agi_calleridname", ""), context=env.get("agi_context", ""),
            exten=env.get("agi_extension", ""), priority=env.get("agi_priority", ""),
            caller_vars=caller_vars, member=q.member, agent_vars=agent_vars,
            end=end, agent_rang=q.status == "CONTINUE", joined=q.status not in JOIN_STATUSES,
            talk_seconds=(q.answered_seconds or 0) if end in TALKED else 0)
        self.queue_runs.append(run)
        if self.on_queue is not None:
            self.on_queue(run)
        if end is QueueEnd.CALLER_ENDED and not self.dead:
            # The caller hangs up in the bridge: Queue returns first, HANGUP follows it
            # (in one write here: the reader must not take it for an earlier hang-up).
            self.dead = True
            return [f"200 result={result}", "HANGUP"]
        return [f"200 result={result}"]


class Hold:
    """Parks calls in a prompt, then hangs them all up at once, as a storm ends.

    Each call that reaches its ``at``-th media command (a prompt, a wait for a key, an
    application) leaves it unanswered; once ``expected`` calls are parked (or
    :meth:`release` is called) every parked call answers it as a hang-up: ``200
    result=-1`` and the ``HANGUP`` line (:meth:`FakeCall.hang_up_in`).
    """

    def __init__(self, expected: int, at: int = 1, *, auto_release: bool = True) -> None:
        if expected < 1 or at < 1:
            raise ValueError("expected and at count from 1")
        self.expected = expected
        self.at = at
        self.auto_release = auto_release
        """False: keep them parked once all are (a benchmark measures them) until
        :meth:`release`."""
        self.parked = 0
        self.all_parked = asyncio.Event()
        self._released = asyncio.Event()
        self.released_at = 0.0
        """perf_counter() when the hang-up began."""

    def release(self) -> None:
        if not self._released.is_set():
            self.released_at = time.perf_counter()
            self._released.set()

    def give_up_one(self) -> None:
        """One call will never park (it failed, or ended before its prompt)."""
        self.expected -= 1
        self._check()

    async def park(self) -> None:
        self.parked += 1
        self._check()
        await self._released.wait()

    def _check(self) -> None:
        if self.parked >= self.expected:
            self.all_parked.set()
            if self.auto_release:
                self.release()


class ServerSilent(IvrError, TimeoutError):
    """The FastAGI server sent nothing for too long (virtual time: it should not wait)."""

    def __init__(self, seconds: float | None, transcript: CallTranscript) -> None:
        tail = "".join(f"{d} {t}\n" for d, t in transcript.lines[-6:])
        super().__init__(f"no command from the server for {seconds} s; last lines:\n{tail}")
        self.transcript = transcript


def _discard(_line: tuple[str, str]) -> None:
    pass


#: Commands that take real time on a real channel (``pace`` in :func:`run_call`).
_PACED = ("STREAM FILE", "WAIT FOR DIGIT", "GET DATA", "EXEC", "SAY ")


async def run_call(host: str, port: int, caller: Caller | None = None, *,
                   script: str = "hotline", callerid: str = "0901234567",
                   calleridname: str = "Test Caller", extension: str = "s",
                   dnid: str = "unknown", args: Sequence[str] = ("arg1",),
                   uniqueid: str | None = None, queue: QueueOutcome = AGENT_ANSWERS,
                   prompt_samples: Mapping[str, int] | None = None,
                   missing_files: frozenset[str] = frozenset(),
                   missing_apps: frozenset[str] = frozenset(),
                   max_commands: int = MAX_COMMANDS, record: bool = True,
                   idle_timeout: float | None = IDLE_TIMEOUT,
                   pace: float = 0.0, on_queue: QueueHook | None = None,
                   hold: Hold | None = None) -> CallTranscript:
    """Place one call to the FastAGI server at ``host:port`` and return its transcript.

    Returns when the server closes the connection (the script ended), or after
    ``max_commands`` (then ``closed_by_server`` is False). ``record=False`` keeps only
    the counts and latencies (load tests: thousands of transcripts in memory slow the
    garbage collector down more than the server under test). A server that sends
    nothing for ``idle_timeout`` seconds raises :class:`ServerSilent` (a test fails
    with the conversation so far instead of hanging). ``pace`` > 0 makes every media
    command (prompts, waits for a key, applications) take that many real seconds, so a
    load test holds calls open as long as real ones (virtual time otherwise).
    ``on_queue`` is called with each Queue run as it happens (before EXEC's reply).
    ``hold`` parks the call in a prompt until the others are parked, then hangs it up.
    """
    env = env_lines(script=script, callerid=callerid, calleridname=calleridname,
                    extension=extension, dnid=dnid, args=args, uniqueid=uniqueid,
                    host=host, port=port)
    call = FakeCall(caller or SilentCaller(), queue=queue, prompt_samples=prompt_samples,
                    missing_files=missing_files, missing_apps=missing_apps,
                    env=env_values(env), on_queue=on_queue)
    transcript = CallTranscript(queue_runs=call.queue_runs, recordings=call.recordings,
                                call_id=call.env.get("agi_uniqueid", ""))
    log_line = transcript.lines.append if record else _discard
    began = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for text in env:
            log_line(("<<", text))
        writer.write("".join(t + "\n" for t in env).encode())
        try:
            async with asyncio.timeout(None) as deadline:
                await _converse(reader, writer, call, transcript, log_line, max_commands,
                                idle_timeout, deadline, pace, hold)
        except TimeoutError:
            raise ServerSilent(idle_timeout, transcript) from None
    finally:
        transcript.ended_at = time.perf_counter()
        transcript.seconds = transcript.ended_at - began
        transcript.hung_up = call.dead
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return transcript


async def _converse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    call: FakeCall, transcript: CallTranscript,
                    log_line: Callable[[tuple[str, str]], None], max_commands: int,
                    idle_timeout: float | None, deadline: asyncio.Timeout,
                    pace: float = 0.0, hold: Hold | None = None) -> None:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    sent_at = clock()
    media = 0  # media commands so far, for the hold
    while True:
        if idle_timeout is not None:
            deadline.reschedule(loop.time() + idle_timeout)
        try:
            raw = await reader.readline()
        except ConnectionError:
            raw = b""
        if not raw.endswith(b"\n"):
            transcript.closed_by_server = True  # EOF (a partial line is discarded)
            return
        transcript.latencies.append(clock() - sent_at)
        transcript.command_count += 1
        line = raw[:-1].decode("utf-8", "replace")
        log_line((">>", line))
        if call.count >= max_commands:
            return
        if line.startswith("STREAM FILE "):
            transcript.streamed.append(line[12:].split(" ", 1)[0])
        if hold is not None and not call.dead and line.startswith(_PACED):
            media += 1
            if media == hold.at:
                deadline.reschedule(None)  # parked on purpose: no idle deadline
                await hold.park()
                transcript.parked = True
                hold = None
                replies = call.hang_up_in(line)
                for text in replies:
                    log_line(("<<", text))
                writer.write("".join(t + "\n" for t in replies).encode())
                sent_at = clock()
                continue
        replies = call.handle(line)
        if pace > 0 and line.startswith(_PACED):
            await asyncio.sleep(pace)
        for text in replies:
            log_line(("<<", text))
        writer.write("".join(t + "\n" for t in replies).encode())
        sent_at = clock()


async def run_many(host: str, port: int, n: int, *, concurrency: int = 100,
                   caller_factory: Callable[[int], Caller] | None = None,
                   on_done: Callable[[CallTranscript], None] | None = None,
                   **call_options: object) -> list[CallTranscript]:
    """Place ``n`` calls, at most ``concurrency`` at a time (for tests and loadtest)."""
    if n < 0 or concurrency < 1:
        raise ValueError("n must be >= 0 and concurrency >= 1")
    gate = asyncio.Semaphore(concurrency)
    factory = caller_factory or (lambda _i: SilentCaller())

    async def one(i: int) -> CallTranscript:
        async with gate:
            transcript = await run_call(host, port, factory(i), **call_options)  # type: ignore[arg-type]
        if on_done is not None:
            on_done(transcript)
        return transcript

    return list(await asyncio.gather(*(one(i) for i in range(n))))
