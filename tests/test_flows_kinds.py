"""The one table of node kinds: every class of the language has a row, each row compiles
to the class it names, and the loop check knows whether each kind asks or goes on."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from ivr.flows.compile.driver import compile_flows
from ivr.flows.compile.loops import ASKING, SILENT
from ivr.flows.compile.nodes import NODE_KINDS
from ivr.flows.model import AnyNode
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

ROOT = Path(__file__).resolve().parent.parent
MODELS = {kind.model for kind in NODE_KINDS.values()}

#: One node of every kind, named after its verb (``play_node``...).
EVERY_KIND = """
flows:
  hotline:
    start: play_node
    nodes:
      play_node: {play: welcome, next: menu_node}
      menu_node:
        menu: {prompt: main_menu, options: {"1": input_node, "2": hangup_node}}
      input_node:
        input: {prompt: main_menu, digits: 11, store: digits}
        next: lookup_node
      lookup_node: {lookup: account_by_code, with: {digits: digits}, next: branch_node}
      branch_node:
        branch:
          - {when: account_by_code.code is set, next: set_node}
          - otherwise: set_node
      set_node: {set: {tried: "yes"}, next: goto_node}
      goto_node: {goto: call_node}
      call_node: {call: helper, next: language_node}
      language_node: {language: en, next: hours_node}
      hours_node:
        hours: {mon-fri: "07:30-17:00"}
        open: record_node
        closed: hangup_node
      record_node: {record: {prompt: main_menu}, next: transfer_node}
      transfer_node: {transfer: {queue: agents}}
      hangup_node: {hangup: goodbye}
  helper:
    start: back
    nodes:
      back: {play: goodbye, next: return}
"""


def test_every_class_of_the_language_has_one_row() -> None:
    assert set(get_args(AnyNode)) == MODELS
    assert len(MODELS) == len(NODE_KINDS)


def test_each_row_compiles_to_the_class_it_names() -> None:
    catalog = PromptCatalog.load(ROOT / "config" / "prompts.yaml")
    flowset, diags = compile_flows(EVERY_KIND.encode(), "f.yaml", catalog=catalog,
                                   lookups=known_lookups())
    assert flowset is not None, [str(d) for d in diags]
    nodes = flowset.flows["hotline"].nodes
    assert set(nodes) == {f"{verb}_node" for verb in NODE_KINDS}
    for verb, kind in NODE_KINDS.items():
        assert type(nodes[f"{verb}_node"]) is kind.model, verb


def test_the_loop_check_places_every_kind_once() -> None:
    assert set(ASKING).isdisjoint(SILENT)
    assert set(ASKING) | set(SILENT) == MODELS
