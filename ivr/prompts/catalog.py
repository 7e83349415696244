"""The prompt catalog: prompt ids -> text per language -> Asterisk file names.

Two sources make one catalog: the flow prompts that supervisors write in
``config/prompts.yaml`` (``prompts: {id: {vi: ..., en: ...}}``), and the built-in word
vocabulary in ``words.yaml`` beside this module (ids ``w_...``) from which spoken
numbers, money, dates and times are assembled. Every prompt plays as
``<prefix>/<lang>/<id>``, on Asterisk and in the browser alike.

A flow prompt may lack a language (``ivr prompts check`` reports it); a word exists only
in the language(s) that say it (``mươi`` has no English text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from importlib import resources
from pathlib import Path

import yaml

from ivr.channels.channel import Prompt
from ivr.clock import DEFAULT_TZ
from ivr.config.diagnostics import Diagnostic, Diagnostics
from ivr.config.loader import YMap, YScalar, YValue, load_yaml, read_yaml_file
from ivr.config.reader import Reader
from ivr.errors import IvrError
from ivr.prompts import speech
from ivr.prompts.speech_vi import ViStyle, style_for

#: Languages every flow prompt should have, in the order tools list them.
LANGUAGES = ("vi", "en")
#: Prompt ids become file names on Asterisk hosts: keep them plain ASCII.
PROMPT_ID = re.compile(r"[a-z0-9][a-z0-9_]*\Z")
#: Ids reserved for the built-in vocabulary, so a new word never collides with a flow prompt.
WORD_PREFIX = "w_"
#: A prompt text longer than this is a paste accident, not something to read to a caller.
MAX_TEXT_CHARS = 2000
WORDS_RESOURCE = "words.yaml"
#: The file's name in messages, the YAML limits' among them.
PROMPTS_FILE = "prompts file"


class CatalogError(IvrError, ValueError):
    """A prompts file we cannot use: ``diagnostics`` holds every problem, printed one a
    line as ``PATH:LINE:COL: error: message`` (as the flows file's)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        self.errors = tuple(str(d) for d in self.diagnostics)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True, slots=True)
class PromptEntry:
    """One prompt id with its text per language and where it was defined."""

    id: str
    texts: Mapping[str, str]
    is_word: bool
    where: str
    """``PATH:LINE:COL`` of the id in its YAML file."""


def _parse(
    text: str, path: str, section: str, *, words: bool
) -> tuple[list[PromptEntry], list[Diagnostic]]:
    """YAML text -> entries, diagnostics (every problem found, each with its position)."""
    root, problems = load_yaml(text, path, kind=PROMPTS_FILE)
    if root is None:
        return [], problems
    return _entries(root, section, words=words)


def _entries(root: YValue, section: str, *, words: bool) -> tuple[list[PromptEntry],
                                                                   list[Diagnostic]]:
    diags = Diagnostics()
    if not isinstance(root, YMap):
        diags.error(root.mark, f"expected a mapping with '{section}:' at the top")
        return [], diags.sorted()
    Reader(diags).keys(root, (section,), f"the {PROMPTS_FILE}")
    body = root.get(section)
    if body is None:
        diags.error(root.mark, f"missing '{section}:'")
        return [], diags.sorted()
    if isinstance(body, YScalar) and body.value is None:
        return [], diags.sorted()  # "prompts:" with nothing under it is an empty catalog
    if not isinstance(body, YMap):
        diags.error(body.mark, f"'{section}' must map prompt ids to texts")
        return [], diags.sorted()
    for first, again in body.duplicates:
        diags.error(again.mark, f"duplicate prompt id {again.text!r} (first defined at line "
                    f"{first.mark.line})")
    entries = [e for key, value in body.items
               if (e := _entry(key, value, words, diags)) is not None]
    return entries, diags.sorted()


def _entry(key: YScalar, value: YValue, words: bool, diags: Diagnostics) -> PromptEntry | None:
    pid = key.text
    if not PROMPT_ID.match(pid):
        diags.error(key.mark, f"prompt id {pid!r} must be lower-case letters, digits and _")
        return None
    if words != pid.startswith(WORD_PREFIX):
        rule = "word ids start with" if words else "ids starting with"
        diags.error(key.mark, f"{pid!r}: {rule} '{WORD_PREFIX}' (reserved for spoken values)")
        return None
    if not isinstance(value, YMap):
        diags.error(value.mark, f"{pid}: expected a mapping of language to text")
        return None
    before = len(diags.items)
    for _, again in value.duplicates:
        diags.error(again.mark, f"{pid}: duplicate language {again.text!r}")
    texts: dict[str, str] = {}
    for lang_key, text_value in value.items:
        lang = lang_key.text
        if lang not in LANGUAGES:
            diags.error(lang_key.mark,
                        f"{pid}: unknown language {lang!r} (one of {', '.join(LANGUAGES)})")
        elif not isinstance(text_value, YScalar):
            diags.error(text_value.mark, f"{pid}.{lang}: expected text")
        elif text_value.value is None or not text_value.text.strip():
            diags.error(text_value.mark, f"{pid}.{lang}: empty text")
        elif len(text_value.text) > MAX_TEXT_CHARS:
            diags.error(text_value.mark,
                        f"{pid}.{lang}: longer than {MAX_TEXT_CHARS} characters")
        else:
            texts[lang] = " ".join(text_value.text.split())
    if len(diags.items) > before:
        return None
    if not texts:
        diags.error(key.mark, f"{pid}: no text in any language")
        return None
    return PromptEntry(pid, texts, words, str(key.mark))


def builtin_words() -> list[PromptEntry]:
    """The word vocabulary shipped with the package."""
    return list(_builtin_words())


@functools.cache
def _builtin_words() -> tuple[PromptEntry, ...]:
    # Read once per process: every reload and publish builds a catalog, and the shipped
    # vocabulary (frozen entries) cannot change under a running server.
    source = resources.files("ivr.prompts").joinpath(WORDS_RESOURCE)
    entries, problems = _parse(
        source.read_text(encoding="utf-8"), f"ivr/prompts/{WORDS_RESOURCE}", "words", words=True
    )
    if problems:
        raise CatalogError(problems)
    return tuple(entries)


class PromptCatalog:
    """Every prompt the hotline can play: flow prompts plus the spoken-value words."""

    SAY_KINDS: frozenset[str] = speech.SAY_KINDS
    languages: tuple[str, ...] = LANGUAGES

    def __init__(
        self,
        flow_prompts: Sequence[PromptEntry],
        words: Sequence[PromptEntry],
        *,
        prefix: str = "ivr",
        variant: str = "north",
        zone: tzinfo = DEFAULT_TZ,
        source: Path | None = None,
    ) -> None:
        if not prefix or prefix.startswith("/") or ".." in prefix.split("/"):
            raise ValueError(f"sounds prefix {prefix!r} must be a relative path")
        self.prefix = prefix
        self.variant = variant
        self.style: ViStyle = style_for(variant)
        self.zone = zone
        self.source = source
        self._entries: dict[str, PromptEntry] = {e.id: e for e in words}
        self._entries.update((e.id, e) for e in flow_prompts)

    @classmethod
    def load(
        cls, path: Path, *, prefix: str = "ivr", variant: str = "north", zone: tzinfo = DEFAULT_TZ
    ) -> PromptCatalog:
        """Read ``config/prompts.yaml``; CatalogError (``PATH:LINE:COL: ...``) if broken."""
        root, problems = read_yaml_file(path, PROMPTS_FILE)
        entries, problems = _entries(root, "prompts", words=False) if root else ([], problems)
        if problems:
            raise CatalogError(problems)
        return cls(entries, builtin_words(), prefix=prefix, variant=variant, zone=zone, source=path)

    @classmethod
    def parse(
        cls, text: str, path: Path | str, *, prefix: str = "ivr", variant: str = "north",
        zone: tzinfo = DEFAULT_TZ,
    ) -> PromptCatalog:
        """A catalog from the prompts file's text (a reload, a version being published);
        CatalogError (``PATH:LINE:COL: ...``) if broken."""
        entries, problems = _parse(text, str(path), "prompts", words=False)
        if problems:
            raise CatalogError(problems)
        return cls(entries, builtin_words(), prefix=prefix, variant=variant, zone=zone,
                   source=Path(path))

    @classmethod
    def from_texts(
        cls,
        prompts: Mapping[str, Mapping[str, str]],
        *,
        prefix: str = "ivr",
        variant: str = "north",
        zone: tzinfo = DEFAULT_TZ,
    ) -> PromptCatalog:
        """A catalog from a mapping (tests, tools), validated like a file."""
        text = yaml.safe_dump(
            {"prompts": {k: dict(v) for k, v in prompts.items()}}, allow_unicode=True
        )
        entries, problems = _parse(text, "<prompts>", "prompts", words=False)
        if problems:
            raise CatalogError(problems)
        return cls(entries, builtin_words(), prefix=prefix, variant=variant, zone=zone)

    def has(self, prompt_id: str) -> bool:
        return prompt_id in self._entries

    def entry(self, prompt_id: str) -> PromptEntry:
        """KeyError if unknown."""
        return self._entries[prompt_id]

    def file_name(self, prompt_id: str, language: str) -> str:
        """Asterisk sound file name without extension: ``ivr/vi/welcome``."""
        return f"{self.prefix}/{language}/{prompt_id}"

    def prompt(self, prompt_id: str, language: str) -> Prompt:
        """The prompt in one language; KeyError for an unknown id or a missing language."""
        entry = self._entries[prompt_id]
        try:
            text = entry.texts[language]
        except KeyError:
            raise KeyError(f"prompt {prompt_id!r} has no {language!r} text") from None
        return Prompt(prompt_id, language, text, self.file_name(prompt_id, language))

    def say(self, kind: str, value: object, language: str) -> list[Prompt]:
        """``value`` spoken as ``kind`` in ``language``, as word prompts.

        ValueError for an unknown kind or language or a value of the wrong type.
        """
        ids = speech.words_for(kind, value, language, style=self.style, zone=self.zone)
        return [self.prompt(word, language) for word in ids]

    def ids(self) -> Iterator[str]:
        """Every prompt id: flow prompts and words."""
        return iter(self._entries)

    def flow_prompt_ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self._entries.values() if not e.is_word)

    def word_ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self._entries.values() if e.is_word)

    def items(self) -> Iterator[tuple[str, str, str]]:
        """Every (id, language, text) the catalog has, in file order."""
        for entry in self._entries.values():
            for language in self.languages:
                if language in entry.texts:
                    yield entry.id, language, entry.texts[language]

    def missing_translations(self, ids: frozenset[str] | None = None) -> list[tuple[str, str]]:
        """(id, language) for flow prompts (all, or those in ``ids``) lacking a language."""
        return [
            (e.id, lang)
            for e in self._entries.values()
            if not e.is_word and (ids is None or e.id in ids)
            for lang in self.languages
            if lang not in e.texts
        ]
