"""Terminal charts as plain text: sparklines, horizontal bars and a calendar heat map.

Pure functions returning strings and level grids, so they are testable without a terminal;
the CLI only adds colour. Block characters keep them readable in any monospace font.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

SPARKS = "▁▂▃▄▅▆▇█"
BLOCKS = " ▏▎▍▌▋▊▉█"
HEAT = " ░▒▓█"


def sparkline(values: Sequence[float | None], *, lo: float | None = None,
              hi: float | None = None, width: int | None = None) -> str:
    """One character per value (None → space); scaled to [lo, hi] (default: data range).

    With ``width``, values are averaged into that many buckets first so a long history still
    fits on one line.
    """
    vals = list(values)
    if width is not None and len(vals) > width > 0:
        vals = _resample(vals, width)
    present = [v for v in vals if v is not None and not math.isnan(v)]
    if not present:
        return " " * len(vals)
    lo = min(present) if lo is None else lo
    hi = max(present) if hi is None else hi
    span = hi - lo
    out = []
    for v in vals:
        if v is None or math.isnan(v):
            out.append(" ")
            continue
        frac = 0.5 if span <= 0 else min(1.0, max(0.0, (v - lo) / span))
        out.append(SPARKS[round(frac * (len(SPARKS) - 1))])
    return "".join(out)


def _resample(vals: list[float | None], width: int) -> list[float | None]:
    out: list[float | None] = []
    n = len(vals)
    for i in range(width):
        chunk = [v for v in vals[i * n // width:(i + 1) * n // width] if v is not None]
        out.append(sum(chunk) / len(chunk) if chunk else None)
    return out


def bar(value: float, maximum: float, width: int) -> str:
    """A horizontal bar of ``width`` cells at most, with eighth-cell resolution."""
    if maximum <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(min(1.0, value / maximum) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (BLOCKS[rest] if rest else "")


def heat_levels(per_day: Mapping[date, float], *, end: date, weeks: int) -> list[list[int | None]]:
    """A 7-row (Mon..Sun) × ``weeks``-column grid of levels 0–4; None after ``end``.

    Levels are quartiles of the non-zero values, GitHub style: 0 = no practice.
    """
    first_monday = end - timedelta(days=end.weekday()) - timedelta(weeks=weeks - 1)
    nonzero = sorted(v for v in per_day.values() if v > 0)
    cuts = [nonzero[min(len(nonzero) - 1, len(nonzero) * q // 4)] for q in (1, 2, 3)] \
        if nonzero else []
    grid: list[list[int | None]] = [[None] * weeks for _ in range(7)]
    for col in range(weeks):
        for row in range(7):
            day = first_monday + timedelta(weeks=col, days=row)
            if day > end:
                continue
            v = per_day.get(day, 0.0)
            grid[row][col] = 0 if v <= 0 else 1 + sum(1 for c in cuts if v > c)
    return grid


def heat_map_text(per_day: Mapping[date, float], *, end: date, weeks: int) -> list[str]:
    """The heat map as 7 lines of text with weekday labels."""
    labels = ("Mon", "   ", "Wed", "   ", "Fri", "   ", "Sun")
    grid = heat_levels(per_day, end=end, weeks=weeks)
    return [f"{labels[r]} " + "".join("·" if lvl == 0 else " " if lvl is None else HEAT[lvl]
                                       for lvl in grid[r]) for r in range(7)]
