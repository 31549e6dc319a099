"""Settlement files: a generated 1,000,000-line V2 flat-file settlement parsed, validated,
categorised and aggregated into GL postings, against two baselines over the same file.

Subject: `read_settlement` (polars lazy scan_csv, all-string schema, exact Decimal amounts, one
streaming pass) + `check()` (lines sum to the summary total) + `plan_settlement` with the shipped
GL table (categorise, aggregate per period and account, balance against the clearing account).
The settlement flow also lists the refunds with the orders they refund (a second, lighter pass):
that path is measured too, as "polars + refund links (flow)"; the ratios are against the first.
Baselines: pandas `read_csv` (all columns as strings) with the amounts as Decimal and a group-by
of the triple; the standard library's `csv` reader with Decimal and a dict of sums.

Each of the three runs in its own subprocess, so its peak memory (ru_maxrss of the child) is its
own; the figure includes the interpreter and the imported libraries. The three totals (the sum of
the lines, and for the subject also the clearing account's postings) must be equal to the cent.

    .venv/bin/python bench/settlement.py [--lines 1000000] [--repeats 3] [--comma] [--file PATH]

The table gives wall-clock medians and, next to them, the median CPU seconds (all threads) of each
contender: on a machine shared with other work the wall time moves a lot, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Measurement, report

from m3amazon.sim.amazon.settlement import COLUMNS

#: (transaction-type, amount-type, amount-description, cents range), roughly an FBA seller's mix
MIX = [
    ("Order", "ItemPrice", "Principal", (500, 25_000)),
    ("Order", "ItemPrice", "Tax", (40, 2_000)),
    ("Order", "ItemPrice", "Shipping", (0, 1_500)),
    ("Order", "ItemFees", "Commission", (-3_750, -75)),
    ("Order", "ItemFees", "FBAPerUnitFulfillmentFee", (-900, -250)),
    ("Order", "Promotion", "Principal", (-500, -10)),
    ("Refund", "ItemPrice", "Principal", (-25_000, -500)),
    ("Refund", "ItemFees", "Commission", (75, 3_000)),
]


def generate(path: Path, lines: int, comma: bool, seed: int = 7) -> Decimal:
    """A settlement of `lines` transaction lines over two months; returns its total."""
    rng = random.Random(seed)
    market, currency = ("Amazon.de", "EUR") if comma else ("Amazon.com", "USD")
    total = 0
    body = path.with_suffix(".body")
    out = body.open("w", encoding="utf-8")
    for n in range(lines):
        tt, at, ad, (low, high) = MIX[rng.randrange(len(MIX))] if n % 7 else MIX[0]
        cents = rng.randint(low, high)
        total += cents
        amount = f"{cents / 100:.2f}" if abs(cents) < 10**15 else str(Decimal(cents) / 100)
        day = 25 + n * 14 // lines  # 25 March .. 7 April
        posted = f"2026-03-{day:02d}" if day <= 31 else f"2026-04-{day - 31:02d}"
        order = f"{100 + n % 900}-{n // 3:07d}-{n % 9973:07d}"
        values = {
            "settlement-id": "12345678901",
            "transaction-type": tt,
            "order-id": order,
            "adjustment-id": f"A{n}" if tt == "Refund" else "",
            "marketplace-name": market,
            "amount-type": at,
            "amount-description": ad,
            "amount": amount.replace(".", ",") if comma else amount,
            "fulfillment-id": "AFN",
            "posted-date": f"{posted[5:7]}/{posted[8:10]}/26",
            "posted-date-time": f"{posted} 10:{n % 60:02d}:00 UTC",
            "sku": f"SKU-{n % 5000:05d}",
            "quantity-purchased": "1",
        }
        row = [values.get(c, "") for c in COLUMNS]
        out.write("\t".join(row) + "\n")
    out.close()
    deposit = Decimal(total).scaleb(-2)  # always two decimals, as the file writes it
    deposit_text = f"{deposit:.2f}".replace(".", ",") if comma else f"{deposit:.2f}"
    summary = dict.fromkeys(COLUMNS, "") | {
        "settlement-id": "12345678901",
        "settlement-start-date": "2026-03-25 00:00:00 UTC",
        "settlement-end-date": "2026-04-07 23:59:59 UTC",
        "deposit-date": "2026-04-09 00:00:00 UTC",
        "total-amount": deposit_text,
        "currency": currency,
    }
    with path.open("w", encoding="utf-8") as target, body.open(encoding="utf-8") as rows:
        target.write("\t".join(COLUMNS) + "\n" + "\t".join(summary[c] for c in COLUMNS) + "\n")
        shutil.copyfileobj(rows, target, 1 << 20)
    body.unlink()
    return deposit


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: on a machine shared with other work the wall time
    moves a lot, the CPU time much less."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the three contenders, each run in a child process (`--one NAME FILE`) ------------------------


def _subject(path: Path, comma: bool, *, with_refunds: bool = False) -> dict[str, Any]:
    from m3amazon.amazon.settlement_file import read_settlement
    from m3amazon.flows.settlement_plan import plan_settlement
    from m3amazon.mapping import load_mappings

    gl = load_mappings().gl
    start, cpu = time.perf_counter(), _cpu_s()
    digest = read_settlement(path, aggregation=gl.aggregation, with_refunds=with_refunds)
    digest.check()
    plan = plan_settlement(digest, gl)
    seconds, cpu_s = time.perf_counter() - start, _cpu_s() - cpu
    assert not plan.unmapped
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "lines": digest.lines,
        "total": str(digest.sum_of_lines),
        "clearing": str(plan.clearing_total(gl.clearing.account)),
        "groups": len(digest.groups),
        "journal_lines": sum(len(j.lines) for j in plan.journals),
        "refunds": digest.refund_count,
    }


def _subject_with_refunds(path: Path, comma: bool) -> dict[str, Any]:
    return _subject(path, comma, with_refunds=True)


def _pandas(path: Path, comma: bool) -> dict[str, Any]:
    import pandas as pd

    start, cpu = time.perf_counter(), _cpu_s()
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    body = frame.iloc[1:]
    text = (
        body["amount"].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        if comma
        else body["amount"]
    )
    amounts = text.map(Decimal)
    sums = amounts.groupby([body["transaction-type"], body["amount-type"], body["amount-description"]]).sum()
    total = sum(sums.to_list(), Decimal(0))
    seconds, cpu_s = time.perf_counter() - start, _cpu_s() - cpu
    return {"seconds": seconds, "cpu_s": cpu_s, "lines": len(body), "total": str(total), "groups": len(sums)}


def _stdlib(path: Path, comma: bool) -> dict[str, Any]:
    import csv

    start, cpu = time.perf_counter(), _cpu_s()
    sums: dict[tuple[str, str, str], Decimal] = {}
    lines = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)  # the summary row
        for row in reader:
            text = row["amount"]
            if comma:
                text = text.replace(".", "").replace(",", ".")
            key = (row["transaction-type"], row["amount-type"], row["amount-description"])
            sums[key] = sums.get(key, Decimal(0)) + Decimal(text)
            lines += 1
    total = sum(sums.values(), Decimal(0))
    seconds, cpu_s = time.perf_counter() - start, _cpu_s() - cpu
    return {"seconds": seconds, "cpu_s": cpu_s, "lines": lines, "total": str(total), "groups": len(sums)}


CONTENDERS = {
    "polars (product)": _subject,
    "polars + refund links (flow)": _subject_with_refunds,
    "pandas read_csv + groupby": _pandas,
    "csv + Decimal": _stdlib,
}


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: on Linux ru_maxrss keeps the high-water
    mark of the forking parent across exec, VmHWM belongs to the new program's memory."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(name: str, path: Path, comma: bool) -> None:
    result = CONTENDERS[name](path, comma)
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def _run_child(name: str, path: Path, comma: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", name, str(path)] + (["--comma"] if comma else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _reused(path: Path, lines: int) -> Decimal | None:
    """The deposit of a settlement generated earlier with `lines` lines (None: generate it anew)."""
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        summary = dict(zip(header, handle.readline().rstrip("\n").split("\t"), strict=False))
        count = sum(1 for _ in handle)
    if count != lines:
        return None
    return Decimal(
        summary["total-amount"].replace(".", "").replace(",", ".")
        if "," in summary["total-amount"]
        else summary["total-amount"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--comma", action="store_true", help="a DE file (decimal comma)")
    parser.add_argument("--file", type=Path, help="generate the settlement here once and reuse it")
    parser.add_argument("--one", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _child(args.one[0], Path(args.one[1]), args.comma)
        return
    with tempfile.TemporaryDirectory(prefix="m3a-bench-settlement-") as tmp:
        path = args.file or Path(tmp) / "settlement.tsv"
        started = time.perf_counter()
        deposit = _reused(path, args.lines) if args.file and path.exists() else None
        if deposit is None:
            deposit = generate(path, args.lines, args.comma)
        print(
            f"settlement of {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) ready in "
            f"{time.perf_counter() - started:.1f} s; deposit {deposit}",
            file=sys.stderr,
        )
        measurements: list[Measurement] = []
        for name in CONTENDERS:
            m = Measurement(name, "s")
            for run in range(args.repeats):
                result = _run_child(name, path, args.comma)
                print(
                    f"  {name}: run {run + 1}/{args.repeats}: {result['seconds']:.2f} s, "
                    f"{result['cpu_s']:.2f} CPU s, {result['peak_mb']:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
                m.runs.append(result["seconds"])
                for key, value in result.items():
                    m.extra.setdefault(key, []).append(value)
            measurements.append(m)
    subject = measurements[0]
    subject_cpu = statistics.median(subject.extra["cpu_s"])
    totals = {m.name: set(m.extra["total"]) for m in measurements}
    agree = len(set().union(*totals.values())) == 1 and totals[subject.name] == {str(deposit)}
    clearing_ok = all(set(m.extra["clearing"]) == {str(deposit)} for m in measurements[:2])
    rows = []
    for m in measurements:
        peak = max(m.extra["peak_mb"])
        rows.append(
            {
                "contender": m.name,
                "median s": f"{m.median:.2f}",
                "rows/s": f"{args.lines / m.median:,.0f}",
                "median CPU s": f"{statistics.median(m.extra['cpu_s']):.2f}",
                "peak MB": f"{peak:.0f}",
                "total": next(iter(totals[m.name])),
                "x product (wall)": f"{m.median / subject.median:.1f}",
                "x product (CPU)": f"{statistics.median(m.extra['cpu_s']) / subject_cpu:.1f}",
            }
        )
    report("settlement", rows, measurements)
    print(
        f"\ndeposit {deposit}; totals equal to the cent across all contenders: {agree}; "
        f"clearing postings = deposit: {clearing_ok}"
    )
    rate, peak = args.lines / subject.median, max(max(m.extra["peak_mb"]) for m in measurements[:2])
    print(
        f"goals: >= 1,000,000 rows/s: {rate:,.0f} ({'met' if rate >= 1_000_000 else 'NOT met'}); "
        f"peak < 400 MB: {peak:.0f} MB ({'met' if peak < 400 else 'NOT met'})"
    )
    print(
        f"per CPU second: {args.lines / subject_cpu:,.0f} rows (the machine's load: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs when the run ended)"
    )
    if not (agree and clearing_ok):
        raise SystemExit("the totals differ")


if __name__ == "__main__":
    main()
