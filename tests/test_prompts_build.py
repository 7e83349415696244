"""ivr prompts build: real espeak-ng and pydub on a small catalog."""

from __future__ import annotations

import array
import shutil
import threading
import wave
from pathlib import Path

import pytest
from prompts_helpers import needs_espeak, needs_ffmpeg, small_catalog, tone
from pydub import AudioSegment

from ivr.prompts import audio
from ivr.prompts.build import MANIFEST, build_prompts, install

pytestmark = needs_espeak

OUTPUTS = [
    "ivr/en/goodbye", "ivr/en/w_dong", "ivr/en/w_one", "ivr/en/welcome",
    "ivr/vi/goodbye", "ivr/vi/w_dong", "ivr/vi/w_mot", "ivr/vi/welcome",
]  # fmt: skip


def test_build_writes_asterisk_formats(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = build_prompts(small_catalog(), out, None)
    assert report.ok and report.tts_available
    assert list(report.built) == OUTPUTS
    assert report.unchanged == 0
    for name in OUTPUTS:
        with wave.open(str(out / f"{name}.wav"), "rb") as handle:
            assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (
                8000, 1, 2,
            )  # fmt: skip
            frames = handle.getnframes()
        assert frames > 800  # at least 0.1 s of speech
        # Raw mu-law: one byte per sample, the same samples as the wav.
        assert (out / f"{name}.ulaw").stat().st_size == frames
    assert (out / MANIFEST).is_file()


def test_rebuild_does_no_work_and_text_change_rebuilds_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_prompts(small_catalog(), out, None)
    before = (out / "ivr/vi/welcome.wav").stat().st_mtime_ns
    again = build_prompts(small_catalog(), out, None)
    assert again.built == () and again.unchanged == len(OUTPUTS)
    assert (out / "ivr/vi/welcome.wav").stat().st_mtime_ns == before

    changed = small_catalog({"welcome": {"vi": "Xin chào quý khách", "en": "Welcome"},
                             "goodbye": {"vi": "Tạm biệt", "en": "Goodbye"}})  # fmt: skip
    report = build_prompts(changed, out, None)
    assert report.built == ("ivr/vi/welcome",)
    assert build_prompts(changed, out, None, force=True).built == tuple(OUTPUTS)


def test_deleted_output_is_rebuilt_and_removed_prompt_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_prompts(small_catalog(), out, None)
    (out / "ivr/en/w_one.ulaw").unlink()
    assert build_prompts(small_catalog(), out, None).built == ("ivr/en/w_one",)

    fewer = small_catalog({"welcome": {"vi": "Xin chào", "en": "Welcome"}})
    report = build_prompts(fewer, out, None)
    assert report.removed == ("ivr/en/goodbye", "ivr/vi/goodbye")
    assert not (out / "ivr/vi/goodbye.wav").exists()


def test_recorded_file_wins(tmp_path: Path) -> None:
    out, recorded = tmp_path / "out", tmp_path / "recorded"
    tone(recorded / "vi" / "welcome.wav")  # 44.1 kHz stereo, 0.5 s silence each side
    report = build_prompts(small_catalog(), out, recorded)
    assert report.from_recordings == ("ivr/vi/welcome",)
    built = AudioSegment.from_wav(str(out / "ivr/vi/welcome.wav"))
    assert (built.frame_rate, built.channels, built.sample_width) == (8000, 1, 2)
    # Silence trimmed (a little kept at each end) and loudness raised from -33 dBFS.
    assert 600 <= len(built) <= 600 + 2 * audio.KEEP_SILENCE_MS + 20
    assert built.dBFS == pytest.approx(audio.TARGET_DBFS, abs=1.0)

    assert build_prompts(small_catalog(), out, recorded).built == ()
    tone(recorded / "vi" / "welcome.wav", ms=900)  # the supervisor records it again
    assert build_prompts(small_catalog(), out, recorded).built == ("ivr/vi/welcome",)
    assert len(AudioSegment.from_wav(str(out / "ivr/vi/welcome.wav"))) >= 900


@needs_ffmpeg
def test_mp3_recording_is_converted(tmp_path: Path) -> None:
    out, recorded = tmp_path / "out", tmp_path / "recorded"
    tone(recorded / "en" / "goodbye.mp3")
    report = build_prompts(small_catalog(), out, recorded)
    assert report.from_recordings == ("ivr/en/goodbye",)
    assert audio.wav_format(out / "ivr/en/goodbye.wav").ok


def test_missing_espeak_degrades(tmp_path: Path) -> None:
    out, recorded = tmp_path / "out", tmp_path / "recorded"
    tone(recorded / "vi" / "welcome.wav")
    report = build_prompts(
        small_catalog(), out, recorded, espeak_command=str(tmp_path / "no-espeak-ng")
    )
    assert not report.tts_available and not report.ok
    assert report.built == ("ivr/vi/welcome",)  # the recording still builds
    assert {f.reason for f in report.failed} == {"espeak-ng is not installed"}
    assert len(report.failed) == len(OUTPUTS) - 1
    assert report.notes == (
        f"{tmp_path / 'no-espeak-ng'} not found: prompts without a recording were not built",
    )
    # Once espeak-ng is there, only the missing ones are built.
    assert len(build_prompts(small_catalog(), out, recorded).built) == len(OUTPUTS) - 1


def test_broken_recording_is_reported_not_raised(tmp_path: Path) -> None:
    out, recorded = tmp_path / "out", tmp_path / "recorded"
    (recorded / "en").mkdir(parents=True)
    (recorded / "en" / "welcome.wav").write_bytes(b"RIFF nonsense")
    report = build_prompts(small_catalog(), out, recorded)
    assert [f.file_name for f in report.failed] == ["ivr/en/welcome"]
    expected = (
        "cannot decode welcome.wav: Invalid data found when processing input"
        if shutil.which("ffmpeg")  # pydub hands a wav it cannot parse to ffmpeg
        else "cannot read welcome.wav"
    )
    assert report.failed[0].reason.startswith(expected)
    assert len(report.built) == len(OUTPUTS) - 1


def test_cancel_skips_the_rest(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    report = build_prompts(small_catalog(), tmp_path / "out", None, workers=1, cancel=cancel)
    assert report.cancelled >= 1
    assert len(report.built) + report.cancelled == len(OUTPUTS)
    # The next run builds what was skipped, and only that.
    again = build_prompts(small_catalog(), tmp_path / "out", None)
    assert len(again.built) == report.cancelled


def test_install_copies_layout(tmp_path: Path) -> None:
    out, sounds = tmp_path / "out", tmp_path / "sounds"
    build_prompts(small_catalog(), out, None)
    assert install(out, sounds, "ivr") == 2 * len(OUTPUTS)
    assert (sounds / "ivr/vi/w_mot.ulaw").read_bytes() == (out / "ivr/vi/w_mot.ulaw").read_bytes()
    assert not (sounds / MANIFEST).exists()


def test_ulaw_matches_reference_encoder() -> None:
    audioop = pytest.importorskip("audioop", reason="audioop left the stdlib in 3.13")
    samples = array.array("h", range(-32768, 32768)).tobytes()
    assert audio.lin2ulaw(samples) == audioop.lin2ulaw(samples, 2)


def test_unwritable_out_dir_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    report = build_prompts(small_catalog(), blocker / "out", None)
    assert report.built == () and len(report.failed) == len(OUTPUTS)
    assert report.notes[-1].startswith(f"cannot write {blocker / 'out' / MANIFEST}: ")
