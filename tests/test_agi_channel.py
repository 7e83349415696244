"""AgiChannel against the fake Asterisk over loopback TCP, one scripted caller at a time."""

from __future__ import annotations

import pytest
from agi_fixtures import MiniHotline, prompt, serving

from ivr.agi.protocol import Environment
from ivr.channels.channel import (
    CallerHungUp,
    CallInfo,
    Channel,
    DigitSpec,
    EndedBy,
    Entry,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from ivr.channels.fastagi import QUEUE_STATUS, AgiChannel, call_info
from ivr.testing.callers import (
    HangUpCaller,
    ImpatientCaller,
    PatientCaller,
    QueueOutcome,
    SilentCaller,
    WrongKeysCaller,
)
from ivr.testing.fake_asterisk import env_lines, run_call

MEDIA = ("STREAM FILE", "WAIT FOR DIGIT")


async def test_channel_is_a_channel_and_call_info_comes_from_env() -> None:
    seen: list[CallInfo] = []

    async def handler(channel: Channel) -> None:
        assert isinstance(channel, Channel)
        seen.append(channel.info)

    async with serving(handler) as server:
        await run_call("127.0.0.1", server.port, extension="19001234")
        await run_call("127.0.0.1", server.port, args=("19005678",), callerid="unknown",
                       calleridname="unknown", script="billing")
    first, second = seen
    assert (first.caller, first.dialled, first.flow, first.args) == (
        "0901234567", "19001234", "hotline", ("arg1",))
    assert first.caller_name == "Test Caller" and first.channel_name.startswith("Local/")
    assert (second.caller, second.dialled, second.flow, second.caller_name) == (
        "", "19005678", "billing", "")


def test_dialled_falls_back_to_dnid_and_env_lines_match_recording() -> None:
    lines = env_lines(extension="s", dnid="19009999", args=("x",))
    env = Environment(dict(line.split(": ", 1) for line in lines[:-1]
                           if not line.endswith(": ")) | {"agi_accountcode": ""})
    assert call_info(env).dialled == "19009999"
    assert call_info(env).language is None  # Asterisk's built-in default is not a choice
    vi = Environment({**env.values, "agi_language": "vi"})
    assert call_info(vi).language == "vi"
    assert "agi_accountcode: " in lines and lines[-1] == ""


@pytest.mark.parametrize("caller_kind", ["impatient", "patient"])
async def test_impatient_and_patient_callers_reach_the_same_result(caller_kind: str) -> None:
    hotline = MiniHotline()
    keys = "1" + "01000123456"
    caller = ImpatientCaller(keys) if caller_kind == "impatient" else PatientCaller(keys)
    async with serving(hotline) as server:
        t = await run_call("127.0.0.1", server.port, caller)
    call = hotline.calls[0]
    assert call.outcome == "completed"
    assert call.entries == [Entry("1", EndedBy.MAX_DIGITS), Entry("01000123456",
                                                                  EndedBy.MAX_DIGITS)]
    assert "SET VARIABLE IVR_ACCOUNT 01000123456" in t.commands
    assert t.commands[1] == 'STREAM FILE ivr/vi/welcome ""'  # welcome is not interruptible
    menu_reply = t.received[t.received.index("200 result=1") + 3]
    if caller_kind == "impatient":
        assert t.commands[3] == 'STREAM FILE ivr/vi/main_menu "0123456789*#"'
        assert menu_reply == "200 result=49 endpos=4000"  # barge-in: key '1' mid-prompt
    else:
        assert menu_reply == "200 result=0 endpos=8000"
        assert t.commands[4] == "WAIT FOR DIGIT 5000"
    assert t.commands[-1] == "HANGUP" and t.closed_by_server


async def test_terminator_and_silent_caller() -> None:
    hotline = MiniHotline()
    async with serving(hotline) as server:
        await run_call("127.0.0.1", server.port, PatientCaller("1123#"))
        t = await run_call("127.0.0.1", server.port, SilentCaller())
    assert hotline.calls[0].entries[1] == Entry("123", EndedBy.TERMINATOR)
    assert hotline.calls[1].entries == [Entry("", EndedBy.TIMEOUT)]
    assert t.commands.count("WAIT FOR DIGIT 5000") == 1
    assert hotline.calls[1].outcome == "completed"


async def test_wrong_keys_then_right_key() -> None:
    attempts: list[str] = []

    async def handler(channel: Channel) -> None:
        for _ in range(4):
            entry = await channel.ask([prompt("main_menu")], DigitSpec())
            attempts.append(entry.digits)
            if entry.digits in ("1", "2"):
                break
            await channel.play([prompt("invalid")])

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port, WrongKeysCaller("9", 2, "2"))
    assert attempts == ["9", "9", "2"]
    assert t.commands.count('STREAM FILE ivr/vi/invalid ""') == 2


@pytest.mark.parametrize(("outcome", "status", "agent", "talk"), [
    (QueueOutcome.answered(), TransferStatus.COMPLETED, None, 42.0),
    (QueueOutcome.answered("Local/1001@agents", 7), TransferStatus.COMPLETED,
     "Local/1001@agents", 7.0),
    (QueueOutcome.unanswered("TIMEOUT"), TransferStatus.TIMEOUT, None, None),
    (QueueOutcome.unanswered("FULL"), TransferStatus.FULL, None, None),
    (QueueOutcome.unanswered("JOINEMPTY"), TransferStatus.NO_AGENTS, None, None),
    (QueueOutcome.unanswered("LEAVEUNAVAIL"), TransferStatus.NO_AGENTS, None, None),
])
async def test_transfer_to_queue(outcome: QueueOutcome, status: TransferStatus,
                                 agent: str | None, talk: float | None) -> None:
    results: list[TransferResult] = []

    async def handler(channel: Channel) -> None:
        results.append(await channel.transfer(TransferRequest(
            queue="hotline", case_id="C-2026-0042", priority=5, timeout=60,
            variables={"IVR_INTENT": "billing"})))

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port, queue=outcome)
    # Each variable for the agent's side once, inherited: a plain name after "__" would
    # drop the inheritance (one namespace per channel).
    assert t.commands[:10] == [
        "SET VARIABLE __IVR_CASE_ID C-2026-0042",
        "SET VARIABLE __IVR_INTENT billing",
        "SET VARIABLE QUEUE_PRIO 5",
        'SET VARIABLE QUEUESTATUS ""',
        'SET VARIABLE MEMBERINTERFACE ""',
        'SET VARIABLE ANSWEREDTIME ""',
        "EXEC Queue hotline,c,,,60",
        "GET VARIABLE QUEUESTATUS",
        "GET VARIABLE MEMBERINTERFACE",
        "GET VARIABLE ANSWEREDTIME",
    ]
    assert results == [TransferResult(status, outcome.status, agent, talk)]


async def test_abandon_in_a_second_queue_is_not_read_as_the_first_queues_status() -> None:
    """Queue leaves QUEUESTATUS alone when the caller abandons (it sets it only for its
    own reasons) and ANSWEREDTIME at 0, so a second transfer in one call must not read
    the first one's values: TIMEOUT (safety queue, then agents) or CONTINUE."""
    seen: list[object] = []

    async def handler(channel: Channel) -> None:
        for queue in ("safety", "hotline"):
            try:
                seen.append(await channel.transfer(TransferRequest(queue=queue, case_id="C-1",
                                                                   timeout=60)))
            except CallerHungUp:
                seen.append("hung up")

    for outcome in (QueueOutcome.unanswered("TIMEOUT"), QueueOutcome.answered()):
        async with serving(handler) as server:
            full = await run_call("127.0.0.1", server.port, queue=outcome)
            second = [i for i, c in enumerate(full.commands, 1)
                      if c.startswith("EXEC Queue")][1]
            seen.clear()
            t = await run_call("127.0.0.1", server.port, HangUpCaller(second), queue=outcome)
        first = TransferResult(QUEUE_STATUS[outcome.status], outcome.status, None,
                               None if outcome.answered_seconds is None
                               else float(outcome.answered_seconds))
        assert seen == [first, "hung up"], t.text()
        # QUEUESTATUS and MEMBERINTERFACE read as cleared (empty), ANSWEREDTIME as 0
        assert t.received[-5:] == ["200 result=-1", "HANGUP", "200 result=1 ()",
                                   "200 result=1 ()", "200 result=1 (0)"]


async def test_transfer_failures_and_dial() -> None:
    results: list[TransferResult] = []

    async def handler(channel: Channel) -> None:
        results.append(await channel.transfer(TransferRequest(queue="hotline", case_id="C-9")))

    async def dial(channel: Channel) -> None:
        results.append(await channel.transfer(TransferRequest(
            queue="", case_id="C-10", agent="PJSIP/1001", timeout=30)))

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port, missing_apps=frozenset({"Queue"}))
    assert results[-1] == TransferResult(TransferStatus.FAILED, "NOAPP")
    assert t.commands[-1] == "EXEC Queue hotline,c"  # -2: no variables asked
    async with serving(dial) as server:
        t = await run_call("127.0.0.1", server.port)
    assert "EXEC Dial PJSIP/1001,30" in t.commands
    assert results[-1] == TransferResult(TransferStatus.COMPLETED, "ANSWER", "PJSIP/1001", 42.0)


async def test_missing_prompt_file_is_skipped_not_a_hangup() -> None:
    keys: list[str | None] = []

    async def handler(channel: Channel) -> None:
        keys.append(await channel.play([prompt("nope"), prompt("welcome")], escape="12"))

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port, ImpatientCaller("2"),
                           missing_files=frozenset({"ivr/vi/nope"}))
    assert keys == ["2"]
    assert t.commands == ['STREAM FILE ivr/vi/nope "12"', "CHANNEL STATUS",
                          'STREAM FILE ivr/vi/welcome "12"']


async def test_dead_channel_refuses_media_locally_but_variables_work() -> None:
    events: list[str] = []

    async def handler(channel: Channel) -> None:
        assert isinstance(channel, AgiChannel)
        try:
            await channel.wait_digit(1.0)
        except CallerHungUp:
            events.append("hung up")
        await channel.set_variable("X", "1")  # 200 on a dead channel
        events.append(str(await channel.get_variable("X")))
        with pytest.raises(CallerHungUp):
            await channel.play([prompt("welcome")])
        with pytest.raises(CallerHungUp):
            await channel.transfer(TransferRequest(queue="q", case_id="C"))
        await channel.hangup()  # idempotent, never raises

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port, HangUpCaller(1))
    assert events == ["hung up", "1"]
    # the HANGUP line came after SET VARIABLE was sent, ahead of its reply
    assert t.lines[-5:] == [(">>", "SET VARIABLE X 1"), ("<<", "HANGUP"),
                            ("<<", "200 result=1"), (">>", "GET VARIABLE X"),
                            ("<<", "200 result=1 (1)")]
    assert not any(c.startswith(MEDIA) for c in t.commands[1:])


async def test_hangup_command_then_notice() -> None:
    async def handler(channel: Channel) -> None:
        await channel.hangup()
        await channel.hangup()
        await channel.set_variable("AFTER", "yes")

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port)
    assert t.commands == ["HANGUP", "SET VARIABLE AFTER yes"]
    assert t.received[-3:] == ["200 result=1", "HANGUP", "200 result=1"]


async def test_idle_hangup_between_commands() -> None:
    got: list[str] = []

    async def handler(channel: Channel) -> None:
        await channel.set_variable("A", "1")   # the caller hangs up right after this
        await channel.set_variable("B", "2")
        try:
            await channel.play([prompt("welcome")])
        except CallerHungUp:
            got.append("abandoned")

    async with serving(handler) as server:
        t = await run_call("127.0.0.1", server.port, HangUpCaller(1))
    assert got == ["abandoned"]
    # HANGUP arrives unprompted right after the reply; play() never reaches the wire
    assert t.lines[-5:] == [(">>", "SET VARIABLE A 1"), ("<<", "200 result=1"),
                            ("<<", "HANGUP"), (">>", "SET VARIABLE B 2"),
                            ("<<", "200 result=1")]
    assert t.commands == ["SET VARIABLE A 1", "SET VARIABLE B 2"]


async def test_hang_up_at_every_command_of_a_full_call() -> None:
    hotline = MiniHotline()
    keys = "1" + "01000123456"
    async with serving(hotline) as server:
        full = await run_call("127.0.0.1", server.port, ImpatientCaller(keys))
        n = len(full.commands)
        assert n >= 8
        for k in range(1, n + 1):
            t = await run_call("127.0.0.1", server.port, HangUpCaller(k, ImpatientCaller(keys)))
            assert t.closed_by_server and t.hung_up, k
            call = hotline.calls[-1]
            gone = next((i for i, (d, text) in enumerate(t.lines)
                         if d == "<<" and (text == "HANGUP" or text.startswith("200 result=-1"))),
                        len(t.lines))  # hung up during our own HANGUP: no notice before close
            later = [text for d, text in t.lines[gone + 1:] if d == ">>"]
            # nothing is played to a caller who is gone; at most one liveness probe
            assert not any(c.startswith(MEDIA) for c in later), (k, later)
            if any(c.startswith(MEDIA) for c in t.commands[k:]) or \
                    t.commands[k - 1].startswith(MEDIA):
                assert call.outcome == "abandoned", (k, t.text())
            assert server.active_calls <= 1
        # the server is healthy for the next call
        again = await run_call("127.0.0.1", server.port, ImpatientCaller(keys))
        assert again.commands == full.commands
        assert hotline.calls[-1].outcome == "completed"
