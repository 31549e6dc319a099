"""Order to cash under realistic latency: notification -> confirmed M3 order, and orders per second.

The simulators answer as slowly as the real systems do: every M3 MI call takes 80 ms (plus up to
20 ms jitter), every SP-API call 150 ms, and Amazon's usage plans are on. A real worker process
(`m3amazon run`) takes ORDER_CHANGE notifications from SQS (moto), reads the orders, looks up
customer and items in M3 and creates the batch orders.

Two phases per run:

- *latency*: orders arrive one by one at a steady rate (`--rate` per second); for each, the clock
  starts when the Amazon simulator is asked to take the order (it publishes the notification in
  the same call) and stops when the worker records the confirmed M3 order on the order's trail.
  Reported: p50 and p95 (goal: p50 < 1.5 s).
- *throughput*: `--orders` orders at once; orders per second until the last one is confirmed,
  M3 HTTP round trips per order and SP-API calls per order (from the simulators' own counters).

Subject: the worker with its default concurrency (16 orders at a time). Baseline, in the same
run: the same worker handling one order at a time. SQLite, and PostgreSQL when it is reachable.

    .venv/bin/python bench/order_to_cash.py [--orders 150] [--latency-orders 40] [--rate 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Measurement, measure, report
from order_slice import databases_to_measure, postgres_database

from m3amazon.ops.db import order_events
from m3amazon.sim.m3.app import Faults
from m3amazon.sim.processes import TrailReader, WorkerProcess, wait_until
from m3amazon.sim.sandbox import Sandbox

M3_LATENCY_MS, M3_JITTER_MS, AMAZON_LATENCY_MS = 80.0, 20.0, 150.0


def _amazon(box: Sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=box.amazon.url, verify=ssl.create_default_context(cafile=str(box.tls.ca_cert)), timeout=60
    )


def _amazon_calls(client: httpx.Client) -> int:
    """SP-API calls the simulator served (LWA token exchanges are not SP-API calls)."""
    stats = client.get("/_sim/stats").json()
    return sum(int(count) for count in stats["calls"].values())


def _confirmed_at(url: str, order_ids: list[str]) -> dict[str, float]:
    """When the worker recorded each order's M3 order (epoch seconds)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(order_events.c.amazon_order_id, sa.func.min(order_events.c.at))
                .where(order_events.c.kind.in_(("created", "existing")))
                .where(order_events.c.amazon_order_id.in_(order_ids))
                .group_by(order_events.c.amazon_order_id)
            ).all()
    finally:
        engine.dispose()
    out = {}
    for order_id, at in rows:
        if isinstance(at, str):  # SQLite hands back text when the column came through min()
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        out[order_id] = at.timestamp()
    return out


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def one_run(database: str, concurrency: int, args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    """One fresh sandbox and worker: the latency phase, then the throughput phase."""
    with tempfile.TemporaryDirectory(prefix="m3a-bench-o2c-") as tmp:
        workdir = Path(tmp)
        cleanup = None
        if database == "sqlite":
            url = f"sqlite:///{workdir / 'worker.sqlite'}"
        else:
            created = postgres_database()
            assert created is not None
            url, cleanup = created
        box = Sandbox.start(
            workdir / "sandbox",
            amazon_rate_limits=True,
            paced_depth=40,
            catalog_size=40,
            m3_faults=Faults(latency_ms=M3_LATENCY_MS, jitter_ms=M3_JITTER_MS),
        )
        worker = WorkerProcess(
            box.config(url, executor_id="bench-o2c", worker_concurrency=concurrency), workdir
        )
        reader = TrailReader(url)
        amazon = _amazon(box)
        try:
            amazon.post("/_sim/faults", json={"latency_ms": AMAZON_LATENCY_MS}).raise_for_status()
            worker.start().wait_ready()

            # -- latency: a steady trickle of single orders ------------------------------
            asked_at: dict[str, float] = {}
            interval = 1.0 / args.rate
            next_at = time.perf_counter()
            for index in range(args.latency_orders):
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
                started = time.time()
                body = {"orders": 1, "seed": 1000 + index, "afn_share": 0.3}
                answer = amazon.post("/_sim/scenario", json=body)
                answer.raise_for_status()
                for order_id in answer.json()["order_ids"]:
                    asked_at[order_id] = started
            ids = list(asked_at)
            wait_until(lambda: reader.finished() >= len(ids), 600, "the latency orders", worker, 0.1)
            confirmed = _confirmed_at(url, ids)
            latencies = [confirmed[i] - asked_at[i] for i in ids if i in confirmed]
            assert len(latencies) == len(ids), f"{len(ids) - len(latencies)} orders without an M3 order"

            # -- throughput: a burst -------------------------------------------------------
            m3_before = box.m3_stats()["http_requests"]
            amazon_before = _amazon_calls(amazon)
            finished_before = reader.finished()
            started_burst = time.perf_counter()
            feeder = threading.Thread(
                target=box.generate, args=(args.orders,), kwargs={"seed": 7}, daemon=True
            )
            feeder.start()
            wait_until(
                lambda: reader.finished() >= finished_before + args.orders, 1800, "the burst", worker, 0.05
            )
            elapsed = time.perf_counter() - started_burst
            feeder.join()
            stats = box.m3_stats()
            total = len(ids) + args.orders
            assert stats["orders_total"] == total and stats["duplicate_orders"] == 0, stats
            return args.orders / elapsed, {
                "latency_p50_s": round(statistics.median(latencies), 3),
                "latency_p95_s": round(_percentile(latencies, 0.95), 3),
                "burst_elapsed_s": round(elapsed, 2),
                "m3_round_trips_per_order": round((stats["http_requests"] - m3_before) / args.orders, 2),
                "sp_api_calls_per_order": round((_amazon_calls(amazon) - amazon_before) / args.orders, 3),
            }
        finally:
            amazon.close()
            worker.stop()
            reader.close()
            box.stop()
            if cleanup:
                cleanup()


def _row(database: str, concurrency: int, m: Measurement, baseline: Measurement | None) -> dict[str, Any]:
    p50 = statistics.median(m.extra["latency_p50_s"])
    p95 = statistics.median(m.extra["latency_p95_s"])
    return {
        "database": database,
        "concurrency": concurrency,
        "latency p50 s": f"{p50:.2f}",
        "latency p95 s": f"{p95:.2f}",
        "orders/s (median)": f"{m.median:.2f}",
        "runs orders/s": " ".join(f"{r:.2f}" for r in m.runs),
        "M3 round trips/order": f"{statistics.median(m.extra['m3_round_trips_per_order']):.2f}",
        "SP-API calls/order": f"{statistics.median(m.extra['sp_api_calls_per_order']):.3f}",
        "throughput vs baseline": "1.00 (baseline)"
        if baseline is None
        else f"{m.median / baseline.median:.2f}",
        "p50 vs baseline": "1.00 (baseline)"
        if baseline is None
        else f"{statistics.median(baseline.extra['latency_p50_s']) / p50:.2f}x faster",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=150, help="orders in the throughput burst")
    parser.add_argument("--latency-orders", type=int, default=40, help="orders in the latency trickle")
    parser.add_argument("--rate", type=float, default=2.0, help="arrivals per second in the trickle")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()

    rows, measurements = [], []
    for database in databases_to_measure(sqlite_only=args.sqlite_only):
        baseline = measure(
            f"{database}, 1 at a time",
            "orders/s",
            lambda db=database: one_run(db, 1, args),
            repeats=args.repeats,
        )
        subject = measure(
            f"{database}, {args.concurrency} at a time",
            "orders/s",
            lambda db=database: one_run(db, args.concurrency, args),
            repeats=args.repeats,
        )
        measurements += [baseline, subject]
        rows.append(_row(database, 1, baseline, None))
        rows.append(_row(database, args.concurrency, subject, baseline))
    print(
        f"simulated latency: M3 {M3_LATENCY_MS:.0f} ms (+0..{M3_JITTER_MS:.0f}) per MI call, "
        f"SP-API {AMAZON_LATENCY_MS:.0f} ms per call, Amazon usage plans on; goal p50 < 1.5 s"
    )
    report("order_to_cash", rows, measurements)


if __name__ == "__main__":
    main()
