"""`ivr serve` from any directory: the demo flows and prompts ship inside the package,
paths in a service config file are relative to that file, and a file that is not there
is one line naming it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.config.settings import PACKAGED_DEMO, load_settings

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-12-01T10:00:00+07:00"
#: Starts `ivr serve` (extra options, cwd=, env=) and returns it with its start-up banner.
Start = Callable[..., tuple["subprocess.Popen[str]", str]]


@pytest.mark.parametrize("name", ["flows.yaml", "prompts.yaml"])
def test_packaged_demo_is_the_supervisors_file(name: str) -> None:
    # ivr/demo/ links to config/; a checkout without symlinks (or a link replaced by a
    # copy) would ship a demo that has parted from the file supervisors edit.
    assert (PACKAGED_DEMO / name).read_bytes() == (ROOT / "config" / name).read_bytes()


def test_defaults_in_a_checkout_are_its_config_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    settings = load_settings({})
    assert (settings.flows_path, settings.prompts_path) == (
        Path("config/flows.yaml"), Path("config/prompts.yaml"))


def test_defaults_elsewhere_are_the_packaged_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert (settings.flows_path, settings.prompts_path) == (
        PACKAGED_DEMO / "flows.yaml", PACKAGED_DEMO / "prompts.yaml")


def test_a_named_file_never_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"IVR_FLOWS": "mine.yaml"})
    assert settings.flows_path == Path("mine.yaml")


def test_paths_in_the_config_file_are_relative_to_it(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "ivr"
    etc.mkdir(parents=True)
    (etc / "ivr.yaml").write_text(
        "flows_path: hotline/flows.yaml\nprompts_path: hotline/prompts.yaml\n"
        "data_dir: ../../state\nrecorded_prompts_dir: /srv/recordings\n"
        "db_url: sqlite+aiosqlite:///db/ivr.db\n")
    settings = load_settings({}, {"config_path": etc / "ivr.yaml"})
    assert settings.flows_path == etc / "hotline/flows.yaml"
    assert settings.prompts_path == etc / "hotline/prompts.yaml"
    assert settings.data_dir == etc / "../../state"
    assert settings.recorded_prompts_dir == Path("/srv/recordings")
    assert settings.database_url == f"sqlite+aiosqlite:///{etc / 'db/ivr.db'}"


@pytest.mark.parametrize("url", ["postgresql+asyncpg://ivr:pw@db/ivr", "sqlite:////abs/ivr.db",
                                 "sqlite+aiosqlite://"])
def test_other_database_urls_in_the_config_file_are_kept(tmp_path: Path, url: str) -> None:
    (tmp_path / "ivr.yaml").write_text(f"db_url: {url}\n")
    assert load_settings({}, {"config_path": tmp_path / "ivr.yaml"}).db_url == url


def test_command_line_paths_stay_relative_to_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "ivr.yaml").write_text("flows_path: from-config.yaml\n")
    settings = load_settings({}, {"config_path": tmp_path / "ivr.yaml",
                                  "flows_path": Path("given.yaml")})
    assert settings.flows_path == Path("given.yaml")


@pytest.mark.parametrize(("argv", "expected"), [
    (["--flows", "nothere.yaml"],
     "ivr: error: nothere.yaml: flows file not found in {cwd} (set by --flows, IVR_FLOWS or "
     "flows_path in the config file)\n"),
    (["--prompts", "/nowhere/prompts.yaml"],
     "ivr: error: /nowhere/prompts.yaml: prompts file not found (set by --prompts, "
     "IVR_PROMPTS or prompts_path in the config file)\n"),
])
@pytest.mark.parametrize("command", ["serve", "simulate"])
def test_a_missing_file_is_one_line_naming_it(
    command: str, argv: list[str], expected: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "var"))
    assert main([command, *argv]) == 2
    assert capsys.readouterr().err == expected.format(cwd=tmp_path)
    assert not (tmp_path / "var").exists()  # refused before anything was created


@pytest.fixture
def serve() -> Iterator[Start]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "IVR_NOW": NOW, **env}
        for name in ("IVR_DATABASE_URL", "IVR_DB", "IVR_CONFIG", "IVR_FLOWS", "IVR_PROMPTS"):
            full_env.pop(name, None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ivr", "serve", "--agi-port", "0", "--web-port", "0",
             "--no-prompt-build", "--no-seed", *args],
            cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # the start-up banner, up to the web app's address
            lines.append(line)
            if line.startswith("ivr: web app on "):
                return proc, "".join(lines)
        raise AssertionError(f"ivr serve ended: {''.join(lines)}{proc.stderr.read()}")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def healthy_then_stopped(proc: subprocess.Popen[str], banner: str) -> None:
    url = banner.split("ivr: web app on ", 1)[1].split()[0] + "healthz"
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        assert "status" in json.loads(resp.read())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_serve_from_a_directory_outside_the_checkout(serve: Start, tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    proc, banner = serve(cwd=cwd, env={"IVR_DATA_DIR": str(tmp_path / "data")})
    assert f"ivr: flows {PACKAGED_DEMO / 'flows.yaml'} version " in banner
    healthy_then_stopped(proc, banner)
    assert (tmp_path / "data" / "ivr.db").is_file()
    assert list(cwd.iterdir()) == []  # nothing written where it was started


def test_serve_with_a_config_file_in_another_directory(serve: Start, tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "ivr"
    etc.mkdir(parents=True)
    for name in ("flows.yaml", "prompts.yaml"):
        (etc / name).write_bytes((ROOT / "config" / name).read_bytes())
    (etc / "ivr.yaml").write_text("flows_path: flows.yaml\nprompts_path: prompts.yaml\n"
                                  "data_dir: ../../state\n")
    cwd = tmp_path / "root"  # a unit's working directory: nothing of ivr's there
    cwd.mkdir()
    proc, banner = serve("--config", str(etc / "ivr.yaml"), cwd=cwd, env={})
    assert f"ivr: flows {etc / 'flows.yaml'} version " in banner
    healthy_then_stopped(proc, banner)
    assert (tmp_path / "state" / "ivr.db").is_file()
    assert list(cwd.iterdir()) == []
