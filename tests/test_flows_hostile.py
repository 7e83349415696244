# ruff: noqa: E501  (the expected diagnostics are whole lines, kept whole to be exact)
"""Flows files that try to hurt the server: alias bombs, deep nesting, huge files, values
PyYAML chokes on. Each is one diagnostic line, never a traceback, a hang or a dead
watcher; a later good file still goes live."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flows_support import DemoData

from ivr.cli import main
from ivr.config import loader
from ivr.config.loader import MAX_FLOWS_FILE_BYTES, load_yaml, read_flows_file
from ivr.flows.compile import driver as compiler_module
from ivr.flows.compile.driver import compile_flows
from ivr.flows.source import FlowSource
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "config" / "prompts.yaml"


def alias_bomb() -> str:
    """"Billion laughs": 350 bytes that stand for 9**9 strings once aliases expand."""
    lines = ['lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


DEEP = "flows: " + "[" * 20_000 + "]" * 20_000 + "\n"
BOMB_ERROR = ("{path}:5:8: error: alias '*d' copies too much: aliases may copy at most 10000 "
              "values in a flows file (write the repeated part out instead)")
DEEP_ERROR = ("{path}:1:71: error: nested too deep: a flows file may nest lists and mappings "
              "at most 64 levels")
GOOD = """
flows:
  hotline:
    start: q
    nodes:
      q: {menu: {prompt: ask, options: {"1": said}}}
      said: {play: one, next: hangup}
"""
CATALOG = PromptCatalog.from_texts({p: {"vi": p, "en": p} for p in
                                    ("one", "two", "ask", "sorry_transfer")})


def diagnostics(text: str, path: str = "f.yaml") -> list[str]:
    flowset, diags = compile_flows(text.encode(), path, catalog=CATALOG, lookups=known_lookups())
    assert flowset is None
    return [str(d) for d in diags]


def test_alias_bomb_is_refused_at_the_alias_that_passes_the_budget() -> None:
    assert diagnostics(alias_bomb()) == [BOMB_ERROR.format(path="f.yaml")]


def test_aliases_within_the_budget_still_work() -> None:
    root, diags = load_yaml("a: &x {b: 1, c: [2, 3]}\nd: *x\ne: *x\n", "f.yaml")
    assert diags == [] and root is not None


def test_an_alias_inside_what_it_names_is_refused() -> None:
    # PyYAML composes this into a list that contains itself: walking it never ends.
    assert diagnostics("flows: &a [1, *a]\n") == [
        "f.yaml:1:15: error: alias '*a' is inside the value it names (&a): a value cannot contain itself"]


@pytest.mark.parametrize(("text", "position"), [
    (DEEP, "1:71"),
    ("flows:" + "".join(f"\n{' ' * (2 * i)}- " for i in range(1, 200)) + "x\n", "65:129"),
    ("flows: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "1:260"),
])
def test_deep_nesting_is_refused_at_the_limit(text: str, position: str) -> None:
    assert diagnostics(text) == [
        f"f.yaml:{position}: error: nested too deep: a flows file may nest lists and mappings at most 64 levels"]


def test_an_alias_that_copies_nesting_deeper_counts_its_depth() -> None:
    # Each alias puts 60 levels inside 60 more: within the limit as written, 1,200 levels
    # once built.
    text = "".join(f"x{k}: &x{k} " + "[" * 60 + (f"*x{k - 1}" if k else "1") + "]" * 60 + "\n"
                   for k in range(20))
    assert diagnostics(text) == [
        "f.yaml:2:69: error: nested too deep: a flows file may nest lists and mappings at most 64 levels"]


def test_a_file_past_the_size_limit_is_refused_in_bytes(tmp_path: Path) -> None:
    # Vietnamese letters are 2-3 bytes: a limit in characters would let 6 MB through.
    comment = "# " + "ệ" * 40 + "\n"
    text = GOOD + comment * (MAX_FLOWS_FILE_BYTES // len(comment.encode()) + 1)
    assert len(text) < MAX_FLOWS_FILE_BYTES < len(text.encode())
    expected = ["f.yaml:1:1: error: the file is larger than 2000000 bytes, the limit for a flows file (is this a flows file?)"]
    assert diagnostics(text) == expected
    assert [str(d) for d in load_yaml(text, "f.yaml")[1]] == expected


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "flows.yaml"
    with path.open("wb") as fh:
        fh.truncate(3 * MAX_FLOWS_FILE_BYTES)  # sparse: no disk, still 6 MB to read
    assert len(read_flows_file(path)) == MAX_FLOWS_FILE_BYTES + 1


@pytest.mark.parametrize(("value", "message"), [
    ("2026-13-45", "cannot read '2026-13-45': month must be in 1..12 (quote it if it is a text)"),
    ("!!int abc", "cannot read 'abc': invalid literal for int() with base 10: 'abc' (quote it if it is a text)"),
])
def test_values_pyyaml_cannot_construct_are_diagnostics(value: str, message: str) -> None:
    assert diagnostics(f"flows: {value}\n") == [f"f.yaml:1:8: error: YAML syntax: {message}"]


def test_recursion_past_the_loader_is_still_a_diagnostic(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without its depth limit the loader would walk 900 levels recursively, past
    # Python's stack limit; the compiler's last line of defence makes that one line too.
    monkeypatch.setattr(loader, "MAX_NESTING_DEPTH", 1_000_000)
    assert diagnostics("flows: " + "[" * 900 + "]" * 900 + "\n") == [
        "f.yaml:1:1: error: nested too deep to compile: a flows file may nest lists and mappings at most 64 levels"]


def test_a_compiler_bug_is_one_line_and_a_logged_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(compiler_module, "compile_tree", broken)
    assert diagnostics(GOOD) == [
        "f.yaml:1:1: error: the flow compiler failed on this file (KeyError: 'oops'): this is a bug in ivr, please report it with the file"]
    (record,) = [r for r in caplog.records if r.name == "ivr.flows.compile.driver"]
    assert record.levelname == "ERROR" and record.exc_info is not None


@pytest.mark.parametrize(("text", "expected"), [
    (alias_bomb(), BOMB_ERROR),
    (DEEP, DEEP_ERROR),
])
def test_validate_in_process(tmp_path: Path, text: str, expected: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text(text)
    assert main(["validate", str(path), "--prompts", str(PROMPTS)]) == 1
    out, err = capsys.readouterr()
    assert out == expected.format(path=path) + "\n"
    assert err == f"{path}: 1 error(s), 0 warning(s)\n"


@pytest.mark.parametrize(("text", "expected"), [
    (alias_bomb(), BOMB_ERROR),
    (DEEP, DEEP_ERROR),
], ids=["alias-bomb", "deep"])
def test_validate_as_a_command(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "ivr", "validate", str(path), "--prompts",
                           str(PROMPTS)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stdout == expected.format(path=path) + "\n"
    assert "Traceback" not in done.stderr
    assert done.stderr == f"{path}: 1 error(s), 0 warning(s)\n"


def touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + bump))  # coarse mtimes: move it for sure


async def wait_for(condition: object) -> None:
    assert callable(condition)
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.001)


@pytest.mark.parametrize("hostile", [DEEP, alias_bomb()], ids=["deep", "alias-bomb"])
async def test_the_watcher_survives_a_hostile_file_and_takes_the_next_good_one(
    tmp_path: Path, hostile: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text(GOOD)
    source = FlowSource.load(path, lookups=DemoData().registry(), catalog=CATALOG)
    first = source.current
    caplog.set_level(logging.INFO, logger="ivr.flows.source")
    task = asyncio.create_task(source.watch(interval=0.001))
    try:
        touch(path, hostile, 10)
        await wait_for(lambda: "flows not reloaded: keeping version" in caplog.text)
        assert source.current is first and not task.done()
        touch(path, GOOD.replace("play: one", "play: two"), 20)
        await wait_for(lambda: source.current is not first)
        assert not task.done()
    finally:
        task.cancel()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors[0] in (BOMB_ERROR.format(path=path), DEEP_ERROR.format(path=path))
    assert "Traceback" not in caplog.text


async def test_the_watcher_keeps_watching_when_a_reload_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text(GOOD)
    source = FlowSource.load(path, lookups=DemoData().registry(), catalog=CATALOG)
    first = source.current
    real = source.compile_file
    calls = []

    def fails_once() -> object:
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("out of memory")  # whatever it is: the watcher goes on
        return real()

    monkeypatch.setattr(source, "compile_file", fails_once)
    task = asyncio.create_task(source.watch(interval=0.001))
    try:
        touch(path, GOOD.replace("play: one", "play: two"), 10)
        await wait_for(lambda: "still watching it" in caplog.text)
        assert source.current is first
        touch(path, GOOD.replace("play: one", "play: two") + "# again\n", 20)
        await wait_for(lambda: source.current is not first)
        assert not task.done() and len(calls) == 2  # the failed version was not retried
    finally:
        task.cancel()
