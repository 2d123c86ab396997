"""Practice statistics computed in PostgreSQL: totals, metric trends, scales, streaks.

:func:`practice_stats` is the API the CLI (`fretcoach stats`) and the chat agent share. Every
aggregate is computed in SQL over the selected sessions; Python only assembles the rows into
dataclasses. Days, weeks and months are calendar units in the user's time zone
(``start_time AT TIME ZONE tz``), so a session at 23:30 local time counts for that day even
when it is already tomorrow in UTC.

Which sessions count: completed and interrupted ones (``active`` rows are sessions still
being played, or crashed ones not yet recovered) unless the filter names statuses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fretcoach_cli.errors import UsageError
from fretcoach_cli.reports.dates import now_in
from fretcoach_cli.reports.filters import SessionFilter

if TYPE_CHECKING:
    import psycopg

# Scores (0–100) reported with averages and trends, in display order.
METRICS = ("overall_score", "pitch_accuracy", "scale_conformity", "timing_stability",
           "clean_playing", "scale_coverage")
# The areas a player works on; "weakest area" is chosen among these.
AREAS = ("pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing")
# Raw figures behind the scores, averaged.
RAW = ("mean_abs_cents", "in_scale_ratio", "in_tune_ratio", "ioi_cv")
GROUPINGS = ("day", "week", "month", "scale")
STATS_STATUSES = ("completed", "interrupted")
SECONDS_PER_WEEK = 604800.0


@dataclass(frozen=True)
class Totals:
    sessions: int
    practice_seconds: float
    notes: int
    correct_notes: int
    bad_notes: int
    days_practised: int
    first_session: datetime | None
    last_session: datetime | None


@dataclass(frozen=True)
class MetricTrend:
    """One score over the selection: level, spread and direction.

    ``slope_per_week`` is the least-squares slope of the score against time (points per
    week); ``first_half``/``second_half`` are the means over the older and newer half of the
    sessions (by count), ``change`` their difference.
    """

    metric: str
    sessions: int
    mean: float | None
    min: float | None
    max: float | None
    slope_per_week: float | None
    first_half: float | None
    second_half: float | None
    change: float | None


@dataclass(frozen=True)
class ScaleSummary:
    scale: str
    sessions: int
    practice_seconds: float
    notes: int
    overall_score: float | None
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    last_played: datetime | None


@dataclass(frozen=True)
class Streak:
    """Consecutive calendar days (user's time zone) with at least one session."""

    days: int
    first: date | None
    last: date | None


@dataclass(frozen=True)
class Bucket:
    """One group of ``--by``: a day/week/month (``start`` its first day) or a scale."""

    key: str
    start: date | None
    sessions: int
    practice_seconds: float
    notes: int
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class WeakestArea:
    most_often: str | None        # the area most sessions named as their weakest
    most_often_sessions: int
    lowest_average: str | None    # the area with the lowest mean score


@dataclass
class PracticeStats:
    filter: dict[str, Any]
    today: date
    totals: Totals
    metrics: dict[str, MetricTrend]
    raw: dict[str, float | None]
    scales: list[ScaleSummary]
    best_scale: str | None
    worst_scale: str | None
    current_streak: Streak
    longest_streak: Streak
    weakest_area: WeakestArea
    by: str | None = None
    buckets: list[Bucket] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The documented, stable JSON shape (see docs/reports.md)."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _base(flt: SessionFilter) -> tuple[str, dict[str, Any]]:
    where, params = flt.where(STATS_STATUSES)
    params["tz"] = flt.timezone
    return f"SELECT * FROM fretcoach.sessions WHERE {where}", params


def _local(ts: datetime | None, tz: str) -> datetime | None:
    return None if ts is None else ts.astimezone(ZoneInfo(tz))


def totals_and_trends(conn: psycopg.Connection[Any], flt: SessionFilter,
                      ) -> tuple[Totals, dict[str, MetricTrend], dict[str, float | None]]:
    """One scan: totals, per-metric level and trend, raw-figure means."""
    base, params = _base(flt)
    metric_cols = []
    for m in METRICS:
        metric_cols += [
            f"count({m})", f"avg({m})", f"min({m})", f"max({m})",
            f"regr_slope({m}, extract(epoch FROM start_time) / {SECONDS_PER_WEEK})",
            f"avg({m}) FILTER (WHERE half = 1)", f"avg({m}) FILTER (WHERE half = 2)",
        ]
    raw_cols = [f"avg({r})" for r in RAW]
    sql = f"""
        WITH s AS ({base}),
        h AS (SELECT s.*, ntile(2) OVER (ORDER BY start_time, session_id) AS half FROM s)
        SELECT count(*), coalesce(sum(duration_seconds), 0),
               coalesce(sum(total_notes_played), 0), coalesce(sum(correct_notes_played), 0),
               coalesce(sum(bad_notes_played), 0),
               count(DISTINCT (start_time AT TIME ZONE %(tz)s)::date),
               min(start_time), max(start_time),
               {", ".join(metric_cols + raw_cols)}
        FROM h"""
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    tz = flt.timezone
    totals = Totals(int(row[0]), float(row[1]), int(row[2]), int(row[3]), int(row[4]),
                    int(row[5]), _local(row[6], tz), _local(row[7], tz))
    metrics: dict[str, MetricTrend] = {}
    i = 8
    for m in METRICS:
        n, mean, lo, hi, slope, h1, h2 = row[i:i + 7]
        i += 7
        h1, h2 = _f(h1), _f(h2)
        change = h2 - h1 if h1 is not None and h2 is not None and int(n) >= 2 else None
        metrics[m] = MetricTrend(m, int(n), _f(mean), _f(lo), _f(hi), _f(slope),
                                 h1 if int(n) >= 2 else None, h2 if int(n) >= 2 else None,
                                 change)
    raw = {r: _f(v) for r, v in zip(RAW, row[i:], strict=True)}
    return totals, metrics, raw


def scale_summaries(conn: psycopg.Connection[Any], flt: SessionFilter) -> list[ScaleSummary]:
    """Per scale, most practised first."""
    base, params = _base(flt)
    rows = conn.execute(f"""
        SELECT scale_chosen, count(*), coalesce(sum(duration_seconds), 0),
               coalesce(sum(total_notes_played), 0), avg(overall_score), avg(pitch_accuracy),
               avg(scale_conformity), avg(timing_stability), max(start_time)
        FROM ({base}) s
        WHERE scale_chosen IS NOT NULL
        GROUP BY scale_chosen
        ORDER BY count(*) DESC, scale_chosen""", params).fetchall()
    return [ScaleSummary(r[0], int(r[1]), float(r[2]), int(r[3]), _f(r[4]), _f(r[5]),
                         _f(r[6]), _f(r[7]), _local(r[8], flt.timezone)) for r in rows]


def best_and_worst(scales: list[ScaleSummary], min_sessions: int = 2,
                   ) -> tuple[str | None, str | None]:
    """Highest and lowest mean overall score among scales played at least ``min_sessions``
    times (all scales when none qualifies); None when fewer than two scales were scored."""
    scored = [s for s in scales if s.overall_score is not None]
    pool = [s for s in scored if s.sessions >= min_sessions] or scored
    if len(pool) < 2:
        return (pool[0].scale if pool else None), None
    ranked = sorted(pool, key=lambda s: (-(s.overall_score or 0.0), -s.sessions, s.scale))
    return ranked[0].scale, ranked[-1].scale


def streaks(conn: psycopg.Connection[Any], flt: SessionFilter, today: date,
            ) -> tuple[Streak, Streak]:
    """(current, longest) runs of consecutive practice days, gaps-and-islands in SQL.

    The current streak is the run that ends today or yesterday: not having played *yet*
    today does not break it.
    """
    base, params = _base(flt)
    params["today"] = today
    rows = conn.execute(f"""
        WITH d AS (SELECT DISTINCT (start_time AT TIME ZONE %(tz)s)::date AS day
                   FROM ({base}) s),
        g AS (SELECT day, day - (row_number() OVER (ORDER BY day))::int AS grp FROM d),
        runs AS (SELECT min(day) AS first, max(day) AS last, count(*) AS len
                 FROM g GROUP BY grp)
        (SELECT 'longest', len, first, last FROM runs ORDER BY len DESC, last DESC LIMIT 1)
        UNION ALL
        (SELECT 'current', len, first, last FROM runs
         WHERE last >= %(today)s::date - 1 AND last <= %(today)s::date
         ORDER BY last DESC LIMIT 1)""", params).fetchall()
    found = {r[0]: Streak(int(r[1]), r[2], r[3]) for r in rows}
    none = Streak(0, None, None)
    return found.get("current", none), found.get("longest", none)


def weakest_area(conn: psycopg.Connection[Any], flt: SessionFilter,
                 metrics: dict[str, MetricTrend]) -> WeakestArea:
    base, params = _base(flt)
    row = conn.execute(f"""
        SELECT weakest_area, count(*) FROM ({base}) s
        WHERE weakest_area IS NOT NULL
        GROUP BY weakest_area ORDER BY count(*) DESC, weakest_area LIMIT 1""",
                       params).fetchone()
    means = [(metrics[a].mean, a) for a in AREAS if metrics[a].mean is not None]
    lowest = min(means)[1] if means else None
    return WeakestArea(row[0] if row else None, int(row[1]) if row else 0, lowest)


def buckets(conn: psycopg.Connection[Any], flt: SessionFilter, by: str) -> list[Bucket]:
    """Sessions grouped by local day/week (ISO, Monday first)/month, or by scale; oldest
    period first (scales: most practised first)."""
    if by not in GROUPINGS:
        raise UsageError(f"unknown grouping {by!r}", hint=f"use {', '.join(GROUPINGS)}")
    base, params = _base(flt)
    means = ", ".join(f"avg({m})" for m in METRICS)
    if by == "scale":
        sql = f"""SELECT scale_chosen, NULL::date, count(*), coalesce(sum(duration_seconds), 0),
                         coalesce(sum(total_notes_played), 0), {means}
                  FROM ({base}) s GROUP BY scale_chosen
                  ORDER BY count(*) DESC, scale_chosen NULLS LAST"""
    else:
        sql = f"""SELECT NULL, date_trunc('{by}', start_time AT TIME ZONE %(tz)s)::date AS k,
                         count(*), coalesce(sum(duration_seconds), 0),
                         coalesce(sum(total_notes_played), 0), {means}
                  FROM ({base}) s GROUP BY k ORDER BY k"""
    out = []
    for r in conn.execute(sql, params).fetchall():
        start = r[1]
        if by == "scale":
            key = r[0] or "(none)"
        elif by == "month":
            key = start.strftime("%Y-%m")
        elif by == "week":
            iso = start.isocalendar()
            key = f"{iso.year}-W{iso.week:02d}"
        else:
            key = start.isoformat()
        out.append(Bucket(key, start, int(r[2]), float(r[3]), int(r[4]),
                          {m: _f(v) for m, v in zip(METRICS, r[5:], strict=True)}))
    return out


def daily_seconds(conn: psycopg.Connection[Any], flt: SessionFilter, first: date,
                  last: date) -> dict[date, float]:
    """Practice seconds per local day between ``first`` and ``last`` (for the heat map)."""
    base, params = _base(flt)
    tz = ZoneInfo(flt.timezone)
    params["d0"] = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    params["d1"] = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    rows = conn.execute(f"""
        SELECT (start_time AT TIME ZONE %(tz)s)::date AS d, coalesce(sum(duration_seconds), 0)
        FROM ({base}) s WHERE start_time >= %(d0)s AND start_time < %(d1)s
        GROUP BY d""", params).fetchall()
    return {r[0]: float(r[1]) for r in rows}


def practice_stats(conn: psycopg.Connection[Any], flt: SessionFilter, *,
                   by: str | None = None, today: date | None = None) -> PracticeStats:
    """Everything `fretcoach stats` reports, for the sessions ``flt`` selects.

    ``conn`` is a user-scoped connection; ``today`` (the user's local date) defaults to now
    in the filter's time zone. Read-only; runs in one transaction.
    """
    if by is not None and by not in GROUPINGS:
        raise UsageError(f"unknown grouping {by!r}", hint=f"use {', '.join(GROUPINGS)}")
    today = today or now_in(flt.timezone).date()
    with conn.transaction():
        totals, metrics, raw = totals_and_trends(conn, flt)
        scales = scale_summaries(conn, flt)
        current, longest = streaks(conn, flt, today)
        weak = weakest_area(conn, flt, metrics)
        groups = buckets(conn, flt, by) if by else []
    best, worst = best_and_worst(scales)
    return PracticeStats(flt.as_dict(), today, totals, metrics, raw, scales, best, worst,
                         current, longest, weak, by, groups)
