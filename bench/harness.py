"""A small benchmark harness: warm-up, repeated runs, medians, a table, a JSON result.

Every benchmark measures its subject and its baseline in the same run, on the same machine, and
prints the ratio between them: absolute figures move with the machine, ratios much less.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Measurement:
    name: str
    unit: str
    runs: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")


def measure(
    name: str,
    unit: str,
    run: Callable[[], tuple[float, dict[str, Any]]],
    *,
    repeats: int = 3,
    warmup: int = 1,
) -> Measurement:
    """Call `run` warmup + repeats times; it returns (figure, details). Warm-up figures are dropped."""
    result = Measurement(name, unit)
    for index in range(warmup + repeats):
        figure, details = run()
        kind = "warm-up" if index < warmup else f"run {index - warmup + 1}/{repeats}"
        print(f"  {name}: {kind}: {figure:.2f} {unit}", file=sys.stderr, flush=True)
        if index >= warmup:
            result.runs.append(figure)
            for key, value in details.items():
                result.extra.setdefault(key, []).append(value)
    return result


def report(benchmark: str, rows: list[dict[str, Any]], measurements: list[Measurement]) -> Path:
    """Print `rows` as a table and write everything to bench/results/<benchmark>.json."""
    if rows:
        headers = list(rows[0])
        widths = [max(len(str(h)), *(len(str(r[h])) for r in rows)) for h in headers]
        print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row in rows:
            print("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True)))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{benchmark}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": benchmark,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count(),
                },
                "table": rows,
                "measurements": [asdict(m) | {"median": m.median} for m in measurements],
            },
            indent=2,
        )
    )
    print(f"\nwritten to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path
