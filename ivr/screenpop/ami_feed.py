"""Asterisk's AMI queue events into the dispatcher: the pipeline's first step.

The AMI client (:mod:`ivr.ami.client`) only speaks the wire; this feed reads every
event it receives, keeps those that pop something (:func:`ivr.screenpop.events.pop_from_ami`)
and hands them to the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging

from ivr.ami.client import AmiClient
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import pop_from_ami

log = logging.getLogger(__name__)


async def run_ami_feed(client: AmiClient, dispatcher: Dispatcher) -> None:
    """Feed an AMI client's queue events to the dispatcher until cancelled.

    Subscribes at once (before the first ``await``), so no event is missed once the task
    has started; keeps going across AMI reconnects. One bad event is logged, never fatal.
    """
    async with client.subscribe() as events:
        async for event in events:
            dispatcher.board.observe(event)
            pop = pop_from_ami(event)
            if pop is None:
                continue
            try:
                await dispatcher.handle(pop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("screen pop for %s (case %s) failed", event.name, pop.case_id)
