# ruff: noqa: E501  (the expected diagnostics are whole lines, kept whole to be exact)
"""The compiler refuses what can only end in the engine's step guard (a loop of nodes that
never ask the caller, with no way out; a sub-flow that never comes back) and a menu with
no options, naming the nodes and lines; loops with a way out, or that ask, still compile."""

from __future__ import annotations

import pytest

from ivr.flows.compile.driver import compile_flows
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

CATALOG = PromptCatalog.from_texts({p: {"vi": p, "en": p} for p in
                                    ("one", "ask", "sorry_transfer")})
HINT = ("; ask something in the loop (a menu or an input) or give it a way out "
        "(hangup, agent or return)")


def compiled(text: str) -> tuple[bool, list[str]]:
    flowset, diags = compile_flows(text.encode(), "f.yaml", catalog=CATALOG,
                                   lookups=known_lookups())
    return flowset is not None, [str(d) for d in diags]


REFUSED = [
    ("goto-self", """
flows:
  hotline:
    start: a
    nodes:
      a: {goto: a}
""", ["f.yaml:6:10: error: node 'a' loops forever without asking the caller anything: a -> a"]),
    ("play-set-goto", """
flows:
  hotline:
    start: a
    nodes:
      a: {play: one, next: b}
      b: {set: {n: 1}, next: c}
      c: {goto: a}
""", ["f.yaml:6:10: error: these nodes loop forever without asking the caller anything: a -> b -> c -> a"]),
    ("branch-every-exit-inside", """
flows:
  hotline:
    start: start
    nodes:
      start: {play: one, next: a}
      a:
        branch:
          - when: caller == "1"
            next: b
          - otherwise: a
      b: {goto: a}
""", ["f.yaml:8:9: error: these nodes loop forever without asking the caller anything: a -> a (and through b)"]),
    ("hours-and-lookup-with-every-exit-inside", """
flows:
  hotline:
    start: desk
    nodes:
      desk:
        hours: {mon-fri: "07:30-17:00"}
        open: find
        closed: desk
      find:
        lookup: accounts_for_caller
        with: {phone: caller}
        found: desk
        not_found: desk
        error: desk
        timeout: find
""", ["f.yaml:7:9: error: these nodes loop forever without asking the caller anything: desk -> desk (and through find)"]),
    ("call-that-returns-in-a-loop", """
flows:
  hotline:
    start: x
    nodes:
      x: {call: sub, next: x}
  sub:
    start: s
    nodes:
      s: {play: one, next: return}
""", ["f.yaml:6:10: error: node 'x' loops forever without asking the caller anything: x (call: sub) -> x"]),
    ("sub-flows-calling-each-other", """
flows:
  hotline:
    start: m
    nodes:
      m: {menu: {prompt: ask, options: {"1": go}}}
      go: {call: ping, next: hangup}
  ping:
    start: p
    nodes:
      p: {call: pong, next: return}
  pong:
    start: q
    nodes:
      q: {play: one, next: back}
      back: {call: ping, next: return}
""", ["f.yaml:11:10: error: these nodes loop forever without asking the caller anything: ping.p (call: pong) -> pong.q -> pong.back (call: ping) -> ping.p"]),
    ("a-flow-calling-itself-first-thing", """
flows:
  hotline:
    start: again
    nodes:
      again: {call: hotline, next: hangup}
""", ["f.yaml:6:14: error: node 'again' loops forever without asking the caller anything: again (call: hotline) -> again"]),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in REFUSED],
                         ids=[name for name, _, _ in REFUSED])
def test_loops_with_no_way_out_are_refused(text: str, expected: list[str]) -> None:
    assert compiled(text) == (False, [line + HINT for line in expected])


def test_each_loop_is_one_error_in_file_order() -> None:
    text = """
flows:
  hotline:
    start: m
    nodes:
      m: {menu: {prompt: ask, options: {"1": a, "2": c}}}
      a: {goto: b}
      b: {goto: a}
      c: {goto: c}
      d: {goto: a}
"""
    assert compiled(text) == (False, [
        "f.yaml:7:10: error: these nodes loop forever without asking the caller anything: a -> b -> a" + HINT,
        "f.yaml:9:10: error: node 'c' loops forever without asking the caller anything: c -> c" + HINT,
        "f.yaml:10:10: warning: node 'd' is never reached (nothing in flow 'hotline' goes to it)",
    ])


ACCEPTED = [
    ("through-a-menu", """
      a: {play: one, next: m}
      m: {menu: {prompt: ask, options: {"1": a}}}
"""),
    ("through-an-input", """
      a: {goto: code}
      code: {input: {prompt: ask, digits: 4, store: code}, next: a}
"""),
    ("through-a-transfer", """
      a: {goto: t}
      t: {transfer: {queue: agents}, next: a}
"""),
    ("a-branch-exit-leads-out", """
      a: {play: one, next: b}
      b:
        branch:
          - when: caller == "1"
            next: hangup
          - otherwise: a
"""),
    ("open-hours-lead-out", """
      a:
        hours: {mon-fri: "07:30-17:00"}
        open: agent
        closed: a
"""),
    ("a-failing-lookup-hands-over", """
      a:
        lookup: accounts_for_caller
        with: {phone: caller}
        found: a
        not_found: a
"""),
    ("return-ends-a-top-level-flow", """
      a: {goto: b}
      b:
        branch:
          - when: caller == "1"
            next: return
          - otherwise: a
"""),
    ("a-call-into-a-flow-that-asks", """
      a: {call: asks, next: a}
  asks:
    start: m
    nodes:
      m: {menu: {prompt: ask, options: {"1": return}}}
"""),
]


@pytest.mark.parametrize("nodes", [n for _, n in ACCEPTED], ids=[name for name, _ in ACCEPTED])
def test_loops_that_ask_or_have_a_way_out_compile(nodes: str) -> None:
    text = "queues:\n  agents: {name: hotline}\nflows:\n  hotline:\n    start: a\n    nodes:" + nodes
    assert compiled(text) == (True, [])


@pytest.mark.parametrize("options", ["{}", "", "null"])
def test_a_menu_without_options_is_refused(options: str) -> None:
    text = f"""
flows:
  hotline:
    start: m
    nodes:
      m:
        menu:
          prompt: ask
          options: {options}
"""
    col = 20 if options else 19
    assert compiled(text) == (False, [
        f"f.yaml:9:{col}: error: node 'm' has no options: give at least one key, like \"1\": next_node"])
