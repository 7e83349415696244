"""Audio for Asterisk: espeak-ng rendering, pydub conversion, G.711 mu-law, format checks.

Asterisk plays 8 kHz mono 16-bit signed linear ``.wav`` and raw mu-law ``.ulaw``
natively; anything else it transcodes on every playback (or refuses). Every prompt,
synthesised or recorded, goes through :func:`prepare` so they all sound alike: mono,
16-bit, silence trimmed, loudness normalised, resampled to 8 kHz.
"""

from __future__ import annotations

import array
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError
from pydub.silence import detect_leading_silence

from ivr.errors import IvrError

SAMPLE_RATE = 8000
"""Asterisk's native narrowband rate (``slin``/``ulaw``)."""
SAMPLE_WIDTH = 2
CHANNELS = 1
TTS_TIMEOUT = 30.0
"""espeak-ng renders a sentence in well under a second; 30 s means it hung."""
TARGET_DBFS = -18.0
"""Average loudness of every prompt, so a recording and a synthesised word sound alike."""
MAX_PEAK_DBFS = -1.0
"""Never raise the gain so far that a peak clips."""
SILENCE_DBFS = -45.0
"""Anything quieter than this at either end is trimmed."""
KEEP_SILENCE_MS = 40
"""Silence kept at each end so a word's first and last sounds are not cut."""
RECORDED_SUFFIXES = (".wav", ".m4a", ".mp3")
"""Recordings we accept, in the order we prefer when one id has several."""


class AudioError(IvrError):
    """A prompt could not be rendered or converted; the message says why."""


@dataclass(frozen=True, slots=True)
class WavFormat:
    rate: int
    channels: int
    sample_width: int

    @property
    def ok(self) -> bool:
        return (self.rate, self.channels, self.sample_width) == (
            SAMPLE_RATE,
            CHANNELS,
            SAMPLE_WIDTH,
        )

    def __str__(self) -> str:
        return f"{self.rate} Hz, {self.channels} channel(s), {8 * self.sample_width}-bit"


def find_espeak(command: str = "espeak-ng") -> str | None:
    """Full path of the espeak-ng binary, or None when it is not installed."""
    return shutil.which(command)


def synthesize(espeak: str, text: str, voice: str, speed: int, out: Path) -> None:
    """Render ``text`` with espeak-ng to the wav file ``out``; AudioError on failure."""
    try:
        # Text goes on stdin so a prompt starting with "-" is never read as an option.
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [espeak, "-v", voice, "-s", str(speed), "-w", str(out), "--stdin"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=TTS_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AudioError(f"espeak-ng took longer than {TTS_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise AudioError(f"cannot run espeak-ng: {exc.strerror or exc}") from None
    if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        detail = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise AudioError(f"espeak-ng failed: {detail}")


def load(path: Path) -> AudioSegment:
    """Read a wav (no ffmpeg needed), mp3 or m4a (ffmpeg) file."""
    try:
        if path.suffix.lower() == ".wav":
            return AudioSegment.from_wav(str(path))
        return AudioSegment.from_file(str(path), format=path.suffix.lower().lstrip("."))
    except FileNotFoundError as exc:
        # pydub raises this when ffmpeg/ffprobe is missing, as well as for a missing file.
        raise AudioError(f"cannot read {path.name}: {exc}") from None
    except (OSError, EOFError, wave.Error, IndexError, ValueError) as exc:
        raise AudioError(f"cannot read {path.name}: {exc}") from None
    except CouldntDecodeError as exc:
        # pydub quotes ffmpeg's whole banner; its last line is the reason.
        lines = [line for line in str(exc).splitlines() if line.strip()]
        reason = lines[-1].replace(f"{path}: ", "") if lines else "unknown format"
        raise AudioError(f"cannot decode {path.name}: {reason}") from None


def prepare(segment: AudioSegment) -> AudioSegment:
    """Mono 16-bit, silence trimmed, loudness normalised, 8 kHz."""
    segment = segment.set_channels(CHANNELS).set_sample_width(SAMPLE_WIDTH)
    start = max(0, detect_leading_silence(segment, SILENCE_DBFS) - KEEP_SILENCE_MS)
    end = max(0, detect_leading_silence(segment.reverse(), SILENCE_DBFS) - KEEP_SILENCE_MS)
    if start + end < len(segment):
        segment = segment[start : len(segment) - end]
    if segment.rms > 0:
        gain = min(TARGET_DBFS - segment.dBFS, MAX_PEAK_DBFS - segment.max_dBFS)
        segment = segment.apply_gain(gain)
    return segment.set_frame_rate(SAMPLE_RATE)


@cache
def _ulaw_table() -> bytes:
    """mu-law byte for every 16-bit sample (index = sample + 32768).

    G.711 as in the ITU reference (and CPython's ``audioop.lin2ulaw``): the 14-bit
    magnitude plus bias 0x21 is split into a 3-bit segment and a 4-bit mantissa, and
    the result is inverted.
    """
    table = bytearray(65536)
    for sample in range(-32768, 32768):
        value = sample >> 2
        mask = 0x7F if value < 0 else 0xFF
        value = min(abs(value), 8159) + 0x21
        segment = max(0, value.bit_length() - 6)
        code = 0x7F if segment >= 8 else (segment << 4) | ((value >> (segment + 1)) & 0x0F)
        table[sample + 32768] = code ^ mask
    return bytes(table)


def lin2ulaw(pcm: bytes) -> bytes:
    """16-bit little-endian signed PCM -> G.711 mu-law, one byte per sample."""
    samples = array.array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    table = _ulaw_table()
    return bytes(table[s + 32768] for s in samples)


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write via a temp file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone after a successful replace


def write_outputs(segment: AudioSegment, base: Path) -> None:
    """Write ``base.wav`` and ``base.ulaw`` atomically (Asterisk may be playing them)."""
    _atomic_write(base.with_suffix(".wav"), lambda f: segment.export(f, format="wav"))
    ulaw = lin2ulaw(segment.raw_data)
    _atomic_write(base.with_suffix(".ulaw"), lambda f: f.write(ulaw))


def wav_format(path: Path) -> WavFormat:
    """The format of a wav file; AudioError if it is not a readable wav."""
    try:
        with wave.open(str(path), "rb") as handle:
            return WavFormat(handle.getframerate(), handle.getnchannels(), handle.getsampwidth())
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioError(f"not a readable wav file: {exc}") from None
