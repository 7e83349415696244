"""docs/asterisk.md matches the shipped demo: its queues.conf defines every queue the
shipped flows can transfer to (derived from the compiled flows), with
``setinterfacevar = yes`` and the demo agents as members; its dialplan routes every
hotline number of the flows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.flows.model import FlowSet
from ivr.flows.queues import transfer_queues
from ivr.flows.source import FlowSource
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups
from ivr.web.auth import DEMO_AGENTS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "asterisk.md"
SHIPPED = [ROOT / "config" / "flows.yaml", ROOT / "ivr" / "demo" / "flows.yaml"]


def ini_block(heading: str) -> str:
    """The first ```ini block after ``heading`` in docs/asterisk.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    match = re.compile(r"```ini\n(.*?)```", re.S).search(text, start)
    assert match is not None, f"no ini block after {heading!r}"
    return match.group(1)


def sections(block: str) -> dict[str, list[tuple[str, str]]]:
    """Asterisk config sections -> (key, value) lines, comments dropped (keys repeat)."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in block.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            current = found.setdefault(header.group(1), [])
            continue
        assert current is not None, f"{raw!r} outside a section"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.lstrip(">").strip()))
    return found


def compiled(path: Path) -> FlowSet:
    catalog = PromptCatalog.load(path.with_name("prompts.yaml"))
    return FlowSource.load(path, lookups=known_lookups(), catalog=catalog).current


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_queues_conf_defines_every_queue_the_flows_transfer_to(path: Path) -> None:
    flowset = compiled(path)
    queues = transfer_queues(flowset)
    assert "new_connections" in queues  # the one the docs once missed
    documented = sections(ini_block("## 2. Queues (`queues.conf`)"))
    missing = sorted(queues - set(documented))
    assert not missing, f"docs/asterisk.md queues.conf lacks {missing}"
    demo_members = {interface for _agent, interface in DEMO_AGENTS}
    for name in sorted(queues):
        lines = documented[name]
        assert ("setinterfacevar", "yes") in lines, name
        members = {value.split(",")[0] for key, value in lines if key == "member"}
        assert members == demo_members, name  # the demo users take the pops


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_dialplan_routes_every_hotline_number(path: Path) -> None:
    flowset = compiled(path)
    dialplan = sections(ini_block("## 1. Dialplan (`extensions.conf`)"))
    routed = {value.split(",")[0] for key, value in dialplan["from-trunk"] if key == "exten"}
    assert len(flowset.hotlines) == 5
    assert set(flowset.hotlines) <= routed
