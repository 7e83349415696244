"""Messages operators meet on the command line: what is wrong and what to do, in plain
words (found by running the documented commands as an operator would)."""

from __future__ import annotations

import uuid

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
