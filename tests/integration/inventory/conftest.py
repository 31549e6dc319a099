"""Fixtures of the inventory sync's integration tests: both simulators and the sync (inventory_rig.py)."""

from __future__ import annotations

import pytest

from m3amazon.sim.tls import LocalTLS


@pytest.fixture(scope="session")
def inventory_tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTLS:
    return LocalTLS.ensure(tmp_path_factory.mktemp("inventory-tls"))
