"""The simulator tells ION about state changes: BODs reach our IMS endpoint and decode as canonical."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from m3_ims_support import TOKEN, Receiver
from m3_sim_support import Sim, order_plan

from m3amazon.canonical import InventoryPosition, Invoice, Shipment
from m3amazon.m3.ion import bod
from m3amazon.m3.orders import ensure_customer_order


def test_delivery_invoicing_and_balance_changes_arrive_as_bods(sim: Sim, receiver: Receiver) -> None:
    httpx.post(
        f"{sim.url}/_sim/ims", json={"url": receiver.url, "token": TOKEN, "deflate": True}
    ).raise_for_status()
    plan = order_plan(sim, "111-4000001-0000001", lines=2)

    async def scenario() -> str:
        async with sim.onprem() as client:
            order = (await ensure_customer_order(client, plan)).order_number
            dlix = str(sim.store.orders()[0]["lines"][0]["dlix"])
            await client.execute(
                "MHS850MI",
                "AddCfmPickList",
                {"WHLO": "100", "DLIX": dlix, "PLSX": "1", "E0PA": "W", "E065": "P"},
            )
            return order

    order = asyncio.run(scenario())
    assert httpx.post(f"{sim.url}/_sim/ims/wait", timeout=15).json() == {"idle": True}
    sent = httpx.get(f"{sim.url}/_sim/ims").json()
    assert sent["failed"] == 0 and sent["by_document"] == {
        "SyncInventoryCount": 2,  # allocation at Confirm, issue at delivery
        "SyncShipment": 1,
        "SyncInvoice": 1,
    }
    stored = {s.document_name: s for s in receiver.wait_for(4)}
    shipment = bod.decode(stored["SyncShipment"].payload.encode()).documents[0]
    invoice = bod.decode(stored["SyncInvoice"].payload.encode()).documents[0]
    counts = [
        bod.decode(s.payload.encode()).documents
        for s in receiver.handed
        if s.document_name == "SyncInventoryCount"
    ]
    assert (
        isinstance(shipment, Shipment)
        and shipment.order_id == plan.cuor
        and shipment.shipment_id == dlix_of(sim)
    )
    assert [(line.line_id, line.quantity) for line in shipment.lines] == [("00001", 1), ("00002", 2)]
    assert (
        shipment.lines[0].sku == sim.catalog[0].sku
        and shipment.lines[0].item_number == sim.catalog[0].item_number
    )
    assert (
        isinstance(invoice, Invoice)
        and invoice.seller_order_number == order
        and invoice.order_id == plan.cuor
    )
    expected = sum(Decimal(line["SAPR"]) * Decimal(line["ORQT"]) for line in plan.lines)
    assert invoice.net_total.amount == expected and invoice.currency == "USD"
    issued = counts[-1]
    assert all(isinstance(p, InventoryPosition) for p in issued)
    assert {(p.item_number, p.on_hand, p.allocated) for p in issued} == {
        (sim.catalog[0].item_number, Decimal(999), Decimal(0)),
        (sim.catalog[1].item_number, Decimal(998), Decimal(0)),
    }


def dlix_of(sim: Sim) -> str:
    return str(sim.store.orders()[0]["lines"][0]["dlix"])


def test_a_receiver_that_refuses_is_counted_not_retried_forever(sim: Sim, receiver: Receiver) -> None:
    target = {"url": receiver.url, "token": "wrong", "attempts": 2, "backoff_s": 0.01}
    httpx.post(f"{sim.url}/_sim/ims", json=target).raise_for_status()
    sim.store.set_balance("100", sim.catalog[0].item_number, 5)
    assert httpx.post(f"{sim.url}/_sim/ims/wait", timeout=15).json() == {"idle": True}
    sent = httpx.get(f"{sim.url}/_sim/ims").json()
    # set_balance is a control-plane change (no MI transaction): nothing is sent for it
    assert sent["queued"] == 0

    async def adjust() -> None:
        async with sim.onprem() as client:
            await client.execute(
                "MMS850MI",
                "AddAdjust",
                {"WHLO": "100", "ITNO": sim.catalog[0].item_number, "QLQT": "1", "E0PA": "W", "E065": "A"},
            )

    asyncio.run(adjust())
    assert httpx.post(f"{sim.url}/_sim/ims/wait", timeout=15).json() == {"idle": True}
    sent = httpx.get(f"{sim.url}/_sim/ims").json()
    assert (sent["queued"], sent["sent"], sent["failed"]) == (1, 0, 1) and "401" in sent["last_error"]
    assert receiver.handed == []
