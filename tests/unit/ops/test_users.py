"""Users, roles, API tokens, sessions and login throttling (ops/users.py) on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from m3amazon.ops import db, users
from m3amazon.ops.users import Principal, UserError
from ops_samples import make_engine
from web_samples import PASSWORD  # and the suite's cheap argon2 parameters


def test_passwords_are_stored_as_argon2_hashes_and_checked(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    users.add_user(engine, "alice", PASSWORD, "operator")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(db.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert users.authenticate(engine, "alice", PASSWORD) == "operator"
    assert users.authenticate(engine, "alice", PASSWORD + "!") is None
    assert users.authenticate(engine, "nobody", PASSWORD) is None
    users.set_password(engine, "alice", "another long password")
    assert users.authenticate(engine, "alice", PASSWORD) is None
    users.set_disabled(engine, "alice", True)
    assert users.authenticate(engine, "alice", "another long password") is None


@pytest.mark.parametrize(
    ("name", "password", "role", "why"),
    [
        ("bob", "short", "viewer", "at least"),
        ("bob", PASSWORD, "root", "role must be"),
        ("b o b", PASSWORD, "viewer", "no spaces"),
        ("", PASSWORD, "viewer", "no spaces"),
    ],
)
def test_users_add_refuses_what_it_cannot_keep(
    tmp_path: Path, name: str, password: str, role: str, why: str
) -> None:
    engine = make_engine(tmp_path)
    with pytest.raises(UserError, match=why):
        users.add_user(engine, name, password, role)


def test_a_name_is_taken_once(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    users.add_user(engine, "alice", PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        users.add_user(engine, "alice", PASSWORD)
    assert [u["role"] for u in users.list_users(engine)] == ["viewer"]
    assert "password_hash" not in users.list_users(engine)[0]


def test_roles_are_ordered() -> None:
    viewer, operator, admin = (Principal("u", r, "token") for r in ("viewer", "operator", "admin"))  # type: ignore[arg-type]
    assert viewer.can("viewer") and not viewer.can("operator")
    assert operator.can("viewer") and operator.can("operator") and not operator.can("admin")
    assert admin.can("operator") and admin.can("admin")


def test_tokens_are_kept_as_hashes_and_act_as_their_user(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    users.add_user(engine, "ci", PASSWORD, "operator")
    token = users.issue_token(engine, "ci", "pipeline")
    assert token.startswith(users.TOKEN_PREFIX)
    with engine.connect() as conn:
        assert token not in str(conn.execute(sa.select(db.api_tokens)).all())
    who = users.principal_for_token(engine, token)
    assert who == Principal("ci", "operator", "token", token_name="pipeline")
    assert users.list_tokens(engine)[0]["last_used_at"] is not None
    assert users.principal_for_token(engine, token + "x") is None
    users.set_role(engine, "ci", "viewer")  # a token has its user's current role
    assert users.principal_for_token(engine, token).role == "viewer"  # type: ignore[union-attr]
    users.revoke_token(engine, int(users.list_tokens(engine)[0]["id"]))  # type: ignore[call-overload]
    assert users.principal_for_token(engine, token) is None
    with pytest.raises(UserError):
        users.issue_token(engine, "nobody", "x")


def test_sessions_end_when_idle_expired_or_ended(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    users.add_user(engine, "alice", PASSWORD, "viewer")
    session = users.start_session(engine, "alice", max_age_s=3600)
    who = users.principal_for_session(engine, session, idle_s=600)
    assert who is not None and who.via == "session" and who.csrf_token
    with engine.begin() as conn:  # 11 minutes without a request
        conn.execute(db.sessions.update().values(last_seen_at=datetime.now(UTC) - timedelta(minutes=11)))
    assert users.principal_for_session(engine, session, idle_s=600) is None
    second = users.start_session(engine, "alice", max_age_s=3600)
    users.set_password(engine, "alice", "a new long password")  # ends every session of the user
    assert users.principal_for_session(engine, second, idle_s=600) is None
    third = users.start_session(engine, "alice", max_age_s=3600)
    users.end_session(engine, third)
    assert users.principal_for_session(engine, third, idle_s=600) is None


def test_failed_logins_throttle_within_the_window(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    keys = ["user:alice", "addr:10.0.0.1"]
    for _ in range(2):
        users.record_failure(engine, keys, window_s=60)
    assert not users.throttled(engine, keys, max_failures=3, window_s=60)
    users.record_failure(engine, ["user:bob", "addr:10.0.0.1"], window_s=60)
    assert users.throttled(engine, ["user:carol", "addr:10.0.0.1"], max_failures=3, window_s=60)
    assert not users.throttled(engine, ["user:carol", "addr:10.0.0.2"], max_failures=3, window_s=60)
    with engine.begin() as conn:  # the window has passed
        conn.execute(db.login_failures.update().values(at=datetime.now(UTC) - timedelta(seconds=120)))
    assert not users.throttled(engine, keys, max_failures=3, window_s=60)


def test_secrets_are_compared_whole() -> None:
    assert users.same_secret("abc", "abc")
    assert (
        not users.same_secret("abc", "abd")
        and not users.same_secret("", "")
        and not users.same_secret(None, "a")
    )
