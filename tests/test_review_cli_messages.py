"""Messages operators meet on the command line: what is wrong and what to do, in plain
words (found by running the documented commands as an operator would)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from ivr.cli import main


@pytest.mark.postgres
def test_db_schema_that_does_not_exist_says_so(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = f"missing_{uuid.uuid4().hex[:8]}"  # never created: nothing to clean up
    assert main(["db", "migrate", "--db", postgres_url, "--schema", schema]) == 2
    err = capsys.readouterr().err
    assert f"schema '{schema}' does not exist: create it first (CREATE SCHEMA {schema};) " \
        "or leave out --schema" in err
    assert "CREATE TABLE" not in err


def test_rejected_reload_logs_its_warnings_as_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flows_support import DemoData

    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import PromptCatalog

    catalog = PromptCatalog.from_texts({p: {"vi": p, "en": p} for p in
                                        ("ask", "one", "sorry_transfer")})
    good = ("flows:\n  hotline:\n    start: q\n    nodes:\n"
            "      q: {menu: {prompt: ask, options: {\"1\": said}}}\n"
            "      said: {play: one, next: hangup}\n")
    path = tmp_path / "flows.yaml"
    path.write_text(good)
    source = FlowSource.load(path, actions=DemoData().registry(), catalog=catalog)
    path.write_text(good.replace('"1": said', '"1": sad'))
    caplog.set_level(logging.WARNING, logger="ivr.flows.source")
    source.reload()
    levels = {r.getMessage().split(": ", 2)[1]: r.levelname for r in caplog.records
              if r.getMessage().startswith(str(path))}
    assert levels == {"error": "ERROR", "warning": "WARNING"}
