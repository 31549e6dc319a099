"""`m3amazon users ...`: the console's and admin API's users, their roles and API tokens.

Run on a machine with access to the product's database (the same `--config` as the workers). A
password is asked for at the prompt (never on the command line, where `ps` and shell history
would keep it) unless `--password-stdin` reads it from standard input; a token is printed once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from m3amazon.ops import db, users
from m3amazon.ops.users import ROLES, UserError

users_app = typer.Typer(
    help="Users of the console and the admin API: add, list, set role or password, API tokens.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (default: $M3AMAZON_CONFIG)")
]
RoleOption = Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input (scripts)")
]


def _engine(config: Path | None) -> Engine:
    from m3amazon.cli import _load

    settings = _load(config)
    engine = db.create_engine(settings.database_url, pool_size=2)
    db.create_tables(engine)
    return engine


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _fail(action: str, exc: UserError) -> NoReturn:
    """A UserError as a plain message, exit status 1."""
    Console(stderr=True).print(f"[red]{action} failed:[/red] {exc}")
    raise typer.Exit(1) from exc


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="The user name (no spaces)")],
    role: RoleOption = "viewer",
    password_stdin: StdinOption = False,
    config: ConfigOption = None,
) -> None:
    """Add a user (viewer reads, operator acts on incidents, admin also manages users)."""
    engine = _engine(config)
    try:
        users.add_user(engine, username, _password(password_stdin), role)
    except UserError as exc:
        _fail("users add", exc)
    Console().print(f"user {username} added with role {role}")


@users_app.command("list")
def list_users(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The users, their roles and last logins (never their passwords)."""
    rows = users.list_users(_engine(config))
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = Table("user", "role", "enabled", "last login")
    for row in rows:
        table.add_row(
            str(row["username"]),
            str(row["role"]),
            "no" if row["disabled"] else "yes",
            str(row["last_login_at"] or ""),
        )
    Console().print(table)


@users_app.command("set-role")
def set_role(
    username: str, role: Annotated[str, typer.Argument(help=", ".join(ROLES))], config: ConfigOption = None
) -> None:
    """Change a user's role."""
    try:
        users.set_role(_engine(config), username, role)
    except UserError as exc:
        _fail("users set-role", exc)
    Console().print(f"user {username} is now {role}")


@users_app.command("password")
def password(username: str, password_stdin: StdinOption = False, config: ConfigOption = None) -> None:
    """Set a user's password (ends the user's console sessions)."""
    engine = _engine(config)
    try:
        users.set_password(engine, username, _password(password_stdin))
    except UserError as exc:
        _fail("users password", exc)
    Console().print(f"password of {username} changed; their sessions ended")


@users_app.command("disable")
def disable(username: str, config: ConfigOption = None) -> None:
    """Disable a user: no login, their sessions and tokens stop working."""
    _set_disabled(username, True, config)


@users_app.command("enable")
def enable(username: str, config: ConfigOption = None) -> None:
    """Enable a disabled user again."""
    _set_disabled(username, False, config)


def _set_disabled(username: str, disabled: bool, config: Path | None) -> None:
    what = "disabled" if disabled else "enabled"
    try:
        users.set_disabled(_engine(config), username, disabled)
    except UserError as exc:
        _fail(f"users {what}", exc)
    Console().print(f"user {username} {what}")


@users_app.command("token")
def token(
    username: str,
    name: Annotated[str, typer.Option("--name", help="What the token is for (shown in lists)")] = "api",
    config: ConfigOption = None,
) -> None:
    """Make an API token acting as the user; printed once (only its hash is kept)."""
    try:
        value = users.issue_token(_engine(config), username, name)
    except UserError as exc:
        _fail("users token", exc)
    Console(stderr=True).print(f"API token for {username} ({name}); keep it, it is not shown again:")
    print(value)


@users_app.command("revoke-token")
def revoke_token(token_id: int, config: ConfigOption = None) -> None:
    """Revoke an API token by its number (see `users tokens`)."""
    try:
        users.revoke_token(_engine(config), token_id)
    except UserError as exc:
        _fail("users revoke-token", exc)
    Console().print(f"token {token_id} revoked")


@users_app.command("tokens")
def tokens(config: ConfigOption = None) -> None:
    """The API tokens (never their values)."""
    table = Table("#", "user", "name", "created", "last used", "revoked")
    for row in users.list_tokens(_engine(config)):
        table.add_row(
            *(
                str(row[k] or "")
                for k in ("id", "username", "name", "created_at", "last_used_at", "revoked_at")
            )
        )
    Console().print(table)
