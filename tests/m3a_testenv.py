"""What the test environment offers, and what to do when something is missing.

Tests that need something a bare machine lacks (PostgreSQL, the vendor reference data) call
`require`: they are skipped with instructions outside CI and fail in CI (CI=true), where
everything must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from m3amazon.reference import candidates, find_reference_dir

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("M3AMAZON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def require(condition: bool, reason: str, how: str) -> None:
    """Skip with instructions outside CI; fail in CI, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required because CI=true)")
    pytest.skip(f"{reason}; {how}")


def reference_dir(part: str | None = None) -> Path:
    """The vendor reference folder (holding `part`); skip outside CI, fail in CI when it is missing."""
    path = find_reference_dir(part)
    require(
        path is not None,
        f"reference data not found in {', '.join(map(str, candidates()))}",
        "set M3AMAZON_REFERENCE_DIR to the folder holding amazon-sp-api/ and m3-mi/ to run it",
    )
    assert path is not None
    return path


def pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now (for a service a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fresh_pg_database(prefix: str = "m3a_test") -> Iterator[str]:
    """A new, empty database on the local PostgreSQL (its URL), dropped on the way out."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
