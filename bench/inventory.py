"""Inventory sync: 100,000 SKUs, 5 % of them changed in M3 since the last sync.

Setup: the Amazon simulator (HTTPS, one marketplace) lists every SKU with the quantity the last
sync sent; the product's tables know those balances, quantities and product types (as the last
sync left them). Then 5 % of the items get a newer M3 balance (as SyncInventoryCount BODs do).

Subject: `InventorySync` records the changed balances and pushes (`push_dirty`): every dirty SKU's
quantity computed by the rules, compared with what Amazon was last sent, the delta submitted as
JSON_LISTINGS_FEED(s) (createFeedDocument, upload, createFeed). Timed from receiving the changes to
the feed submitted. Then, untimed, Amazon processes the feed and the processing report is read
(getFeed, getFeedDocument): those calls are counted, and every changed SKU is checked on Amazon.

Baseline: what a connector without delta or feeds does - one patchListingsItem per SKU, for every
SKU. It is run against the same simulator with the usage-plan governor raised, on a SAMPLE of
`--baseline-sample` SKUs (all 100,000 would take about half an hour here); its time for all SKUs is
the sample's median per-call cost x the SKU count: EXTRAPOLATED, and labelled so in the output.
The time Amazon's usage plans would impose on each (patchListingsItem 5/s; the feed's two calls fit
in their bursts) is printed as well.

    .venv/bin/python bench/inventory.py [--skus 100000] [--changed 0.05] [--baseline-sample 2000]
    (BENCH_QUICK=1: baseline sample 500, one baseline run)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Measurement, report

from m3amazon.amazon.translate.listings import quantity_patch
from m3amazon.canonical import InventoryPosition
from m3amazon.ops import inventory_store as store
from m3amazon.sim.amazon.listings import MFN_CHANNEL, QUANTITY_ATTRIBUTE
from m3amazon.sim.inventory_rig import US, Rig
from m3amazon.sim.tls import LocalTLS

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
PATCH_RATE = 5.0  # patchListingsItem usage plan, requests per second
SP_API = (
    "patchListingsItem",
    "getListingsItem",
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeedDocument",
)


def position(rig: Rig, index: int, on_hand: int, at: datetime) -> InventoryPosition:
    item = rig.catalog[index]
    return InventoryPosition(
        sku=item.sku,
        item_number=item.item_number,
        location="100",
        on_hand=Decimal(on_hand),
        as_of=at,
        source="m3",
    )


def last_sync(rig: Rig, rng: random.Random) -> None:
    """The state the previous sync left: balances known, quantities sent, Amazon showing them."""
    rig.sync.record_positions([position(rig, i, rng.randint(0, 500), T0) for i in range(len(rig.catalog))])
    targets, seen, _ = rig.sync.targets([c.item_number for c in rig.catalog])
    store.record_pushed(rig.engine, [(t.sku, t.item_number, t.quantity, t.version) for t in targets], "feed")
    store.remember_product_types(
        rig.engine, {c.sku: rig.account.listings.get(c.sku, US).product_type for c in rig.catalog}
    )  # type: ignore[union-attr]
    store.clear_dirty(rig.engine, seen)
    for target in targets:
        listing = rig.account.listings.get(target.sku, US)
        assert listing is not None
        listing.attributes[QUANTITY_ATTRIBUTE] = [
            {"fulfillment_channel_code": MFN_CHANNEL, "quantity": target.quantity}
        ]


def sp_api_calls(rig: Rig) -> Counter[str]:
    calls = rig.account.stats().get("calls", {})
    return Counter({k: int(v) for k, v in calls.items() if k in SP_API})


async def delta_run(rig: Rig, rng: random.Random, changed: int, run: int) -> tuple[float, dict[str, Any]]:
    chosen = rng.sample(range(len(rig.catalog)), changed)
    at = T0 + timedelta(minutes=run + 1)
    changes = [position(rig, i, rng.randint(0, 500), at) for i in chosen]
    before = sp_api_calls(rig)
    started = time.perf_counter()
    await asyncio.to_thread(rig.sync.record_positions, changes)
    pushed = await rig.sync.push_dirty()
    elapsed = time.perf_counter() - started
    submit_calls = sp_api_calls(rig) - before
    rig.tick(3)
    followed = await rig.sync.follow_feeds()
    all_calls = sp_api_calls(rig) - before
    expected = {
        p.sku: rig.mappings.inventory.quantity(p.sku or "", p.item_number, {"100": p}) for p in changes
    }
    wrong = sum(1 for sku, quantity in expected.items() if rig.amazon_quantity(sku or "") != quantity)
    return elapsed, {
        "skus_changed": changed,
        "skus_sent": pushed.sent,
        "skus_unchanged_quantity": pushed.unchanged,
        "feeds": len(pushed.feeds),
        "calls_to_submit": sum(submit_calls.values()),
        "calls_with_follow_up": sum(all_calls.values()),
        "calls_by_operation": dict(all_calls),
        "feed_messages_accepted": followed.accepted,
        "amazon_wrong_after": wrong,
    }


async def baseline_sample(rig: Rig, sample: int) -> tuple[float, int]:
    """One patchListingsItem per SKU for the first `sample` SKUs; (seconds, calls)."""
    listings = rig.sync.listings
    started = time.perf_counter()
    for item in rig.catalog[:sample]:
        listing = rig.account.listings.get(item.sku, US)
        assert listing is not None
        await listings.patch(item.sku, quantity_patch(7, listing.product_type), marketplace_ids=[US])
    return time.perf_counter() - started, sample


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    print(f"setting up {args.skus:,} SKUs ...", file=sys.stderr, flush=True)
    rig = await asyncio.to_thread(
        Rig.start,
        tmp,
        LocalTLS.ensure(tmp / "tls"),
        catalog_size=args.skus,
        marketplaces=(US,),
        with_m3=False,
    )
    try:
        await asyncio.to_thread(last_sync, rig, rng)
        changed = round(args.skus * args.changed)
        subject = Measurement("delta: record changes + compute + submit feed", "s")
        for run in range(args.repeats + 1):
            figure, details = await delta_run(rig, rng, changed, run)
            kind = "warm-up" if run == 0 else f"run {run}/{args.repeats}"
            print(
                f"  delta: {kind}: {figure:.3f} s, {details['calls_with_follow_up']} calls", file=sys.stderr
            )
            if run:
                subject.runs.append(figure)
                for key, value in details.items():
                    subject.extra.setdefault(key, []).append(value)

        baseline = Measurement("baseline: one patch per SKU (sample)", "s")
        await baseline_sample(rig, min(50, args.baseline_sample))  # warm-up
        for run in range(args.baseline_repeats):
            seconds, calls = await baseline_sample(rig, args.baseline_sample)
            print(f"  baseline sample run {run + 1}: {seconds:.2f} s for {calls} patches", file=sys.stderr)
            baseline.runs.append(seconds / calls)
        per_call = baseline.median
        baseline_total = per_call * args.skus
        baseline.extra = {
            "sample_skus": args.baseline_sample,
            "per_call_s_runs": baseline.runs,
            "extrapolated_total_s": baseline_total,
            "extrapolated": True,
        }
    finally:
        await rig.aclose()

    middle = sorted(range(len(subject.runs)), key=lambda i: subject.runs[i])[len(subject.runs) // 2]
    subject_calls = subject.extra["calls_with_follow_up"][middle]
    zero_patches = subject.extra["calls_by_operation"][middle].get("patchListingsItem", 0)
    by_operation = ", ".join(
        f"{k} {v}" for k, v in sorted(subject.extra["calls_by_operation"][middle].items())
    )
    rows = [
        {
            "approach": f"delta + JSON_LISTINGS_FEED ({changed:,} of {args.skus:,} SKUs changed)",
            "time_s (median)": f"{subject.median:.3f} (measured)",
            "amazon_calls": f"{subject_calls} ({by_operation}; zeros patched ahead of the feed)",
            "time_at_usage_plan_s": f"{zero_patches / PATCH_RATE:.1f} (zeros at 5/s; feed in burst)",
        },
        {
            "approach": f"baseline: patchListingsItem per SKU ({args.skus:,})",
            "time_s (median)": f"{baseline_total:.1f} (EXTRAPOLATED from {args.baseline_sample:,}-SKU sample,"
            f" {per_call * 1000:.2f} ms/call)",
            "amazon_calls": f"{args.skus}",
            "time_at_usage_plan_s": f"{args.skus / PATCH_RATE:,.0f} (5/s)",
        },
        {
            "approach": "ratio baseline / delta",
            "time_s (median)": f"{baseline_total / subject.median:,.0f}x",
            "amazon_calls": f"{args.skus / subject_calls:,.0f}x",
            "time_at_usage_plan_s": "",
        },
    ]
    wrong = sum(subject.extra["amazon_wrong_after"])
    print(f"\nAmazon quantities wrong after the delta runs: {wrong} (of {changed * args.repeats} changed)")
    report("inventory", rows, [subject, baseline])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3)
    quick = bool(os.environ.get("BENCH_QUICK"))  # make bench's short mode: a smaller baseline sample
    parser.add_argument("--baseline-sample", type=int, default=500 if quick else 2_000)
    parser.add_argument("--baseline-repeats", type=int, default=1 if quick else 3)
    asyncio.run(main(parser.parse_args()))
