"""Scale-out on PostgreSQL: orders per second with one worker process and with three, same workload.

Amazon simulator (HTTPS, usage plans ON, clock x60 as in the tests) -> ORDER_CHANGE notifications
-> SQS (moto, paced so its queue stays shallow) -> N worker processes (`m3amazon run`, DBOS on one
PostgreSQL database, the rate governor's buckets shared through it) -> M3 simulator (15 ms latency
per call, as a real M3 has some) -> order trail. The clock starts when the first notification is
published and stops when the last order has its outcome.

Subject: three workers. Baseline: one worker. Same orders, same settings, a fresh database each run.

While a run goes on, the Amazon simulator's call counters are sampled every 0.25 s. The fleet kept
to Amazon's usage plans when the simulator answered no call with 429 (its token buckets are the
plans: zero 429s = never exceeded); the table also shows, per operation, the highest call rate seen
over any 1-second window and the plan (rate x time scale, burst) it is measured against.

    .venv/bin/python bench/scale_out.py [--orders 300] [--repeats 3] [--workers 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from harness import measure, report
from order_slice import postgres_database

from m3amazon.ops.db import create_engine
from m3amazon.sim.amazon.faults import usage_plans
from m3amazon.sim.m3.app import Faults
from m3amazon.sim.processes import TrailReader, WorkerProcess, wait_until
from m3amazon.sim.sandbox import Sandbox

TIME_SCALE = 60.0
SAMPLE_S = 0.25


class CallSampler:
    """Samples the simulator's per-operation call counters in a thread."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), dict(self.box.account.stats()["calls"])))
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> CallSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), dict(self.box.account.stats()["calls"])))

    def max_rate_per_s(self, window_s: float = 1.0) -> dict[str, float]:
        """Per operation, the most calls seen within any `window_s` (sampled), per second."""
        best: dict[str, float] = defaultdict(float)
        for i, (t0, c0) in enumerate(self.samples):
            for t1, c1 in self.samples[i + 1 :]:
                if t1 - t0 > window_s + SAMPLE_S / 2:
                    break
                if t1 - t0 < window_s - SAMPLE_S / 2:
                    continue
                for op, n in c1.items():
                    best[op] = max(best[op], (n - c0.get(op, 0)) / (t1 - t0))
        return dict(best)


def one_run(workers: int, orders: int, concurrency: int) -> tuple[float, dict[str, Any]]:
    created = postgres_database()
    assert created is not None
    url, drop = created
    with tempfile.TemporaryDirectory(prefix="m3a-scale-") as tmp:
        workdir = Path(tmp)
        box = Sandbox.start(
            workdir / "sandbox",
            amazon_rate_limits=True,
            amazon_time_scale=TIME_SCALE,
            paced_depth=40,
            catalog_size=40,
            m3_faults=Faults(latency_ms=15),
        )
        fleet = [
            WorkerProcess(
                box.config(url, executor_id=f"bench-w{i}", worker_concurrency=concurrency),
                workdir,
                name=f"w{i}",
            )
            for i in range(workers)
        ]
        reader = TrailReader(url)
        try:
            for worker in fleet:
                worker.start()
            for worker in fleet:
                worker.wait_ready()
            started = time.perf_counter()
            with CallSampler(box) as sampler:
                feeder = threading.Thread(
                    target=box.generate, args=(orders,), kwargs={"seed": 7}, daemon=True
                )
                feeder.start()
                wait_until(lambda: reader.finished() >= orders, 900, "every order to finish", fleet[0], 0.05)
                elapsed = time.perf_counter() - started
                feeder.join()
            stats = box.m3_stats()
            assert stats["orders_total"] == orders and stats["duplicate_orders"] == 0, stats
            amazon = box.account.stats()
            engine = create_engine(url, pool_size=1)
            with engine.connect() as conn:
                shared_buckets = conn.execute(sa.text("SELECT count(*) FROM m3a_rate_buckets")).scalar_one()
            engine.dispose()
            return orders / elapsed, {
                "elapsed_s": round(elapsed, 2),
                "calls": amazon["calls"],
                "throttled": amazon["throttled"],
                "throttled_total": amazon["throttled_total"],
                "max_rate_per_s": {op: round(r, 2) for op, r in sampler.max_rate_per_s().items()},
                "shared_bucket_rows": int(shared_buckets),
            }
        finally:
            for worker in fleet:
                worker.stop()
            reader.close()
            box.stop()
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="150 orders, one run each (also: BENCH_QUICK=1)")
    args = parser.parse_args()
    if args.quick or os.environ.get("BENCH_QUICK") == "1":
        args.orders, args.repeats = 150, 1

    probe = postgres_database()
    if probe is None:
        print("scale_out: PostgreSQL is not reachable; nothing measured (set M3AMAZON_TEST_PG_URL)")
        return
    probe[1]()

    baseline = measure(
        "1 worker",
        "orders/s",
        lambda: one_run(1, args.orders, args.concurrency),
        repeats=args.repeats,
        warmup=0,
    )
    subject = measure(
        f"{args.workers} workers",
        "orders/s",
        lambda: one_run(args.workers, args.orders, args.concurrency),
        repeats=args.repeats,
        warmup=0,
    )
    plans = usage_plans()
    rows: list[dict[str, Any]] = []
    for m, n in ((baseline, 1), (subject, args.workers)):
        rows.append(
            {
                "workers": n,
                "orders": args.orders,
                "median orders/s": f"{m.median:.1f}",
                "runs": " ".join(f"{r:.1f}" for r in m.runs),
                "SP-API 429s (all runs)": sum(m.extra["throttled_total"]),
                "ratio to 1 worker": "1.00 (baseline)" if n == 1 else f"{m.median / baseline.median:.2f}",
            }
        )
    path = report("scale_out", rows, [baseline, subject])

    # The fleet's SP-API calls against the usage plans (all runs of the N-worker fleet).
    peaks: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    throttled: dict[str, int] = defaultdict(int)
    for run_peaks, run_calls, run_throttled in zip(
        subject.extra["max_rate_per_s"], subject.extra["calls"], subject.extra["throttled"], strict=True
    ):
        for op, rate in run_peaks.items():
            peaks[op] = max(peaks[op], rate)
        for op, n in run_calls.items():
            calls[op] += n
        for op, n in run_throttled.items():
            throttled[op] += n
    rate_rows = []
    for op in sorted(calls):
        rate, burst = plans.get(op, (float("nan"), 0))
        rate_rows.append(
            {
                "operation": op,
                "calls": calls[op],
                "429s": throttled[op],
                "max calls/s over 1 s": f"{peaks[op]:.1f}",
                "plan rate/s (x time scale)": f"{rate * TIME_SCALE:g}",
                "burst": burst,
            }
        )
    verdict = "never exceeded" if sum(throttled.values()) == 0 else "EXCEEDED (see the 429s)"
    print(f"\nSP-API calls of the {args.workers}-worker fleet against Amazon's usage plans:")
    headers = list(rate_rows[0]) if rate_rows else []
    print("  ".join(headers))
    for row in rate_rows:
        print("  ".join(str(row[h]) for h in headers))
    buckets = subject.extra["shared_bucket_rows"]
    print(f"usage plans: {verdict}; rate-governor buckets shared in PostgreSQL: {buckets}")
    result = json.loads(path.read_text())
    result["rate_check"] = rate_rows
    result["notes"] = [
        f"usage plans {verdict} (429s answered by the simulator: {sum(throttled.values())})",
        f"rate-governor bucket rows in PostgreSQL after each {args.workers}-worker run: {buckets}",
        f"Amazon simulator clock x{TIME_SCALE:g}: plan rates are Amazon's x{TIME_SCALE:g}",
    ]
    path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
