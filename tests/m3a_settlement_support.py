"""Settlements for tests: money posted to the Amazon simulator's finance ledger, settlements closed,
and M3's vouchers read back over MI."""

from __future__ import annotations

import ssl
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from m3amazon.config import Settings
from m3amazon.m3.client import MIClient
from m3amazon.sim.amazon.finances import refund_event, shipment_event
from m3amazon.sim.sandbox import Sandbox

US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"


def post_money(box: Sandbox, marketplace: str, days: list[datetime], *, refund_every: int = 4) -> int:
    """Every order of `marketplace` ships (its money posted on one of `days`, in turn); every
    `refund_every`-th one is refunded too. Returns the number of events."""
    account = box.account
    events = 0
    with account.lock:
        orders = sorted(
            (o for o in account.orders() if o.marketplace_id == marketplace), key=lambda o: o.order_id
        )
        for n, order in enumerate(orders):
            posted = days[n % len(days)]
            shipped = shipment_event(order, posted=posted, shipment_id=f"SHP-{n}")
            account.finances.record(shipped)
            events += 1
            if refund_every and n % refund_every == 0:
                account.finances.record(refund_event(shipped, posted=posted))
                events += 1
    return events


def close_settlements(box: Sandbox, marketplaces: list[str]) -> dict[str, str]:
    """Close the open event groups: Amazon publishes their settlement reports. marketplace -> report id."""
    with httpx.Client(verify=ssl.create_default_context(cafile=str(box.tls.ca_cert)), timeout=60) as client:
        response = client.post(
            f"{box.amazon.url}/_sim/settlements/close", json={"marketplaces": marketplaces}
        )
        response.raise_for_status()
        return dict(response.json()["reports"])


def deposit_of(box: Sandbox, report_id: str) -> tuple[str, Decimal, str]:
    """(settlement id, deposit, currency) of a published settlement report."""
    account = box.account
    with account.lock:
        report = account.reports.get(report_id)
        assert report is not None
        group = next(g for g in account.finances.groups if g.closed and g.end == report.data_end)
        return str(group.settlement_id), group.total.amount, group.currency


async def vouchers(settings: Settings) -> dict[str, list[dict[str, str]]]:
    """Every GL voucher line in the M3 simulator, per voucher ("YEA4/VONO"), read over MI."""
    async with MIClient(settings.m3) as client:
        rows = await client.execute(
            "GLS200MI", "LstVouchersByDt", {"FRDT": "20000101", "TODT": "20991231"}, maxrecs=0
        )
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        out[f"{row['YEA4']}/{row['VONO']}"].append(row)
    return dict(out)


def by_key(lines: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    """Voucher lines per GL batch key (the first word of each line's voucher text)."""
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for rows in lines.values():
        for row in rows:
            out[row["VTXT"].split(" ", 1)[0]].append(row)
    return dict(out)


def acam_sum(rows: list[dict[str, Any]], account: str | None = None) -> Decimal:
    return sum((Decimal(r["ACAM"]) for r in rows if account is None or r["AIT1"] == account), Decimal(0))
