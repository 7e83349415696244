"""The prompt catalog: loading, errors with positions, prompts and spoken values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.channel import Prompt
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
    assert str(info.value) == f"{path}:3:9: welcome.vi: expected text"
