"""``ivr prompts check``: find what would leave a caller in silence before a caller does.

Problems found, one per line:
* a prompt the flows play that the catalog does not have;
* a flow prompt without text in one of the languages;
* a prompt (flow prompt or spoken-value word) without built audio;
* audio built from an older text or recording (the build is stale);
* a ``.wav`` that is not 8 kHz mono 16-bit (Asterisk would transcode or refuse it);
* a recording for a prompt or language the catalog does not know (a typo in its name).

With ``sounds_dir`` (``ivr prompts check --sounds-dir /var/lib/asterisk/sounds``) the audio
is checked where Asterisk plays it from, not in the build folder: per language, a prompt
is there when ``<sounds>/<prefix>/<lang>/<id>`` exists in any format Asterisk has a
reader for (:data:`PLAYABLE_SUFFIXES`); an installed copy that differs from the current
build is stale; installed ``.wav`` files must be 8 kHz mono 16-bit. A build folder that
says "0 problems" proves nothing about a sounds directory nobody copied it into.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivr.prompts import audio
from ivr.prompts.build import VOICES, plan, read_manifest
from ivr.prompts.catalog import PromptCatalog

#: File endings Asterisk's format modules read (format_wav, format_pcm, format_gsm,
#: format_sln, format_g722, format_g729, format_wav_gsm); the build writes .wav and .ulaw.
PLAYABLE_SUFFIXES = (".wav", ".ulaw", ".alaw", ".gsm", ".sln", ".wav16", ".sln16", ".g722",
                     ".g729", ".WAV")


class ProblemKind(enum.Enum):
    MISSING_PROMPT = "missing prompt"
    """A flow plays an id the catalog does not define."""
    MISSING_TEXT = "missing text"
    """A flow prompt has no text in a language."""
    MISSING_AUDIO = "missing audio"
    STALE_AUDIO = "stale audio"
    """Text or recording changed since the last build."""
    BAD_FORMAT = "wrong format"
    UNKNOWN_RECORDING = "unknown recording"


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    prompt_id: str
    language: str | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.prompt_id} [{self.language}]" if self.language else self.prompt_id
        return f"{where}: {self.kind.value}: {self.detail}"


def _text_problems(catalog: PromptCatalog, referenced: frozenset[str]) -> list[Problem]:
    problems = [
        Problem(ProblemKind.MISSING_PROMPT, pid, None, "used by the flows, not in the catalog")
        for pid in sorted(referenced)
        if not catalog.has(pid)
    ]
    problems += [
        Problem(ProblemKind.MISSING_TEXT, pid, lang, f"no {lang} text ({catalog.entry(pid).where})")
        for pid, lang in catalog.missing_translations(referenced)
    ]
    return problems


def _audio_problems(
    catalog: PromptCatalog, out_dir: Path, recorded_dir: Path | None, needed: frozenset[str]
) -> list[Problem]:
    problems = []
    manifest = read_manifest(out_dir)
    for item in plan(catalog, recorded_dir, voices=VOICES[catalog.variant]):
        if item.prompt_id not in needed:
            continue
        base = out_dir / item.file_name
        missing = [s for s in (".wav", ".ulaw") if not base.with_suffix(s).is_file()]
        if missing:
            problems.append(
                Problem(
                    ProblemKind.MISSING_AUDIO,
                    item.prompt_id,
                    item.language,
                    f"no {' or '.join(missing)} at {base} (run ivr prompts build)",
                )
            )
        elif manifest and manifest.get(item.file_name) != item.key:
            source = "recording" if item.recording else "text"
            problems.append(
                Problem(
                    ProblemKind.STALE_AUDIO,
                    item.prompt_id,
                    item.language,
                    f"the {source} changed since the last build (run ivr prompts build)",
                )
            )
    return problems


def _installed_problems(
    catalog: PromptCatalog, sounds_dir: Path, out_dir: Path, recorded_dir: Path | None,
    needed: frozenset[str],
) -> list[Problem]:
    """What Asterisk would not find, or would play from an older build, in ``sounds_dir``."""
    problems = []
    manifest = read_manifest(out_dir)
    for item in plan(catalog, recorded_dir, voices=VOICES[catalog.variant]):
        if item.prompt_id not in needed:
            continue
        base = sounds_dir / item.file_name
        found = [base.with_name(base.name + s) for s in PLAYABLE_SUFFIXES
                 if base.with_name(base.name + s).is_file()]
        if not found:
            problems.append(Problem(
                ProblemKind.MISSING_AUDIO, item.prompt_id, item.language,
                f"not installed: no {base}.wav (nor {', '.join(PLAYABLE_SUFFIXES[1:4])}, ...) "
                f"(run ivr prompts build --install {sounds_dir})"))
            continue
        built = out_dir / item.file_name
        if manifest.get(item.file_name) != item.key:
            continue  # the build itself is stale or absent: nothing current to compare with
        for path in found:
            twin = built.with_name(path.name)
            if twin.is_file() and not _same_bytes(path, twin):
                problems.append(Problem(
                    ProblemKind.STALE_AUDIO, item.prompt_id, item.language,
                    f"{path} differs from the current build {twin} "
                    f"(run ivr prompts build --install {sounds_dir})"))
                break
    return problems


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return a.read_bytes() == b.read_bytes()


def _format_problems(catalog: PromptCatalog, out_dir: Path) -> list[Problem]:
    problems = []
    root = out_dir / catalog.prefix
    for path in sorted(root.glob("*/*.wav")) if root.is_dir() else ():
        language = path.parent.name
        try:
            found = audio.wav_format(path)
        except audio.AudioError as exc:
            problems.append(Problem(ProblemKind.BAD_FORMAT, path.stem, language, f"{path}: {exc}"))
            continue
        if not found.ok:
            problems.append(
                Problem(
                    ProblemKind.BAD_FORMAT,
                    path.stem,
                    language,
                    f"{path} is {found}, Asterisk needs 8000 Hz, 1 channel(s), 16-bit",
                )
            )
    return problems


def _recording_problems(catalog: PromptCatalog, recorded_dir: Path | None) -> list[Problem]:
    if recorded_dir is None or not recorded_dir.is_dir():
        return []
    problems = []
    for path in sorted(recorded_dir.glob("*/*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix == ".md":
            continue
        language, pid = path.parent.name, path.stem
        if path.suffix.lower() not in audio.RECORDED_SUFFIXES:
            detail = f"{path}: not a recording we read ({', '.join(audio.RECORDED_SUFFIXES)})"
        elif language not in catalog.languages:
            detail = f"{path}: unknown language folder {language!r}"
        elif not catalog.has(pid):
            # A recording is named by hand: the likely slip is a letter, so name the prompt.
            close = difflib.get_close_matches(pid, catalog.ids(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            detail = f"{path}: no prompt {pid!r} in the catalog{hint}"
        elif language not in catalog.entry(pid).texts:
            detail = f"{path}: prompt {pid!r} has no {language} text"
        else:
            continue
        problems.append(Problem(ProblemKind.UNKNOWN_RECORDING, pid, language, detail))
    return problems


def check_prompts(
    catalog: PromptCatalog,
    out_dir: Path,
    recorded_dir: Path | None,
    *,
    referenced: Iterable[str] | None = None,
    sounds_dir: Path | None = None,
) -> list[Problem]:
    """Every problem found, in a stable order; empty means callers hear every prompt.

    ``referenced`` is the set of prompt ids the compiled flows play; None checks every
    flow prompt in the catalog. Spoken-value words are always checked, since any value
    can need any of them. ``sounds_dir``: check the audio installed there (Asterisk's
    sounds directory) instead of the build folder.
    """
    wanted = catalog.flow_prompt_ids() if referenced is None else frozenset(referenced)
    needed = (wanted & catalog.flow_prompt_ids()) | catalog.word_ids()
    if sounds_dir is not None:
        audio_problems = [
            *_installed_problems(catalog, sounds_dir, out_dir, recorded_dir, needed),
            *_format_problems(catalog, sounds_dir),
        ]
    else:
        audio_problems = [
            *_audio_problems(catalog, out_dir, recorded_dir, needed),
            *_format_problems(catalog, out_dir),
        ]
    return [
        *_text_problems(catalog, wanted),
        *audio_problems,
        *_recording_problems(catalog, recorded_dir),
    ]
