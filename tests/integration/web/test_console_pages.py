"""The console's pages and forms over ASGI: what an operator reads and does, without a browser.

(The browser test in tests/browser drives the same pages in chromium against the running product.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from m3amazon.ops import audit, incidents, trail
from m3amazon.ops.incidents import Incident, open_incident
from ops_samples import RecordingEnqueue, make_engine, order_incident, problem, unknown_sku
from web_samples import add_users, client_for, login, secured_app, session_csrf

ORDER = "113-0000001-0000001"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    engine = make_engine(tmp_path)
    add_users(engine)
    trail.record(engine, trail.TrailEntry(ORDER, "incident", channel="MERCHANT", m3_order_number=None))
    trail.record(engine, trail.TrailEntry("113-0000001-0000009", "created", m3_order_number="1000000042"))
    trail.add_event(engine, ORDER, "received", "notification: Unshipped", key="received:n1")
    yield engine
    engine.dispose()


def test_the_dashboard_shows_orders_incidents_and_charts(engine: Any) -> None:
    order_incident(engine, ORDER, "sku_unknown", [unknown_sku("SKU-1", [("ITEM-1", "Ball", 91.0)])])

    async def scenario() -> str:
        async with client_for(secured_app(engine)) as browser:
            await login(browser, "viewer")
            return (await browser.get("/")).text

    page = run(scenario())
    assert "orders created" in page and "orders incident" in page
    assert '<div class="card" id="open-incidents"><b>1</b>open incidents</div>' in page
    assert page.count("<svg") == 2 and "<rect" in page  # orders and incidents per hour
    assert "sku_unknown" in page  # incidents by category and age
    assert "Last notification from SQS" in page and "never" in page


def test_orders_are_found_by_amazon_or_m3_number_and_sku(engine: Any) -> None:
    order_incident(engine, ORDER, "sku_unknown", [unknown_sku("BALL-RED-9", [])])

    async def scenario() -> dict[str, str]:
        async with client_for(secured_app(engine)) as browser:
            await login(browser, "viewer")
            return {
                q: (await browser.get("/orders", params={"q": q})).text
                for q in ("0000001-0000001", "1000000042", "BALL-RED-9", "nothing-like-it")
            } | {"detail": (await browser.get(f"/orders/{ORDER}")).text}

    pages = run(scenario())
    assert ORDER in pages["0000001-0000001"]
    assert "113-0000001-0000009" in pages["1000000042"] and ORDER not in pages["1000000042"]
    assert ORDER in pages["BALL-RED-9"]  # the SKU is in the order's incident
    assert "No order matches." in pages["nothing-like-it"]
    assert "notification: Unshipped" in pages["detail"] and "sku_unknown" in pages["detail"]


def test_an_incident_shows_its_payload_masked_and_an_operator_acts_on_it(engine: Any) -> None:
    enqueue = RecordingEnqueue()
    from m3amazon.mapping import load_mappings
    from m3amazon.ops.actions import OperatorActions

    actions = OperatorActions(engine=engine, enqueue=enqueue, mappings=lambda: load_mappings(None))
    down = order_incident(engine, ORDER, "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 was down")])
    other = open_incident(
        engine,
        Incident(
            key="order:113-0000001-0000005:address_invalid",
            category="address_invalid",
            reason_code="ADDRESS_DOES_NOT_FIT",
            message="address line too long",
            subject="113-0000001-0000005",
            payload={"order": {"ship_to": {"name": "Jane Doe", "line1": "1 Main Street"}}},
        ),
    )

    async def scenario() -> dict[str, str]:
        async with client_for(secured_app(engine, actions)) as browser:
            await login(browser, "operator")
            csrf = await session_csrf(browser)
            shown = (await browser.get(f"/incidents/{other}")).text
            no_reason = await browser.post(
                f"/incidents/{other}/discard", data={"csrf_token": csrf, "reason": " "}
            )
            discarded = await browser.post(
                f"/incidents/{other}/discard", data={"csrf_token": csrf, "reason": "entered by hand"}
            )
            retried = await browser.post(f"/incidents/{down}/retry", data={"csrf_token": csrf})
            return {
                "shown": shown,
                "no_reason": (await browser.get(no_reason.headers["location"])).text,
                "discarded": discarded.headers["location"],
                "retried": (await browser.get(retried.headers["location"])).text,
                "audit": (await browser.get("/audit")).text,
            }

    pages = run(scenario())
    assert "Jane Doe" not in pages["shown"] and "1 Main Street" not in pages["shown"]
    assert "&#34;name&#34;: &#34;***&#34;" in pages["shown"] and "address line too long" in pages["shown"]
    assert "a discard needs a reason" in pages["no_reason"]
    assert pages["discarded"].startswith(f"/incidents/{other}?msg=Discarded")
    assert incidents.get_incident(engine, other)["status"] == "discarded"  # type: ignore[index]
    assert "1 order(s) queued for a retry" in pages["retried"]
    assert 'hx-get="/incidents/' in pages["retried"]  # the status refreshes itself while retrying
    assert enqueue.calls and enqueue.calls[0][0] == ORDER
    assert [(e.actor, e.action) for e in audit.list_entries(engine)] == [
        ("operator", "retry"),
        ("operator", "discard"),
    ]
    assert "entered by hand" in pages["audit"]


def test_sku_review_lists_unknown_skus_with_their_waiting_orders(engine: Any) -> None:
    for n in (1, 2):
        order_incident(
            engine,
            f"113-0000001-000000{n}",
            "sku_unknown",
            [unknown_sku("BALL-RED-9", [("IT000002", "Ball red", 93.5), ("IT000003", "Ball", 70.0)])],
        )

    async def scenario() -> str:
        async with client_for(secured_app(engine)) as browser:
            await login(browser, "operator")
            return (await browser.get("/skus")).text

    page = run(scenario())
    assert "BALL-RED-9" in page and "2 order(s) waiting" in page
    assert "Accept IT000002" in page and "93.5" in page


def test_settlements_and_inventory_pages_show_what_their_flows_recorded(engine: Any) -> None:
    from m3amazon.ops import inventory_store, settlements

    def record() -> None:
        settlements.save(
            engine,
            "12345678",
            status="posted",
            currency="USD",
            total_amount="1000.00",
            sum_of_lines="1000.00",
            lines=42,
            reconciliation={"balanced": True, "differences": {"lines_vs_deposit": "0.00"}},
        )
        inventory_store.add_feed(engine, "FEED-1", [("SKU-1", 5, 1), ("SKU-2", 0, 1)])
        open_incident(
            engine,
            Incident(
                key="inventory:SKU-9",
                category="inventory",
                reason_code="LISTING_REJECTED",
                message="Amazon refused the quantity of SKU-9",
                subject="SKU-9",
            ),
        )

    async def scenario() -> tuple[dict[str, str], dict[str, str]]:
        paths = ("/settlements", "/inventory", "/settlements/12345678")
        async with client_for(secured_app(engine)) as browser:
            await login(browser, "viewer")
            before = {path: (await browser.get(path)).text for path in paths[:2]}
            record()
            return before, {path: (await browser.get(path)).text for path in paths}

    empty, full = run(scenario())
    assert "No settlement yet" in empty["/settlements"]
    assert "Nothing sent yet." in empty["/inventory"] and "No feed in flight." in empty["/inventory"]
    assert "12345678" in full["/settlements"] and "balanced" in full["/settlements"]
    assert (
        "Balanced:" in full["/settlements/12345678"] and "lines vs deposit" in full["/settlements/12345678"]
    )
    assert "FEED-1" in full["/inventory"] and "SKU-9" in full["/inventory"]
