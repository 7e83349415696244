"""The hotline's prompts under the names Asterisk's own applications play.

Asterisk's Queue announces position and hold time with fixed sound names
(``queue-thereare``, ``queue-holdtime``... app_queue.c) and says numbers with
``digits/<n>`` files in the channel's language (say.c has a Vietnamese grammar,
``ast_say_number_full_vi``: ``digits/20`` "hai mươi", then ``digits/1a`` "mốt",
``digits/4a`` "tư", ``digits/5a`` "lăm" after the tens). Asterisk ships none of these in
Vietnamese, so ``ivr prompts build --install <sounds>`` also writes:

- ``<sounds>/<lang>/<prefix>/queue-*.{wav,ulaw}``: the catalog's ``queue_*`` prompts,
  which ``queues.conf`` names as ``queue-thereare = <prefix>/queue-thereare`` (Asterisk
  looks up ``<lang>/<file>`` first: its default ``languageprefix = yes``);
- ``<sounds>/vi/digits/{0..19,20..90,1a,4a,5a}.{wav,ulaw}``: the numbers up to 99 (a
  queue position, minutes of waiting) from the catalog's own Vietnamese words.

English digits come with Asterisk's core sounds and are left alone.
"""

from __future__ import annotations

import shutil
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ivr.channels.channel import Prompt

#: Asterisk queue sound (``queues.conf`` option and file name) -> the catalog's prompt.
QUEUE_SOUNDS: Mapping[str, str] = {
    "queue-youarenext": "queue_youarenext",
    "queue-thereare": "queue_thereare",
    "queue-callswaiting": "queue_callswaiting",
    "queue-holdtime": "queue_holdtime",
    "queue-minute": "queue_minute",
    "queue-minutes": "queue_minutes",
    "queue-thankyou": "queue_thankyou",
    "queue-periodic-announce": "queue_periodic_announce",
}
#: ``digits/<name>`` -> the number whose catalog reading it is (say.c's vi grammar).
VI_DIGITS: Mapping[str, int] = {
    **{str(n): n for n in range(20)},
    **{str(n): n for n in range(20, 100, 10)},
}
#: The unit words said after the tens, as the last word of these readings.
VI_AFTER_TENS: Mapping[str, int] = {"1a": 21, "4a": 24, "5a": 25}
EXTENSIONS = (".wav", ".ulaw")


class Catalog(Protocol):
    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, prompt_id: str) -> bool: ...

    def prompt(self, prompt_id: str, language: str) -> Prompt: ...

    def say(self, kind: str, value: object, language: str) -> list[Prompt]: ...


def _join(parts: Sequence[Path], target: Path) -> bool:
    """Write ``target`` as the parts one after another; False if a part is missing."""
    if not parts or not all(p.is_file() for p in parts):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".wav":
        with wave.open(str(parts[0])) as first:
            params = first.getparams()
        with wave.open(str(target), "wb") as out:
            out.setparams(params)
            for part in parts:
                with wave.open(str(part)) as w:
                    out.writeframes(w.readframes(w.getnframes()))
    else:  # raw mu-law: bytes follow bytes
        with target.open("wb") as out:
            for part in parts:
                out.write(part.read_bytes())
    return True


def install_asterisk_names(out_dir: Path, sounds_dir: Path, catalog: Catalog,
                           prefix: str) -> int:
    """Write the queue sounds and Vietnamese digits from the built prompts; returns the
    files written (a prompt not built, e.g. without espeak-ng, is skipped)."""
    written = 0

    def built(prompt: Prompt, ext: str) -> Path:
        return out_dir / f"{prompt.file}{ext}"

    for language in catalog.languages:
        for name, prompt_id in QUEUE_SOUNDS.items():
            if not catalog.has(prompt_id):
                continue
            prompt = catalog.prompt(prompt_id, language)
            for ext in EXTENSIONS:
                source = built(prompt, ext)
                if source.is_file():
                    target = sounds_dir / language / prefix / f"{name}{ext}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
                    written += 1
    if "vi" not in catalog.languages:
        return written
    readings = {name: catalog.say("number", n, "vi") for name, n in VI_DIGITS.items()}
    readings.update({name: catalog.say("number", n, "vi")[-1:]
                     for name, n in VI_AFTER_TENS.items()})
    for name, words in readings.items():
        for ext in EXTENSIONS:
            if _join([built(w, ext) for w in words], sounds_dir / "vi" / "digits" / f"{name}{ext}"):
                written += 1
    return written
