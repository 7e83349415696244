"""The prompt catalog: loading, errors with positions, prompts and spoken values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.channels.channel import Prompt
from ivr.prompts.catalog import CatalogError, PromptCatalog

FIXTURES = Path(__file__).parent / "prompts_fixtures"


def test_load_and_resolve_prompt() -> None:
    catalog = PromptCatalog.load(FIXTURES / "prompts.yaml", prefix="hotline")
    assert catalog.languages == ("vi", "en")
    assert catalog.has("welcome") and catalog.has("w_mot") and not catalog.has("nope")
    assert catalog.prompt("goodbye", "en") == Prompt(
        "goodbye", "en", "Thank you for calling. Goodbye.", "hotline/en/goodbye"
    )
    with pytest.raises(KeyError):
        catalog.prompt("nope", "vi")


def test_say_money_vi() -> None:
    catalog = PromptCatalog.load(FIXTURES / "prompts.yaml")
    prompts = catalog.say("money", 1250000, "vi")
    assert " ".join(p.text for p in prompts) == "một triệu hai trăm năm mươi nghìn đồng"
    assert prompts[0] == Prompt("w_mot", "vi", "một", "ivr/vi/w_mot")
    assert catalog.SAY_KINDS == {
        "number",
        "digits",
        "money",
        "date",
        "time",
        "datetime",
        "duration",
    }


def test_broken_file_names_position(tmp_path: Path) -> None:
    path = tmp_path / "prompts.yaml"
    path.write_text("prompts:\n  welcome:\n    vi: [a]\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        PromptCatalog.load(path)
    assert str(info.value) == f"{path}:3:9: error: welcome.vi: expected text"


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("prompts:\n  welcome:\n    vi: 'a\n",
         ["{p}:4:1: error: YAML syntax: found unexpected end of stream (while scanning a quoted "
          "scalar)"]),
        ("prompts:\n  welcome:\n    en: Note: hello\n",
         ["{p}:3:13: error: YAML syntax: unexpected ':' here: check this line's indentation and "
          "that the line above has its ':' (quote a value that contains ': ')"]),
        ("", ["{p}:1:1: error: the file is empty"]),
        ("- a\n", ["{p}:1:1: error: expected a mapping with 'prompts:' at the top"]),
        ("promts: {}\n", ["{p}:1:1: error: unknown key 'promts' in the prompts file (did you "
                          "mean 'prompts'?)", "{p}:1:1: error: missing 'prompts:'"]),
        ("prompts: [a]\n", ["{p}:1:10: error: 'prompts' must map prompt ids to texts"]),
        ("prompts:\n  main-menu: {vi: a}\n",
         ["{p}:2:3: error: prompt id 'main-menu' must be lower-case letters, digits and _"]),
        ("prompts:\n  w_hello: {vi: a}\n",
         ["{p}:2:3: error: 'w_hello': ids starting with 'w_' (reserved for spoken values)"]),
        ("prompts:\n  a: {vi: x}\n  a: {en: y}\n",
         ["{p}:3:3: error: duplicate prompt id 'a' (first defined at line 2)"]),
        ("prompts:\n  a: hello\n", ["{p}:2:6: error: a: expected a mapping of language to text"]),
        ("prompts:\n  a: {fr: x}\n",
         ["{p}:2:7: error: a: unknown language 'fr' (one of vi, en)"]),
        ("prompts:\n  a: {vi: x, vi: y}\n", ["{p}:2:14: error: a: duplicate language 'vi'"]),
        ("prompts:\n  a: {vi: '  ', en: }\n",
         ["{p}:2:11: error: a.vi: empty text", "{p}:2:21: error: a.en: empty text"]),
        ("prompts:\n  a: {}\n", ["{p}:2:3: error: a: no text in any language"]),
        # every problem is reported at once, in file order
        ("prompts:\n  A: {vi: x}\n  b: {de: y}\n",
         ["{p}:2:3: error: prompt id 'A' must be lower-case letters, digits and _",
          "{p}:3:7: error: b: unknown language 'de' (one of vi, en)"]),
    ],
)  # fmt: skip
def test_catalog_errors(tmp_path: Path, text: str, errors: list[str]) -> None:
    path = tmp_path / "prompts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        PromptCatalog.load(path)
    assert list(info.value.errors) == [e.format(p=path) for e in errors]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        PromptCatalog.load(tmp_path / "nope.yaml")
    assert str(info.value) == (f"{tmp_path / 'nope.yaml'}:1:1: error: cannot read: No such file "
                               "or directory")


def test_empty_prompts_and_missing_translation_load(tmp_path: Path) -> None:
    path = tmp_path / "prompts.yaml"
    path.write_text("prompts:\n", encoding="utf-8")
    assert PromptCatalog.load(path).flow_prompt_ids() == frozenset()
    path.write_text("prompts:\n  a: {vi: 'Xin   chào\n    bạn'}\n", encoding="utf-8")
    catalog = PromptCatalog.load(path)
    assert catalog.prompt("a", "vi").text == "Xin chào bạn"  # whitespace folded
    assert catalog.missing_translations() == [("a", "en")]
    with pytest.raises(KeyError):
        catalog.prompt("a", "en")


def test_words_exist_only_in_their_language() -> None:
    catalog = PromptCatalog.from_texts({})
    assert catalog.prompt("w_dong", "en").text == "dong"
    assert catalog.prompt("w_dong", "vi").text == "đồng"
    with pytest.raises(KeyError):
        catalog.prompt("w_muoi_tens", "en")
    assert all(pid.startswith("w_") for pid in catalog.word_ids())
    assert catalog.missing_translations() == []


def test_bad_prefix_and_variant() -> None:
    with pytest.raises(ValueError):
        PromptCatalog.from_texts({}, prefix="/abs")
    with pytest.raises(ValueError):
        PromptCatalog.from_texts({}, variant="central")
