"""SKU match suggestions over a large catalog: the vectorised matcher against a naive one.

Catalog: 100,000 M3 items (item number, name, one alias). Queries: SKUs derived from real items
with a changed spelling (separators, case) plus their Amazon titles.

Subject: `SkuMatcher.suggest_many` (normalised once, `process.cdist` on all cores, shortlist).
Baseline: `rapidfuzz.process.extract(sku, all codes, scorer=WRatio, limit=3)` per query, the way
the library is usually called. The baseline is timed on the first 50 queries only (it takes about
a tenth of a second each); both are reported per query, and the ratio is per query.

    .venv/bin/python bench/sku_suggestions.py [--items 100000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import measure, report
from rapidfuzz import fuzz, process

from m3amazon.mapping.suggestions import Candidate, SkuMatcher

WORDS = [
    "bearing",
    "bolt",
    "clamp",
    "drill",
    "glove",
    "light",
    "ties",
    "wrench",
    "level",
    "socket",
    "tape",
    "knife",
    "screw",
    "anchor",
    "disc",
    "brush",
    "cord",
    "padlock",
    "steel",
    "black",
    "heavy",
    "mini",
]


def catalog(n: int, rng: random.Random) -> list[Candidate]:
    items = []
    for i in range(n):
        number = f"{rng.choice('ABCDEFGHJK')}{rng.randint(0, 99):02d}-{i:06d}"
        name = " ".join(rng.sample(WORDS, 3)) + f" {rng.randint(1, 500)} mm"
        items.append(Candidate(number.replace("-", ""), name, (number,)))
    return items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--baseline-queries", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(11)
    items = catalog(args.items, rng)
    picks = rng.sample(items, args.queries)
    queries = [(p.aliases[0].lower().replace("-", " "), p.name) for p in picks]
    codes = [c for item in items for c in (item.item_number, *item.aliases)]

    built = time.perf_counter()
    matcher = SkuMatcher(items)
    build_s = time.perf_counter() - built

    def subject() -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        answers = matcher.suggest_many(queries)
        elapsed = time.perf_counter() - started
        hits = sum(a[0].item_number == p.item_number for a, p in zip(answers, picks, strict=True))
        return elapsed / len(queries) * 1000, {"top1_accuracy": hits / len(queries), "total_s": elapsed}

    def baseline() -> tuple[float, dict[str, Any]]:
        sample = queries[: args.baseline_queries]
        started = time.perf_counter()
        answers = [process.extract(sku, codes, scorer=fuzz.WRatio, limit=3) for sku, _ in sample]
        elapsed = time.perf_counter() - started
        hits = sum(
            any(p.item_number == a[0] or a[0] in p.aliases for a in answer[:1])
            for answer, p in zip(answers, picks, strict=False)
        )
        return elapsed / len(sample) * 1000, {"top1_accuracy": hits / len(sample), "total_s": elapsed}

    base = measure("extract + WRatio (baseline)", "ms/query", baseline, repeats=3, warmup=1)
    subj = measure("SkuMatcher (cdist + shortlist)", "ms/query", subject, repeats=3, warmup=1)
    rows = [
        {
            "method": m.name,
            "queries": n,
            "catalog": args.items,
            "median ms/query": f"{m.median:.2f}",
            "top-1 accuracy": f"{m.extra['top1_accuracy'][0]:.3f}",
            "speed-up vs baseline": "1.0 (baseline)" if m is base else f"{base.median / m.median:.0f}x",
        }
        for m, n in ((base, args.baseline_queries), (subj, args.queries))
    ]
    print(f"catalog normalised in {build_s:.2f} s")
    report("sku_suggestions", rows, [base, subj])


if __name__ == "__main__":
    main()
