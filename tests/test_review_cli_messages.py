"""Messages operators meet on the command line: what is wrong and what to do, in plain
words (found by running the documented commands as an operator would)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from ivr.cli import main


@pytest.mark.postgres
def test_db_schema_that_does_not_exist_says_so(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = f"missing_{uuid.uuid4().hex[:8]}"  # never created: nothing to clean up
    assert main(["db", "migrate", "--db", postgres_url, "--schema", schema]) == 2
    err = capsys.readouterr().err
    assert f"schema '{schema}' does not exist: create it first (CREATE SCHEMA {schema};) " \
        "or leave out --schema" in err
    assert "CREATE TABLE" not in err


def test_rejected_reload_logs_its_warnings_as_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flows_support import DemoData

    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import PromptCatalog

    catalog = PromptCatalog.from_texts({p: {"vi": p, "en": p} for p in
                                        ("ask", "one", "sorry_transfer")})
    good = ("flows:\n  hotline:\n    start: q\n    nodes:\n"
            "      q: {menu: {prompt: ask, options: {\"1\": said}}}\n"
            "      said: {play: one, next: hangup}\n")
    path = tmp_path / "flows.yaml"
    path.write_text(good)
    source = FlowSource.load(path, lookups=DemoData().registry(), catalog=catalog)
    path.write_text(good.replace('"1": said', '"1": sad'))
    caplog.set_level(logging.WARNING, logger="ivr.flows.source")
    source.reload()
    levels = {r.getMessage().split(": ", 2)[1]: r.levelname for r in caplog.records
              if r.getMessage().startswith(str(path))}
    assert levels == {"error": "ERROR", "warning": "WARNING"}


@pytest.mark.parametrize(("text", "expected"), [
    ("ami:\n  hots: 127.0.0.1\n  username: ivr\n",
     "{p}:2:3: error: unknown key under ami: 'hots' (did you mean 'host'?); the keys are "
     "host, port, "
     "secret, username"),
    ("ami:\n\thost: 127.0.0.1\n",
     "{p}:2:1: error: YAML syntax: a tab character: indent with spaces only"),
])
def test_service_config_mistakes_name_the_key_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    from ivr.config.settings import SettingsError, load_settings

    path = tmp_path / "ivr.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings({}, {"config_path": path})
    assert str(info.value) == expected.format(p=path)


def test_bad_environment_value_names_the_variable() -> None:
    from ivr.config.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as info:
        load_settings({"IVR_AGI_PORT": "abc"})
    assert str(info.value) == "IVR_AGI_PORT: setting agi_port: cannot use 'abc'"


@pytest.mark.dates
def test_simulate_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "IVR_DATA_DIR": str(tmp_path), "IVR_NOW": "2026-12-01T10:00:00+07:00"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr", "simulate", "--keys", "- 3 1 2 5"], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert first.startswith("  IVR  ")
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_simulate_refuses_keys_not_on_a_keypad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    assert main(["simulate", "--keys", "- 2 a1"]) == 2
    assert capsys.readouterr().err == (
        "ivr: error: --keys: 'a' is not on a phone keypad: keys are 0-9, * and #; - is "
        "silence, h hangs up\n")


async def test_typed_key_that_is_not_on_a_keypad_is_asked_again(
    capsys: pytest.CaptureFixture[str]
) -> None:
    from ivr.channels.simulator import TerminalKeys

    lines = iter(["x", "1 2", "-", "h"])
    keys = TerminalKeys(lambda: next(lines))
    assert [await keys.next_group() for _ in range(3)] == ["12", "", None]
    assert "'x' is not on a phone keypad" in capsys.readouterr().err
