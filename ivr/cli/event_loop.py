"""Which asyncio event loop a command runs on: the stdlib's (default) or uvloop.

uvloop is an optional dependency (``pip install 'ivr[uvloop]'``): its transports are
written in C, so the FastAGI server spends less CPU per command on it; everything else
behaves the same on either loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ivr.cli import UsageError

#: The loops ``--loop`` / ``IVR_LOOP`` accept.
LOOPS = ("asyncio", "uvloop")
T = TypeVar("T")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for loop ``name``; None for the stdlib default.

    Raises :class:`UsageError` for an unknown name or a uvloop that is not installed.
    """
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise UsageError(f"loop {name!r}: the loops are {', '.join(LOOPS)}")
    try:
        import uvloop
    except ImportError:
        raise UsageError("loop uvloop: uvloop is not installed "
                         "(pip install 'ivr[uvloop]', or use --loop asyncio)") from None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], loop: str = "asyncio") -> T:
    """``asyncio.run(main)`` on the named loop."""
    try:
        factory = loop_factory(loop)
    except UsageError:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
