"""Shared test fixtures.

Tests that need something a bare machine lacks (PostgreSQL, the vendor reference data in
../shared) are required when CI=true and skipped elsewhere with a message that says how to enable
them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("M3AMAZON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def require(condition: bool, reason: str, how: str) -> None:
    """Skip with instructions outside CI; fail in CI, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required because CI=true)")
    pytest.skip(f"{reason}; {how}")


def reference_dir() -> Path:
    configured = os.environ.get("M3AMAZON_REFERENCE_DIR")
    path = Path(configured) if configured else REPO.parent / "shared"
    require(
        path.is_dir(),
        f"reference data not found at {path}",
        "set M3AMAZON_REFERENCE_DIR to the folder holding amazon-sp-api/ and m3-mi/ to run it",
    )
    return path


@pytest.fixture
def reference() -> Path:
    return reference_dir()


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require(
        _pg_reachable(),
        f"PostgreSQL is not reachable at {PG_URL}",
        "start PostgreSQL or set M3AMAZON_TEST_PG_URL to run it",
    )
    import psycopg

    name = f"m3a_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
