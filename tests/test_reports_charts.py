"""Text charts: sparklines, bars and the calendar heat map (pure functions)."""

from __future__ import annotations

from datetime import date, timedelta

from fretcoach_cli.reports.charts import bar, heat_levels, heat_map_text, sparkline


def test_sparkline_scales_and_keeps_gaps() -> None:
    assert sparkline([0, 50, 100], lo=0, hi=100) == "▁▅█"
    assert sparkline([1, None, 3]) == "▁ █"
    assert sparkline([5, 5]) == "▅▅"  # flat data sits mid-height
    assert sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=10)) == 10
    assert sparkline(list(range(100)), width=10)[0] == "▁"


def test_bar_has_eighth_resolution_and_bounds() -> None:
    assert bar(10, 10, 4) == "████"
    assert bar(5, 10, 4) == "██"
    assert bar(1, 2, 1) == "▌" and bar(1, 8, 1) == "▏"  # half a cell, one eighth
    assert bar(0, 10, 4) == "" and bar(3, 0, 4) == ""
    assert bar(20, 10, 4) == "████"  # clipped


def test_heat_map_grid_follows_weekdays_and_quartiles() -> None:
    end = date(2026, 1, 14)  # a Wednesday
    per_day = {end: 3600.0, end - timedelta(days=1): 60.0, date(2026, 1, 5): 600.0}
    grid = heat_levels(per_day, end=end, weeks=2)
    assert len(grid) == 7 and all(len(r) == 2 for r in grid)
    assert grid[2][1] == 3 and grid[1][1] == 1  # Wed (longest), Tue (shortest)
    assert grid[0][0] == 2                      # Mon Jan 5
    assert grid[3][1] is None                   # Thursday after the end: not drawn
    assert grid[4][0] == 0                      # no practice
    lines = heat_map_text(per_day, end=end, weeks=2)
    assert lines[0].startswith("Mon ") and len(lines) == 7
