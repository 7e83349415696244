"""Every node the language can express has a handler in the engine's one table.

A new node kind touches the model (``ivr/flows/model.py`` ``AnyNode``), the compiler's
kind table and ``ivr/engine/handlers.py`` ``HANDLERS``; these tests fail until all
three agree, instead of a call failing at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import get_args

from flows_support import Harness, nodes

from ivr.calls import Outcome
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.engine.handlers import HANDLERS
from ivr.flows.compile.nodes import NODE_KINDS
from ivr.flows.model import AnyNode, Node
from ivr.prompts.catalog import PromptCatalog

#: The node classes of the flow language.
LANGUAGE_NODES: tuple[type[Node], ...] = get_args(AnyNode)

CATALOG = PromptCatalog.from_texts({p: {"vi": f"vi {p}", "en": f"en {p}"} for p in (
    "hello", "menu", "pin", "bye", "sorry_transfer")})

#: One flow with a node of every kind, node ``<kind>_node`` (``hangup`` itself is a
#: reserved target), visited in order by the call in test_one_call_runs_every_handler.
EVERY_KIND = """
queues:
  agents: {name: hotline}
flows:
  helper:
    start: inner
    nodes:
      inner: {goto: return}
  hotline:
    start: play_node
    nodes:
      play_node: {play: hello, next: menu_node}
      menu_node:
        menu: {prompt: menu, options: {"1": input_node}}
      input_node:
        input: {prompt: pin, max_digits: 4, store: pin}
        next: lookup_node
      lookup_node:
        lookup: account_by_code
        with: {digits: "01000123456", prefix: "PE"}
        as: acct
        found: branch_node
        not_found: branch_node
      branch_node:
        branch:
          - when: pin == "1234"
            next: set_node
          - otherwise: hangup
      set_node: {set: {seen: true}, next: goto_node}
      goto_node: {goto: call_node}
      call_node: {call: helper, next: language_node}
      language_node: {language: en, next: hours_node}
      hours_node:
        hours: {mon-sun: "00:00-23:59"}
        open: record_node
        closed: transfer_node
        holiday: transfer_node
      record_node: {record: {prompt: hello}, next: transfer_node}
      transfer_node:
        transfer: {queue: agents}
        next: hangup_node
      hangup_node: {hangup: [bye]}
"""


def compiler_kinds() -> tuple[str, ...]:
    """The node kinds the compiler accepts: the verbs of its one table."""
    return tuple(NODE_KINDS)


def kind_classes(tmp_path: Path) -> Mapping[str, type[Node]]:
    """Kind -> the class the compiler makes of it, read from a compiled flow (and checked
    against the class the compiler's table names)."""
    compiled = Harness.build(tmp_path, EVERY_KIND, catalog=CATALOG).source.current
    made = {node_id.removesuffix("_node"): type(node)
            for node_id, node in compiled.flows["hotline"].nodes.items()}
    assert made == {verb: kind.model for verb, kind in NODE_KINDS.items()}
    return made


def test_every_node_class_of_the_language_has_a_handler() -> None:
    assert LANGUAGE_NODES  # AnyNode is a union of node classes
    assert [c.__name__ for c in LANGUAGE_NODES if c not in HANDLERS] == []
    assert [c.__name__ for c in HANDLERS if c not in LANGUAGE_NODES] == []


def test_every_kind_the_compiler_knows_makes_a_class_with_a_handler(tmp_path: Path) -> None:
    classes = kind_classes(tmp_path)
    assert sorted(classes) == sorted(compiler_kinds())  # EVERY_KIND shows every kind
    assert {k: c.__name__ for k, c in classes.items() if c not in HANDLERS} == {}
    assert len(set(classes.values())) == len(classes)  # one class per kind


async def test_one_call_runs_every_handler(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, EVERY_KIND, catalog=CATALOG)
    record, ch = await h.call(["1", "1234"], transfer_results=[
        TransferResult(TransferStatus.COMPLETED, "CONTINUE")])
    visited = [n.removesuffix("_node") for n in nodes(record)]
    assert visited == ["play", "menu", "input", "lookup", "branch", "set", "goto", "call",
                       "inner", "language", "hours", "record", "transfer", "hangup"]
    assert sorted(set(visited) - {"inner"}) == sorted(compiler_kinds())
    assert [e["text"] for e in ch.events if e["type"] == "prompt"] == [
        "vi hello", "vi menu", "vi pin", "en hello", "en bye"]
    assert record.outcome is Outcome.TRANSFERRED and record.language == "en"
    assert record.channel == "simulator"  # the kind of call, from the channel
