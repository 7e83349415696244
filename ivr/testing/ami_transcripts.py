"""Read the recorded AMI transcripts (``tests/transcripts/ami-*.txt``).

Format: ``<seconds> <dir> <line>`` with ``<<`` from Asterisk, ``>>`` to Asterisk, ``##``
notes; trailing spaces are part of the line (``AccountCode: ``); an empty line ends a
message. Used by the protocol tests and to replay recorded events from the fake AMI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr import channel_vars


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    at: float
    direction: str
    """``<<`` from Asterisk, ``>>`` to Asterisk, ``##`` note."""
    text: str


def read_transcript(path: Path) -> list[TranscriptLine]:
    """Parse ``<seconds> <dir> <line>`` transcript lines (comments skipped)."""
    out: list[TranscriptLine] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        at, _, rest = raw.lstrip(" ").partition(" ")
        direction, _, text = rest.partition(" ")
        out.append(TranscriptLine(float(at), direction, text))
    return out


def transcript_bytes(path: Path, direction: str = "<<") -> bytes:
    """The exact bytes one side sent (``[EOF]`` markers are not data)."""
    lines = [
        line.text for line in read_transcript(path)
        if line.direction == direction and line.text != "[EOF]"
    ]
    return b"".join(text.encode("utf-8") + b"\r\n" for text in lines)


def transcript_messages(path: Path, direction: str = "<<") -> list[list[str]]:
    """One side's messages as lists of lines (the banner is a message of its own)."""
    messages: list[list[str]] = []
    current: list[str] = []
    for line in read_transcript(path):
        if line.direction != direction or line.text == "[EOF]":
            continue
        if line.text.startswith("Asterisk Call Manager/"):
            messages.append([line.text])
        elif line.text == "":
            if current:
                messages.append(current)
            current = []
        else:
            current.append(line.text)
    return messages


def recorded_events(path: Path, names: Iterable[str] | None = None) -> list[list[str]]:
    """The Event messages Asterisk sent in a transcript, optionally only some names."""
    wanted = set(names) if names is not None else None
    out = []
    for message in transcript_messages(path):
        if not message[0].startswith("Event: "):
            continue
        if wanted is None or message[0].removeprefix("Event: ") in wanted:
            out.append(message)
    return out


def with_case_id(
    lines: Sequence[str],
    case_id: str,
    *,
    agent_leg: bool = True,
    variable: str = channel_vars.CASE_ID,
) -> list[str]:
    """Rewrite ``ChanVariable: IVR_CASE_ID=...`` (and ``DestChanVariable`` when
    ``agent_leg``, as when the IVR set only ``__IVR_CASE_ID``) to carry ``case_id``.

    For a call placed through the fake Asterisk prefer
    :meth:`~ivr.testing.fake_ami.FakeAmiServer.emit_queue_run`, whose
    ``DestChanVariable`` is what the agent leg really inherited."""
    prefixes = ["ChanVariable: "] + (["DestChanVariable: "] if agent_leg else [])
    out = []
    for line in lines:
        for prefix in prefixes:
            if line.startswith(f"{prefix}{variable}="):
                line = f"{prefix}{variable}={case_id}"
        out.append(line)
    return out
