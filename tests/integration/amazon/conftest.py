"""Fixtures: the Amazon simulator over real HTTPS (local CA) and moto's SQS, on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amazon_sim_harness import MARKETPLACES, AmazonSim

from m3amazon.sim.amazon.app import create_app
from m3amazon.sim.amazon.notify import Publisher
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.sim.sqs import SqsServer
from m3amazon.sim.tls import LocalTLS


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTLS:
    return LocalTLS.ensure(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def sqs() -> Iterator[SqsServer]:
    with SqsServer() as server:
        yield server


@pytest.fixture
def queue_url(sqs: SqsServer) -> str:
    """A fresh queue per test: moto's backend is shared by the whole process."""
    return sqs.create_queue(f"sp-api-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def start_amazon(tls: LocalTLS) -> Iterator[Callable[..., AmazonSim]]:
    """Start an Amazon simulator over HTTPS: start_amazon(publisher=..., rate_limits=..., time_scale=...)."""
    running: list[RunningServer] = []

    def start(
        account: SellerAccount | None = None,
        *,
        publisher: Publisher | None = None,
        rate_limits: Any = True,
        time_scale: float = 1.0,
    ) -> AmazonSim:
        account = account or SellerAccount(marketplaces=MARKETPLACES)
        app = create_app(account, publisher=publisher, rate_limits=rate_limits, time_scale=time_scale)
        server = serve_in_thread(app, tls=(tls.server_cert, tls.server_key), name="amazon-sim")
        running.append(server)
        return AmazonSim(account, server, tls)

    yield start
    for server in running:
        server.stop()
