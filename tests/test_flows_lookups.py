"""Each lookup is declared once, with the shape of its result, and the compiler checks a
flow against the registry it is given: names, inputs and fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ivr.flows.compile.driver import compile_flows
from ivr.lookups import LookupContext, LookupRegistry, LookupResult, LookupSpec
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

CATALOG = PromptCatalog.from_texts({p: {"vi": f"vi {p}", "en": f"en {p}"} for p in (
    "hello", "sorry_transfer")})

FLOW = """
flows:
  hotline:
    start: ask
    nodes:
      ask: {lookup: weather, found: tell, not_found: none}
      tell: {play: [{say: {number: weather.tmp}}], next: hangup}
      none: {play: [{say: {number: weather.stations}}], next: hangup}
"""


async def _weather(inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
    return LookupResult.found(temp=31, wind=4)


def diagnostics(lookups: Any) -> list[str]:
    _, diags = compile_flows(FLOW.encode(), "f.yaml", catalog=CATALOG, lookups=lookups)
    return [str(d) for d in diags]


def test_a_lookup_without_a_result_shape_is_refused_when_the_registry_is_built() -> None:
    with pytest.raises(ValueError, match="^lookup 'weather' declares no result shape: give "
                       r"returns= \(the fields of its found value; \{\} for none\)$"):
        LookupRegistry([LookupSpec("weather", _weather)])


def test_every_store_lookup_declares_its_shape() -> None:
    registry = known_lookups()
    assert all(registry.spec(n).returns is not None for n in registry.names())


def test_the_compiler_reads_fields_from_the_registry_it_is_given() -> None:
    registry = LookupRegistry([LookupSpec(
        "weather", _weather, returns={"temp": None, "wind": None},
        not_found_returns={"stations": None})])
    assert diagnostics(registry) == [
        "f.yaml:7:36: error: unknown variable 'weather.tmp': 'weather' has no field 'tmp' "
        "(did you mean 'temp'?)",
    ]


def test_names_alone_leave_the_fields_open() -> None:
    # A caller that knows only the names (a scenario file's reader, a tool) gets the names
    # and nothing more checked: no field is refused for want of a shape.
    assert diagnostics({"weather"}) == []
    assert diagnostics(known_lookups()) == [
        "f.yaml:6:21: error: unknown lookup 'weather'",
    ]
