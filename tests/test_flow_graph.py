"""The flow as a graph with its traffic: every node and exit, the figures real calls leave
in the store, ``ivr graph`` and ``GET /api/flows/{flow}/graph.svg`` (supervisors only).

Calls run through the real engine on the shipped demo hotline over a real SQLite store;
the SVG is drawn by the Debian Graphviz ``dot``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from web_helpers import NOW, live_engine, login

from ivr.calls import CallRecord, LookupStep, NodeCounts, Outcome, PathStep
from ivr.channels.channel import CallInfo
from ivr.channels.simulator import ScriptedKeys, SimulatorChannel
from ivr.cli import main
from ivr.clock import FixedClock
from ivr.flows.graph import SPECIAL_NODES, band, flow_dot, flow_edges
from ivr.flows.model import REPEAT, Exit, Flow
from ivr.graphviz import render
from ivr.store import Store

pytest_plugins = ("web_fixtures",)

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz dot not installed (bash scripts/dev setup)")
Client = TestClient[Any, Any]


def every_exit(value: object) -> Iterator[Exit]:
    """Every Exit anywhere inside a node (a deep walk, independent of the builder's)."""
    if isinstance(value, Exit):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from every_exit(getattr(value, f.name))
    elif isinstance(value, dict | tuple | list) or hasattr(value, "items"):
        items = value.values() if hasattr(value, "values") else value
        for item in items:  # type: ignore[attr-defined]
            yield from every_exit(item)


def expected_edges(flow: Flow) -> set[tuple[str, str]]:
    edges = set()
    for node in flow.nodes.values():
        for f in dataclasses.fields(node):
            for exit_ in every_exit(getattr(node, f.name)):
                if exit_.target != REPEAT:
                    edges.add((node.id, SPECIAL_NODES.get(exit_.target, exit_.target)))
    return edges


def demo_flows(store: Store, tmp_path: Path) -> Any:
    return live_engine(store, tmp_path)


@needs_dot
async def test_every_node_and_exit_of_the_demo_flows_is_drawn(
    web_store: Store, tmp_path: Path
) -> None:
    flowset = demo_flows(web_store, tmp_path).flows.current
    for flow in flowset.flows.values():
        dot = flow_dot(flow, {})
        svg = render(dot).decode()
        titles = {html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", svg)}
        for node in flow.nodes:
            assert f'"{node}" [label="{node}\\n' in dot
            assert node in titles, node
        wanted = expected_edges(flow)
        assert wanted  # the walk found the exits
        assert {(e.source, e.target) for e in flow_edges(flow)} >= wanted
        for source, target in wanted:
            assert f'"{source}" -> "{target}"' in dot
            assert f"{source}->{target}" in titles, (source, target)
        assert "Legend: fill = hung up there / reached" in svg


async def run_call(live: Any, call_id: str, keys: str) -> CallRecord:
    info = CallInfo(call_id=call_id, caller="0901234567", dialled="1900545454", flow="hotline")
    record: CallRecord = await live.engine.run(SimulatorChannel(info, ScriptedKeys(keys)))
    return record


@needs_dot
async def test_counts_after_real_calls(web_store: Store, tmp_path: Path) -> None:
    live = demo_flows(web_store, tmp_path)
    gone = await run_call(live, "g-1", "h")  # hangs up at the first question
    safety = await run_call(live, "g-2", "1")  # electrical safety: straight to an agent
    agent = await run_call(live, "g-3", "- 0")  # no key at welcome, then 0 in the main menu
    assert gone.outcome is Outcome.ABANDONED and gone.path[-1].node == "welcome"
    assert safety.transfer_queue == "safety" and agent.transfer_queue == "hotline"
    # One more whose lookup failed, as a record the engine wrote when the database broke.
    at = NOW - timedelta(hours=1)
    await web_store.save_call(CallRecord(
        call_id="g-4", flow="hotline", flow_version="v", caller="0901234567",
        dialled="1900545454", language="vi", started_at=at, ended_at=at,
        outcome=Outcome.TRANSFERRED,
        path=(PathStep("hotline", "area_outage", at), PathStep("hotline", "welcome", at)),
        lookups=(LookupStep("hotline", "area_outage", "outage_for_caller", "error",
                            "database down", 3.0, at),)))
    traffic = await web_store.node_traffic("hotline", since=NOW - timedelta(hours=24))
    assert traffic.calls == 4
    nodes = traffic.nodes
    assert nodes["area_outage"] == NodeCounts(reached=4, failed_lookups=1)
    assert nodes["welcome"] == NodeCounts(reached=4, hung_up=1)
    assert nodes["safety"] == NodeCounts(reached=1, to_agent=1)
    assert nodes["main_menu"] == NodeCounts(reached=1, to_agent=1)
    assert (await web_store.node_traffic("hotline", since=NOW + timedelta(seconds=1))).calls == 0

    dot = flow_dot(live.flows.current.flows["hotline"], nodes, title="t")
    assert '"welcome" [label="welcome\\nmenu\\nreached 4 · hung up 1 (25%)"' in dot
    assert f'fillcolor="{band(nodes["welcome"])}"' in dot and band(nodes["welcome"]) != band(
        nodes["safety"])
    assert "to agent 1" in render(dot).decode()


async def record(store: Store, call_id: str, last: str, outcome: Outcome) -> None:
    await store.save_call(CallRecord(
        call_id=call_id, flow="hotline", flow_version="v", caller="0901234567",
        dialled="1900545454", language="vi", started_at=NOW - timedelta(hours=2),
        ended_at=NOW, outcome=outcome,
        path=(PathStep("hotline", "area_outage", NOW), PathStep("hotline", last, NOW))))


@needs_dot
def test_the_cli_draws_svg_and_dot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"

    async def one_call() -> None:
        store = await Store.open(url, clock=FixedClock(NOW))
        await store.migrate()
        await record(store, "c-1", "main_menu", Outcome.ABANDONED)
        await store.close()

    asyncio.run(one_call())
    monkeypatch.setenv("IVR_NOW", NOW.isoformat())
    monkeypatch.chdir(ROOT)
    svg, dot = tmp_path / "g.svg", tmp_path / "g.dot"
    assert main(["graph", "--db", url, "--hours", "3", "--out", str(svg)]) == 0
    assert re.match(r"flow hotline: \d+ nodes, 1 calls in the last 3 h -> ",
                    capsys.readouterr().err)
    assert svg.read_bytes().startswith(b"<?xml") and b"reached 1 \xc2\xb7 hung up 1" in \
        svg.read_bytes()
    assert main(["graph", "--db", url, "--flow", "identify_account", "--out", str(dot)]) == 0
    assert dot.read_text().startswith('digraph "flow identify_account"')
    assert main(["graph", "--db", url, "--hours", "1", "--format", "dot"]) == 0
    assert "0 calls in the last 1 h" in capsys.readouterr().out

    assert main(["graph", "--db", url, "--flow", "hotlin"]) == 2
    assert capsys.readouterr().err == (
        "ivr: error: no flow 'hotlin' in config/flows.yaml (did you mean 'hotline'?)\n")
    assert main(["graph", "--db", url, "--hours", "0"]) == 2
    capsys.readouterr()
    # No Graphviz on PATH: one line that says what to do; DOT still works.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["graph", "--db", url, "--out", str(svg)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install graphviz" in err
    assert main(["graph", "--db", url, "--out", str(dot)]) == 0


@needs_dot
async def test_graph_api_is_for_supervisors(
    aiohttp_client: Any, make_app: Any, web_store: Store, tmp_path: Path
) -> None:
    live = demo_flows(web_store, tmp_path)
    await record(web_store, "a-1", "main_menu", Outcome.ABANDONED)

    def app() -> Any:
        return make_app(flowset=lambda: live.flows.current,
                        flow_names=lambda: sorted(live.flows.current.flows))

    anonymous: Client = await aiohttp_client(app())
    assert (await anonymous.get("/api/flows/hotline/graph.svg")).status == 401
    agent: Client = await aiohttp_client(app())
    await login(agent, "agent1")
    assert (await agent.get("/api/flows/hotline/graph.svg")).status == 403
    assert (await agent.get("/api/flows/hotline/graph.dot")).status == 403

    boss: Client = await aiohttp_client(app())
    await login(boss, "boss")
    page = await (await boss.get("/supervisor")).text()
    names = sorted(live.flows.current.flows)
    assert 'id="graph-img"' in page and f'data-flows="{",".join(names)}"' in page
    resp = await boss.get("/api/flows/hotline/graph.svg?hours=3")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    svg = await resp.text()
    assert "<title>main_menu</title>" in svg and "reached 1 · hung up 1 (100%)" in svg
    assert "1 calls in the last 3 h" in svg
    dot = await boss.get("/api/flows/identify_account/graph.dot")
    assert dot.status == 200 and (await dot.text()).startswith('digraph "flow identify_account"')
    for bad in ("0", "721", "x", ""):
        wrong = await boss.get(f"/api/flows/hotline/graph.svg?hours={bad}")
        assert wrong.status == 400, bad
        assert (await wrong.json())["error"].startswith("hours must be a whole number")
    missing = await boss.get("/api/flows/nope/graph.svg")
    assert missing.status == 404
    assert (await missing.json())["error"] == f"no flow 'nope' (flows: {', '.join(names)})"
