# ruff: noqa: E501  (the expected diagnostics are whole lines, kept whole to be exact)
"""Every YAML file the product reads reports its problems the flows file's way: one line
each, ``PATH:LINE:COL: severity: message``, with the same YAML limits, and
``ivr validate --prompts FILE --config FILE`` prints them with no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli import main
from ivr.config.settings import SettingsError, load_settings, read_config_file
from ivr.flows.scenarios import load_scenarios
from ivr.prompts.catalog import PromptCatalog

ROOT = Path(__file__).resolve().parent.parent
FLOWS = str(ROOT / "config" / "flows.yaml")
PROMPTS = str(ROOT / "config" / "prompts.yaml")

#: Aliases that copy 10 x 10 x 10 x 10 values: past the limit, never expanded.
ALIAS_BOMB = ("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
              "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n")

CONFIG_CASES = [
    ("ami_typo", "ami:\n  hots: 127.0.0.1\n  username: ivr\n", [
        "{p}:2:3: error: unknown key under ami: 'hots' (did you mean 'host'?); the keys are host, port, secret, username"]),
    ("tab", "ami:\n\thost: 127.0.0.1\n", [
        "{p}:2:1: error: YAML syntax: a tab character: indent with spaces only"]),
    ("values", "agi_port: abc\nweb_port: [1]\nseed_demo: maybe\n", [
        "{p}:1:11: error: setting agi_port: cannot use 'abc'",
        "{p}:2:11: error: web_port must be a single value, not a list",
        "{p}:3:12: error: setting seed_demo: cannot use 'maybe'"]),
    ("users", "web:\n  users:\n    - name: lan\n      role: boss\n      password_hash: x\n"
     "    - {name: minh}\n    - name: an\n      role: agent\n      password_hash: x\n"
     "      queues: hotline\n      colour: red\n", [
         "{p}:4:7: error: web.users[0].role must be agent or supervisor, not 'boss'",
         "{p}:6:7: error: web.users[1] needs name, role and password_hash",
         "{p}:10:15: error: web.users[2].queues must be a list, not 'hotline'",
         "{p}:11:7: error: unknown key 'colour' in web.users[2]"]),
    ("users_map", "web:\n  users: {name: x}\n", [
        "{p}:2:10: error: web.users must be a list, not a mapping"]),
    ("metrics", "metrics:\n  tokn: x\n", [
        "{p}:2:3: error: unknown key under metrics: 'tokn'; the key is 'token'"]),
    ("section", "ami: yes\n", ["{p}:1:6: error: ami must be a mapping, not True"]),
    ("top", "- a\n", ["{p}:1:1: error: the service config file must be a mapping, not a list"]),
    ("twice", "agi_port: 1\nagi_port: 2\n", [
        "{p}:2:1: error: duplicate key 'agi_port' in the service config file (first defined at line 1)"]),
    ("tag", "db_url: !!python/object/apply:os.system [ls]\n", [
        "{p}:1:9: error: YAML syntax: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed (a service config file is plain YAML)"]),
    ("aliases", ALIAS_BOMB, [
        "{p}:4:29: error: alias '*c' copies too much: aliases may copy at most 10000 values in a service config file (write the repeated part out instead)"]),
    ("deep", "a: " + "[" * 70 + "]" * 70 + "\n", [
        "{p}:1:67: error: nested too deep: a service config file may nest lists and mappings at most 64 levels"]),
]  # fmt: skip

PROMPTS_CASES = [
    ("syntax", "prompts:\n  welcome:\n    en: Note: hello\n", [
        "{p}:3:13: error: YAML syntax: unexpected ':' here: check this line's indentation and that the line above has its ':' (quote a value that contains ': ')"]),
    ("several", "prompts:\n  Welcome: {vi: x}\n  bye: {de: y, vi: [a]}\n  bye: {vi: z}\n", [
        "{p}:2:3: error: prompt id 'Welcome' must be lower-case letters, digits and _",
        "{p}:3:9: error: bye: unknown language 'de' (one of vi, en)",
        "{p}:3:20: error: bye.vi: expected text",
        "{p}:4:3: error: duplicate prompt id 'bye' (first defined at line 3)"]),
    ("top", "promts:\n  welcome: {vi: x}\n", [
        "{p}:1:1: error: unknown key 'promts' in the prompts file (did you mean 'prompts'?)",
        "{p}:1:1: error: missing 'prompts:'"]),
    ("aliases", ALIAS_BOMB, [
        "{p}:4:29: error: alias '*c' copies too much: aliases may copy at most 10000 values in a prompts file (write the repeated part out instead)"]),
    ("empty", "", ["{p}:1:1: error: the file is empty"]),
]  # fmt: skip


def written(tmp_path: Path, case: tuple[str, str, list[str]]) -> tuple[Path, list[str]]:
    """The case's file, written, and the lines expected for it."""
    name, text, expected = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, [line.format(p=path) for line in expected]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_broken_service_config_exact_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, str, list[str]],
) -> None:
    config, want = written(tmp_path, case)
    assert [str(d) for d in read_config_file(config)[1]] == want
    with pytest.raises(SettingsError) as info:  # what ivr serve --config stops with
        load_settings({}, {"config_path": config})
    assert str(info.value).splitlines() == want
    assert main(["validate", FLOWS, "--prompts", PROMPTS, "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == want
    assert f"{config}: {len(want)} error(s)\n" in err and "Traceback" not in err


@pytest.mark.parametrize("case", PROMPTS_CASES, ids=[c[0] for c in PROMPTS_CASES])
def test_broken_prompts_exact_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, str, list[str]],
) -> None:
    prompts, want = written(tmp_path, case)
    assert main(["validate", FLOWS, "--prompts", str(prompts)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == want
    assert err.splitlines() == [f"{prompts}: {len(want)} error(s)",
                                f"{FLOWS}: not checked: the prompts file has errors"]


def test_prompts_beside_the_flows_are_checked_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text(Path(FLOWS).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "prompts.yaml").write_bytes(b"prompts:\n  welcome: {vi: \"ch\xe0o\"}\n")
    assert main(["validate", str(flows)]) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'prompts.yaml'}:2:20: error: the file is not UTF-8 text\n"


def test_a_good_config_file_names_the_files_validate_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As ivr serve --config finds them: flows_path and prompts_path, relative to the file.
    (tmp_path / "flows.yaml").write_text(Path(FLOWS).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "words.yaml").write_text("prompts:\n  welcome: {vi: chào}\n", encoding="utf-8")
    config = tmp_path / "ivr.yaml"
    config.write_text("flows_path: flows.yaml\nprompts_path: words.yaml\nweb:\n  port: 9000\n"
                      "  secure_cookies: true\nmetrics:\n  token:\n", encoding="utf-8")
    assert main(["validate", "--config", str(config)]) == 1  # words.yaml lacks the prompts
    out, err = capsys.readouterr()
    assert err.splitlines()[0] == f"{config}: ok"
    assert out.splitlines()[0].startswith(f"{tmp_path / 'flows.yaml'}:")
    assert "error: the prompts have no 'callback_confirmed'" in out
    settings = load_settings({}, {"config_path": config})
    assert (settings.web_port, settings.flows_path) == (9000, tmp_path / "flows.yaml")
    assert settings.extra["web"] == {"port": 9000, "secure_cookies": True}


def test_an_empty_or_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_settings({}, {"config_path": empty}).config_path == empty  # sets nothing
    missing = tmp_path / "nope.yaml"
    assert main(["validate", FLOWS, "--prompts", PROMPTS, "--config", str(missing)]) == 1
    assert capsys.readouterr().out == f"{missing}:1:1: error: cannot read: No such file or directory\n"


def test_the_scenarios_file_has_the_same_limits(tmp_path: Path) -> None:
    from ivr.flows.compile.driver import compile_flows
    from ivr.store.lookups import known_lookups

    catalog = PromptCatalog.load(Path(PROMPTS))
    flowset, _ = compile_flows(Path(FLOWS).read_bytes(), FLOWS, catalog=catalog,
                               lookups=known_lookups())
    assert flowset is not None
    result, diags = load_scenarios(ALIAS_BOMB, "s.yaml", flowset=flowset, catalog=catalog,
                                   lookups=known_lookups())
    assert result is None
    assert [str(d) for d in diags] == [
        "s.yaml:4:29: error: alias '*c' copies too much: aliases may copy at most 10000 "
        "values in a scenarios file (write the repeated part out instead)"]
