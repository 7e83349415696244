"""A prompt is played only when its audio exists.

A version published a moment ago may name a prompt whose audio the background build
(:mod:`ivr.prompts.build`) has not reached yet. Before a call plays a prompt,
:class:`PromptAudio` checks ``<out>/<prefix>/<lang>/<id>.wav`` and ``.ulaw``; a missing
one is rendered there and then (the supervisor's recording if there is one, else
espeak-ng: the same :func:`build_one` the build uses), once, whoever asks. If it cannot
be made (no espeak-ng, a broken recording), :class:`PromptAudioMissing` is raised so the
node fails and the engine takes its apology path (``sorry_transfer``, then the agents):
a caller never sits through a prompt that plays nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from ivr.channels.channel import Prompt
from ivr.errors import IvrError
from ivr.prompts import audio
from ivr.prompts.build import ESPEAK_SPEED, VOICES, BuildItem, build_one, find_recording

log = logging.getLogger(__name__)


class PromptAudioMissing(IvrError, RuntimeError):
    """A prompt has no audio and none could be made; the message says which and why."""


class PromptAudio:
    """The engine's :class:`ivr.engine.turn.AudioCheck` over the prompt build directory."""

    def __init__(self, out_dir: Path, recorded_dir: Path | None, *, variant: str = "north",
                 espeak_command: str = "espeak-ng") -> None:
        self.out_dir = out_dir
        self.recorded_dir = recorded_dir
        self.voices = VOICES.get(variant, VOICES["north"])
        self.espeak_command = espeak_command
        self._present: set[str] = set()
        """File names seen built: a stat per prompt per play is avoided after the first."""
        self._rendering: dict[str, asyncio.Task[None]] = {}
        self.rendered: list[str] = []
        """File names this node had to render for a call (for operators and tests)."""

    def has_audio(self, file_name: str) -> bool:
        if file_name in self._present:
            return True
        base = self.out_dir / file_name
        if base.with_suffix(".wav").is_file() and base.with_suffix(".ulaw").is_file():
            self._present.add(file_name)
            return True
        return False

    async def playable(self, prompts: Sequence[Prompt]) -> list[Prompt]:
        for prompt in prompts:
            if not self.has_audio(prompt.file):
                await self._render(prompt)
        return list(prompts)

    async def _render(self, prompt: Prompt) -> None:
        # One render per file, however many calls reach the new prompt at once.
        task = self._rendering.get(prompt.file)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._render_now(prompt))
            self._rendering[prompt.file] = task
            task.add_done_callback(lambda _t: self._rendering.pop(prompt.file, None))
        await asyncio.shield(task)

    async def _render_now(self, prompt: Prompt) -> None:
        recording = find_recording(self.recorded_dir, prompt.language, prompt.id)
        item = BuildItem(prompt.id, prompt.language, prompt.text, recording, "", prompt.file)
        espeak = audio.find_espeak(self.espeak_command)
        voice = self.voices.get(prompt.language, prompt.language)
        try:
            await asyncio.to_thread(build_one, item, self.out_dir, espeak, voice)
        except (audio.AudioError, OSError) as exc:
            log.error("prompt %s (%s) has no audio yet and cannot be rendered (%s): the call "
                      "takes the apology path", prompt.id, prompt.file, exc)
            raise PromptAudioMissing(
                f"prompt {prompt.id} ({prompt.language}) has no audio: {exc}") from None
        how = "from its recording" if recording else f"with espeak-ng at {ESPEAK_SPEED} wpm"
        log.warning("prompt %s (%s) had no audio yet (the background build has not reached "
                    "it): rendered now %s", prompt.id, prompt.file, how)
        self._present.add(prompt.file)
        self.rendered.append(prompt.file)
