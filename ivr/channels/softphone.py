"""The browser softphone: a :class:`~ivr.channels.channel.Channel` over a websocket.

The browser is the caller's phone: it plays the prompts it is sent (audio from the
prompt build, text shown beside) and sends the keys the caller presses. The engine runs
the same flows over this channel as over FastAGI; a transfer goes to the built-in queue.

Messages, browser -> server: ``{"type": "start", "flow", "caller", "dialled",
"language"}`` (first), ``{"type": "key", "key": "5"}``, ``{"type": "played", "seq": n}``,
``{"type": "hangup"}``. Server -> browser: ``play`` (seq, prompts with id, text and
audio url), ``stop`` (seq: a key interrupted it), ``ignored`` (key, seq: pressed while a
prompt that takes no keys played), ``transfer``, ``transfer_result``, ``ended``, ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ivr import channel_vars
from ivr.calls import CallRecord
from ivr.channels.channel import (
    ALL_KEYS,
    CallerHungUp,
    CallInfo,
    Channel,
    ChannelError,
    DigitSpec,
    Entry,
    Prompt,
    TransferRequest,
    TransferResult,
    ask_with_keys,
)
from ivr.errors import IvrError
from ivr.screenpop.builtin_queue import BuiltinQueue

log = logging.getLogger(__name__)

Sender = Callable[[dict[str, Any]], Awaitable[None]]

#: If the browser never says a prompt list finished (tab in the background, audio
#: blocked), we go on after this many seconds plus PLAY_GUARD_PER_CHAR per character of
#: text (about a slow speaking rate), so a call never stalls on a silent browser.
PLAY_GUARD_SECONDS = 8.0
PLAY_GUARD_PER_CHAR = 0.12
PLAY_GUARD_MAX = 180.0
#: Phone numbers on the softphone form: digits only, at most E.164's 15 plus prefixes.
_NUMBER = re.compile(r"^[0-9]{0,20}$")
_FLOW = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
#: Prompt file names are ``<prefix>/<lang>/<id>``; anything else never becomes a URL.
_SOUND_FILE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


class CallRunner(Protocol):
    """The engine, as the softphone needs it (``ivr.engine.engine.Engine``)."""

    async def run(self, channel: Channel) -> CallRecord: ...


class SoftphoneInputError(IvrError, ValueError):
    """The browser's start message is not usable; the message says why."""


def audio_url_for(audio_dir: Path) -> Callable[[Prompt], str | None]:
    """Maps a prompt to its ``/audio/...wav`` URL when the built file exists."""

    def url(prompt: Prompt) -> str | None:
        if not _SOUND_FILE.match(prompt.file):
            return None
        if not (audio_dir / f"{prompt.file}.wav").is_file():
            return None
        return f"/audio/{prompt.file}.wav"

    return url


def play_guard(prompts: Sequence[Prompt]) -> float:
    chars = sum(len(p.text) for p in prompts)
    return min(PLAY_GUARD_MAX, PLAY_GUARD_SECONDS + PLAY_GUARD_PER_CHAR * chars)


class WebSoftphoneChannel:
    """One softphone call. The websocket handler feeds it keys, 'played' and hang-up."""

    kind = "softphone"

    def __init__(
        self,
        info: CallInfo,
        send: Sender,
        queue: BuiltinQueue,
        audio_url: Callable[[Prompt], str | None],
    ) -> None:
        self._info = info
        self._send = send
        self._queue = queue
        self._audio_url = audio_url
        self._keys: asyncio.Queue[str] = asyncio.Queue()
        self._played: dict[int, asyncio.Event] = {}
        self._seq = itertools.count(1)
        self.hung_up = asyncio.Event()
        """Set when the caller (the browser) hangs up or goes away."""
        self._ended = False
        self.variables: dict[str, str] = {}

    @property
    def info(self) -> CallInfo:
        return self._info

    # -- fed by the websocket handler ------------------------------------------------
    def key_pressed(self, key: str) -> None:
        if len(key) == 1 and key in ALL_KEYS and not self.hung_up.is_set():
            self._keys.put_nowait(key)

    def played(self, seq: int) -> None:
        event = self._played.get(seq)
        if event is not None:
            event.set()

    def caller_hung_up(self) -> None:
        self.hung_up.set()

    # -- Channel ---------------------------------------------------------------------
    def _check(self) -> None:
        if self.hung_up.is_set():
            raise CallerHungUp("softphone caller hung up")

    async def _emit(self, message: dict[str, Any]) -> None:
        try:
            await self._send(message)
        except (ConnectionError, RuntimeError) as exc:  # the tab went away mid-send
            self.hung_up.set()
            raise CallerHungUp("softphone connection closed") from exc

    async def play(self, prompts: Sequence[Prompt], *, escape: str = "") -> str | None:
        self._check()
        if not prompts:
            return None
        seq = next(self._seq)
        done = asyncio.Event()
        self._played[seq] = done
        await self._emit(
            {
                "type": "play",
                "seq": seq,
                "escape": escape,
                "prompts": [
                    {"id": p.id, "language": p.language, "text": p.text,
                     "url": self._audio_url(p)}
                    for p in prompts
                ],
            }
        )
        loop = asyncio.get_running_loop()
        until = loop.time() + play_guard(prompts)
        try:
            while True:
                left = until - loop.time()
                if left <= 0:
                    log.info("softphone %s: no 'played' for prompt list %d; going on",
                             self._info.call_id, seq)
                    return None
                key = await self._next_key(left, done)
                self._check()
                if key is None:
                    return None  # played to the end (or the guard ran out)
                if key in escape:
                    await self._emit({"type": "stop", "seq": seq})
                    return key
                # Not an escape key: Asterisk's STREAM FILE ignores it, so do we; the
                # page says so, or the key in its transcript looks like it was taken.
                await self._emit({"type": "ignored", "key": key, "seq": seq})
        finally:
            self._played.pop(seq, None)

    async def _next_key(self, timeout: float, done: asyncio.Event | None = None) -> str | None:
        """The next key, or None when ``done`` is set or the time runs out."""
        if not self._keys.empty():
            return self._keys.get_nowait()
        getter = asyncio.ensure_future(self._keys.get())
        waits: list[asyncio.Future[Any]] = [getter, asyncio.ensure_future(self.hung_up.wait())]
        if done is not None:
            waits.append(asyncio.ensure_future(done.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                fut.cancel()
            for fut in waits:
                with contextlib.suppress(asyncio.CancelledError):
                    await fut
        if getter.done() and not getter.cancelled():
            return getter.result()
        return None

    async def wait_digit(self, timeout: float) -> str | None:
        self._check()
        key = await self._next_key(timeout)
        self._check()
        return key

    async def ask(self, prompts: Sequence[Prompt], spec: DigitSpec) -> Entry:
        return await ask_with_keys(self, prompts, spec)

    async def set_variable(self, name: str, value: str) -> None:
        self._check()
        self.variables[name] = value

    async def transfer(self, request: TransferRequest) -> TransferResult:
        self._check()
        self.variables.update(request.variables)
        self.variables[channel_vars.CASE_ID] = request.case_id
        await self._emit({"type": "transfer", "queue": request.queue,
                          "case_id": request.case_id})
        # The built-in queue announces position and wait through this channel (prompts
        # taking no keys, as Asterisk's queue announcements in a queue without context).
        result = await self._queue.transfer(request, hangup=self.hung_up, play=self.play)
        with contextlib.suppress(CallerHungUp):
            await self._emit({"type": "transfer_result", "status": result.status.value,
                              "agent": result.agent})
        return result

    async def hangup(self) -> None:
        if self._ended:
            return
        self._ended = True
        if not self.hung_up.is_set():
            with contextlib.suppress(CallerHungUp):
                await self._emit({"type": "hangup"})


def call_info_from(message: dict[str, Any], *, flows: Sequence[str], user: str,
                   default_dialled: str = "") -> CallInfo:
    """Validate the browser's ``start`` message into the call's :class:`CallInfo`."""
    flow = str(message.get("flow") or "")
    caller = str(message.get("caller") or "").replace(" ", "")
    dialled = str(message.get("dialled") or default_dialled).replace(" ", "")
    language = str(message.get("language") or "") or None
    if not _FLOW.match(flow) or (flow and flows and flow not in flows):
        raise SoftphoneInputError(f"unknown flow {flow!r}")
    if not _NUMBER.match(caller):
        raise SoftphoneInputError("caller number must be digits (at most 20)")
    if not _NUMBER.match(dialled):
        raise SoftphoneInputError("dialled number must be digits (at most 20)")
    if language not in (None, "vi", "en"):
        raise SoftphoneInputError("language must be vi or en")
    call_id = f"web-{uuid.uuid4().hex[:16]}"
    return CallInfo(call_id=call_id, caller=caller, dialled=dialled, flow=flow,
                    channel_name=f"Web/{user}-{call_id[4:12]}", language=language)


async def run_softphone_call(
    channel: WebSoftphoneChannel,
    engine: CallRunner,
    messages: Callable[[], Awaitable[dict[str, Any] | None]],
) -> CallRecord | None:
    """Run one call: the engine on the channel, browser messages into the channel.

    ``messages`` returns the next browser message, or None once the socket closed.
    Returns the call record (None if the engine failed, which it should never do).
    """

    async def read() -> None:
        while True:
            message = await messages()
            if message is None or message.get("type") == "hangup":
                return
            kind = message.get("type")
            if kind == "key":
                channel.key_pressed(str(message.get("key", "")))
            elif kind == "played" and isinstance(message.get("seq"), int):
                channel.played(int(message["seq"]))

    call = asyncio.create_task(engine.run(channel), name="softphone-call")
    reader = asyncio.create_task(read(), name="softphone-reader")
    try:
        await asyncio.wait({call, reader}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            channel.caller_hung_up()  # the engine sees CallerHungUp and saves the call
        record = await call
        return record
    except (ChannelError, CallerHungUp) as exc:  # the engine should have handled these
        log.warning("softphone call %s ended with %s", channel.info.call_id, exc)
        return None
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
