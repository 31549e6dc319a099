"""Shared test fixtures (see m3a_testenv.py for what is required where)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from m3a_testenv import PG_URL, fresh_pg_database, pg_reachable, require


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require(
        pg_reachable(),
        f"PostgreSQL is not reachable at {PG_URL}",
        "start PostgreSQL or set M3AMAZON_TEST_PG_URL to run it",
    )
    with fresh_pg_database() as url:
        yield url
