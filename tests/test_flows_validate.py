# ruff: noqa: E501  (the expected diagnostics are whole lines, kept whole to be exact)
"""`ivr validate` on broken flows files: every diagnostic asserted by exact string, and
the shipped config/flows.yaml clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli import main
from ivr.flows.compile.driver import compile_flows
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path("tests/flows/broken")
PROMPTS = "config/prompts.yaml"

CASES = [
    ('misspelt_verb.yaml', 1, [
        "{path}:6:9: error: node 'greet' has no verb (did you mean 'play'?): give one of play, menu, input, lookup, branch, set, goto, call, language, hours, transfer, hangup, record",
    ]),
    ('misspelt_input_variable.yaml', 1, [
        "{path}:7:25: error: unknown variable 'acount.code' (quote it if you mean the text)",
    ]),
    ('misspelt_field.yaml', 1, [
        "{path}:12:19: error: unknown variable 'balance.payed': 'balance' has no field 'payed' (did you mean 'paid'?)",
        '{path}:14:31: error: unknown variable \'en\' (quote it if you mean the text: "en")',
        "{path}:19:26: error: unknown variable 'balance.amount_du': 'balance' has no field 'amount_du' (did you mean 'amount_due'?)",
    ]),
    ('bad_version.yaml', 1, [
        "{path}:1:10: error: version 2 is not supported (this ivr reads version 1)",
    ]),
    ('bad_condition.yaml', 1, [
        "{path}:7:32: error: node 'choose': bad condition: unexpected character '='",
    ]),
    ('bad_defaults.yaml', 1, [
        "{path}:2:13: error: unknown language 'de' (the prompts have vi, en)",
        '{path}:3:12: error: defaults: retries must be between 1 and 10, not 0',
        "{path}:5:5: error: keys_everywhere: '00' is not a single key (0-9, * or #)",
        "{path}:6:10: error: keys_everywhere '*' can only go to agent, hangup or repeat, not 'main_menu'",
        "{path}:8:37: error: hotline '19001288': prefix must be two capital letters like PE, not 'pd'",
    ]),
    ('bad_duration.yaml', 1, [
        "{path}:2:12: error: defaults: timeout: bad duration '5 seconds': use a number with ms, s, m or h (e.g. 5s)",
        "{path}:11:20: error: node 'main_menu': timeout: bad duration '-2s': use a number with ms, s, m or h (e.g. 5s)",
    ]),
    ('bad_input.yaml', 1, [
        "{path}:7:11: error: node 'code': min_digits 12 is more than max_digits 11",
        "{path}:7:11: error: node 'code' needs 'store:' (the variable that keeps the digits)",
        "{path}:10:11: error: node 'code': terminator must be # or *",
        "{path}:11:11: error: node 'code': unknown check 'customer_cod'; known: customer_code, phone, score, digits (did you mean 'customer_code'?)",
    ]),
    ('bad_language_and_hours.yaml', 1, [
        "{path}:6:19: error: unknown language 'fr' (the prompts have vi, en)",
        "{path}:9:9: error: node 'desk' has no way out: add 'closed'",
        '{path}:11:16: error: node \'desk\': hours: \'7h30 to 11h30\' is not opening hours like "07:30-17:00"',
        "{path}:12:11: error: node 'desk': hours: 'sunday' is not a day or range like mon-fri (did you mean 'sun'?)",
    ]),
    ('bad_hours.yaml', 1, [
        "{path}:7:20: error: node 'desk': hours: '17:00-07:30' is not a valid time span (it must end after it starts, on the same day: split a span past midnight into two days)",
        "{path}:8:16: error: node 'desk': hours: '08:00-24:30' is not a valid time span (times go from 00:00 to 24:00)",
        '{path}:9:16: error: node \'desk\': hours: \'closed\' is not opening hours like "07:30-17:00" (leave \'sun\' out: a day not listed is closed)',
    ]),
    ('bad_say_kind.yaml', 1, [
        "{path}:12:19: error: bad say kind 'mony': use one of date, datetime, digits, duration, money, number, time (did you mean 'money'?)",
    ]),
    ('branch_without_otherwise.yaml', 1, [
        "{path}:7:11: error: node 'choose' has no way out when nothing matches: add '- otherwise: <node>'",
    ]),
    ('empty_menu.yaml', 1, [
        "{path}:8:20: error: node 'main_menu' has no options: give at least one key, like \"1\": next_node",
        "{path}:12:19: error: node 'other_menu' has no options: give at least one key, like \"1\": next_node",
    ]),
    ('endless_loop.yaml', 1, [
        "{path}:6:9: error: these nodes loop forever without asking the caller anything: greet -> check -> greet (and through retry); ask something in the loop (a menu or an input) or give it a way out (hangup, agent or return)",
    ]),
    ('duplicate_node.yaml', 1, [
        "{path}:10:7: error: duplicate node id 'greet' (first defined at line 5)",
    ]),
    ('menu_key_twice.yaml', 1, [
        "{path}:11:13: error: menu 'main_menu' uses key '1' twice (first at line 9)",
    ]),
    ('missing_input.yaml', 1, [
        "{path}:6:17: error: lookup 'balance' needs input 'account' under 'with:'",
        "{path}:7:16: error: lookup 'balance' has no input 'acount' (did you mean 'account'?)",
    ]),
    ('no_way_out.yaml', 1, [
        "{path}:6:9: error: node 'greet' has no way out: add 'next'",
    ]),
    ('python_tag.yaml', 1, [
        "{path}:5:14: error: YAML syntax: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed (a flows file is plain YAML)",
    ]),
    ('reserved_and_start.yaml', 1, [
        "{path}:3:5: error: flow 'hotline' starts at unknown node 'welcom' (did you mean 'welcome'?)",
        "{path}:8:7: error: node id 'agent' is reserved (it is a special target)",
    ]),
    ('syntax_error.yaml', 1, [
        "{path}:7:8: error: YAML syntax: this line does not line up with the lines above it: keys of one mapping start in the same column",
    ]),
    ('two_verbs.yaml', 1, [
        "{path}:6:9: error: node 'greet' has two verbs: 'play' and 'menu' (one verb per node)",
        "{path}:12:9: error: node 'lost' has no verb: give one of play, menu, input, lookup, branch, set, goto, call, language, hours, transfer, hangup, record",
    ]),
    ('unknown_key.yaml', 1, [
        "{path}:7:11: error: unknown key 'promt' in menu 'main_menu' (did you mean 'prompt'?)",
        "{path}:7:11: error: node 'main_menu' needs a 'prompt'",
        "{path}:11:9: error: unknown key 'nxt' in node 'bye'",
    ]),
    ('unknown_lookup.yaml', 1, [
        "{path}:6:17: error: unknown lookup 'balanse' (did you mean 'balance'?)",
    ]),
    ('unknown_prompt.yaml', 1, [
        "{path}:6:25: error: unknown prompt 'welcom_back' (did you mean 'welcome'?)",
    ]),
    ('unknown_queue.yaml', 1, [
        "{path}:9:11: error: node 'safety' transfers to unknown queue 'safty'",
    ]),
    ('unknown_subflow.yaml', 1, [
        "{path}:6:15: error: node 'billing' calls unknown flow 'identify_acount' (did you mean 'identify_account'?)",
    ]),
    ('unknown_target.yaml', 1, [
        "{path}:9:18: error: node 'main_menu' goes to unknown node 'biling' (did you mean 'billing'?)",
        "{path}:11:9: warning: node 'billing' is never reached (nothing in flow 'hotline' goes to it), nor is the 1 node after it",
    ]),
    ('unknown_variable.yaml', 1, [
        "{path}:11:26: error: unknown variable 'balanse.amount_due' (did you mean 'balance'?)",
        '{path}:15:36: error: unknown variable \'amount\' (quote it if you mean the text: "amount")',
    ]),
    ('unreachable.yaml', 0, [
        "{path}:9:9: warning: node 'forgotten' is never reached (nothing in flow 'hotline' goes to it)",
    ]),
    ('wrong_type.yaml', 1, [
        "{path}:9:20: error: node 'main_menu': retries must be a whole number, not 'three'",
        "{path}:10:21: error: node 'main_menu': barge_in must be true or false, not 'sometimes'",
    ]),
    ('bad_record.yaml', 1, [
        "{path}:7:17: error: node 'no_prompt' needs a 'prompt': what the caller should say after the beep",
        "{path}:10:35: error: node 'too_long': max_seconds must be from 1s to 10m, not 1200s",
        "{path}:10:62: error: node 'too_long': silence must be whole seconds from 1s to 30s (or false), not 1.5s",
        "{path}:13:35: error: node 'bad_keys': finish_on must be keys from 0-9, * and #, not '#x'",
        "{path}:13:58: error: node 'bad_keys': beep must be true or false, not 'loud'",
        "{path}:13:73: error: node 'bad_keys': retries must be between 1 and 5, not 9",
        "{path}:14:15: error: node 'bad_keys' goes to unknown node 'nowhere'",
        "{path}:16:9: error: node 'no_exit' has no way out: add 'next'",
        "{path}:16:51: error: unknown key 'recrod' in record 'no_exit'",
    ]),
    ('bad_interruptible.yaml', 1, [
        "{path}:10:24: error: node 'notice': interruptible must be true or false, not 'sometimes'",
    ]),
]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths are printed as given, so run from the repository root with relative paths.
    monkeypatch.chdir(ROOT)


def test_at_least_fifteen_broken_files() -> None:
    files = {p.name for p in (ROOT / BROKEN).glob("*.yaml")}
    assert files == {name for name, _, _ in CASES}
    assert len(files) >= 15


@pytest.mark.parametrize(("name", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validate_reports_exact_diagnostics(
    name: str, code: int, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(BROKEN / name)
    assert main(["validate", path, "--prompts", PROMPTS]) == code
    out, err = capsys.readouterr()
    assert out.splitlines() == [line.format(path=path) for line in expected]
    assert "Traceback" not in out + err


def test_shipped_flows_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("config/flows.yaml: ok, 2 flows,")


def test_path_is_printed_as_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "f.yaml"
    broken.write_text((ROOT / BROKEN / "no_way_out.yaml").read_text())
    assert main(["validate", str(broken), "--prompts", PROMPTS]) == 1
    assert capsys.readouterr().out == f"{broken}:6:9: error: node 'greet' has no way out: add 'next'\n"


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "no/such/flows.yaml"]) == 2
    assert capsys.readouterr().err == "ivr: error: no/such/flows.yaml: cannot read: No such file or directory\n"


def test_missing_prompts_file_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A supervisor checking a copy outside the repository: no prompts.yaml beside it and
    # no config/ below the current directory.
    flows = tmp_path / "flows.yaml"
    flows.write_text((ROOT / "config/flows.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(flows)]) == 2
    assert capsys.readouterr().err == (
        "ivr: error: config/prompts.yaml: no prompts file to check the prompt ids against: "
        "put prompts.yaml beside the flows file or give --prompts PATH\n")


def test_one_flow_is_not_flows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n  hotline:\n    start: bye\n    nodes:\n      bye: {hangup: true}\n")
    assert main(["validate", str(flows), "--prompts", PROMPTS]) == 0
    assert capsys.readouterr().err.startswith(f"{flows}: ok, 1 flow, 1 node, version ")


def test_prompt_without_a_translation_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text('prompts:\n  hi:\n    vi: "Xin chào"\n  bye:\n    vi: "Tạm biệt"\n'
                       '    en: "Goodbye"\n  sorry_transfer:\n    vi: "Xin lỗi"\n'
                       '    en: "Sorry"\n', encoding="utf-8")
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n  hotline:\n    start: a\n    nodes:\n"
                     "      a: {play: [hi, bye, hi], next: b}\n      b: {hangup: [hi]}\n")
    assert main(["validate", str(flows), "--prompts", str(prompts)]) == 0
    assert capsys.readouterr().out == (
        f"{flows}:5:18: warning: prompt 'hi' has no en text in the prompts file (en callers "
        "hear the vi text instead)\n")


def test_broken_prompts_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("prompts: [\n")
    assert main(["validate", "config/flows.yaml", "--prompts", str(prompts)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{prompts}:")


def test_all_errors_are_collected_not_just_the_first() -> None:
    text = (
        "flows:\n"
        "  hotline:\n"
        "    start: a\n"
        "    nodes:\n"
        "      a: {play: nope, next: b}\n"
        "      b: {lookup: nothing, next: c}\n"
        "      c: {goto: d}\n"
    )
    catalog = PromptCatalog.load(ROOT / PROMPTS)
    flowset, diags = compile_flows(text.encode(), "f.yaml", catalog=catalog, lookups=known_lookups())
    assert flowset is None
    assert [str(d) for d in diags] == [
        "f.yaml:5:17: error: unknown prompt 'nope'",
        "f.yaml:6:19: error: unknown lookup 'nothing'",
        "f.yaml:7:17: error: node 'c' goes to unknown node 'd'",
    ]


def test_a_node_of_another_flow_says_to_call_that_flow() -> None:
    text = (
        "flows:\n"
        "  hotline:\n"
        "    start: a\n"
        "    nodes:\n"
        "      a: {play: goodbye, next: ask_code}\n"
        "  identify:\n"
        "    start: ask_code\n"
        "    nodes:\n"
        "      ask_code: {play: goodbye, next: return}\n"
    )
    catalog = PromptCatalog.load(ROOT / PROMPTS)
    _flowset, diags = compile_flows(text.encode(), "f.yaml", catalog=catalog, lookups=known_lookups())
    assert [str(d) for d in diags] == [
        "f.yaml:5:32: error: node 'a' goes to unknown node 'ask_code' (it is in flow 'identify': "
        "a flow goes only to its own nodes; use a node with 'call: identify')",
    ]


def test_version_is_a_short_hash_of_the_bytes() -> None:
    catalog = PromptCatalog.load(ROOT / PROMPTS)
    data = (ROOT / "config/flows.yaml").read_bytes()
    a, _ = compile_flows(data, "x", catalog=catalog, lookups=known_lookups())
    b, _ = compile_flows(data + b"\n# comment\n", "x", catalog=catalog, lookups=known_lookups())
    assert a is not None and b is not None
    assert len(a.version) == 12 and a.version != b.version
