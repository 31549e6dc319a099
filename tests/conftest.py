"""Shared test fixtures (see m3a_testenv.py for what is required where)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from m3a_testenv import PG_URL, pg_reachable, require


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require(
        pg_reachable(),
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
