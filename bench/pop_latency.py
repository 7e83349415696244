"""AMI event to agent websocket: how long a screen-pop takes end to end over TCP.

    .venv/bin/python bench/pop_latency.py [--pops 200] [--json]

A fake AMI server (ivr.testing.fake_ami, speaking as the recorded Asterisk 22) sends
the recorded ``AgentCalled`` event, with a fresh case id each time, over loopback TCP to
the real AMI client; the real feed, dispatcher (case event written to a seeded SQLite
store, card loaded and worded) and web app deliver the pop to an agent console logged in
over a real aiohttp websocket. Measured: from the fake writing the event to the console
holding the pop, p50/p99/max over ``--pops`` pops, one at a time (a queue does not ring
two agents for one caller at once), after a few warm-up pops.

Side by side, the floor: the same event from the same fake to a bare AMI subscription
(the TCP hop and the parser only), so the ratio says what the pipeline adds. No budget
is enforced here (timing_budgets.py holds the one-second contract); the numbers are
for the issue's note.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from web_helpers import NOW, USERS, NoEngine, login, open_case, open_seeded_store  # noqa: E402

from ivr.ami.client import AmiClient  # noqa: E402
from ivr.clock import FixedClock  # noqa: E402
from ivr.config.settings import Settings  # noqa: E402
from ivr.screenpop.ami_feed import run_ami_feed  # noqa: E402
from ivr.screenpop.directory import UserDirectory  # noqa: E402
from ivr.screenpop.dispatcher import Dispatcher  # noqa: E402
from ivr.screenpop.presence import Presence  # noqa: E402
from ivr.testing.fake_ami import FakeAmiServer, recorded_events, with_case_id  # noqa: E402
from ivr.web.app import create_app  # noqa: E402

TRANSCRIPT = ROOT / "tests" / "transcripts" / "ami-during-queue-to-agent-continue.txt"
WARM_UP = 5
#: Hang guard per pop (a lost pop is an error, not a slow sample).
POP_WAIT = 10.0


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples) * 1000, 2),
            "p99_ms": round(_pct(samples, 0.99) * 1000, 2),
            "max_ms": round(max(samples) * 1000, 2), "n": len(samples)}


async def run(pops: int) -> dict[str, Any]:
    (called,) = recorded_events(TRANSCRIPT, ["AgentCalled"])  # Interface Local/1001@agents
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_seeded_store(f"sqlite+aiosqlite:///{Path(tmp) / 'ivr.db'}")
        fake = FakeAmiServer(login_failure_delay=0.01)
        await fake.start()
        ami = AmiClient("127.0.0.1", fake.port, fake.username, fake.secret,
                        backoff_min=0.01, backoff_max=0.05)
        await ami.start()
        await ami.wait_connected(POP_WAIT)
        dispatcher = Dispatcher(Presence(UserDirectory(USERS)), store, FixedClock(NOW))
        (Path(tmp) / "audio").mkdir()
        app = create_app(settings=Settings(data_dir=Path(tmp) / "var", users=USERS),
                         store=store, engine=NoEngine(), catalog=None, dispatcher=dispatcher,
                         clock=FixedClock(NOW), audio_dir=Path(tmp) / "audio",
                         environ={"IVR_SECRET_KEY": "bench-secret-key-0123456789"})
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        feed = asyncio.create_task(run_ami_feed(ami, dispatcher))
        try:
            await login(client, "agent1")
            ws = await client.ws_connect("/ws/agent")
            await ws.receive_json(timeout=POP_WAIT)  # hello
            cases = [await open_case(store, caller=f"09{n:08d}", account=None)
                     for n in range(pops + WARM_UP)]

            pipeline: list[float] = []
            for n, case_id in enumerate(cases):
                block = with_case_id(called, case_id)
                started = time.perf_counter()
                fake.emit_raw(block)
                while True:
                    msg = await ws.receive_json(timeout=POP_WAIT)
                    if msg.get("type") == "pop" and msg["case"]["id"] == case_id:
                        break
                if n >= WARM_UP:
                    pipeline.append(time.perf_counter() - started)

            # The floor without the feed, so the dispatcher does not also take the events.
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
            floor: list[float] = []
            async with ami.subscribe() as sub:
                for n in range(pops + WARM_UP):
                    block = with_case_id(called, f"C-FLOOR-{n}")
                    started = time.perf_counter()
                    fake.emit_raw(block)
                    while True:
                        event = await asyncio.wait_for(sub.get(), POP_WAIT)
                        if event.chan_vars.get("IVR_CASE_ID") == f"C-FLOOR-{n}":
                            break
                    if n >= WARM_UP:
                        floor.append(time.perf_counter() - started)
            await ws.close()
        finally:
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
            await client.close()
            await ami.close()
            await fake.stop()
            await store.close()
    result = {"pops": pops, "ami_to_websocket": _summary(pipeline),
              "ami_to_subscription_floor": _summary(floor)}
    result["ratio_p50"] = round(result["ami_to_websocket"]["p50_ms"]
                                / max(result["ami_to_subscription_floor"]["p50_ms"], 1e-6), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pops", type=int, default=200, help="pops measured (default 200)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    if args.pops < 1:
        parser.error("--pops must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run(args.pops))
    if args.json:
        print(json.dumps(result))
        return
    w, f = result["ami_to_websocket"], result["ami_to_subscription_floor"]
    print(f"AMI event -> agent websocket, {w['n']} pops over TCP (fake AMI, SQLite):")
    print(f"  pipeline  p50 {w['p50_ms']:.2f} ms  p99 {w['p99_ms']:.2f} ms  "
          f"max {w['max_ms']:.2f} ms")
    print(f"  floor     p50 {f['p50_ms']:.2f} ms  p99 {f['p99_ms']:.2f} ms  "
          f"(AMI TCP hop and parser only)")
    print(f"  pipeline / floor at p50: {result['ratio_p50']}x")


if __name__ == "__main__":
    main()
