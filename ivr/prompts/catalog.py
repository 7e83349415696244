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
NULL_TAG = "tag:yaml.org,2002:null"


class CatalogError(ValueError):
    """A prompts file we cannot use. One line per problem: ``PATH:LINE:COL: message``."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True, slots=True)
class PromptEntry:
    """One prompt id with its text per language and where it was defined."""

    id: str
    texts: Mapping[str, str]
    is_word: bool
    where: str
    """``PATH:LINE:COL`` of the id in its YAML file."""


def _mark(path: str, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _parse(
    text: str, path: str, section: str, *, words: bool
) -> tuple[list[PromptEntry], list[str]]:
    """YAML text -> entries, errors (every problem found, each with its position)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = exc.problem or exc.context
        if problem == "mapping values are not allowed here":
            # Prompt texts are sentences: a ': ' inside unquoted text is the usual cause.
            problem += " (put a text that contains ': ' in double quotes)"
        return [], [f"{where}: not valid YAML: {problem}"]
    except yaml.YAMLError as exc:
        return [], [f"{path}: not valid YAML: {exc}"]
    if root is None:
        return [], [f"{path}:1:1: empty file, expected a mapping with '{section}:'"]
    if not isinstance(root, yaml.MappingNode):
        return [], [f"{_mark(path, root)}: expected a mapping with '{section}:' at the top"]
    body: yaml.Node | None = None
    errors: list[str] = []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == section:
            body = value
        else:
            errors.append(f"{_mark(path, key)}: unknown top-level key (expected '{section}')")
    if body is None:
        return [], [*errors, f"{_mark(path, root)}: missing '{section}:'"]
    if isinstance(body, yaml.ScalarNode) and body.value in ("", "~", "null"):
        return [], errors  # "prompts:" with nothing under it is an empty catalog
    if not isinstance(body, yaml.MappingNode):
        return [], [*errors, f"{_mark(path, body)}: '{section}' must map prompt ids to texts"]
    entries: list[PromptEntry] = []
    seen: set[str] = set()
    for key, value in body.value:
        entry = _entry(key, value, path, words, seen, errors)
        if entry is not None:
            entries.append(entry)
    return entries, errors


def _entry(
    key: yaml.Node, value: yaml.Node, path: str, words: bool, seen: set[str], errors: list[str]
) -> PromptEntry | None:
    where = _mark(path, key)
    pid = key.value if isinstance(key, yaml.ScalarNode) else None
    if not isinstance(pid, str) or not PROMPT_ID.match(pid):
        errors.append(f"{where}: prompt id {pid!r} must be lower-case letters, digits and _")
        return None
    if pid in seen:
        errors.append(f"{where}: duplicate prompt id {pid!r}")
        return None
    seen.add(pid)
    if words != pid.startswith(WORD_PREFIX):
        rule = "word ids start with" if words else "ids starting with"
        errors.append(f"{where}: {pid!r}: {rule} '{WORD_PREFIX}' (reserved for spoken values)")
        return None
    if not isinstance(value, yaml.MappingNode):
        errors.append(f"{_mark(path, value)}: {pid}: expected a mapping of language to text")
        return None
    texts: dict[str, str] = {}
    errors_before = len(errors)
    for lang_node, text_node in value.value:
        lang = lang_node.value if isinstance(lang_node, yaml.ScalarNode) else None
        at = _mark(path, lang_node)
        if lang not in LANGUAGES:
            errors.append(f"{at}: {pid}: unknown language {lang!r} (one of {', '.join(LANGUAGES)})")
        elif lang in texts:
            errors.append(f"{at}: {pid}: duplicate language {lang!r}")
        elif not isinstance(text_node, yaml.ScalarNode):
            errors.append(f"{_mark(path, text_node)}: {pid}.{lang}: expected text")
        elif text_node.tag == NULL_TAG or not text_node.value.strip():
            errors.append(f"{_mark(path, text_node)}: {pid}.{lang}: empty text")
        elif len(text_node.value) > MAX_TEXT_CHARS:
            errors.append(
                f"{_mark(path, text_node)}: {pid}.{lang}: longer than {MAX_TEXT_CHARS} characters"
            )
        else:
            texts[lang] = " ".join(text_node.value.split())
    if len(errors) > errors_before:
        return None
    if not texts:
        errors.append(f"{where}: {pid}: no text in any language")
        return None
    return PromptEntry(pid, texts, words, where)


def builtin_words() -> list[PromptEntry]:
    """The word vocabulary shipped with the package."""
    return list(_builtin_words())


@functools.cache
def _builtin_words() -> tuple[PromptEntry, ...]:
    # Read once per process: every reload and publish builds a catalog, and the shipped
    # vocabulary (frozen entries) cannot change under a running server.
    source = resources.files("ivr.prompts").joinpath(WORDS_RESOURCE)
    entries, errors = _parse(
        source.read_text(encoding="utf-8"), f"ivr/prompts/{WORDS_RESOURCE}", "words", words=True
    )
    if errors:
        raise CatalogError(errors)
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
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
        except UnicodeDecodeError as exc:
            raise CatalogError([f"{path}: not UTF-8 text: {exc.reason}"]) from None
        return cls.parse(text, path, prefix=prefix, variant=variant, zone=zone)

    @classmethod
    def parse(
        cls, text: str, path: Path | str, *, prefix: str = "ivr", variant: str = "north",
        zone: tzinfo = DEFAULT_TZ,
    ) -> PromptCatalog:
        """A catalog from the prompts file's text (a reload, a version being published);
        CatalogError (``PATH:LINE:COL: ...``) if broken."""
        entries, errors = _parse(text, str(path), "prompts", words=False)
        if errors:
            raise CatalogError(errors)
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
        entries, errors = _parse(text, "<prompts>", "prompts", words=False)
        if errors:
            raise CatalogError(errors)
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
