"""Helpers for the prompts tests: small catalogs and test audio made with pydub."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydub import AudioSegment
from pydub.generators import Sine

from ivr.prompts.catalog import PromptCatalog

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install espeak-ng; scripts/dev setup does it)",
)
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (needed for mp3/m4a)"
)

FLOW_TEXTS = {
    "welcome": {"vi": "Xin chào", "en": "Welcome"},
    "goodbye": {"vi": "Tạm biệt", "en": "Goodbye"},
}
WORDS = ("w_mot", "w_dong", "w_one")


def small_catalog(texts: dict[str, dict[str, str]] | None = None) -> PromptCatalog:
    """Flow prompts plus three words: 7 outputs, so a build takes well under a second."""
    full = PromptCatalog.from_texts(texts if texts is not None else FLOW_TEXTS)
    return PromptCatalog(
        [full.entry(pid) for pid in sorted(full.flow_prompt_ids())],
        [full.entry(pid) for pid in WORDS],
    )


def tone(
    path: Path, *, rate: int = 44100, channels: int = 2, ms: int = 600, lead_ms: int = 500
) -> Path:
    """A 440 Hz tone after ``lead_ms`` of silence, as a supervisor's recording might be."""
    sound = Sine(440, sample_rate=rate).to_audio_segment(duration=ms, volume=-30.0)
    silence = AudioSegment.silent(duration=lead_ms, frame_rate=rate)
    segment = (silence + sound + silence).set_channels(channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    segment.export(str(path), format=path.suffix.lstrip("."))
    return path
