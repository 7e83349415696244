"""Asterisk's AMI queue events into the dispatcher: the pipeline's first step.

The AMI client (:mod:`ivr.ami.client`) only speaks the wire; this feed reads every
event it receives, keeps those that pop something (:func:`ivr.screenpop.events.pop_from_ami`)
and hands them to the dispatcher. After every login (the first, and each reconnect after
an Asterisk restart or a network break) it asks ``QueueStatus`` and ``QueueSummary`` and
lets the dispatcher settle the cards the lost connection's events would have moved
(:mod:`ivr.screenpop.resync`), in order with the events: the events of the old
connection first, then the re-sync, then the new connection's events.
"""

from __future__ import annotations

import asyncio
import logging

from ivr.ami.client import LOGGED_IN, AmiClient, AmiError
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import pop_from_ami
from ivr.screenpop.resync import snapshot_from_ami

log = logging.getLogger(__name__)


async def run_ami_feed(client: AmiClient, dispatcher: Dispatcher) -> None:
    """Feed an AMI client's queue events to the dispatcher until cancelled.

    Subscribes at once (before the first ``await``), so no event is missed once the task
    has started; keeps going across AMI reconnects, re-syncing after each login. One bad
    event is logged, never fatal.
    """
    async with client.subscribe(logins=True) as events:
        async for event in events:
            dispatcher.board.observe(event)
            if event.name == LOGGED_IN:
                await resync_from_ami(client, dispatcher)
                continue
            pop = pop_from_ami(event)
            if pop is None:
                continue
            try:
                await dispatcher.handle(pop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("screen pop for %s (case %s) failed", event.name, pop.case_id)


async def resync_from_ami(client: AmiClient, dispatcher: Dispatcher) -> bool:
    """Ask the queues' state and settle the dispatcher's open cards; False (one log
    line) when Asterisk did not answer: the next login tries again."""
    try:
        status = await client.action("QueueStatus")
        summary = await client.action("QueueSummary")
    except AmiError as exc:
        log.warning("AMI re-sync after login: no queue status (%s)", exc)
        return False
    if not status.ok:
        # QueueStatus needs no privilege class; an Error means app_queue is not loaded.
        log.warning("AMI re-sync after login: QueueStatus refused: %s", status.message)
        return False
    snapshot = snapshot_from_ami(status, summary if summary.ok else None,
                                 at=dispatcher.now())
    try:
        await dispatcher.resync(snapshot)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("AMI re-sync: settling the open cards failed")
        return False
    return True
