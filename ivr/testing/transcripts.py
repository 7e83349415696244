"""Read the recorded wire transcripts (``tests/transcripts/*.txt``).

Format (see their README): ``<seconds> <dir> <line>`` with ``<<`` from Asterisk, ``>>``
to Asterisk, ``##`` a harness note; ``#`` lines at the start are comments and ``#|``
lines at the end are Asterisk's log. An empty wire line is written ``<<`` or ``<< ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^\s*\d+\.\d+ (<<|>>|##)(?: (.*))?$")


@dataclass(frozen=True, slots=True)
class WireLine:
    direction: str
    """``<<`` (from Asterisk), ``>>`` (to Asterisk) or ``##`` (harness note)."""
    text: str


def read_transcript(path: Path) -> list[WireLine]:
    """The wire lines of one transcript, in order, terminators removed."""
    out: list[WireLine] = []
    for raw in path.read_text(encoding="utf-8").split("\n"):
        match = _LINE.match(raw)
        if match:
            out.append(WireLine(match.group(1), match.group(2) or ""))
    return out


def from_asterisk_bytes(lines: list[WireLine]) -> bytes:
    """Everything Asterisk sent, as it was on the wire (LF line endings)."""
    return b"".join(line.text.encode() + b"\n" for line in lines if line.direction == "<<")
