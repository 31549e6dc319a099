"""`m3amazon users ...` on a real database: add, list, role, token, revoke; no secret on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import web_samples  # noqa: F401  (the suite's cheap argon2 parameters)
from m3amazon.cli import app
from m3amazon.ops import db, users

PASSWORD = "a password for the cli"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'users.sqlite'}"
    monkeypatch.setenv("M3AMAZON_DATABASE_URL", url)
    monkeypatch.delenv("M3AMAZON_CONFIG", raising=False)
    return url


def test_users_are_added_listed_and_given_tokens(database: str) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["users", "add", "alice", "--role", "operator", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    again = runner.invoke(app, ["users", "add", "alice", "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 1 and "exists already" in again.output
    weak = runner.invoke(app, ["users", "add", "bob", "--password-stdin"], input="short\n")
    assert weak.exit_code == 1 and "at least 10 characters" in weak.output

    token = runner.invoke(app, ["users", "token", "alice", "--name", "scripts"])
    assert token.exit_code == 0, token.output
    value = token.stdout.strip().splitlines()[-1]
    assert value.startswith("m3a_")

    engine = db.create_engine(database)
    try:
        assert users.authenticate(engine, "alice", PASSWORD) == "operator"
        assert users.principal_for_token(engine, value).username == "alice"  # type: ignore[union-attr]
        listed = runner.invoke(app, ["users", "list", "--json"])
        assert '"role": "operator"' in listed.output and PASSWORD not in listed.output
        assert runner.invoke(app, ["users", "set-role", "alice", "viewer"]).exit_code == 0
        assert users.authenticate(engine, "alice", PASSWORD) == "viewer"
        tokens = runner.invoke(app, ["users", "tokens"])
        assert "scripts" in tokens.output and value not in tokens.output
        assert runner.invoke(app, ["users", "revoke-token", "1"]).exit_code == 0
        assert users.principal_for_token(engine, value) is None
        assert runner.invoke(app, ["users", "disable", "alice"]).exit_code == 0
        assert users.authenticate(engine, "alice", PASSWORD) is None
    finally:
        engine.dispose()
