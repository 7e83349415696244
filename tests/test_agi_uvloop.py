"""The FastAGI path on uvloop (``ivr serve --loop uvloop``): the demo hotline's billing
call end to end through the composed service, and the one-line refusals of the option."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from test_e2e_serve import BILLING_KEYS, HCMC, ONE_ACCOUNT_PHONE, PINNED, e2e_settings

from ivr.cli import UsageError, main
from ivr.cli.event_loop import loop_factory
from ivr.service import Service, open_core
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import run_call

pytestmark = pytest.mark.dates


async def _billing_call(tmp_path: Path) -> tuple[str, bool, str, int]:
    core = await open_core(e2e_settings(tmp_path), PINNED)
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    try:
        transcript = await run_call("127.0.0.1", svc.agi_port, PatientCaller(BILLING_KEYS),
                                    extension=HCMC, callerid=ONE_ACCOUNT_PHONE,
                                    uniqueid="uvloop.billing")
        await svc.agi.wait_idle()  # the socket closes first, the record is saved after
        calls = await core.store.list_calls(limit=10)
    finally:
        await svc.stop(grace=2.0)
    loop = type(asyncio.get_running_loop()).__module__
    return loop, transcript.closed_by_server, calls[0]["outcome"], len(transcript.commands)


def test_a_demo_call_end_to_end_on_uvloop(tmp_path: Path) -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed (pip install "
                                 "'ivr[uvloop]'; the dev extra has it)")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        on_uvloop = runner.run(_billing_call(tmp_path / "uv"))
    with asyncio.Runner() as runner:
        on_stdlib = runner.run(_billing_call(tmp_path / "std"))
    assert on_uvloop[0].startswith("uvloop") and on_stdlib[0] == "asyncio.unix_events"
    # the same call, command for command, on either loop
    assert on_uvloop[1:] == on_stdlib[1:] == (True, "self_served", on_stdlib[3])


def test_loop_uvloop_without_uvloop_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    with pytest.raises(UsageError, match=r"uvloop is not installed \(pip install 'ivr\[uvloop\]'"):
        loop_factory("uvloop")
    assert loop_factory("asyncio") is None


def test_unknown_loop_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IVR_LOOP", "trio")
    assert main(["serve", "--no-prompt-build"]) == 2
    assert capsys.readouterr().err == ("ivr: error: loop 'trio': the loops are asyncio, "
                                       "uvloop\n")
