"""Build the audio for every prompt: ``<out>/<prefix>/<lang>/<id>.wav`` and ``.ulaw``.

A recording in ``<recorded>/<lang>/<id>.(wav|m4a|mp3)`` wins over espeak-ng. Each
output's inputs (text, voice, recording bytes, conversion settings) are hashed into a
key kept in ``<out>/manifest.json``; a prompt whose key and files are unchanged is not
rebuilt. A missing espeak-ng is reported, never raised: recorded prompts still build.

``build_prompts`` is synchronous (``ivr serve`` runs it in a thread to fill in missing
audio in the background); ``ivr prompts build`` is its command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from ivr.prompts import audio
from ivr.prompts.catalog import PromptCatalog

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
CONVERSION_VERSION = 1
"""Bump when :func:`audio.prepare` changes, so every prompt is rebuilt once."""
MAX_WORKERS = 4
"""espeak-ng is single-threaded; a few workers keep the cores busy without thrashing."""
ESPEAK_SPEED = 150
"""Words per minute: espeak's default 175 is hurried for phone audio."""
VOICES: Mapping[str, Mapping[str, str]] = {
    "north": {"vi": "vi", "en": "en-us"},
    "south": {"vi": "vi-vn-x-south", "en": "en-us"},
}


@dataclass(frozen=True, slots=True)
class BuildItem:
    prompt_id: str
    language: str
    text: str
    recording: Path | None
    key: str
    file_name: str
    """``<prefix>/<lang>/<id>``, relative to the out dir."""


@dataclass(frozen=True, slots=True)
class BuildFailure:
    file_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    out_dir: Path
    built: tuple[str, ...] = ()
    """File names rebuilt this run."""
    from_recordings: tuple[str, ...] = ()
    """Of those, the ones converted from a recording."""
    unchanged: int = 0
    removed: tuple[str, ...] = ()
    """Outputs of prompts no longer in the catalog, deleted."""
    failed: tuple[BuildFailure, ...] = ()
    tts_available: bool = True
    seconds: float = 0.0
    cancelled: int = 0
    """Prompts not built because the build was cancelled (``ivr serve`` shutting down)."""
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        parts = [
            f"{len(self.built)} built ({len(self.from_recordings)} from recordings)",
            f"{self.unchanged} unchanged",
        ]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts) + f" in {self.seconds:.1f} s -> {self.out_dir}"


def find_recording(recorded_dir: Path | None, language: str, prompt_id: str) -> Path | None:
    """The supervisor's recording for a prompt, if any (wav preferred over m4a, mp3)."""
    if recorded_dir is None:
        return None
    for suffix in audio.RECORDED_SUFFIXES:
        path = recorded_dir / language / f"{prompt_id}{suffix}"
        if path.is_file():
            return path
    return None


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def plan(
    catalog: PromptCatalog, recorded_dir: Path | None, *, voices: Mapping[str, str]
) -> list[BuildItem]:
    """What every output should be built from, with its content key."""
    items = []
    for prompt_id, language, text in catalog.items():
        recording = find_recording(recorded_dir, language, prompt_id)
        source: dict[str, object]
        if recording is not None:
            source = {"recording": _file_digest(recording), "suffix": recording.suffix.lower()}
        else:
            source = {"text": text, "voice": voices[language], "speed": ESPEAK_SPEED}
        inputs = {"conversion": CONVERSION_VERSION, "rate": audio.SAMPLE_RATE, **source}
        key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        file_name = catalog.file_name(prompt_id, language)
        items.append(BuildItem(prompt_id, language, text, recording, key, file_name))
    return items


def read_manifest(out_dir: Path) -> dict[str, str]:
    """file name -> key of what was last built there ({} if none or unreadable)."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    return {str(k): str(v) for k, v in entries.items()}


def _write_manifest(out_dir: Path, entries: Mapping[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"version": MANIFEST_VERSION, "entries": dict(sorted(entries.items()))})
    tmp = out_dir / f".{MANIFEST}.tmp"
    tmp.write_text(body + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / MANIFEST)


def is_current(item: BuildItem, out_dir: Path, manifest: Mapping[str, str]) -> bool:
    base = out_dir / item.file_name
    return (
        manifest.get(item.file_name) == item.key
        and base.with_suffix(".wav").is_file()
        and base.with_suffix(".ulaw").is_file()
    )


def build_one(item: BuildItem, out_dir: Path, espeak: str | None, voice: str) -> None:
    """Render or convert one prompt; AudioError on failure."""
    if item.recording is not None:
        segment = audio.load(item.recording)
    else:
        if espeak is None:
            raise audio.AudioError("espeak-ng is not installed")
        with tempfile.TemporaryDirectory(prefix="ivr-tts-") as tmp:
            wav = Path(tmp) / "tts.wav"
            audio.synthesize(espeak, item.text, voice, ESPEAK_SPEED, wav)
            segment = audio.load(wav)
    audio.write_outputs(audio.prepare(segment), out_dir / item.file_name)


def _remove_stale(out_dir: Path, names: Iterable[str]) -> list[str]:
    removed = []
    for name in names:
        for suffix in (".wav", ".ulaw"):
            (out_dir / name).with_suffix(suffix).unlink(missing_ok=True)
        removed.append(name)
    return removed


def build_prompts(
    catalog: PromptCatalog,
    out_dir: Path,
    recorded_dir: Path | None,
    *,
    progress: bool = False,
    force: bool = False,
    espeak_command: str = "espeak-ng",
    workers: int | None = None,
    cancel: threading.Event | None = None,
) -> BuildReport:
    """Build every prompt whose inputs changed (all with ``force``); never raises for a
    prompt that fails or a missing espeak-ng: the report says what happened.

    Setting ``cancel`` stops it soon: prompts not yet started are skipped (and counted),
    those in progress finish, and the manifest records what was built.
    """
    from tqdm import tqdm

    started = time.monotonic()
    voices = VOICES[catalog.variant]
    espeak = audio.find_espeak(espeak_command)
    items = plan(catalog, recorded_dir, voices=voices)
    old_manifest = read_manifest(out_dir)
    manifest = {} if force else old_manifest
    todo = [item for item in items if not is_current(item, out_dir, manifest)]
    notes: list[str] = []
    if espeak is None and any(item.recording is None for item in todo):
        notes.append(f"{espeak_command} not found: prompts without a recording were not built")

    wanted = {item.file_name for item in items}
    try:
        removed = _remove_stale(out_dir, sorted(set(old_manifest) - wanted))
    except OSError as exc:
        removed = []
        notes.append(f"cannot remove old prompt audio in {out_dir}: {exc.strerror or exc}")
    entries = {name: key for name, key in manifest.items() if name in wanted}

    built: list[str] = []
    cancelled = 0
    failed: list[BuildFailure] = []
    pool_size = max(1, min(workers or os.cpu_count() or 1, MAX_WORKERS))
    bar = tqdm(total=len(todo), unit="prompt", desc="prompts", disable=not progress or not todo)
    with ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="ivr-prompts") as pool:
        futures = {
            pool.submit(build_one, item, out_dir, espeak, voices[item.language]): item
            for item in todo
        }
        try:
            for future in as_completed(futures):
                item = futures[future]
                if future.cancelled():
                    cancelled += 1
                    continue
                try:
                    future.result()
                except (audio.AudioError, OSError) as exc:
                    # OSError: the out dir is not writable, the disk is full...
                    failed.append(BuildFailure(item.file_name, str(exc)))
                    entries.pop(item.file_name, None)
                else:
                    built.append(item.file_name)
                    entries[item.file_name] = item.key
                bar.update(1)
                if cancel is not None and cancel.is_set():
                    for pending in futures:
                        pending.cancel()  # as_completed still yields it, as cancelled
        finally:
            bar.close()
            # Whatever was built is recorded, even if we are interrupted part way.
            try:
                _write_manifest(out_dir, entries)
            except OSError as exc:
                notes.append(f"cannot write {out_dir / MANIFEST}: {exc.strerror or exc}")
    by_name = {item.file_name: item for item in items}
    return BuildReport(
        out_dir=out_dir,
        built=tuple(sorted(built)),
        from_recordings=tuple(sorted(n for n in built if by_name[n].recording is not None)),
        unchanged=len(items) - len(todo),
        removed=tuple(removed),
        failed=tuple(sorted(failed, key=lambda f: f.file_name)),
        tts_available=espeak is not None,
        seconds=time.monotonic() - started,
        cancelled=cancelled,
        notes=tuple(notes),
    )


def install(out_dir: Path, sounds_dir: Path, prefix: str) -> int:
    """Copy ``<out>/<prefix>/`` into an Asterisk sounds dir; returns the files copied."""
    source = out_dir / prefix
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: nothing built yet (run ivr prompts build)")
    copied = 0
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.suffix in (".wav", ".ulaw"):
            target = sounds_dir / prefix / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied += 1
    return copied
