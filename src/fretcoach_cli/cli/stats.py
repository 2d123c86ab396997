"""`fretcoach stats`: totals, trends, scales, streaks — and charts when stdout is a terminal.

The numbers come from :func:`fretcoach_cli.reports.stats.practice_stats` (all aggregates in
SQL). Charts (metric sparklines, weekly practice-time bars, a calendar heat map) are drawn
only on a terminal, or with ``--charts``; ``--json``/``--csv`` print data only.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict

import typer

from fretcoach_cli.cli.history import (
    SCALE_HELP,
    SINCE_HELP,
    UNTIL_HELP,
    console,
    dump_json,
    exclusive_formats,
    fmt_duration,
    make_filter,
    user_connection,
    write_csv,
)

if TYPE_CHECKING:
    from rich.console import Console, JustifyMethod
    from rich.table import Table

    from fretcoach_cli.reports.stats import PracticeStats

LABELS = {"overall_score": "overall", "pitch_accuracy": "pitch accuracy",
          "scale_conformity": "scale conformity", "timing_stability": "timing stability",
          "clean_playing": "clean playing", "scale_coverage": "scale coverage"}
TREND_WEEKS = 26
HEAT_WEEKS = 20
BAR_WEEKS = 12

CSV_METRIC_COLUMNS = ("metric", "sessions", "mean", "min", "max", "slope_per_week",
                      "first_half", "second_half", "change")
CSV_BUCKET_COLUMNS = ("key", "start", "sessions", "practice_seconds", "notes",
                      "overall_score", "pitch_accuracy", "scale_conformity",
                      "timing_stability", "clean_playing", "scale_coverage")


def stats(
    since: str | None = typer.Option(None, "--since", help=SINCE_HELP),
    until: str | None = typer.Option(None, "--until", help=UNTIL_HELP),
    by: str | None = typer.Option(None, "--by", help="Group by day, week, month or scale."),
    scale: str | None = typer.Option(None, "--scale", help=SCALE_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    as_csv: bool = typer.Option(
        False, "--csv", help="CSV: one row per metric, or per group with --by."),
    charts: bool | None = typer.Option(
        None, "--charts/--no-charts", help="Draw charts (default: only on a terminal)."),
) -> None:
    """Totals, averages and trends, best and worst scales, streaks and weakest area."""
    from fretcoach_cli.reports.stats import GROUPINGS, buckets, daily_seconds, practice_stats

    exclusive_formats(as_json, as_csv)
    if by is not None and by not in GROUPINGS:
        from fretcoach_cli.errors import UsageError

        raise UsageError(f"unknown --by {by!r}", hint=f"use {', '.join(GROUPINGS)}")
    flt = make_filter(since, until, scale)
    draw = (sys.stdout.isatty() if charts is None else charts) and not (as_json or as_csv)
    weekly: list[Any] = []
    daily: dict[Any, float] = {}
    chart_end = None
    with user_connection() as conn:
        if draw and by is None:
            # the charts' weeks come with the report itself: one statement, not two
            result = practice_stats(conn, flt, by="week")
            weekly, result = result.buckets, replace(result, by=None, buckets=[])
        else:
            result = practice_stats(conn, flt, by=by)
        if draw and result.totals.sessions:
            if by is not None:
                weekly = result.buckets if by == "week" else buckets(conn, flt, "week")
            chart_end = _chart_end(result.today, flt)
            first = (chart_end - timedelta(days=chart_end.weekday())
                     - timedelta(weeks=HEAT_WEEKS - 1))
            daily = daily_seconds(conn, flt, first, chart_end)
        from fretcoach_cli.reports.tempo import PERIODS, clean_tempo

        tempo = clean_tempo(conn, flt, period=by if by in PERIODS else "week")
    if as_json:
        dump_json({**result.to_dict(), "clean_tempo": tempo.to_dict()})
        return
    if as_csv:
        _write_csv(result)
        return
    _print(result, weekly, daily, draw, chart_end or result.today)
    _print_clean_tempo(tempo)


def _print_clean_tempo(tempo: Any) -> None:
    """The speed trainer's best clean tempo per scale, over the periods (none: nothing)."""
    if not tempo.scales:
        return
    from rich.table import Table

    from fretcoach_cli.reports.charts import sparkline

    out = console()
    out.print(f"\n[bold]best clean tempo (speed trainer), by {tempo.period}[/]")
    tbl = Table(box=None, pad_edge=False, header_style="bold")
    _add_columns(tbl, ("scale", "left"), ("best bpm", "right"), ("sessions", "right"),
                 (f"per {tempo.period}", "left"))
    for s in tempo.scales:
        course = "  ".join(f"{p.key} {p.max_clean_bpm:g}" for p in s.points[-6:])
        line = sparkline([p.max_clean_bpm for p in s.points]) if len(s.points) > 1 else ""
        name = (s.scale or "—") + (f" · {s.exercise}" if s.exercise else "")
        tbl.add_row(name, f"{s.max_clean_bpm:g}", str(s.sessions),
                    f"{line}  {course}".strip())
    out.print(tbl)


def _write_csv(result: PracticeStats) -> None:
    if result.by:
        rows = [[b.key, b.start.isoformat() if b.start else None, b.sessions,
                 b.practice_seconds, b.notes, *(b.metrics[m] for m in CSV_BUCKET_COLUMNS[5:])]
                for b in result.buckets]
        write_csv(CSV_BUCKET_COLUMNS, rows)
        return
    write_csv(CSV_METRIC_COLUMNS,
              [[getattr(t, c) for c in CSV_METRIC_COLUMNS] for t in result.metrics.values()])


def _arrow(change: float | None) -> str:
    if change is None:
        return ""
    if change >= 1:
        return f"[green]▲ {change:+.1f}[/]"
    if change <= -1:
        return f"[red]▼ {change:+.1f}[/]"
    return f"= {change:+.1f}"


def _print(result: PracticeStats, weekly: list[Any], daily: dict[Any, float],
           draw: bool, chart_end: Any) -> None:
    from rich.table import Table

    from fretcoach_cli.reports.charts import bar, heat_map_text, sparkline

    out = console()
    t = result.totals
    week_starts, weeks = _weeks(weekly, chart_end, TREND_WEEKS)
    if not t.sessions:
        console(stderr=True).print("no sessions in this period")
        return
    span = ""
    if t.first_session and t.last_session:
        span = f"{t.first_session:%Y-%m-%d} → {t.last_session:%Y-%m-%d}"
    out.print(f"[bold]{t.sessions}[/] session{'s' if t.sessions != 1 else ''}, "
              f"[bold]{fmt_duration(t.practice_seconds)}[/] practised on {t.days_practised} "
              f"day{'s' if t.days_practised != 1 else ''} ({span}), {t.notes} note"
              f"{'s' if t.notes != 1 else ''} "
              f"({_share(t.correct_notes, t.notes)} in the scale)")
    cur, lng = result.current_streak, result.longest_streak
    out.print(f"streak: current [bold]{cur.days}[/] day{'s' if cur.days != 1 else ''}"
              f", longest [bold]{lng.days}[/]"
              + (f" ({lng.first} → {lng.last})" if lng.first else ""))
    weak = result.weakest_area
    if weak.most_often or weak.lowest_average:
        name = (weak.most_often or weak.lowest_average or "").replace("_", " ")
        out.print(f"weakest area: [bold]{name}[/]"
                  + (f" (weakest in {weak.most_often_sessions} session"
                     f"{'s' if weak.most_often_sessions != 1 else ''})"
                     if weak.most_often else ""))
    if result.best_scale:
        line = f"best scale: [bold]{result.best_scale}[/]"
        if result.worst_scale:
            line += f", needs most work: [bold]{result.worst_scale}[/]"
        out.print(line)

    table = Table(box=None, pad_edge=False, header_style="bold")
    _add_columns(table, ("metric", "left"), ("mean", "right"), ("min", "right"),
                 ("max", "right"), ("per week", "right"), ("1st → 2nd half", "left"))
    if draw:
        table.add_column(f"weekly (last {TREND_WEEKS})")
    for m, tr in result.metrics.items():
        if tr.mean is None:
            continue
        # either half may lack scores (unscored sessions): never assume a shape of history
        halves = ("—" if tr.first_half is None and tr.second_half is None else
                  f"{_num(tr.first_half)} → {_num(tr.second_half)} {_arrow(tr.change)}".rstrip())
        row = [LABELS[m], f"{tr.mean:.1f}", _num(tr.min), _num(tr.max),
               "—" if tr.slope_per_week is None else f"{tr.slope_per_week:+.2f}", halves]
        if draw:
            series = [b.metrics[m] if b else None for b in weeks[-TREND_WEEKS:]]
            row.append(f"[cyan]{sparkline(series, **_range(series))}[/]")
        table.add_row(*row)
    out.print()
    out.print(table)

    if result.scales:
        out.print()
        sc = Table(box=None, pad_edge=False, header_style="bold")
        _add_columns(sc, ("scale", "left"), ("sessions", "right"), ("time", "right"),
                     ("overall", "right"), ("pitch", "right"), ("timing", "right"),
                     ("last played", "left"))
        for s in result.scales[:12]:
            sc.add_row(s.scale, str(s.sessions), fmt_duration(s.practice_seconds),
                       _num(s.overall_score), _num(s.pitch_accuracy),
                       _num(s.timing_stability),
                       f"{s.last_played:%Y-%m-%d}" if s.last_played else "—")
        out.print(sc)

    if result.by:
        out.print()
        _print_buckets(out, result)

    if draw and weekly:
        out.print(f"\n[bold]practice time per week[/] (last {BAR_WEEKS})")
        recent = list(zip(week_starts[-BAR_WEEKS:], weeks[-BAR_WEEKS:], strict=True))
        peak = max((b.practice_seconds for _w, b in recent if b), default=0.0) or 1.0
        for start, b in recent:
            secs = b.practice_seconds if b else 0.0
            iso = start.isocalendar()
            out.print(f"  {iso.year}-W{iso.week:02d}  [green]{bar(secs, peak, 40):<40}[/] "
                      f"{fmt_duration(secs):>8}")
        out.print(f"\n[bold]calendar[/] (last {HEAT_WEEKS} weeks, darker = longer)")
        for line in heat_map_text(daily, end=chart_end, weeks=HEAT_WEEKS):
            out.print(f"  [green]{line}[/]")


def _chart_end(today: Any, flt: Any) -> Any:
    """Charts end today, or on the last day of a period that ended before today."""
    if flt is not None and flt.period.end is not None:
        last = (flt.period.end - timedelta(microseconds=1)).date()
        return min(today, last)
    return today


def _weeks(weekly: list[Any], today: Any, count: int) -> tuple[list[Any], list[Any]]:
    """The last ``count`` weeks up to today's, Monday dates and their bucket (None when no
    session), so gaps show as gaps."""
    by_start = {b.start: b for b in weekly}
    this_monday = today - timedelta(days=today.weekday())
    starts = [this_monday - timedelta(weeks=i) for i in range(count - 1, -1, -1)]
    return starts, [by_start.get(w) for w in starts]


def _add_columns(table: Table, *columns: tuple[str, JustifyMethod]) -> None:
    """(header, justification) columns, left to right."""
    for header, justify in columns:
        table.add_column(header, justify=justify)


class _Bounds(TypedDict, total=False):
    """Keyword bounds for ``sparkline``: none (the data's own range) or both."""

    lo: float
    hi: float


def _range(series: list[float | None], min_span: float = 10.0) -> _Bounds:
    """Sparkline bounds: the data's range, widened to at least ``min_span`` points so noise
    does not look like a trend."""
    vals = [v for v in series if v is not None]
    if not vals:
        return {}
    lo, hi = min(vals), max(vals)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    return {"lo": lo, "hi": hi}


def _print_buckets(out: Console, result: PracticeStats) -> None:
    from rich.table import Table

    tbl = Table(box=None, pad_edge=False, header_style="bold")
    _add_columns(tbl, (result.by or "", "left"), ("sessions", "right"), ("time", "right"),
                 ("notes", "right"), ("overall", "right"), ("pitch", "right"),
                 ("in scale", "right"), ("timing", "right"))
    for b in result.buckets:
        m = b.metrics
        tbl.add_row(b.key, str(b.sessions), fmt_duration(b.practice_seconds), str(b.notes),
                    _num(m["overall_score"]), _num(m["pitch_accuracy"]),
                    _num(m["scale_conformity"]), _num(m["timing_stability"]))
    out.print(tbl)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}"


def _share(part: int, whole: int) -> str:
    return "—" if not whole else f"{100 * part / whole:.0f}%"


def register(app: typer.Typer) -> None:
    app.command("stats", rich_help_panel="History")(stats)
