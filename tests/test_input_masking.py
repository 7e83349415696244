"""Digits a caller keys are masked in the call record and the case unless the flow says
the agent needs them as keyed (`keep: clear`): a PIN is never kept by omission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flows_support import Harness

from ivr.flows.compile.driver import compile_flows
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

CATALOG = PromptCatalog.from_texts({p: {"vi": p, "en": p} for p in ("ask", "sorry_transfer")})


def flows(extra: str) -> str:
    return ("flows:\n  hotline:\n    start: ask\n    nodes:\n"
            "      ask:\n        input:\n          prompt: ask\n          digits: 6\n"
            f"          store: entered\n{extra}"
            "        next: go\n"
            "      go:\n        transfer: {queue: desk}\n"
            "queues:\n  desk: {name: desk}\n")


async def keyed(tmp_path: Path, extra: str) -> tuple[list[str], list[str]]:
    """What the call record and the case keep of the caller keying 987654."""
    h = Harness.build(tmp_path, flows(extra), catalog=CATALOG)
    record, _ch = await h.call("987654")
    case = h.store.cases[record.case_id or ""]
    return [i.digits for i in record.inputs], [i.digits for i in case.inputs]


async def test_keyed_digits_are_masked_by_default(tmp_path: Path) -> None:
    in_record, in_case = await keyed(tmp_path, "")
    assert in_record == in_case == ["**7654"]


async def test_keep_clear_keeps_them_as_keyed(tmp_path: Path) -> None:
    assert await keyed(tmp_path, "          keep: clear\n") == (["987654"], ["987654"])


@pytest.mark.parametrize("extra", ["          keep: masked\n", "          sensitive: true\n"])
async def test_saying_masked_is_the_default(tmp_path: Path, extra: str) -> None:
    assert await keyed(tmp_path, extra) == (["**7654"], ["**7654"])


async def test_the_flow_still_gets_the_digits(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, flows(""), catalog=CATALOG)
    record, _ch = await h.call("987654")
    assert "987654" not in json.dumps([i.digits for i in record.inputs])
    assert record.outcome.value == "transferred"


@pytest.mark.parametrize(("extra", "expected"), [
    ("          sensitive: false\n",
     "f.yaml:10:11: warning: node 'ask': keyed digits are masked in call records "
     "unless the input says 'keep: clear'; 'sensitive: false' no longer keeps them"),
    ("          keep: clear\n          sensitive: true\n",
     "f.yaml:10:11: error: node 'ask': 'keep: clear' and 'sensitive: true' contradict "
     "each other: keep one"),
    ("          keep: plain\n",
     "f.yaml:10:11: error: node 'ask': keep must be clear or masked, not 'plain'"),
])
def test_keep_mistakes_are_named(extra: str, expected: str) -> None:
    _flowset, diags = compile_flows(flows(extra).encode(), "f.yaml", catalog=CATALOG,
                                  lookups=known_lookups())
    assert [str(d) for d in diags] == [expected]


async def test_the_shipped_hotline_keeps_the_customer_code_for_the_agent(
    tmp_path: Path,
) -> None:
    # An unknown caller keys a code that matches no account, then asks for an agent: the
    # agent reads the code the caller keyed on the case.
    h = Harness.build(tmp_path)
    record, _ch = await h.call("- 2 01999999999# 1 0", caller="0999000111")
    assert "01999999999" in [i.digits for i in record.inputs]
