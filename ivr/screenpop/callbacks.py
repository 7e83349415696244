"""The callback worklist's "call now": AMI ``Originate`` to the agent, then the customer.

The callbacks the IVR promised are ``callback_requests`` rows (``request_callback``
lookup) with a case in the ``callbacks`` queue. "Call now" sends, with the
least-privilege AMI user of the service config (``callbacks.ami_username``; manager.conf
``write = originate``, ``read = call``, docs/asterisk.md)::

    Action: Originate
    Channel: <the agent's queue-member interface>       rings the agent first
    Context: ivr-callback   Exten: <customer number>   Priority: 1
    CallerID: <hotline number>   Timeout: <ring ms>   Async: true
    Variable: IVR_CASE_ID=<case>   Variable: IVR_CALLBACK_ID=<reference>

and reads what Asterisk 22 answers (main/manager.c ``action_originate``, main/pbx.c):
``Response: Success / Message: Originate successfully queued`` at once, then an
``OriginateResponse`` with the same ActionID about the *agent's* leg: ``Response:
Failure`` with ``Reason`` 3 (rang out), 5 (busy), 8 (congestion), 0/1 (failed) when the
agent's phone did not answer, or ``Success`` / ``Reason: 4`` and the channel's name.
The answered channel then runs ``[ivr-callback]``, whose ``Dial`` to the customer
emits ``DialEnd`` (``Channel`` = that name) with ``DialStatus`` ANSWER, NOANSWER, BUSY,
CONGESTION or CHANUNAVAIL: the customer's answer. A customer who does not answer or is
busy is tried again after ``retry_interval``, up to ``retries`` more times; each
attempt and its outcome is stored (``callback_attempts``) and written on the case.
Without AMI (the demo, the built-in queue) "call now" says it needs AMI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ivr import channel_vars
from ivr.ami.errors import AmiError
from ivr.ami.protocol import Action, Event, Response
from ivr.ami.subscription import Subscription
from ivr.config.settings import Settings, SettingsError, WebUser
from ivr.masking import mask
from ivr.screenpop.directory import agent_interface
from ivr.store.desk import CB_DONE, CB_GIVEN_UP, CB_OPEN, DeskStore

log = logging.getLogger(__name__)

#: The channel variable that names the callback on the originated channel.
CALLBACK_VAR: Final = channel_vars.CALLBACK_ID
#: DialEnd ``DialStatus`` -> the attempt's outcome.
DIAL_OUTCOMES: Final = {"ANSWER": "answered", "NOANSWER": "no_answer", "BUSY": "busy",
                        "CANCEL": "failed", "CONGESTION": "failed", "CHANUNAVAIL": "failed"}
#: The customer did not pick up: worth another try later.
RETRY_OUTCOMES: Final = frozenset({"no_answer", "busy"})
#: OriginateResponse ``Reason`` (AST_CONTROL_*) when the agent's leg failed.
AGENT_REASONS: Final = {3: "agent_no_answer", 5: "agent_busy", 8: "failed", 1: "failed",
                        0: "failed"}
#: Extra seconds past the ring time to wait for Asterisk's word before giving up.
GRACE_SECONDS: Final = 15.0


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    """The ``callbacks:`` section of the service config."""

    ami_username: str = ""
    ami_secret: str = ""
    context: str = "ivr-callback"
    caller_id: str = ""
    ring_seconds: float = 30.0
    dial_seconds: float = 45.0
    """How long the customer's phone may ring (the Dial timeout in [ivr-callback])
    plus talk set-up: after this, no DialEnd means the attempt failed."""
    retries: int = 2
    retry_interval: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackSettings:
        raw = settings.extra.get("callbacks") or {}
        if not isinstance(raw, Mapping):
            raise SettingsError("callbacks: must be a mapping (docs/agent-console.md)")
        known = {"ami_username", "ami_secret", "context", "caller_id", "ring_seconds",
                 "dial_seconds", "retries", "retry_interval"}
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise SettingsError(f"callbacks: unknown key {unknown[0]!r}; the keys are "
                                f"{', '.join(sorted(known))}")
        d = cls()
        retries = raw.get("retries", d.retries)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
            raise SettingsError("callbacks.retries must be a whole number from 0 to 10")
        return cls(
            ami_username=str(raw.get("ami_username") or settings.ami_username),
            ami_secret=str(raw.get("ami_secret") or settings.ami_secret),
            context=str(raw.get("context") or d.context),
            caller_id=str(raw.get("caller_id") or ""),
            ring_seconds=_seconds(raw, "ring_seconds", d.ring_seconds),
            dial_seconds=_seconds(raw, "dial_seconds", d.dial_seconds),
            retries=retries,
            retry_interval=_seconds(raw, "retry_interval", d.retry_interval),
        )


class Originator(Protocol):
    """What the dialer needs of :class:`ivr.ami.client.AmiClient`."""

    @property
    def connected(self) -> bool: ...

    async def send_action(self, action: Action, *, timeout: float | None = None
                          ) -> Response: ...

    def subscribe(self, maxsize: int | None = None) -> Subscription: ...


#: Tells the agent's consoles how a callback goes (``{"type": "callback", ...}``).
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


class CallbackDialer:
    """Places worklist callbacks through AMI and records how each attempt went."""

    def __init__(self, store: DeskStore, ami: Originator | None, config: CallbackSettings,
                 notify: Notify, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                 ) -> None:
        self.store = store
        self.ami = ami
        self.config = config
        self._notify = notify
        self._sleep = sleep
        self._running: dict[int, asyncio.Task[str]] = {}

    async def call_now(self, agent: WebUser, callback_id: int) -> dict[str, Any]:
        """Start calling the callback back for ``agent``; ``{"ok": False, "error": ...}``
        with one clear sentence when it cannot be placed."""
        if self.ami is None:
            return {"ok": False, "error": "Calling back needs Asterisk's AMI (ami: and "
                    "callbacks: in the service config); with the built-in queue, call the "
                    "customer from your own phone and save the outcome on the case."}
        found = await self.store.callback(callback_id)
        if found is None:
            return {"ok": False, "error": "no such callback (done already?)"}
        if not await self.store.claim_callback(callback_id, agent.name):
            return {"ok": False, "error": "someone is calling this customer already"}
        task = asyncio.create_task(self._run(agent, found), name=f"callback {callback_id}")
        self._running[callback_id] = task
        task.add_done_callback(lambda _t: self._running.pop(callback_id, None))
        return {"ok": True, "callback_id": callback_id, "case_id": found["case_id"]}

    async def wait(self, callback_id: int) -> str | None:
        """The final outcome of a running callback (tests, shutdown)."""
        task = self._running.get(callback_id)
        return await task if task is not None else None

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        for task in list(self._running.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, agent: WebUser, cb: dict[str, Any]) -> str:
        callback_id = int(cb["callback_id"])
        outcome = "failed"
        try:
            for n in range(1 + self.config.retries):
                if n:
                    await self._tell(agent, cb, "waiting", attempt=n,
                                     retry_in=self.config.retry_interval)
                    await self._sleep(self.config.retry_interval)
                outcome, reason, action_id, detail = await self._attempt(agent, cb)
                last = n == self.config.retries
                retry = outcome in RETRY_OUTCOMES and not last
                status = (CB_DONE if outcome == "answered" else
                          CB_OPEN if outcome.startswith("agent_") or retry else CB_GIVEN_UP)
                if outcome == "failed" and not last:
                    status = CB_OPEN  # a broken line: back on the worklist, not given up
                await self.store.finish_attempt(callback_id, action_id, agent=agent.name,
                                                outcome=outcome, reason=reason, detail=detail,
                                                status=status if not retry else "calling")
                await self._tell(agent, cb, outcome, attempt=n + 1, reason=reason)
                if not retry:
                    break
            return outcome
        except asyncio.CancelledError:
            await self.store.release_callback(callback_id)
            raise
        except Exception:  # never leave a callback stuck in "calling"
            log.exception("callback %s failed", callback_id)
            await self.store.release_callback(callback_id)
            await self._tell(agent, cb, "failed")
            return "failed"

    async def _attempt(self, agent: WebUser, cb: dict[str, Any]
                       ) -> tuple[str, int | None, str, str]:
        """One Originate; (outcome, OriginateResponse reason, our attempt id, what
        Asterisk said, for the case's history)."""
        assert self.ami is not None
        callback_id = int(cb["callback_id"])
        attempt_id = f"cb{callback_id}-{secrets.token_hex(4)}"
        attempt = await self.store.start_attempt(callback_id, agent.name, attempt_id)
        await self._tell(agent, cb, "dialling", attempt=attempt)
        interface = agent_interface(agent)
        headers: dict[str, str | int | list[str]] = {
            "Channel": interface,
            "Context": self.config.context,
            "Exten": str(cb["phone"]),
            "Priority": 1,
            "Timeout": int(self.config.ring_seconds * 1000),
            "Async": "true",
            "Variable": [f"{channel_vars.CASE_ID}={cb['case_id'] or ''}",
                         f"{CALLBACK_VAR}={cb['reference']}"],
        }
        if self.config.caller_id:
            headers["CallerID"] = self.config.caller_id
        # Subscribed before the action is written: the OriginateResponse may follow the
        # Response in the same packet.
        async with self.ami.subscribe() as events:
            try:
                answer = await self.ami.send_action(Action.create("Originate",
                                                                  headers=headers))
            except AmiError as exc:
                log.warning("callback %s: Originate not sent: %s", callback_id, exc)
                return "failed", None, attempt_id, f"Originate not sent: {exc}"
            if not answer.ok:
                log.warning("callback %s: Originate refused: %s", callback_id, answer.message)
                return "failed", None, attempt_id, f"Originate refused: {answer.message}"
            log.info("callback %s: Originate %s -> %s queued", callback_id, interface,
                     mask(str(cb["phone"])))
            response = await _first(events, self.config.ring_seconds + GRACE_SECONDS,
                                    lambda e: e.name == "OriginateResponse"
                                    and e.action_id == answer.action_id)
            if response is None:
                return "failed", None, attempt_id, "no OriginateResponse"
            reason = _int(response.get("Reason"))
            if (response.get("Response") or "").lower() != "success":
                return (AGENT_REASONS.get(reason if reason is not None else 0, "failed"),
                        reason, attempt_id, f"agent's phone: Reason {reason}")
            channel = response.get("Channel") or ""
            dial = await _first(events, self.config.dial_seconds + GRACE_SECONDS,
                                lambda e: e.name == "DialEnd" and e.get("Channel") == channel)
        if dial is None:
            return "failed", reason, attempt_id, "no DialEnd for the customer's leg"
        status = (dial.get("DialStatus") or "").strip().upper()
        return DIAL_OUTCOMES.get(status, "failed"), reason, attempt_id, f"DialStatus {status}"

    async def _tell(self, agent: WebUser, cb: dict[str, Any], outcome: str,
                    **more: Any) -> None:
        await self._notify(agent.name, {"type": "callback", "callback_id": cb["callback_id"],
                                        "case_id": cb["case_id"], "outcome": outcome, **more})


async def _first(events: Subscription, timeout: float,
                 wanted: Callable[[Event], bool]) -> Event | None:
    """The first event ``wanted`` within ``timeout`` seconds, else None."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = await events.get()
                if wanted(event):
                    return event
    except (TimeoutError, StopAsyncIteration):
        return None


def _int(raw: str | None) -> int | None:
    try:
        return int((raw or "").strip())
    except ValueError:
        return None


def _seconds(section: Mapping[str, Any], key: str, default: float) -> float:
    raw = section.get(key)
    if raw is None:
        return default
    try:
        value = float(str(raw).strip().removesuffix("s"))
    except ValueError:
        raise SettingsError(f"callbacks.{key}: {raw!r} is not a number of seconds") from None
    if value < 0:
        raise SettingsError(f"callbacks.{key} must not be negative")
    return value
