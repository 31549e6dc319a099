"""Small inline SVG charts for the console (no JavaScript, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WIDTH = 480
HEIGHT = 90
GAP = 2


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclass(frozen=True)
class BarChart:
    """Everything the template needs to draw one chart: bars, scale and axis labels."""

    bars: list[Bar]
    width: int
    height: int
    peak: int
    colour: str
    first: str
    last: str


def bar_chart(hours: list[datetime], counts: list[int], *, colour: str = "#2c7be5") -> BarChart:
    """One bar per hour, scaled to the busiest hour (an empty series draws an empty baseline)."""
    peak = max(counts, default=0)
    slot = WIDTH / max(1, len(counts))
    bars = []
    for i, (hour, count) in enumerate(zip(hours, counts, strict=True)):
        height = (HEIGHT - 12) * count / peak if peak else 0.0
        bars.append(
            Bar(
                x=round(i * slot + GAP / 2, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(1.0, slot - GAP), 2),
                height=round(height, 2),
                count=count,
                label=f"{hour:%d %b %H}:00 UTC: {count}",
            )
        )
    return BarChart(
        bars,
        WIDTH,
        HEIGHT,
        peak,
        colour,
        f"{hours[0]:%H}:00" if hours else "",
        f"{hours[-1]:%H}:00" if hours else "",
    )
