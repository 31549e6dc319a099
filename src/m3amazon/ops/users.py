"""Who may use the console and the admin API: users, roles, API tokens, sessions, login throttling.

- Users are local: a name, an argon2id password hash (argon2-cffi), one role. Roles are ordered:
  `viewer` reads everything, `operator` also acts on incidents (retry, discard, accept a SKU
  suggestion), `admin` also manages users and tokens.
- API tokens act as their user for `/api/...` (``Authorization: Bearer <token>``). A token is shown
  once, when it is made; the database keeps only its SHA-256, so a copy of the database does not
  hand out access.
- Console sessions are server-side: the cookie carries a random id, the table its SHA-256, the
  user and the session's CSRF token (every state-changing console request must echo it).
- Failed logins are recorded per user name and per client address; too many in the window and
  further attempts are refused without even checking the password (ops/users.py `throttled`).

Nothing here logs a password, a token or a session id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from m3amazon.ops.db import api_tokens, login_failures, sessions, users

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
#: The shortest password `users add` accepts.
MIN_PASSWORD = 10
#: Token prefix, so a leaked token is recognisable (secret scanners, log redaction).
TOKEN_PREFIX = "m3a_"

#: argon2id with argon2-cffi's default parameters (RFC 9106's low-memory profile). The test suite
#: swaps in a cheaper one (tests/web_samples.py); production code never changes it.
HASHER = PasswordHasher()
_dummy: dict[int, str] = {}


def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong password."""
    key = id(HASHER)
    if key not in _dummy:
        _dummy[key] = HASHER.hash(secrets.token_urlsafe(16))
    return _dummy[key]


class UserError(Exception):
    """A user operation cannot be done (unknown user, weak password, bad role, ...)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their role, and how they authenticated."""

    username: str
    role: Role
    via: Literal["session", "token"]
    #: The session's CSRF token (sessions only).
    csrf_token: str | None = None
    #: The token's name (tokens only).
    token_name: str | None = None

    def can(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were written as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")


# -- users -------------------------------------------------------------------------------------


def add_user(engine: Engine, username: str, password: str, role: str = "viewer") -> None:
    """Create a user (UserError if the name is taken)."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise UserError("a user name has 1 to 100 characters and no spaces")
    checked = _check_role(role)
    _check_password(password)
    now = _now()
    with engine.begin() as conn:
        if conn.execute(sa.select(users.c.username).where(users.c.username == username)).first():
            raise UserError(f"user {username} exists already")
        conn.execute(
            users.insert().values(
                username=username,
                password_hash=HASHER.hash(password),
                role=checked,
                disabled=False,
                created_at=now,
                updated_at=now,
            )
        )


def set_password(engine: Engine, username: str, password: str) -> None:
    _check_password(password)
    _update_user(engine, username, password_hash=HASHER.hash(password))
    end_sessions(engine, username)


def set_role(engine: Engine, username: str, role: str) -> None:
    _update_user(engine, username, role=_check_role(role))


def set_disabled(engine: Engine, username: str, disabled: bool) -> None:
    _update_user(engine, username, disabled=disabled)
    if disabled:
        end_sessions(engine, username)


def _update_user(engine: Engine, username: str, **values: object) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            users.update().where(users.c.username == username).values(**values, updated_at=_now())
        ).rowcount
    if not done:
        raise UserError(f"there is no user {username}")


def list_users(engine: Engine) -> list[dict[str, object]]:
    """Users without their password hashes."""
    query = sa.select(
        users.c.username, users.c.role, users.c.disabled, users.c.created_at, users.c.last_login_at
    ).order_by(users.c.username)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def authenticate(engine: Engine, username: str, password: str) -> Role | None:
    """The user's role if the password is right and the user enabled; None otherwise."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    with engine.begin() as conn:
        values: dict[str, object] = {"last_login_at": _now()}
        if HASHER.check_needs_rehash(stored):
            values["password_hash"] = HASHER.hash(password)
        conn.execute(users.update().where(users.c.username == username).values(**values))
    return _check_role(row.role)


def _role_of(conn: sa.Connection, username: str) -> Role | None:
    row = conn.execute(
        sa.select(users.c.role).where(users.c.username == username, users.c.disabled.is_(False))
    ).first()
    return _check_role(row.role) if row is not None else None


# -- API tokens --------------------------------------------------------------------------------


def issue_token(engine: Engine, username: str, name: str) -> str:
    """A new API token acting as `username`; the only time its value is known."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if _role_of(conn, username) is None:
            raise UserError(f"there is no enabled user {username}")
        conn.execute(
            api_tokens.insert().values(
                token_hash=_digest(token), username=username, name=name[:100] or "token", created_at=_now()
            )
        )
    return token


def revoke_token(engine: Engine, token_id: int) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        ).rowcount
    if not done:
        raise UserError(f"there is no active token {token_id}")


def list_tokens(engine: Engine) -> list[dict[str, object]]:
    """Tokens without their hashes."""
    query = sa.select(
        api_tokens.c.id,
        api_tokens.c.username,
        api_tokens.c.name,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
        api_tokens.c.revoked_at,
    ).order_by(api_tokens.c.id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def principal_for_token(engine: Engine, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(
                api_tokens.c.token_hash == _digest(token), api_tokens.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        role = _role_of(conn, row.username)
        if role is None:
            return None
        conn.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=_now()))
    return Principal(row.username, role, "token", token_name=row.name)


# -- sessions ------------------------------------------------------------------------------------


def start_session(engine: Engine, username: str, max_age_s: int) -> str:
    """A new console session; returns the cookie value (only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    with engine.begin() as conn:
        conn.execute(
            sessions.insert().values(
                id_hash=_digest(session_id),
                username=username,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=max_age_s),
            )
        )
        conn.execute(sessions.delete().where(sessions.c.expires_at < now))  # tidy up ended ones
    return session_id


def principal_for_session(engine: Engine, session_id: str, idle_s: int) -> Principal | None:
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(sa.select(sessions).where(sessions.c.id_hash == _digest(session_id))).first()
        if row is None:
            return None
        if _aware(row.expires_at) < now or _aware(row.last_seen_at) + timedelta(seconds=idle_s) < now:
            conn.execute(sessions.delete().where(sessions.c.id_hash == row.id_hash))
            return None
        role = _role_of(conn, row.username)
        if role is None:
            return None
        conn.execute(sessions.update().where(sessions.c.id_hash == row.id_hash).values(last_seen_at=now))
    return Principal(row.username, role, "session", csrf_token=row.csrf_token)


def end_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == _digest(session_id)))


def end_sessions(engine: Engine, username: str) -> None:
    with engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.username == username))


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two secrets (CSRF tokens, the metrics token)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# -- login throttling ------------------------------------------------------------------------------


def throttled(engine: Engine, keys: list[str], max_failures: int, window_s: int) -> bool:
    """True when any of `keys` (user name, client address) failed `max_failures` times in the window."""
    since = _now() - timedelta(seconds=window_s)
    query = (
        sa.select(login_failures.c.key, sa.func.count())
        .where(login_failures.c.key.in_(keys), login_failures.c.at >= since)
        .group_by(login_failures.c.key)
    )
    with engine.connect() as conn:
        return any(count >= max_failures for _, count in conn.execute(query))


def record_failure(engine: Engine, keys: list[str], window_s: int) -> None:
    now = _now()
    with engine.begin() as conn:
        conn.execute(login_failures.insert(), [{"key": k[:200], "at": now} for k in keys])
        conn.execute(login_failures.delete().where(login_failures.c.at < now - timedelta(seconds=window_s)))


def clear_failures(engine: Engine, keys: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.key.in_(keys)))
