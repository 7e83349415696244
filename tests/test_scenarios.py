"""Golden scenarios: the shipped config/scenarios.yaml passes against the demo hotline and
reaches every node and exit of it; failures and file errors read as documented (exact
strings); `ivr test-flows` prints them and exits 1."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from ivr.calls import Outcome
from ivr.cli import main
from ivr.config.diagnostics import Mark
from ivr.flows.compile.driver import compile_flows
from ivr.flows.coverage import coverage
from ivr.flows.model import FlowSet
from ivr.flows.scenario_report import (
    Heard,
    ScenarioReport,
    ScenarioResult,
    Transfer,
    check,
    sequence_diff,
)
from ivr.flows.scenarios import Expect, Scenario, ScenarioFile, load_scenarios
from ivr.lookups import LookupStatus
from ivr.prompts.catalog import PromptCatalog
from ivr.scenario_runner import run_scenarios
from ivr.store.lookups import known_lookups

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "config" / "flows.yaml"
PROMPTS = ROOT / "config" / "prompts.yaml"
SCENARIOS = ROOT / "config" / "scenarios.yaml"
LOOKUPS = known_lookups()


@pytest.fixture(scope="module")
def catalog() -> PromptCatalog:
    return PromptCatalog.load(PROMPTS)


@pytest.fixture(scope="module")
def demo(catalog: PromptCatalog) -> FlowSet:
    flowset, diags = compile_flows(FLOWS.read_bytes(), "config/flows.yaml", catalog=catalog,
                                   lookups=LOOKUPS)
    assert flowset is not None, diags
    return flowset


def read(text: str, flowset: FlowSet, catalog: PromptCatalog,
         path: str = "scenarios.yaml") -> tuple[ScenarioFile | None, list[str]]:
    scenarios, diags = load_scenarios(textwrap.dedent(text), path, flowset=flowset,
                                      catalog=catalog, lookups=LOOKUPS.names())
    return scenarios, [str(d) for d in diags]


@pytest.fixture(scope="module")
def shipped(demo: FlowSet, catalog: PromptCatalog) -> ScenarioReport:
    """The shipped scenarios, run once in-process (one seeded database per day)."""
    scenarios, errors = read(SCENARIOS.read_text(encoding="utf-8"), demo, catalog,
                             "config/scenarios.yaml")
    assert scenarios is not None and errors == []
    return asyncio.run(run_scenarios(demo, scenarios, catalog=catalog))


# ---- the shipped scenarios ---------------------------------------------------------

def test_every_shipped_scenario_passes(shipped: ScenarioReport) -> None:
    failures = "\n".join(str(r) for r in shipped.failures())
    assert shipped.ok, failures
    assert shipped.failed == 0 and shipped.passed == len(shipped.results) >= 50
    assert shipped.summary() == f"{shipped.passed} passed, 0 failed"


def test_shipped_scenarios_reach_every_node_and_exit_of_the_demo_hotline(
    shipped: ScenarioReport, demo: FlowSet
) -> None:
    cover = coverage(demo, (r.heard for r in shipped.results))
    assert [str(u) for u in cover.unreached] == []
    every_node = sum(len(f.nodes) for f in demo.flows.values())
    assert cover.nodes == cover.nodes_reached == every_node
    assert cover.exits == cover.exits_taken > 0


def test_shipped_scenarios_call_in_both_languages_and_at_every_desk_state(
    shipped: ScenarioReport,
) -> None:
    english = [r for r in shipped.results if r.scenario.language == "en"
               or "hotline.to_english" in r.heard.path]
    assert english and all(r.passed for r in english)
    states = {state for r in shipped.results for _node, state in r.heard.hours}
    assert states == {"open", "closed", "holiday"}


# ---- checks and diffs, by exact string ---------------------------------------------

def scenario(**expect: object) -> Scenario:
    from datetime import datetime

    from ivr.clock import DEFAULT_TZ

    return Scenario(name="billing reads the bill", mark=Mark("config/scenarios.yaml", 12, 5),
                    flow="hotline", caller="0901234567", dialled="1900545454",
                    at=datetime(2026, 12, 1, 10, tzinfo=DEFAULT_TZ),
                    expect=Expect(**expect))  # type: ignore[arg-type]


def test_sequence_diff_marks_each_missing_item_before_the_next_one_matched() -> None:
    got = ["welcome", "main_menu", "meter_index_is", "read_on", "kwh", "goodbye"]
    assert sequence_diff("prompts", "heard", ["main_menu", "kwh"], got) == []
    assert sequence_diff("prompts", "heard", ["main_menu", "amount_due_is", "kwh",
                                              "due_date_is", "goodbye", "thanks"], got) == [
        "prompts: missing amount_due_is, due_date_is, thanks (- missing, = heard as expected):",
        "    welcome",
        "  = main_menu",
        "    meter_index_is",
        "    read_on",
        "  - amount_due_is",
        "  = kwh",
        "  - due_date_is",
        "  = goodbye",
        "  - thanks",
    ]
    # Out of order is missing too: the search only goes forward.
    assert sequence_diff("nodes", "passed", ["b", "a"], ["a", "b"]) == [
        "nodes: missing a (- missing, = passed as expected):", "    a", "  = b", "  - a"]
    assert sequence_diff("prompts", "heard", ["x"], []) == [
        "prompts: missing x (- missing, = heard as expected):", "  - x"]


def test_a_failure_reads_as_expected_versus_heard() -> None:
    s = scenario(outcome=Outcome.TRANSFERRED, prompts=("main_menu", "amount_due_is"),
                 nodes=("hotline.billing",), intent="billing", queue="safety",
                 lookups={"balance": LookupStatus.FOUND,
                          "meter_reading": LookupStatus.FOUND})
    heard = Heard(Outcome.ABANDONED, prompts=("welcome", "main_menu", "no_bill_found"),
                  path=("hotline.area_outage", "hotline.billing"),
                  lookups=(("hotline.read_balance", "balance", LookupStatus.NOT_FOUND),),
                  transfers=(Transfer("hotline.to_agents", "hotline", "general", "completed"),),
                  error="lookup balance not_found")
    problems = check(s, heard, {"agents": "hotline", "safety": "safety"})
    assert str(ScenarioResult(s, heard, problems)) == "\n".join([
        "config/scenarios.yaml:12: FAIL billing reads the bill",
        "  outcome: expected transferred, got abandoned",
        "  intent: expected billing, got general",
        "  queue: expected safety, got agents",
        "  lookups: balance expected found, got not_found",
        "  lookups: meter_reading expected found, never looked up",
        "  prompts: missing amount_due_is (- missing, = heard as expected):",
        "      welcome",
        "    = main_menu",
        "      no_bill_found",
        "    - amount_due_is",
        "  error: lookup balance not_found",
    ])
    assert check(s, Heard(Outcome.TRANSFERRED), {"safety": "safety"})[:2] == (
        "intent: expected billing, got no case (no transfer)",
        "queue: expected safety, got no transfer")


def test_a_call_that_does_what_was_expected_has_no_problems() -> None:
    s = scenario(outcome=Outcome.SELF_SERVED, prompts=("main_menu",),
                 lookups={"balance": LookupStatus.FOUND})
    heard = Heard(Outcome.SELF_SERVED, prompts=("welcome", "main_menu"),
                  lookups=(("hotline.read_balance", "balance", LookupStatus.NOT_FOUND),
                           ("hotline.read_balance", "balance", LookupStatus.FOUND)))
    assert check(s, heard, {}) == ()  # the last run of a lookup is the one checked


# ---- scenario-file errors, by exact string -----------------------------------------

BROKEN = """\
    version: 2
    defaults:
      caller: 0901234567x
      colour: red
    scenarios:
      - name: typos
        dialled: 1900545454
        at: 2026-12-01
        keys: "- 2 x"
        promts: [welcome]
        outcome: served
      - name: unknown things
        flow: hotlin
        dialled: "1900545454"
        at: "tomorrow"
        keys: 1
        prompts: [welcom, w_mot, main_menu]
        nodes: [biling, identify_account.nowhere, nosuchflow.x]
        lookups: {balanse: found, balance: founded}
        given: {balance: found, meter_reading: lost}
        transfers: [busy]
        queue: agent
        language: fr
        patient: yes please
        outcome: transferred
      - name: typos
        dialled: "1900545454"
        at: 2026-12-01T10:00:00+07:00
        outcome: self_served
      - keys: "1"
      - just a string
    """


def test_every_problem_in_a_scenarios_file_is_one_positioned_line(
    demo: FlowSet, catalog: PromptCatalog
) -> None:
    scenarios, errors = read(BROKEN, demo, catalog)
    assert scenarios is None
    p = "scenarios.yaml"
    assert errors == [
        f"{p}:1:10: error: version 2 is not supported (this ivr reads version 1)",
        f"{p}:3:11: error: caller must be digits only, not '0901234567x'",
        f"{p}:4:3: error: unknown key 'colour' in defaults",
        f"{p}:7:14: error: dialled: write the number in quotes: unquoted, YAML reads it as a "
        "number (and drops leading zeros)",
        f"{p}:8:9: error: at needs a time of day too, like 2026-12-01T10:00:00+07:00",
        f"{p}:9:11: error: keys: 'x' is not on a phone keypad: keys are 0-9, * and #; - is "
        "silence, h hangs up",
        f"{p}:10:5: error: unknown key 'promts' in scenario 'typos' (did you mean 'prompts'?)",
        f"{p}:11:14: error: outcome must be one of self_served, transferred, abandoned, "
        "failed, not 'served' (did you mean 'self_served'?)",
        f"{p}:13:11: error: unknown flow 'hotlin' (did you mean 'hotline'?)",
        f"{p}:15:9: error: at must be a date and time like 2026-12-01T10:00:00+07:00, not "
        "'tomorrow'",
        f"{p}:16:11: error: keys must be text in quotes, like \"- 2 1\", not 1",
        f"{p}:17:15: error: unknown prompt 'welcom' (did you mean 'welcome'?)",
        f"{p}:17:23: error: 'w_mot' is a word of a spoken value: list the prompt said before "
        "the value instead",
        f"{p}:18:13: error: unknown node 'biling' in flow 'hotline' (did you mean 'billing'?)",
        f"{p}:18:21: error: unknown node 'nowhere' in flow 'identify_account'",
        f"{p}:18:47: error: unknown flow 'nosuchflow' (flows: hotline, identify_account)",
        f"{p}:19:15: error: unknown lookup 'balanse' (did you mean 'balance'?)",
        f"{p}:19:40: error: lookups: balance must be one of found, not_found, error, timeout, "
        "not 'founded' (did you mean 'found'?)",
        f"{p}:20:22: error: given: balance: found cannot be given (what is found comes from "
        "the demo data): give not_found, error or timeout, or pick a caller the demo data "
        "finds",
        f"{p}:20:44: error: given: meter_reading must be one of not_found, error, timeout, "
        "not 'lost'",
        f"{p}:21:17: error: transfers must be one of completed, timeout, full, no_agents, "
        "failed, not 'busy'",
        f"{p}:22:12: error: unknown queue 'agent' (did you mean 'agents'?)",
        f"{p}:23:15: error: language must be one of vi, en, not 'fr'",
        f"{p}:24:14: error: patient must be true or false, not 'yes please'",
        f"{p}:26:5: error: duplicate scenario name 'typos' (first at line 6)",
        f"{p}:30:5: error: a scenario needs a 'name:'",
        f"{p}:30:5: error: a scenario has no 'dialled:' (give it here or in defaults)",
        f"{p}:30:5: error: a scenario has no 'at:' (give it here or in defaults)",
        f"{p}:30:5: error: a scenario has no 'outcome:' (self_served, transferred, abandoned "
        "or failed)",
        f"{p}:31:5: error: a scenario must be a mapping, not 'just a string'",
    ]


@pytest.mark.parametrize(("text", "error"), [
    ("", "scenarios.yaml:1:1: error: the file is empty"),
    ("- name: x\n", "scenarios.yaml:1:1: error: the scenarios file must be a mapping, "
     "not a list"),
    ("version: 1\n", "scenarios.yaml:1:1: error: the file has no 'scenarios:' list"),
    ("scenarios: []\n", "scenarios.yaml:1:12: error: 'scenarios:' is empty: a test that "
     "checks nothing proves nothing"),
    ("scenarios:\n\t- name: x\n", "scenarios.yaml:2:1: error: YAML syntax: a tab character: "
     "indent with spaces only"),
])
def test_file_level_errors(demo: FlowSet, catalog: PromptCatalog, text: str,
                           error: str) -> None:
    assert read(text, demo, catalog) == (None, [error])


def test_defaults_fill_in_and_times_are_the_hotlines_own(
    demo: FlowSet, catalog: PromptCatalog
) -> None:
    scenarios, errors = read("""\
        defaults: {caller: "", dialled: "19001288", at: "2026-12-01 19:30", patient: true}
        scenarios:
          - name: withheld number, evening
            outcome: abandoned
            nodes: billing
          - name: Another Day
            at: 2026-12-02T01:00:00Z
            language: en
            keys: "- 2"
            transfers: [timeout, full]
            given: {balance: not_found}
            outcome: transferred
        """, demo, catalog)
    assert errors == [] and scenarios is not None
    first, second = scenarios.scenarios
    assert (first.caller, first.dialled, first.patient, first.keys) == ("", "19001288", True, "")
    assert first.at.isoformat() == "2026-12-01T19:30:00+07:00"
    assert first.expect.nodes == ("hotline.billing",)  # one id may stand without a list
    assert second.at.isoformat() == "2026-12-02T08:00:00+07:00"
    assert [t.value for t in second.transfers] == ["timeout", "full"]
    assert dict(second.given) == {"balance": LookupStatus.NOT_FOUND}
    assert scenarios.select("another") == (second,)
    # Seeded at the earliest call of its day, whatever -k selects.
    assert scenarios.seed_time(second) == second.at
    assert scenarios.seed_time(first) == first.at


# ---- ivr test-flows ------------------------------------------------------------------

TINY_FLOWS = """\
    version: 1
    hotlines:
      "1900545454": {corporation: EVNHCMC, prefix: PE}
    queues:
      agents: {name: hotline}
      desk: {name: desk}
    flows:
      hotline:
        start: main_menu
        nodes:
          main_menu:
            menu:
              prompt: main_menu
              options:
                "1": {set: {code: "PE01000123456"}, next: read_balance}
                "2": to_desk
          read_balance:
            lookup: balance
            with: {account: code}
            found: say_balance
            not_found: no_bill
          say_balance:
            play:
              - prompt: amount_due_is
              - say: {money: balance.amount_due}
            next: goodbye
          no_bill:
            play: no_bill_found
            next: goodbye
          to_desk:
            transfer: {queue: desk, reason: new_connection}
          goodbye:
            hangup: [goodbye]
    """

TINY_SCENARIOS = """\
    version: 1
    defaults: {caller: "0901234567", dialled: "1900545454", at: 2026-12-01T10:00:00+07:00}
    scenarios:
      - name: the balance is read
        keys: "1"
        prompts: [main_menu, amount_due_is, goodbye]
        outcome: self_served
        lookups: {balance: found}

      - name: no bill is said to be a bill
        keys: "1"
        given: {balance: not_found}
        prompts: [main_menu, amount_due_is, goodbye]
        outcome: self_served
    """


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "flows.yaml").write_text(textwrap.dedent(TINY_FLOWS), encoding="utf-8")
    (tmp_path / "scenarios.yaml").write_text(textwrap.dedent(TINY_SCENARIOS), encoding="utf-8")
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], folder: Path,
            *extra: str) -> tuple[int, str, str]:
    code = main(["test-flows", "--flows", str(folder / "flows.yaml"), "--prompts", str(PROMPTS),
                 *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_each_failure_with_its_line_then_the_summary(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    code, out, _err = run_cli(capsys, tiny)
    assert code == 1
    assert out == textwrap.dedent(f"""\
        {tiny}/scenarios.yaml:10: FAIL no bill is said to be a bill
          prompts: missing amount_due_is (- missing, = heard as expected):
            = main_menu
              no_bill_found
            - amount_due_is
            = goodbye

        1 passed, 1 failed
        """)
    code, out, _err = run_cli(capsys, tiny, "-k", "BALANCE")
    assert (code, out) == (0, "1 passed, 0 failed\n")


def test_cli_coverage_lists_what_no_scenario_reaches_and_fails(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    code, out, _err = run_cli(capsys, tiny, "-k", "balance is read", "--coverage")
    assert code == 1  # every scenario passed, but not everything is covered
    f = f"{tiny}/flows.yaml"
    assert out.splitlines() == [
        f"{f}:16:18: menu hotline.main_menu: option 2 never taken",
        f"{f}:21:20: lookup hotline.read_balance: not_found never taken",
        f"{f}:28:9: node hotline.no_bill never reached",
        f"{f}:31:9: node hotline.to_desk never reached",
        "coverage: 4 of 6 nodes reached, 2 of 4 exits taken",
        "1 passed, 0 failed",
    ]


def test_cli_scenario_file_errors_are_positioned_lines_and_nothing_runs(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    text = (tiny / "scenarios.yaml").read_text(encoding="utf-8")
    (tiny / "scenarios.yaml").write_text(
        text.replace("[main_menu, amount_due_is, goodbye]\n    outcome: self_served\n    "
                     "lookups", "[main_menu, amount_due, goodbye]\n    outcome: self_served\n"
                     "    nodes: [say_balanse]\n    lookups"), encoding="utf-8")
    code, out, err = run_cli(capsys, tiny)
    s = f"{tiny}/scenarios.yaml"
    assert (code, out.splitlines(), err) == (1, [
        f"{s}:6:26: error: unknown prompt 'amount_due' (did you mean 'amount_due_is'?)",
        f"{s}:8:13: error: unknown node 'say_balanse' in flow 'hotline' (did you mean "
        "'say_balance'?)",
    ], f"{s}: 2 error(s)\n")


def test_cli_refuses_broken_flows_and_unknown_names(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    flows = tiny / "flows.yaml"
    flows.write_text(flows.read_text(encoding="utf-8").replace("next: goodbye\n", "next: gone\n",
                                                               1), encoding="utf-8")
    code, out, err = run_cli(capsys, tiny)
    assert code == 1
    assert out == f"{flows}:26:15: error: node 'say_balance' goes to unknown node 'gone'\n"
    assert err == f"{tiny}/scenarios.yaml: not run: the flows file has errors\n"
    code, _out, err = run_cli(capsys, tiny, "--scenarios", str(tiny / "nowhere.yaml"))
    assert (code, err) == (2, f"ivr: error: {tiny}/nowhere.yaml: no scenarios file\n")
    flows.write_text(textwrap.dedent(TINY_FLOWS), encoding="utf-8")
    code, _out, err = run_cli(capsys, tiny, "-k", "no such call")
    assert (code, err) == (2, "ivr: error: -k no such call: no scenario's name contains it\n")
