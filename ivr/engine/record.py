"""The ``record`` node: the caller's words, recorded for the case (a hazard, a complaint).

The prompt says what to say; the channel beeps and records until a finish key
(``#``), the silence that ends speech, or the maximum length. A recording shorter than
:data:`MIN_SPOKEN_SECONDS` is nothing said: the node plays its no-input prompt and tries
again, then takes ``on_silence``. What was recorded goes on the call's facts under
``recordings`` (the file's name within the recordings directory, its length), which
the store turns into rows of ``recordings`` when the case opens; a recording made after
the case opened is stored on it at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from typing import Any, Protocol, runtime_checkable

from ivr.calls import InputStep
from ivr.channels.channel import RecordEnd, Recorder, RecordRequest, RecordResult
from ivr.engine.turn import Turn
from ivr.flows.model import Exit, RecordNode

log = logging.getLogger(__name__)

#: Asterisk keeps 1 s of the silence that ended a recording (res_agi.c rewinds the
#: rest), so a caller who said nothing leaves about 1 s: less than this is no input.
MIN_SPOKEN_SECONDS = 1.5
#: Facts key of the recordings a case is opened with.
RECORDINGS = "recordings"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@runtime_checkable
class RecordingStore(Protocol):
    """A store that can attach a recording to a case that is already open."""

    async def add_recording(self, case_id: str, call_id: str, file: str,
                            seconds: float) -> None: ...


def recording_name(call_id: str, node_id: str, attempt: int) -> str:
    """A file name (no extension) that no call id can turn into a path."""
    return f"{_UNSAFE.sub('-', call_id).strip('-') or 'call'}-{node_id}-{attempt}"


async def record(turn: Turn, node: RecordNode) -> Exit:
    st, ch = turn.state, turn.channel
    if not isinstance(ch, Recorder):
        # Not a failure of this call (the browser softphone has no microphone path):
        # the path shows it, and the caller goes on as if nothing was said.
        _note(turn, node, "", "cannot_record")
        return node.on_silence
    directory = turn.recordings_dir
    prompts = node.prompt
    for attempt in range(1, node.retries + 1):
        await turn.play(prompts)
        name = recording_name(st.info.call_id, node.id, attempt)
        with contextlib.suppress(OSError):  # Asterisk's side may be another host's mount
            os.makedirs(directory, exist_ok=True)
        result = await ch.record(RecordRequest(
            os.path.join(directory, name), finish_keys=node.finish_keys,
            max_seconds=node.max_seconds, silence_seconds=node.silence_seconds,
            beep=node.beep))
        if result.ended_by is RecordEnd.FAILED:
            log.warning("call %s: record %s failed: %s", st.info.call_id, node.id,
                        result.detail)
            st.facts.setdefault("failures", []).append(
                f"record {node.id}: {result.detail or 'failed'}")
            _note(turn, node, "", "failed")
            return node.on_silence
        if result.seconds >= MIN_SPOKEN_SECONDS:
            await _keep(turn, node, result)
            _note(turn, node, result.key or "", "recorded")
            return node.next
        _note(turn, node, result.key or "", "no_input")
        _discard(result)
        step = node.no_input[min(attempt, len(node.no_input)) - 1] if node.no_input else ()
        prompts = step + node.prompt
    return node.on_silence


def _note(turn: Turn, node: RecordNode, key: str, result: str) -> None:
    turn.state.inputs.append(InputStep(node.flow, node.id, key, result, turn.now()))


async def _keep(turn: Turn, node: RecordNode, result: RecordResult) -> None:
    st = turn.state
    file = os.path.basename(result.file) if result.file else None
    entry: dict[str, Any] = {"node": node.id, "file": file,
                             "seconds": round(result.seconds, 1),
                             "ended_by": result.ended_by.value}
    st.facts.setdefault(RECORDINGS, []).append(entry)
    if file and st.case_id and isinstance(turn.store, RecordingStore):
        await turn.store.add_recording(st.case_id, st.info.call_id, file, result.seconds)


def _discard(result: RecordResult) -> None:
    """Remove a recording of nothing (about 1 s of silence), when it is ours to reach."""
    if result.file:
        with contextlib.suppress(OSError):
            os.unlink(result.file)
