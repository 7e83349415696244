"""The shipped config: the flows' prompts exist in both languages (the CLI test builds
and checks its audio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.prompts.catalog import PromptCatalog
from ivr.prompts.check import ProblemKind, check_prompts
from ivr.prompts.flow_refs import referenced_prompts

CONFIG = Path(__file__).resolve().parent.parent / "config"
FLOWS_YAML, PROMPTS_YAML = CONFIG / "flows.yaml", CONFIG / "prompts.yaml"

pytestmark = pytest.mark.skipif(
    not (FLOWS_YAML.is_file() and PROMPTS_YAML.is_file()), reason="no shipped config yet"
)


def test_flows_reference_known_prompts_in_both_languages(tmp_path: Path) -> None:
    catalog = PromptCatalog.load(PROMPTS_YAML)
    referenced, note = referenced_prompts(FLOWS_YAML, catalog)
    assert note == ""
    assert referenced and referenced <= catalog.flow_prompt_ids()
    text_problems = [
        p
        for p in check_prompts(catalog, tmp_path, None, referenced=referenced)
        if p.kind in (ProblemKind.MISSING_PROMPT, ProblemKind.MISSING_TEXT)
    ]
    assert text_problems == []


def test_prompt_missing_from_the_catalog_is_found_through_the_flows(tmp_path: Path) -> None:
    shipped = PromptCatalog.load(PROMPTS_YAML)
    referenced, _ = referenced_prompts(FLOWS_YAML, shipped)
    assert referenced
    dropped = sorted(referenced)[0]
    catalog = PromptCatalog(
        [shipped.entry(pid) for pid in sorted(shipped.flow_prompt_ids() - {dropped})],
        [shipped.entry(pid) for pid in sorted(shipped.word_ids())],
    )
    # The flows file does not compile against this catalog, but its prompt ids are known.
    again, note = referenced_prompts(FLOWS_YAML, catalog)
    assert again == referenced and note == ""
    problems = check_prompts(catalog, tmp_path, None, referenced=again)
    assert [(p.kind, p.prompt_id) for p in problems if p.kind is ProblemKind.MISSING_PROMPT] == [
        (ProblemKind.MISSING_PROMPT, dropped)
    ]
