"""schemathesis against the admin API's own OpenAPI schema: no 5xx, and every answer matches the schema.

The worker's secured surface on a SQLite database holding incidents of several kinds (an unknown
SKU with suggestions, an M3 outage, an address), an order trail, and an operator's API token;
accepting a suggestion talks to the M3 simulator on loopback. Bounded: a few dozen generated
requests per operation, so the whole module runs in well under a minute.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from m3amazon.config import M3Settings
from m3amazon.m3.client import MIClient, RetryPolicy
from m3amazon.mapping import load_mappings
from m3amazon.ops import trail, users
from m3amazon.ops.actions import OperatorActions
from m3amazon.sim.catalog import MARKETPLACES, build_catalog
from m3amazon.sim.m3.app import create_app
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import serve_in_thread
from ops_samples import RecordingEnqueue, make_engine, order_incident, problem, unknown_sku
from web_samples import PASSWORD, bearer, secured_app

CATALOG = build_catalog(size=8)
NO_WAIT = RetryPolicy(attempts=1, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)
_TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def admin_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("schema")
    store = SimStore(folder / "m3sim.sqlite")
    store.seed_from_catalog(CATALOG, MARKETPLACES, skip_skus=(CATALOG[0].sku,))
    m3 = serve_in_thread(create_app(store), name="m3-sim-schema")

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[MIClient]:
        async with MIClient(M3Settings(base_url=m3.url), retry=NO_WAIT) as client:
            yield client

    engine = make_engine(folder)
    for n in range(1, 4):
        order = f"113-0000001-000000{n}"
        trail.record(engine, trail.TrailEntry(order, "incident", channel="MERCHANT", currency="USD"))
        trail.add_event(engine, order, "received", "notification: Unshipped", key=f"received:{n}")
    suggestion = [(CATALOG[1].item_number, CATALOG[1].item_name, 90.0)]
    order_incident(engine, "113-0000001-0000001", "sku_unknown", [unknown_sku(CATALOG[0].sku, suggestion)])
    order_incident(engine, "113-0000001-0000002", "m3_unavailable", [problem("M3_UNAVAILABLE", "down")])
    order_incident(engine, "113-0000001-0000003", "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "x")])
    users.add_user(engine, "schemathesis", PASSWORD, "operator")
    _TOKEN["value"] = users.issue_token(engine, "schemathesis", "schema test")
    actions = OperatorActions(
        engine=engine, enqueue=RecordingEnqueue(), mappings=lambda: load_mappings(None), m3=connect
    )
    try:
        app = secured_app(engine, actions)
        yield schemathesis.openapi.from_asgi("/openapi.json", app, headers=bearer(_TOKEN["value"]))
    finally:
        m3.stop()
        store.close()
        engine.dispose()


def test_the_admin_api_answers_every_generated_request_as_its_schema_says(admin_api: Any) -> None:
    headers = bearer(_TOKEN["value"])
    checked = []
    for result in admin_api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def generated(case: Any) -> None:
            case.call_and_validate(headers=headers)

        generated()
        checked.append(operation.label)
    assert len(checked) >= 8, checked  # every admin API operation was exercised
