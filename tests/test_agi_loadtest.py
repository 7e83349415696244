"""``ivr loadtest`` end to end (in-process server, small N) and its input checks."""

from __future__ import annotations

import json

import pytest

from ivr.cli import main
from ivr.testing.load import percentile


def test_loadtest_self_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["loadtest", "--self", "--calls", "40", "--concurrency", "20",
                 "--no-progress", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["calls"] == out["completed"] == 40
    assert out["commands"] == 40 * 17  # the minimal handler's longest path
    assert out["commands_per_second"] > 0 and out["p99_ms"] >= out["p50_ms"] > 0


def test_loadtest_with_hanging_up_callers(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["loadtest", "--self", "--calls", "10", "--caller", "hangup",
                 "--hangup-after", "3", "--no-progress"])
    assert code == 0
    assert "calls          10 (10 ended by the server)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--host", "192.168.1.10"], "not a loopback address"),
    (["--host", "pbx.example"], "not an IP address"),
    (["--keys", "12a"], "--keys may hold only"),
    (["--calls", "0"], "at least 1"),
])
def test_loadtest_refuses_bad_input(argv: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", *argv]) == 2
    assert message in capsys.readouterr().err


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (
        50.0, 99.0, 0.0)
