"""The ``ivr say`` and ``ivr prompts`` commands, run through the real CLI entry point."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from prompts_helpers import needs_espeak

from ivr.cli import main
from ivr.prompts.catalog import PromptCatalog

CONFIG = Path(__file__).resolve().parent.parent / "config"
SHIPPED_FLOWS, SHIPPED_PROMPTS = CONFIG / "flows.yaml", CONFIG / "prompts.yaml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("IVR_SPEECH_VARIANT", "IVR_SOUNDS_PREFIX", "IVR_CONFIG", "IVR_PROMPTS",
                 "IVR_DATA_DIR", "IVR_RECORDED_PROMPTS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IVR_FLOWS", str(tmp_path / "no-flows.yaml"))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["vi", "money", "1250000"],
         "một triệu hai trăm năm mươi nghìn đồng\n"
         "w_mot w_trieu w_hai w_tram w_nam w_muoi_tens w_nghin w_dong\n"),
        (["vi", "money", "1.250.000", "--variant", "south"],
         "một triệu hai trăm năm mươi ngàn đồng\n"
         "w_mot w_trieu w_hai w_tram w_nam w_muoi_tens w_ngan w_dong\n"),
        (["vi", "number", "1005"],
         "một nghìn không trăm linh năm\nw_mot w_nghin w_khong w_tram w_linh w_nam\n"),
        (["vi", "number", "3,5"], "ba phẩy năm\nw_ba w_phay w_nam\n"),
        (["vi", "digits", "0901"], "không chín không một\nw_khong w_chin w_khong w_mot\n"),
        (["vi", "time", "10:30"], "mười giờ ba mươi phút\nw_muoi w_gio w_ba w_muoi_tens w_phut\n"),
        (["vi", "duration", "1:30:00"],
         "một giờ ba mươi phút\nw_mot w_gio w_ba w_muoi_tens w_phut\n"),
        (["en", "money", "1250000"],
         "one million two hundred fifty thousand dong\n"
         "w_one w_million w_two w_hundred w_fifty w_thousand w_dong\n"),
        (["en", "date", "2026-12-05"],
         "December fifth twenty twenty six\nw_december w_fifth w_twenty w_twenty w_six\n"),
        (["en", "datetime", "2026-12-05T10:30"],
         "ten thirty a m on December fifth twenty twenty six\n"
         "w_ten w_thirty w_a_m w_on w_december w_fifth w_twenty w_twenty w_six\n"),
        (["en", "datetime", "2026-12-05T03:30+00:00"],
         "ten thirty a m on December fifth twenty twenty six\n"
         "w_ten w_thirty w_a_m w_on w_december w_fifth w_twenty w_twenty w_six\n"),
        (["en", "duration", "90"],
         "one minute thirty seconds\nw_one w_minute w_thirty w_seconds\n"),
    ],
)  # fmt: skip
def test_say(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", *argv]) == 0
    assert capsys.readouterr().out == expected


def test_say_variant_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IVR_SPEECH_VARIANT", "south")
    assert main(["say", "vi", "number", "105"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "một trăm lẻ năm"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fr", "number", "1"], "ivr: error: language must be one of vi, en\n"),
        (["vi", "number", "abc"], "ivr: error: not a number: 'abc'\n"),
        (["vi", "date", "2026-13-01"], "ivr: error: date: cannot read '2026-13-01' (YYYY-MM-DD)\n"),
        (["vi", "digits", "12a4"], "ivr: error: digits: '12a4' is not a string of digits\n"),
    ],
)
def test_say_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", *argv]) == 2
    assert capsys.readouterr().err == message


def test_prompts_bad_catalog_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "prompts.yaml"
    broken.write_text("prompts:\n  Welcome: {vi: x}\n", encoding="utf-8")
    assert main(["prompts", "check", "--prompts", str(broken), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"ivr: error: {broken}:2:3: error: prompt id 'Welcome' must be lower-case letters, "
        "digits and _\n"
    )


@needs_espeak
@pytest.mark.skipif(not SHIPPED_FLOWS.is_file(), reason="no shipped config/flows.yaml yet")
def test_build_install_and_check_shipped_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IVR_FLOWS", str(SHIPPED_FLOWS))
    out, sounds = tmp_path / "out", tmp_path / "sounds"
    catalog = PromptCatalog.load(SHIPPED_PROMPTS)
    total = len(list(catalog.items()))  # flow prompts x 2 languages + words
    common = ["--prompts", str(SHIPPED_PROMPTS), "--out", str(out),
              "--recorded", str(tmp_path / "rec")]  # fmt: skip
    assert main(["prompts", "build", *common, "--no-progress", "--install", str(sounds)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{total} built (0 from recordings), 0 unchanged in ")
    assert lines[1] == f"installed {2 * total} files into {sounds / 'ivr'}"
    # Asterisk's Queue says these names in the channel's language: 8 queue sounds in 2
    # languages, and Vietnamese digits/0-19, 20-90 and 1a, 4a, 5a, each .wav and .ulaw.
    assert lines[2] == ("installed 94 files under Asterisk's own names (queue announcements "
                        "<lang>/ivr/queue-*, Vietnamese digits vi/digits/*)")
    assert (sounds / "vi/ivr/queue-thereare.wav").read_bytes() == (
        out / "ivr/vi/queue_thereare.wav").read_bytes()
    assert (sounds / "en/ivr/queue-periodic-announce.ulaw").read_bytes() == (
        out / "ivr/en/queue_periodic_announce.ulaw").read_bytes()
    assert (sounds / "vi/digits/15.ulaw").read_bytes() == (  # "mười" + "lăm"
        (out / "ivr/vi/w_muoi.ulaw").read_bytes() + (out / "ivr/vi/w_lam.ulaw").read_bytes())
    assert (sounds / "vi/digits/5a.wav").read_bytes() == (out / "ivr/vi/w_lam.wav").read_bytes()
    with wave.open(str(sounds / "vi/digits/20.wav")) as w20, \
            wave.open(str(out / "ivr/vi/w_hai.wav")) as hai, \
            wave.open(str(out / "ivr/vi/w_muoi_tens.wav")) as muoi:
        assert w20.getframerate() == 8000
        assert w20.getnframes() == hai.getnframes() + muoi.getnframes()
    assert not (sounds / "en/digits").exists()  # Asterisk's own English digits stay
    assert main(["prompts", "build", *common, "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"0 built (0 from recordings), {total} unchanged in ")

    # Clean on the shipped config: every prompt the flows play has text and audio.
    assert main(["prompts", "check", *common]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("0 problem(s); ")

    (out / "ivr/en/welcome.wav").unlink()
    assert main(["prompts", "check", *common]) == 1
    assert capsys.readouterr().out == (
        f"welcome [en]: missing audio: no .wav at {out / 'ivr/en/welcome'} "
        "(run ivr prompts build)\n"
    )

    # --sounds-dir checks what Asterisk plays: all installed is clean, whatever the build
    # folder lacks; a prompt missing there is reported though the build has it.
    assert main(["prompts", "check", *common, "--sounds-dir", str(sounds)]) == 0
    assert capsys.readouterr().err.startswith("0 problem(s); ")
    for suffix in (".wav", ".ulaw"):
        (sounds / f"ivr/vi/welcome{suffix}").unlink()
    assert main(["prompts", "check", *common]) == 1  # the build dir: only its own loss
    assert "welcome [vi]" not in capsys.readouterr().out
    assert main(["prompts", "check", *common, "--sounds-dir", str(sounds)]) == 1
    captured = capsys.readouterr()
    assert captured.out == (
        f"welcome [vi]: missing audio: not installed: no {sounds / 'ivr/vi/welcome'}.wav "
        f"(nor .ulaw, .alaw, .gsm, ...) (run ivr prompts build --install {sounds})\n"
    )
    assert captured.err.startswith("1 problem(s); ") and str(sounds) in captured.err
    assert main(["prompts", "check", *common, "--sounds-dir", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == (
        f"ivr: error: {tmp_path / 'nope'}: no such sounds directory (--sounds-dir)\n"
    )
