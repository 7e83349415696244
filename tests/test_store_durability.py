"""No lost reports: a ticket or case id the caller heard survives SIGKILL of the server.

A child process opens the store, files an outage report through the named action and
opens a case, prints both numbers (the moment the caller would hear them) and waits;
the test SIGKILLs it at once and finds both in a freshly opened store. On SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest
from store_helpers import NOW, Db

from ivr.lookups import LookupContext, LookupStatus
from ivr.store import Store
from ivr.store.demo import OUTAGE
from ivr.store.lookups import build_lookups
from ivr.store.requests import report_id

pytest_plugins = ("store_fixtures",)

#: Generous: the child imports SQLAlchemy and connects; a loaded CI box can be slow.
CHILD_ANSWER_TIMEOUT = 60

CHILD = """
import asyncio, os, sys
from ivr.lookups import LookupContext
from ivr.calls import CaseDraft
from ivr.clock import clock_from_env
from ivr.store import Store
from ivr.store.lookups import build_lookups

async def main(url, schema, caller):
    store = await Store.open(url, clock=clock_from_env(os.environ), schema=schema or None)
    ctx = LookupContext("kill-call-1", caller, "1900545454", "vi")
    result = await build_lookups(store).run("report_outage", {}, ctx)
    case_id = await store.open_case(CaseDraft("kill-call-1", caller, "1900545454", "vi",
                                              "outage", "agents"))
    print(result.status.value, result.value.get("ticket"), case_id, flush=True)
    sys.stdin.read()  # the caller is being told the numbers; we are killed meanwhile

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.dates
async def test_ticket_and_case_survive_sigkill(store: Store, db: Db) -> None:
    env = {**os.environ, "IVR_NOW": NOW.isoformat()}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        db.url,
        db.schema or "",
        OUTAGE.phones[0],
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_ANSWER_TIMEOUT)  # type: ignore[union-attr]
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    status, ticket, case_id = line.decode().split()
    assert status == "found" and ticket.isdigit()

    reopened = await db.open()
    try:
        assert report_id(ticket) is not None
        again = await build_lookups(reopened).run(
            "report_outage", {}, LookupContext("kill-call-1", OUTAGE.phones[0], "", "vi")
        )
        assert again.status is LookupStatus.FOUND
        assert again.value["ticket"] == ticket  # the same call gets the same ticket
        assert again.value["linked_outage"] is True
        assert (await reopened.stats())["outage_reports"] == 1
        case = await reopened.get_case(case_id)
        assert case is not None and case["intent"] == "outage"
    finally:
        await reopened.close()
