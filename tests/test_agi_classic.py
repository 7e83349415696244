"""Classic AGI through pyst2: a fake stdin/stdout pair carries the recorded bytes; the
commands our channel writes are checked byte for byte."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from agi_fixtures import prompt

from ivr.channels.channel import CallerHungUp, Channel, DigitSpec, EndedBy, Entry
from ivr.channels.classic_agi import open_classic_channel, run_classic_call
from ivr.cli import build_parser
from ivr.testing.transcripts import read_transcript

TRANSCRIPT = Path(__file__).parent / "transcripts" / "agi-classic-pyst2-wire.txt"


def recorded_env() -> str:
    lines = read_transcript(TRANSCRIPT)
    end = next(i for i, line in enumerate(lines) if line.direction == "<<" and not line.text)
    return "".join(line.text + "\n" for line in lines[: end + 1])


@pytest.fixture(autouse=True)
def restore_sighup() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGHUP)  # pyst2 installs its own handler
    yield
    signal.signal(signal.SIGHUP, previous)


def classic(replies: list[str]) -> tuple[Channel, io.StringIO]:
    stdin = io.StringIO(recorded_env() + "".join(r + "\n" for r in replies))
    stdout = io.StringIO()
    return open_classic_channel("hotline", stdin=stdin, stdout=stdout,
                                stderr=io.StringIO()), stdout


async def test_environment_and_commands_through_pyst2() -> None:
    channel, stdout = classic([
        "200 result=1",                    # SET VARIABLE
        "200 result=1 (C-PYST2-1)",        # GET VARIABLE
        "200 result=0",                    # GET VARIABLE missing
        "200 result=49 endpos=4000",       # STREAM FILE interrupted by '1'
        "200 result=50", "200 result=51", "200 result=0",  # WAIT FOR DIGIT x3
        "200 result=1",                    # HANGUP
    ])
    info = channel.info
    assert (info.caller, info.dialled, info.flow, info.args) == ("", "", "hotline", ("hello",))
    assert info.call_id == "1795849040.55"
    entries: list[Entry] = []

    async def handler(ch: Channel) -> None:
        await ch.set_variable("IVR_CASE_ID", "C-PYST2-1")
        assert await ch.get_variable("IVR_CASE_ID") == "C-PYST2-1"  # type: ignore[attr-defined]
        assert await ch.get_variable("NO_SUCH_VAR") is None  # type: ignore[attr-defined]
        entries.append(await ch.ask([prompt("enter_account")], DigitSpec(max_digits=4)))
        await ch.hangup()

    assert await run_classic_call(channel, handler) == 0
    assert entries == [Entry("123", EndedBy.TIMEOUT)]
    assert stdout.getvalue() == (
        "SET VARIABLE IVR_CASE_ID C-PYST2-1\n"
        "GET VARIABLE IVR_CASE_ID\n"
        "GET VARIABLE NO_SUCH_VAR\n"
        'STREAM FILE ivr/vi/enter_account "0123456789*#"\n'
        "WAIT FOR DIGIT 3000\n"
        "WAIT FOR DIGIT 3000\n"
        "WAIT FOR DIGIT 3000\n"
        "HANGUP\n")


async def test_hangup_line_ahead_of_reply_and_eof() -> None:
    channel, stdout = classic([
        "200 result=-1 endpos=0",          # STREAM FILE: hung up (or missing file?)
        "HANGUP",                          # ... the HANGUP line settles it
        "511 Command Not Permitted on a dead channel or intercept routine",
        "200 result=1",                    # SET VARIABLE still works
    ])
    seen: list[str] = []

    async def handler(ch: Channel) -> None:
        try:
            await ch.play([prompt("welcome")])
        except CallerHungUp:
            seen.append("hung up")
        await ch.set_variable("IVR_OUTCOME", "abandoned")
        await ch.hangup()  # already gone: not sent
        await ch.set_variable("AFTER_EOF", "x")  # stdin is exhausted: EOF

    assert await run_classic_call(channel, handler) == 0
    assert seen == ["hung up"]
    assert stdout.getvalue().splitlines() == [
        'STREAM FILE ivr/vi/welcome ""', "CHANNEL STATUS", "SET VARIABLE IVR_OUTCOME abandoned",
        "SET VARIABLE AFTER_EOF x"]


async def test_sighup_means_the_caller_hung_up() -> None:
    channel, stdout = classic(["200 result=1"])

    async def handler(ch: Channel) -> None:
        await ch.set_variable("A", "1")
        signal.raise_signal(signal.SIGHUP)  # what Asterisk sends a classic script
        await ch.play([prompt("welcome")])

    assert await run_classic_call(channel, handler) == 0
    assert stdout.getvalue() == "SET VARIABLE A 1\n"


def test_cli_has_agi_command() -> None:
    args = build_parser().parse_args(["agi", "hotline"])
    assert args.flow == "hotline" and callable(args.func)


@pytest.mark.dates
async def test_ivr_agi_runs_the_demo_hotline_over_stdin_stdout(tmp_path: Path) -> None:
    """`ivr agi hotline` as Asterisk starts it: a pipe pair, the classic env block, the
    fake Asterisk answering every command; a silent caller ends with the agent queue."""
    import asyncio
    import os
    import sys

    from ivr.testing.callers import SilentCaller
    from ivr.testing.fake_asterisk import FakeCall

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "IVR_DATA_DIR": str(tmp_path), "IVR_NOW": "2026-12-01T10:00:00+07:00"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "agi", "hotline", cwd=root, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    classic_env = read_transcript(root / "tests" / "transcripts"
                                  / "agi-classic-env-and-commands.txt")
    end = next(i for i, w in enumerate(classic_env) if w.direction == "<<" and not w.text)
    proc.stdin.write("".join(w.text + "\n" for w in classic_env[: end + 1]).encode())
    call = FakeCall(SilentCaller())
    commands: list[str] = []
    async with asyncio.timeout(60):
        while line := await proc.stdout.readline():
            commands.append(line.decode().rstrip("\n"))
            proc.stdin.write("".join(r + "\n" for r in call.handle(commands[-1])).encode())
        code = await proc.wait()
    assert code == 0, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert commands[0].startswith("STREAM FILE ivr/vi/")
    assert any(c.startswith("EXEC Queue ") for c in commands)
    assert commands[-1] == "HANGUP"


async def test_a_hangup_ahead_of_queues_reply_is_a_caller_gone() -> None:
    """Classic AGI reads the same wire: HANGUP ahead of Queue's ``200 result=0`` (with
    QUEUESTATUS=CONTINUE) means the caller was gone before Queue ran."""
    from ivr.channels.channel import TransferRequest

    channel, stdout = classic([*["200 result=1"] * 4, "HANGUP", "200 result=0",
                               # what the GET VARIABLEs would read: a "completed" transfer
                               "200 result=1 (CONTINUE)", "200 result=0", "200 result=1 (0)"])

    async def handler(ch: Channel) -> None:
        await ch.transfer(TransferRequest(queue="hotline", case_id="C-1", timeout=60))

    with pytest.raises(CallerHungUp):
        await handler(channel)
    assert stdout.getvalue().splitlines()[-1] == "EXEC Queue hotline,c,,,60"  # nothing after
