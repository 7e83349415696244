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
from ivr.testing.fake_asterisk import DEAD, FakeCall, env_lines
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


# ---- channel variables and Queue as a real Asterisk 22 keeps and runs them ----------


def test_a_plain_name_after_the_inherited_one_drops_the_inheritance() -> None:
    """``IVR_CASE_ID`` after ``__IVR_CASE_ID`` is the same variable: the value is
    overwritten and the mark dropped, so the agent leg inherits nothing."""
    call = FakeCall(PatientCaller())
    assert call.handle("SET VARIABLE __IVR_CASE_ID C-1") == ["200 result=1"]
    assert call.handle("SET VARIABLE _IVR_ONCE x") == ["200 result=1"]
    assert call.variables.inherited().values() == {"IVR_CASE_ID": "C-1", "IVR_ONCE": "x"}
    # "_X" reaches the child as plain X, which the grandchild does not inherit
    assert call.variables.inherited().inherited().values() == {"IVR_CASE_ID": "C-1"}
    assert call.handle("SET VARIABLE IVR_CASE_ID C-1") == ["200 result=1"]
    assert call.handle("GET VARIABLE IVR_CASE_ID") == ["200 result=1 (C-1)"]
    assert call.handle("GET VARIABLE __IVR_CASE_ID") == ["200 result=0"]  # strcmp as given
    assert call.variables.set_as("IVR_CASE_ID") == "IVR_CASE_ID"
    assert call.variables.inherited().values() == {"IVR_ONCE": "x"}


def queue_exec(call: FakeCall, options: str = "hotline,c,,,60") -> list[str]:
    return call.handle(f"EXEC Queue {options}")


def variables(call: FakeCall, *names: str) -> list[str]:
    return [call.handle(f"GET VARIABLE {name}")[-1] for name in names]


def test_the_agent_leg_inherits_the_marked_variables_at_queue_time() -> None:
    call = FakeCall(PatientCaller())
    call.handle("SET VARIABLE __IVR_CASE_ID C-7")
    call.handle("SET VARIABLE __IVR_INTENT billing")
    call.handle("SET VARIABLE QUEUE_PRIO 5")
    assert queue_exec(call) == ["200 result=0"]
    (run,) = call.queue_runs
    assert run.agent_vars == {"IVR_CASE_ID": "C-7", "IVR_INTENT": "billing"}
    assert run.caller_vars["QUEUE_PRIO"] == "5" and run.member == "Local/1001@agents"


def test_abandon_while_the_agent_rings_leaves_answeredtime_zero() -> None:
    """``200 result=-1``; QUEUESTATUS untouched (here a first queue's TIMEOUT);
    ANSWEREDTIME set, to 0; no MEMBERINTERFACE."""
    call = FakeCall(HangUpCaller(2), queue=QueueOutcome.answered("PJSIP/1001"))
    call.handle("SET VARIABLE QUEUESTATUS TIMEOUT")
    assert queue_exec(call) == ["200 result=-1"]
    assert call.handle("GET VARIABLE QUEUESTATUS") == ["HANGUP", "200 result=1 (TIMEOUT)"]
    assert variables(call, "ANSWEREDTIME", "MEMBERINTERFACE") == [
        "200 result=1 (0)", "200 result=0"]
    assert call.queue_runs[0].end.value == "abandoned"


@pytest.mark.parametrize(("outcome", "member"), [
    (QueueOutcome.answered(seconds=9), "200 result=0"),
    (QueueOutcome.answered("PJSIP/1001", 9), "200 result=1 (PJSIP/1001)"),
])
def test_memberinterface_only_with_setinterfacevar(outcome: QueueOutcome, member: str) -> None:
    call = FakeCall(PatientCaller(), queue=outcome)
    assert queue_exec(call) == ["200 result=0"]
    assert variables(call, "QUEUESTATUS", "ANSWEREDTIME", "MEMBERINTERFACE") == [
        "200 result=1 (CONTINUE)", "200 result=1 (9)", member]


def test_a_hang_up_racing_exec_queue_still_connects_an_agent() -> None:
    """The caller hangs up as the server writes EXEC Queue: HANGUP comes first, then
    Queue runs on the dead channel and answers 0 with CONTINUE and ANSWEREDTIME=0."""
    call = FakeCall(HangUpCaller(1, race=True))
    assert call.handle("SET VARIABLE ANSWEREDTIME \"\"") == ["200 result=1"]
    assert queue_exec(call) == ["HANGUP", "200 result=0"]
    assert variables(call, "QUEUESTATUS", "ANSWEREDTIME") == [
        "200 result=1 (CONTINUE)", "200 result=1 (0)"]
    assert call.queue_runs[0].end.value == "phantom"
    assert call.handle('STREAM FILE x ""') == [DEAD]


def test_a_caller_ending_the_conversation_hangs_up_after_queues_reply() -> None:
    call = FakeCall(PatientCaller(), queue=QueueOutcome.answered(seconds=30, caller_ends=True))
    assert queue_exec(call) == ["200 result=0", "HANGUP"]
    assert variables(call, "QUEUESTATUS", "ANSWEREDTIME") == [
        "200 result=1 (CONTINUE)", "200 result=1 (30)"]
    assert call.queue_runs[0].end.value == "caller_ended"


def test_queue_empties_its_time_variables_when_it_starts() -> None:
    call = FakeCall(PatientCaller(), queue=QueueOutcome.unanswered("TIMEOUT"))
    call.handle("SET VARIABLE ANSWEREDTIME 42")
    assert queue_exec(call) == ["200 result=0"]
    assert variables(call, "QUEUESTATUS", "ANSWEREDTIME", "QUEUEWAIT") == [
        "200 result=1 (TIMEOUT)", "200 result=1 ()", "200 result=1 ()"]
