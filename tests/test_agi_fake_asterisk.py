"""The fake Asterisk answers the recorded commands with the recorded replies, byte for
byte: each transcript's ``>>`` lines are fed to a FakeCall with a scripted caller, and
its output must equal the transcript's ``<<`` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.testing.callers import (
    Caller,
    HangUpCaller,
    ImpatientCaller,
    PatientCaller,
    QueueOutcome,
)
from ivr.testing.fake_asterisk import FakeCall, env_lines
from ivr.testing.transcripts import read_transcript

TRANSCRIPTS = Path(__file__).parent / "transcripts"
SAMPLES = {"hotline-short": 8317, "hotline-enter-account": 32007}

CASES: list[tuple[str, Caller, dict[str, object]]] = [
    ("agi-hangup-during-get-data.txt", HangUpCaller(3), {}),
    ("agi-hangup-command-from-agi.txt", PatientCaller(), {"variables": {"IVR_CASE_ID": "C-0014"}}),
    ("agi-queue-to-agent-continue.txt", PatientCaller(), {"queue": QueueOutcome.answered(None, 3)}),
    ("agi-queue-to-agent-no-continue.txt", PatientCaller(), {}),
    ("agi-get-data-digits-with-hash.txt", ImpatientCaller("12345#987#"), {}),
    ("agi-get-data-maxdigits.txt", PatientCaller("1234#*0"), {}),
    ("agi-get-data-timeout.txt", ImpatientCaller("-12--"), {}),
    ("agi-wait-for-digit.txt", PatientCaller("7-#*"), {}),
    ("agi-stream-file-no-dtmf.txt", PatientCaller(), {}),
    ("agi-say-digits-number.txt", ImpatientCaller("3#"), {}),
    ("agi-server-closes-between-commands.txt", PatientCaller(), {}),
]


@pytest.mark.parametrize(("name", "caller", "options"), CASES, ids=[c[0] for c in CASES])
def test_fake_replies_as_recorded(name: str, caller: Caller, options: dict[str, object]) -> None:
    lines = read_transcript(TRANSCRIPTS / name)
    end_of_env = next(i for i, w in enumerate(lines) if w.direction == "<<" and not w.text)
    call = FakeCall(caller, prompt_samples=SAMPLES, **options)  # type: ignore[arg-type]
    produced: list[str] = []
    for wire in lines[end_of_env + 1:]:
        if wire.direction == ">>":
            produced += call.handle(wire.text)
    recorded = [w.text for w in lines[end_of_env + 1:] if w.direction == "<<"]
    assert produced == recorded


def test_fake_environment_block_is_the_recorded_one() -> None:
    lines = read_transcript(TRANSCRIPTS / "agi-env-and-basic-commands.txt")
    recorded = [w.text for w in lines if w.direction == "<<"][:24]
    assert env_lines(uniqueid="1795848802.3", channel="Local/s@hotline-00000001;2") == recorded


def test_fake_unknown_command_usage_and_app() -> None:
    call = FakeCall(PatientCaller())
    assert call.handle("THIS IS NOT A COMMAND") == ["510 Invalid or unknown command"]
    usage = call.handle("STREAM FILE")
    assert usage[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert usage[-1] == "520 End of proper usage."
    assert call.handle("EXEC NoSuchApplication foo") == ["200 result=-2"]
    assert call.handle('SET VARIABLE QUOTED "say \\"hi\\" now"') == ["200 result=1"]
    assert call.handle("GET VARIABLE QUOTED") == ['200 result=1 (say "hi" now)']
    assert call.handle("GET FULL VARIABLE ${QUOTED}/x") == ['200 result=1 (say "hi" now/x)']
    assert call.handle('STREAM FILE nope "" 0') == ["200 result=0 endpos=8000"]


def test_idle_hangup_is_sent_unprompted_after_the_reply() -> None:
    call = FakeCall(HangUpCaller(2))
    assert call.handle("ANSWER") == ["200 result=0"]
    assert call.handle("SET VARIABLE A 1") == ["200 result=1", "HANGUP"]
    assert call.handle('STREAM FILE x ""') == [
        "511 Command Not Permitted on a dead channel or intercept routine"]
    assert call.handle("GET VARIABLE A") == ["200 result=1 (1)"]


def test_hang_up_during_the_scripts_own_hangup_sends_one_notice() -> None:
    call = FakeCall(HangUpCaller(1))
    assert call.handle("HANGUP") == ["200 result=1"]
    assert call.handle("NOOP") == ["HANGUP", "200 result=0"]
    assert call.handle("NOOP") == ["200 result=0"]
