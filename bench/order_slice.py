"""Orders per second through the whole first slice, end to end, with zero-latency simulators.

Amazon simulator (HTTPS, usage plans off) -> ORDER_CHANGE notifications -> SQS (moto) -> a real
worker process (`m3amazon run`) -> getOrder -> M3 look-ups -> OIS100MI batch order -> order trail.
The clock starts when the first notification is published and stops when the last order has its
outcome. Notifications are paced so moto's queue stays shallow (its cost grows with depth).

Subject: the worker with its default concurrency (16 orders at a time).
Baseline: the same worker processing one order at a time (worker_concurrency=1).
Both on SQLite, and on PostgreSQL when it is reachable (M3AMAZON_TEST_PG_URL or the local default).

    .venv/bin/python bench/order_slice.py [--orders 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import measure, report

from m3amazon.sim.processes import TrailReader, WorkerProcess, wait_until
from m3amazon.sim.sandbox import Sandbox

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_database() -> tuple[str, Any] | None:
    """A fresh database on the local PostgreSQL, or None when it is not reachable."""
    import os

    try:
        import psycopg

        base = os.environ.get("M3AMAZON_TEST_PG_URL", PG_URL)
        name = f"m3a_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); SQLite only", file=sys.stderr)
        return None

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base.rpartition('/')[0]}/{name}", drop


def databases_to_measure(*, sqlite_only: bool = False) -> list[str]:
    """SQLite, and PostgreSQL too when it is reachable (and wanted)."""
    if sqlite_only:
        return ["sqlite"]
    probe = postgres_database()
    if probe is None:
        return ["sqlite"]
    probe[1]()
    return ["sqlite", "postgresql"]


def one_run(database: str, concurrency: int, orders: int) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="m3a-bench-") as tmp:
        workdir = Path(tmp)
        cleanup = None
        if database == "sqlite":
            url = f"sqlite:///{workdir / 'worker.sqlite'}"
        else:
            created = postgres_database()
            assert created is not None
            url, cleanup = created
        box = Sandbox.start(workdir / "sandbox", amazon_rate_limits=False, paced_depth=40, catalog_size=40)
        worker = WorkerProcess(
            box.config(url, executor_id="bench-worker", worker_concurrency=concurrency), workdir
        )
        reader = TrailReader(url)
        try:
            worker.start().wait_ready()
            started = time.perf_counter()
            feeder = threading.Thread(target=box.generate, args=(orders,), kwargs={"seed": 7}, daemon=True)
            feeder.start()
            wait_until(lambda: reader.finished() >= orders, 900, "every order to finish", worker, 0.05)
            elapsed = time.perf_counter() - started
            feeder.join()
            stats = box.m3_stats()
            assert stats["orders_total"] == orders and stats["duplicate_orders"] == 0, stats
            return orders / elapsed, {
                "elapsed_s": round(elapsed, 2),
                "m3_round_trips_per_order": round(stats["http_requests"] / orders, 2),
            }
        finally:
            worker.stop()
            reader.close()
            box.stop()
            if cleanup:
                cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    rows, measurements = [], []
    for database in databases_to_measure():
        baseline = measure(
            f"{database}, 1 at a time",
            "orders/s",
            lambda db=database: one_run(db, 1, args.orders),
            repeats=args.repeats,
        )
        subject = measure(
            f"{database}, {args.concurrency} at a time",
            "orders/s",
            lambda db=database: one_run(db, args.concurrency, args.orders),
            repeats=args.repeats,
        )
        measurements += [baseline, subject]
        for m, is_baseline in ((baseline, True), (subject, False)):
            rows.append(
                {
                    "database": database,
                    "worker concurrency": 1 if is_baseline else args.concurrency,
                    "orders": args.orders,
                    "median orders/s": f"{m.median:.1f}",
                    "runs": " ".join(f"{r:.1f}" for r in m.runs),
                    "M3 round trips/order": f"{m.extra['m3_round_trips_per_order'][0]}",
                    "ratio to baseline": "1.00 (baseline)"
                    if is_baseline
                    else f"{m.median / baseline.median:.2f}",
                }
            )
    report("order_slice", rows, measurements)


if __name__ == "__main__":
    main()
