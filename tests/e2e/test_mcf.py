"""Multi-Channel Fulfillment end to end, in process, over the real protocols.

The web shop's orders are entered in the M3 simulator with the MCF order type; M3 announces them
with SyncSalesOrder BODs to our IMS endpoint; the product creates the fulfillment orders in the
Amazon simulator, follows them through FULFILLMENT_ORDER_STATUS notifications (SQS), reports the
deliveries in M3 with carrier and tracking, and M3 invoices them. Cancellations in M3 before and
after Amazon stops accepting them, and an order FBA has no stock for.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from m3amazon.ops import incidents, mcf_trail
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.product import running_product, wait_for
from m3amazon.sim.sandbox import Sandbox
from m3amazon.sim.world import World

pytestmark = pytest.mark.slow

CATALOG = build_catalog(size=12)
STOCKED, EMPTY = CATALOG[:6], CATALOG[6]
US = "ATVPDKIKX0DER"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(tmp_path / "sandbox", catalog_size=len(CATALOG))
    yield sandbox
    sandbox.stop()


def _m3_order(box: Sandbox, orno: str) -> dict[str, Any]:
    return next(o for o in box.m3_store.orders() if o["orno"] == orno)


def _outcome(rt: Any, orno: str) -> str | None:
    row = mcf_trail.get(rt.engine, orno)
    return row["outcome"] if row else None


def _mcf_incident(rt: Any, orno: str) -> dict[str, Any] | None:
    found = incidents.list_incidents(rt.engine, subject=orno)
    return found[0] if found else None


def _tracking_numbers(box: Sandbox, orno: str) -> list[str]:
    with box.m3_store.transaction() as db:
        rows = db.execute(
            "SELECT p.etrn FROM packages p JOIN deliveries d ON d.dlix = p.dlix WHERE d.orno = ?", (orno,)
        ).fetchall()
    return [row[0] for row in rows]


def test_mcf_orders_ship_from_fba_and_are_delivered_and_invoiced_in_m3(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("M3AMAZON_MCF__INBOX_INTERVAL_S", "0.2")
    monkeypatch.setenv("M3AMAZON_INVENTORY__ENABLED", "false")  # not what this test is about
    world = World(box, seed=7)
    world.stock_fba([item.sku for item in STOCKED], 1000)
    world.stock_fba([EMPTY.sku], 0)
    items = [item.item_number for item in STOCKED]

    async def scenario() -> None:
        async with running_product(
            box, f"sqlite:///{tmp_path / 'mcf.sqlite'}", web_port=_free_port(), world=world, executor_id="mcf"
        ) as rt:
            shipped = await asyncio.to_thread(world.enter_mcf_orders, 6, items=items)
            early, late, unfulfillable = await asyncio.to_thread(world.enter_mcf_orders, 3, items=items)

            def submitted(numbers: list[str]) -> bool:
                return all(_outcome(rt, n) == "submitted" for n in numbers)

            await wait_for(lambda: submitted([*shipped, early, late]), what="fulfillment orders at Amazon")
            account = box.account

            # Cancelled in M3 while Amazon still has it as Received: cancelled at Amazon too.
            await asyncio.to_thread(world.cancel_in_m3, early)
            await wait_for(lambda: _outcome(rt, early) == "cancelled", what="the early cancellation")
            assert account.mcf.get(f"M3-{early}").status == "Cancelled"

            # Amazon is Processing: the cancellation comes too late, an incident says so.
            await asyncio.to_thread(world.tick_amazon)
            await asyncio.to_thread(world.tick_amazon)
            assert account.mcf.get(f"M3-{late}").status == "Processing"
            await asyncio.to_thread(world.cancel_in_m3, late)
            await wait_for(lambda: _outcome(rt, late) == "incident", what="the late cancellation's incident")
            incident = _mcf_incident(rt, late)
            assert incident is not None and incident["reason_code"] == "MCF_CANCEL_TOO_LATE"
            assert "can no longer be cancelled" in incident["message"]
            assert account.mcf.get(f"M3-{late}").status == "Processing"

            # Amazon ships the rest: M3 delivers with carrier and tracking, then invoices.
            await wait_for(
                lambda: all(_outcome(rt, n) == "invoiced" for n in shipped),
                what="the shipped orders delivered and invoiced in M3",
                step=world.tick_amazon,
                every_s=0.5,
            )
            for orno in shipped:
                order = _m3_order(box, orno)
                assert all(line["orst"] >= "66" for line in order["lines"]), order["lines"]
                tracking = _tracking_numbers(box, orno)
                amazon = account.mcf.get(f"M3-{orno}")
                assert tracking == [amazon.shipments[0].packages[0]["trackingNumber"][:30]]
                row = mcf_trail.get(rt.engine, orno)
                assert row is not None and row["carrier"] == "UPS" and row["tracking_number"]

            # An order FBA has no stock for: the preview says so, nothing is sent, lines stay open.
            no_stock = await asyncio.to_thread(world.enter_mcf_orders, 1, items=[EMPTY.item_number])
            await wait_for(lambda: _outcome(rt, no_stock[0]) == "incident", what="the preview's incident")
            incident = _mcf_incident(rt, no_stock[0])
            assert incident is not None and incident["reason_code"] == "MCF_NOT_FULFILLABLE"
            assert f"M3-{no_stock[0]}" not in account.mcf.orders
            assert all(line["orst"] < "66" for line in _m3_order(box, no_stock[0])["lines"])

            # Without the preview Amazon takes it and reports it Unfulfillable: M3's lines are closed.
            rt.settings.mcf.preview = False
            await asyncio.to_thread(world.cancel_in_m3, unfulfillable)  # (make room: one more order)
            doomed = await asyncio.to_thread(world.enter_mcf_orders, 1, items=[EMPTY.item_number])
            await wait_for(
                lambda: _outcome(rt, doomed[0]) == "incident",
                what="the Unfulfillable incident",
                step=world.tick_amazon,
                every_s=0.5,
            )
            incident = _mcf_incident(rt, doomed[0])
            assert incident is not None and incident["reason_code"] == "MCF_UNFULFILLABLE", incident
            assert account.mcf.get(f"M3-{doomed[0]}").status == "Unfulfillable"
            assert all(line["orst"] == "99" for line in _m3_order(box, doomed[0])["lines"])

            # One fulfillment order per M3 order, whatever the number of triggers.
            assert len(account.mcf.orders) == len(shipped) + 4

    asyncio.run(scenario())
