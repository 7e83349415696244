"""What a scenario's call did, checked against what it must do, as readable diffs.

Pure data and text: the runner (:mod:`ivr.scenario_runner`) fills in :class:`Heard`
from the engine's record; this module compares, formats and measures coverage, so the
messages are tested by exact string without running a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.calls import Outcome
from ivr.flows.model import FlowSet
from ivr.flows.scenarios import Scenario
from ivr.lookups import LookupStatus

#: Indent of the lines under a failing scenario's header.
INDENT = "  "


@dataclass(frozen=True, slots=True)
class Transfer:
    """One hand-over to a queue, as the case the agent sees."""

    node: str
    """``flow.node`` that handed over (a transfer node, or a node whose exit is ``agent``)."""
    queue: str
    """Asterisk queue name."""
    intent: str
    status: str
    """How the queue answered: completed, timeout, full, no_agents, failed, abandoned."""


@dataclass(frozen=True, slots=True)
class Heard:
    """What one call did, as the checks and the coverage read it."""

    outcome: Outcome
    prompts: tuple[str, ...] = ()
    """Prompt ids in the order played, without the words of spoken values."""
    path: tuple[str, ...] = ()
    """``flow.node`` of every step."""
    lookups: tuple[tuple[str, str, LookupStatus], ...] = ()
    """(``flow.node``, lookup, status) of every lookup node run."""
    answers: tuple[tuple[str, str], ...] = ()
    """(``flow.node``, keys) of every accepted answer to a menu or input."""
    transfers: tuple[Transfer, ...] = ()
    hours: tuple[tuple[str, str], ...] = ()
    """(``flow.node``, open/closed/holiday) of every opening-hours check."""
    error: str = ""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    heard: Heard
    problems: tuple[str, ...]
    """One line per difference (a sequence diff spans several); empty when it passed."""

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        """The failure as printed: ``PATH:LINE: FAIL name`` then the differences."""
        mark = self.scenario.mark
        head = f"{mark.path}:{mark.line}: {'ok' if self.passed else 'FAIL'} {self.scenario.name}"
        return "\n".join([head, *(INDENT + p for p in self.problems)])


@dataclass(frozen=True, slots=True)
class ScenarioReport:
    """The result of running a scenarios file against one compiled flows version."""

    flowset: FlowSet
    results: tuple[ScenarioResult, ...]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        """True when every scenario passed: the version may be published."""
        return self.failed == 0

    def failures(self) -> list[ScenarioResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def check(scenario: Scenario, heard: Heard, queue_names: Mapping[str, str]) -> tuple[str, ...]:
    """Every way ``heard`` differs from what ``scenario`` expects; ``queue_names`` maps
    the flows file's queue keys to Asterisk queue names."""
    e = scenario.expect
    problems: list[str] = []
    if heard.outcome is not e.outcome:
        problems.append(f"outcome: expected {e.outcome.value}, got {heard.outcome.value}")
    last = heard.transfers[-1] if heard.transfers else None
    if e.intent is not None and (last is None or last.intent != e.intent):
        got = "no case (no transfer)" if last is None else last.intent
        problems.append(f"intent: expected {e.intent}, got {got}")
    if e.queue is not None and (last is None or last.queue != queue_names.get(e.queue)):
        keys = {name: key for key, name in reversed(list(queue_names.items()))}
        got = "no transfer" if last is None else keys.get(last.queue, last.queue)
        problems.append(f"queue: expected {e.queue}, got {got}")
    for lookup, status in e.lookups.items():
        ran = [s for _node, a, s in heard.lookups if a == lookup]
        if not ran:
            problems.append(f"lookups: {lookup} expected {status.value}, never looked up")
        elif ran[-1] is not status:
            problems.append(f"lookups: {lookup} expected {status.value}, got {ran[-1].value}")
    problems += sequence_diff("prompts", "heard", e.prompts, heard.prompts)
    problems += sequence_diff("nodes", "passed", e.nodes, heard.path)
    if problems and heard.error:
        problems.append(f"error: {heard.error}")
    return tuple(problems)


def sequence_diff(what: str, verb: str, expected: Sequence[str],
                  got: Sequence[str]) -> list[str]:
    """``expected`` must appear in ``got`` in order (others may come between). When it
    does not: a line naming the missing ones, then ``got`` with ``=`` on the items matched
    and a ``-`` line for each missing one, just before the next item matched. The search
    goes on past a missing item, so one prompt dropped from a flow is one ``-`` line."""
    missing_before: dict[int, list[str]] = {}  # shown just before the next item matched
    matched: set[int] = set()
    pending: list[str] = []
    missing: list[str] = []
    start = 0
    for want in expected:
        found = next((i for i in range(start, len(got)) if got[i] == want), None)
        if found is None:
            pending.append(want)
            missing.append(want)
            continue
        if pending:
            missing_before[found], pending = pending, []
        matched.add(found)
        start = found + 1
    if not missing:
        return []
    if pending:
        missing_before[len(got)] = pending
    lines = [f"{what}: missing {', '.join(missing)} (- missing, = {verb} as expected):"]
    for i in range(len(got) + 1):
        lines += [f"{INDENT}- {m}" for m in missing_before.get(i, ())]
        if i < len(got):
            lines.append(f"{INDENT}{'=' if i in matched else ' '} {got[i]}")
    return lines


__all__ = ["Heard", "ScenarioReport", "ScenarioResult", "Transfer", "check", "sequence_diff"]
