"""The small languages inside flows: conditions, durations, and positions from the loader."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.config.loader import YMap, YScalar, YSeq, load_yaml
from ivr.flows.conditions import ConditionError, parse_condition
from ivr.flows.durations import DurationError, parse_duration

VARS: dict[str, Any] = {"caller": {"count": 1, "name": "An"}, "balance": {"paid": False,
                        "amount_due": 1250000}, "language": "vi", "score": "4"}


def resolve(path: str) -> Any:
    value: Any = VARS
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize(("text", "expected"), [
    ("caller.count == 1", True),
    ("caller.count != 1", False),
    ("balance.amount_due > 0 and not balance.paid", True),
    ("balance.amount_due >= 1250000", True),
    ("balance.amount_due < 1000", False),
    ("balance.amount_due <= 1.5", False),
    ('language == "en" or language == \'vi\'', True),
    ("caller.name is set", True),
    ("caller.phone is set", False),
    ("caller.phone is not set", True),
    ("not (caller.count == 1 and balance.paid)", True),
    ("balance.paid", False),
    ("caller.missing > 3", False),          # a missing value never compares
    ("score > 3", False),                   # text against a number: false, not an error
    ("score == \"4\"", True),
    ("balance.paid == false", True),
    ("caller.count == 1 or caller.count == 2 and balance.paid", True),  # and binds tighter
    ("caller.phone == none", True),
])
def test_conditions_evaluate(text: str, expected: bool) -> None:
    assert parse_condition(text).evaluate(resolve) is expected


@pytest.mark.parametrize(("text", "message", "offset"), [
    ("caller.count = 1", "unexpected character '='", 13),
    ("caller.count ==", "expected a variable, a number or a quoted text, found the end", 15),
    ("(caller.count == 1", "expected ')', found the end", 18),
    ("caller.count == 1 1", "expected 'and', 'or' or the end, found '1'", 18),
    ("caller is nice", "expected 'set' after 'is', found 'nice'", 10),
    ("__import__('os')", "expected 'and', 'or' or the end, found '('", 10),
    ("", "empty condition", 0),
    ("1 is set", "'is set' needs a variable on its left", 8),
])
def test_condition_errors_point_at_the_problem(text: str, message: str, offset: int) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert (str(info.value), info.value.offset) == (message, offset)


def test_condition_lists_its_variables() -> None:
    cond = parse_condition("caller.count == 1 and not balance.paid or x is set")
    assert [(v.path, v.offset) for v in cond.variables()] == [
        ("caller.count", 0), ("balance.paid", 26), ("x", 42)]


@pytest.mark.parametrize(("raw", "seconds"), [
    ("5s", 5.0), ("1.5s", 1.5), ("500ms", 0.5), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0),
    (3, 3.0), (2.5, 2.5), (" 10s ", 10.0),
])
def test_durations(raw: Any, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["5", "5 seconds", "s", "", "-1s", "0s", "25h", True, None, [5]])
def test_bad_durations(raw: Any) -> None:
    with pytest.raises(DurationError):
        parse_duration(raw)


def test_loader_keeps_positions_quotes_and_duplicates() -> None:
    root, diags = load_yaml('a:\n  b: [1, "two"]\n  c: x\n  c: y\n', "f.yaml")
    assert diags == []
    assert isinstance(root, YMap)
    inner = root.get("a")
    assert isinstance(inner, YMap)
    b = inner.get("b")
    assert isinstance(b, YSeq) and str(b.mark) == "f.yaml:2:6"
    one, two = b.items
    assert isinstance(one, YScalar) and one.value == 1 and not one.quoted
    assert isinstance(two, YScalar) and two.quoted and str(two.mark) == "f.yaml:2:10"
    assert inner.keys() == ["b", "c"]
    ((first, again),) = inner.duplicates
    assert (str(first.mark), str(again.mark)) == ("f.yaml:3:3", "f.yaml:4:3")
    c = inner.get("c")
    assert isinstance(c, YScalar) and c.value == "x"  # the first one wins; the second is reported


@pytest.mark.parametrize(("text", "expected"), [
    ("a: [1, 2\n", "f.yaml:2:1: error: YAML syntax: expected ',' or ']', but got '<stream end>' "
                   "(while parsing a flow sequence)"),
    ("a: !!python/name:os.system x\n", "f.yaml:1:4: error: YAML syntax: could not determine a "
     "constructor for the tag 'tag:yaml.org,2002:python/name:os.system'"),
    ("", "f.yaml:1:1: error: the file is empty"),
    ("a: *nope\n", "f.yaml:1:4: error: YAML syntax: found undefined alias 'nope'"),
    # The slips supervisors make, in plain words with the fix:
    ("a:\n  b: 1\n\tc: 2\n", "f.yaml:3:1: error: YAML syntax: a tab character: indent with "
     "spaces only"),
    ("a:\n  b: 1\n    c: 2\n", "f.yaml:3:6: error: YAML syntax: unexpected ':' here: check "
     "this line's indentation and that the line above has its ':' (quote a value that "
     "contains ': ')"),
    ("a:\n  b:\n    x: 1\n  d\n    c: 2\n", "f.yaml:4:3: error: YAML syntax: this key has no "
     "':' after it"),
    ("a:\n  - b\n  c: 2\n", "f.yaml:3:3: error: YAML syntax: this line does not line up with "
     "the list above it: every entry of the list starts with '- ' in the same column"),
    ('a:\n  "b: 1\n  "c": 2\n', "f.yaml:3:4: error: YAML syntax: this line does not line up "
     "with the lines above it: check its indentation, and that the quotes on the line above "
     "are closed"),
])
def test_loader_syntax_errors_have_positions(text: str, expected: str) -> None:
    root, diags = load_yaml(text, "f.yaml")
    assert root is None
    assert [str(d) for d in diags] == [expected]


def test_compiled_flows_are_immutable_with_resolved_targets() -> None:
    import dataclasses
    from pathlib import Path

    from ivr.flows.compile.driver import compile_flows
    from ivr.flows.model import MenuNode
    from ivr.prompts.catalog import PromptCatalog
    from ivr.store.lookups import known_lookups

    root = Path(__file__).resolve().parent.parent
    catalog = PromptCatalog.load(root / "config" / "prompts.yaml")
    flowset, _ = compile_flows((root / "config" / "flows.yaml").read_bytes(), "f",
                               catalog=catalog, lookups=known_lookups())
    assert flowset is not None
    nodes = flowset.flows["hotline"].nodes
    menu = nodes["main_menu"]
    assert isinstance(menu, MenuNode)
    assert menu.options["2"].node is nodes["billing"]
    assert menu.question.keys["0"].node is None  # a special target: the agent queue
    with pytest.raises(dataclasses.FrozenInstanceError):
        menu.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        nodes["x"] = menu  # type: ignore[index]
    with pytest.raises(TypeError):
        menu.options["7"] = menu.options["2"]  # type: ignore[index]
    assert repr(menu).startswith("MenuNode(id='main_menu'")  # no endless recursion
