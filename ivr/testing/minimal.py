"""A minimal call handler for load tests and benchmarks (not the flow engine).

It does what a short real call does on the wire: a variable, a greeting, a one-key
menu, an account number ending with ``#``, a variable, a goodbye and a hang-up.
"""

from __future__ import annotations

from ivr.channels.channel import CallerHungUp, Channel, DigitSpec, Prompt

WELCOME = Prompt("welcome", "vi", "Xin chào", "ivr/vi/welcome")
MENU = Prompt("main_menu", "vi", "Bấm 1 ...", "ivr/vi/main_menu")
ACCOUNT = Prompt("enter_account", "vi", "Nhập mã khách hàng", "ivr/vi/enter_account")
GOODBYE = Prompt("goodbye", "vi", "Tạm biệt", "ivr/vi/goodbye")
MENU_SPEC = DigitSpec(max_digits=1)
ACCOUNT_SPEC = DigitSpec(max_digits=11, terminator="#")

#: Keys that walk :func:`minimal_handler` through its longest path.
MINIMAL_KEYS = "1" + "01000123456"


async def minimal_handler(channel: Channel) -> None:
    try:
        await channel.set_variable("IVR_FLOW", channel.info.flow)
        await channel.play([WELCOME])
        choice = await channel.ask([MENU], MENU_SPEC)
        if choice.digits == "1":
            account = await channel.ask([ACCOUNT], ACCOUNT_SPEC)
            await channel.set_variable("IVR_ACCOUNT", account.digits)
        await channel.play([GOODBYE])
        await channel.hangup()
    except CallerHungUp:
        pass
