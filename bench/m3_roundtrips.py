"""Round trips and wall time to create a 3-line M3 order: bulk POST versus one call per transaction.

Each order goes through `ensure_customer_order` (look up by CUOR, then batch order entry) against
the M3 simulator on loopback with a simulated network latency per HTTP call (`--latency-ms`, the
distance to a CloudSuite tenant). Variants, all in the same run:

- bulk, head in lookup (the default): [LstBatchHead + SearchHead + AddBatchHead] then
  [AddBatchAddress + 3 x AddBatchLine + Confirm] - the CUOR lookup shares the first round trip;
- bulk, head after lookup (`head_in_lookup=False`): lookup, AddBatchHead, then the bulk fill;
- baseline, one call per transaction (`use_bulk=False`): every transaction is its own GET.

Also measured: what a repeated run costs once the order exists (found by CUOR).

    .venv/bin/python bench/m3_roundtrips.py [--orders 30] [--repeats 3] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import Measurement, measure, report

from m3amazon.config import M3Settings
from m3amazon.m3.client import MIClient, RetryPolicy
from m3amazon.m3.orders import CustomerOrderPlan, ensure_customer_order
from m3amazon.sim.catalog import MARKETPLACES, build_catalog
from m3amazon.sim.m3.app import Faults, create_app
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import serve_in_thread

_serial = itertools.count(1)


def plan(catalog: list[Any]) -> CustomerOrderPlan:
    n = next(_serial)
    return CustomerOrderPlan(
        cuor=f"114-{n:07d}-0000001",
        customer="AMZUS",
        head={"ORTP": "MFN", "WHLO": "100", "FACI": "A01", "CUCD": "USD", "ORDT": "20260301"},
        address={
            "ADRT": "1",
            "CUNM": "Jane Doe",
            "CUA1": "1 Main Street",
            "TOWN": "Seattle",
            "PONO": "98101",
            "CSCD": "US",
        },
        lines=[
            {
                "ITNO": item.item_number,
                "ORQT": "1",
                "SAPR": str(item.price("USD")),
                "WHLO": "100",
                "CUOR": f"{k:05d}",
            }
            for k, item in enumerate(catalog[:3], start=1)
        ],
    )


def variant_run(url: str, catalog: list[Any], orders: int, *, use_bulk: bool, head_in_lookup: bool):
    def run() -> tuple[float, dict[str, Any]]:
        async def scenario() -> tuple[float, dict[str, Any]]:
            settings = M3Settings(base_url=url, use_bulk=use_bulk)
            async with MIClient(settings, retry=RetryPolicy(attempts=1)) as client:
                plans = [plan(catalog) for _ in range(orders)]
                started = time.perf_counter()
                for p in plans:  # one after another: the latency of one order is what is measured
                    ensured = await ensure_customer_order(client, p, head_in_lookup=head_in_lookup)
                    assert ensured.created
                elapsed = time.perf_counter() - started
                created = client.stats.round_trips
                again_started = time.perf_counter()
                for p in plans[:5]:
                    assert not (await ensure_customer_order(client, p, head_in_lookup=head_in_lookup)).created
                again_ms = (time.perf_counter() - again_started) * 1000 / 5
                return elapsed * 1000 / orders, {
                    "round_trips_per_order": created / orders,
                    "transactions_per_order": client.stats.transactions / (orders + 5),
                    "repeat_round_trips": (client.stats.round_trips - created) / 5,
                    "repeat_ms": round(again_ms, 1),
                }

        return asyncio.run(scenario())

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="m3a-bench-") as tmp:
        store = SimStore(Path(tmp) / "m3.sqlite")
        catalog = build_catalog(size=12)
        store.seed_from_catalog(catalog, MARKETPLACES, on_hand=10**9)
        server = serve_in_thread(create_app(store, faults=Faults(latency_ms=args.latency_ms)), name="m3-sim")
        try:
            variants = [
                ("bulk, head in lookup (default)", True, True),
                ("bulk, head after lookup", True, False),
                ("one call per transaction (baseline)", False, False),
            ]
            results: list[Measurement] = []
            for name, use_bulk, head in variants:
                print(f"{name} ...", file=sys.stderr)
                results.append(
                    measure(
                        name,
                        "ms/order",
                        variant_run(server.url, catalog, args.orders, use_bulk=use_bulk, head_in_lookup=head),
                        repeats=args.repeats,
                        warmup=1,
                    )
                )
            stats = httpx.get(f"{server.url}/_sim/stats").json()
        finally:
            server.stop()
            store.close()
    assert stats["duplicate_orders"] == 0, "an order was created twice"
    baseline = results[-1]
    rows = [
        {
            "variant": m.name,
            "round trips/order": f"{m.extra['round_trips_per_order'][0]:.1f}",
            "repeat run trips": f"{m.extra['repeat_round_trips'][0]:.1f}",
            "ms/order (median)": f"{m.median:.1f}",
            "vs baseline": f"{baseline.median / m.median:.2f}x",
        }
        for m in results
    ]
    print(f"\n3-line order, {args.orders} orders per run, {args.latency_ms:g} ms latency per HTTP call")
    report("m3_roundtrips", rows, results)


if __name__ == "__main__":
    main()
