"""Helpers for the AGI tests: a FastAGI server on a free loopback port, prompts, and a
tiny hand-written call handler (not the flow engine)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from ivr.agi.server import FastAgiServer
from ivr.channels.channel import CallerHungUp, Channel, DigitSpec, Entry, Prompt, TransferRequest


def prompt(pid: str, language: str = "vi") -> Prompt:
    return Prompt(pid, language, pid.replace("_", " "), f"ivr/{language}/{pid}")


@contextlib.asynccontextmanager
async def serving(handler: Callable[[Channel], Awaitable[object]],
                  **options: float) -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer(handler, host="127.0.0.1", port=0, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=1.0)


@dataclass
class MiniCall:
    """What the mini handler saw: the entries, where it ended, and how."""

    entries: list[Entry] = field(default_factory=list)
    outcome: str = ""
    steps: list[str] = field(default_factory=list)


class MiniHotline:
    """A small hand-written IVR: welcome, menu (1 = account entry, 0 = agent), hang up.
    Records one MiniCall per call so tests can compare callers."""

    def __init__(self) -> None:
        self.calls: list[MiniCall] = []

    async def __call__(self, channel: Channel) -> None:
        call = MiniCall()
        self.calls.append(call)
        try:
            await channel.set_variable("IVR_FLOW", channel.info.flow)
            call.steps.append("welcome")
            await channel.play([prompt("welcome"), prompt("outage_notice")])
            call.steps.append("menu")
            choice = await channel.ask([prompt("main_menu")], DigitSpec(max_digits=1))
            call.entries.append(choice)
            if choice.digits == "1":
                call.steps.append("account")
                account = await channel.ask(
                    [prompt("enter_account")],
                    DigitSpec(max_digits=11, terminator="#", first_timeout=5,
                              inter_digit_timeout=3))
                call.entries.append(account)
                await channel.set_variable("IVR_ACCOUNT", account.digits)
            elif choice.digits == "0":
                call.steps.append("transfer")
                await channel.transfer(TransferRequest(queue="hotline", case_id="C-1",
                                                       timeout=60))
            await channel.play([prompt("goodbye")])
            call.outcome = "completed"
        except CallerHungUp:
            call.outcome = "abandoned"
        finally:
            await channel.hangup()
