"""ivr prompts check: missing prompts, translations and audio, wrong formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prompts_helpers import needs_espeak, small_catalog, tone

from ivr.prompts.build import build_prompts
from ivr.prompts.check import Problem, ProblemKind, check_prompts

pytestmark = needs_espeak


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "out"
    assert build_prompts(small_catalog(), out, None).ok
    return out


@pytest.fixture
def out(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built audio that a test may damage."""
    return Path(shutil.copytree(built, tmp_path / "out"))


def test_clean_build_has_no_problems(out: Path) -> None:
    assert check_prompts(small_catalog(), out, None) == []
    assert check_prompts(small_catalog(), out, None, referenced={"welcome"}) == []


def test_missing_prompt(out: Path) -> None:
    problems = check_prompts(small_catalog(), out, None, referenced={"welcome", "press_9"})
    assert problems == [
        Problem(
            ProblemKind.MISSING_PROMPT, "press_9", None, "used by the flows, not in the catalog"
        )
    ]
    assert str(problems[0]) == "press_9: missing prompt: used by the flows, not in the catalog"


def test_missing_translation(out: Path) -> None:
    catalog = small_catalog({"welcome": {"vi": "Xin chào", "en": "Welcome"},
                             "goodbye": {"vi": "Tạm biệt"}})  # fmt: skip
    problems = check_prompts(catalog, out, None)
    assert [str(p) for p in problems] == [
        "goodbye [en]: missing text: no en text (<prompts>:2:3)",
    ]


def test_missing_audio(out: Path) -> None:
    (out / "ivr/vi/w_mot.ulaw").unlink()
    problems = check_prompts(small_catalog(), out, None)
    assert [(p.kind, p.prompt_id, p.language) for p in problems] == [
        (ProblemKind.MISSING_AUDIO, "w_mot", "vi")
    ]
    assert problems[0].detail.startswith("no .ulaw at ")


def test_wrong_format_recording_in_sounds_dir(out: Path) -> None:
    # Someone copied a 44.1 kHz stereo recording straight into the sounds dir.
    tone(out / "ivr" / "en" / "welcome.wav")
    problems = check_prompts(small_catalog(), out, None)
    assert [(p.kind, p.prompt_id, p.language) for p in problems] == [
        (ProblemKind.BAD_FORMAT, "welcome", "en")
    ]
    assert problems[0].detail == (
        f"{out / 'ivr/en/welcome.wav'} is 44100 Hz, 2 channel(s), 16-bit, "
        "Asterisk needs 8000 Hz, 1 channel(s), 16-bit"
    )


def test_unreadable_wav(out: Path) -> None:
    (out / "ivr/vi/goodbye.wav").write_bytes(b"not a wav")
    problems = check_prompts(small_catalog(), out, None)
    assert [(p.kind, p.prompt_id) for p in problems] == [(ProblemKind.BAD_FORMAT, "goodbye")]


def test_new_recording_not_built_yet_is_stale(out: Path, tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    tone(recorded / "vi" / "welcome.wav")  # 44.1 kHz stereo: the build converts it
    problems = check_prompts(small_catalog(), out, recorded)
    assert [str(p) for p in problems] == [
        "welcome [vi]: stale audio: the recording changed since the last build "
        "(run ivr prompts build)"
    ]
    build_prompts(small_catalog(), out, recorded)
    assert check_prompts(small_catalog(), out, recorded) == []


def test_changed_text_is_stale(out: Path) -> None:
    catalog = small_catalog({"welcome": {"vi": "Xin chào", "en": "Hello"},
                             "goodbye": {"vi": "Tạm biệt", "en": "Goodbye"}})  # fmt: skip
    problems = check_prompts(catalog, out, None)
    assert [(p.kind, p.prompt_id, p.language) for p in problems] == [
        (ProblemKind.STALE_AUDIO, "welcome", "en")
    ]


def test_recording_with_a_typo_in_its_name(out: Path, tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    tone(recorded / "vi" / "welcom.wav")
    tone(recorded / "fr" / "welcome.wav")
    (recorded / "vi" / "goodbye.ogg").write_bytes(b"")
    problems = check_prompts(small_catalog(), out, recorded)
    assert [p.detail for p in problems] == [
        f"{recorded / 'fr/welcome.wav'}: unknown language folder 'fr'",
        f"{recorded / 'vi/goodbye.ogg'}: not a recording we read (.wav, .m4a, .mp3)",
        f"{recorded / 'vi/welcom.wav'}: no prompt 'welcom' in the catalog (did you mean "
        "'welcome'?)",
    ]


def test_sounds_dir_is_checked_as_installed(out: Path, tmp_path: Path) -> None:
    from ivr.prompts.build import install

    sounds = tmp_path / "sounds"
    install(out, sounds, "ivr")
    catalog = small_catalog()
    assert check_prompts(catalog, out, None, sounds_dir=sounds) == []
    # Only mu-law installed for one prompt: Asterisk plays that; nothing is missing.
    (sounds / "ivr/vi/goodbye.wav").unlink()
    assert check_prompts(catalog, out, None, sounds_dir=sounds) == []
    # One prompt not installed at all, in one language: the build folder is complete.
    for suffix in (".wav", ".ulaw"):
        (sounds / f"ivr/en/welcome{suffix}").unlink()
    assert check_prompts(catalog, out, None) == []
    problems = check_prompts(catalog, out, None, sounds_dir=sounds)
    assert [(p.kind, p.prompt_id, p.language) for p in problems] == [
        (ProblemKind.MISSING_AUDIO, "welcome", "en")
    ]
    # An installed copy from an older build: stale.
    (sounds / "ivr/vi/welcome.ulaw").write_bytes(b"\xff" * 800)
    problems = check_prompts(catalog, out, None, sounds_dir=sounds)
    assert {(p.kind, p.prompt_id, p.language) for p in problems} == {
        (ProblemKind.MISSING_AUDIO, "welcome", "en"), (ProblemKind.STALE_AUDIO, "welcome", "vi")
    }
    # A wrong-format .wav copied straight into the sounds dir.
    tone(sounds / "ivr" / "vi" / "goodbye.wav")
    kinds = [p.kind for p in check_prompts(catalog, out, None, sounds_dir=sounds)]
    assert ProblemKind.BAD_FORMAT in kinds
