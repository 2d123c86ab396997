"""Practice statistics computed in PostgreSQL: totals, metric trends, scales, streaks.

:func:`practice_stats` is the API the CLI (`fretcoach stats`) and the chat agent share. Every
aggregate is computed in SQL over the selected sessions; Python only assembles the rows into
dataclasses. Days, weeks and months are calendar units in the user's time zone
(``start_time AT TIME ZONE tz``), so a session at 23:30 local time counts for that day even
when it is already tomorrow in UTC.

Which sessions count: completed and interrupted ones (``active`` rows are sessions still
being played, or crashed ones not yet recovered) unless the filter names statuses; never a
session completed with no notes (``filters.PLAYED_COND``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fretcoach_cli.errors import UsageError
from fretcoach_cli.reports.dates import now_in
from fretcoach_cli.reports.filters import PLAYED_COND, SessionFilter, day_group_conditions

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
# The columns of one (local day, scale) group: report_groups()' result, report_days after
# (user_id, tz) — ddl/041 generates them from the same three lists.
GROUP_COLUMNS = (
    "day", "scale", "n", "secs", "notes", "correct", "bad", "first_at", "last_at",
    *(f"{r}_{x}" for r in RAW for x in ("n", "s")),
    *(f"w_{a}" for a in (*AREAS, "scale_coverage")),
    *(f"{m}_{x}" for m in METRICS for x in ("n", "s", "lo", "hi", "sx", "sxx", "sxy")))
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
    week); ``first_half``/``second_half`` are the means over the older floor(N/2) sessions
    (by start time, then id) and the rest, ``change`` their difference — the one trend rule
    of ``reports.trend``. Either half may be None (no score in it).
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


WEAKEST_CHOICES = (*AREAS, "scale_coverage")


def _aggregate_sql(flt: SessionFilter, by: str | None,
                   rollup: bool = False) -> tuple[str, dict[str, Any]]:
    """One statement over the (local day, scale) groups of ddl/011_report_rollup.sql.

    The groups hold sums, counts, min/max and the least-squares sums (Σx, Σx², Σxy with
    x = weeks) of every metric; every figure of the report is combined from them (hundreds
    to thousands of rows instead of every session) and comes back as one JSON document.
    ``rollup`` reads the materialised groups (``report_days``) for the period's whole local
    days and computes only a day it starts or ends inside from that day's sessions;
    otherwise ``report_groups()`` computes every group from the sessions in one scan.
    The trend halves split sessions, not days: whole days on either side of the split come
    from the groups, and only the one day the split falls in reads its own sessions (an
    index range on ``sessions_user_start_idx``, ``LIMIT`` the sessions it gives the older
    half), so the statement stays as cheap at 100k sessions.
    """
    params: dict[str, Any] = {"tz": flt.timezone, "f_scale": flt.scale,
                              "f_since": flt.period.start, "f_until": flt.period.end}
    if rollup:
        # whole local days from the maintained groups; the part of a day the period starts
        # or ends inside (an instant was given) computed from its sessions, as one group
        first, last, head, tail = split_period(flt)
        conds = day_group_conditions(flt, first, last, params)
        cols = ", ".join(GROUP_COLUMNS)
        parts = [f"SELECT {cols} FROM fretcoach.report_days WHERE {' AND '.join(conds)}"]
        groups = (f"SELECT {cols} FROM fretcoach.report_groups(current_setting("
                  "'fretcoach.user_id', true), %(tz)s, {}, {}, %(f_scale)s)")
        edge = "(%({})s::date::timestamp AT TIME ZONE %(tz)s)"
        if head and tail and first is not None and last is not None and first > last + \
                timedelta(days=1):
            parts.append(groups.format("%(f_since)s", "%(f_until)s"))  # inside one day
        else:
            if head:
                parts.append(groups.format("%(f_since)s", edge.format("d_first")))
            if tail:
                params["d_after"] = last + timedelta(days=1) if last is not None else None
                parts.append(groups.format(edge.format("d_after"), "%(f_until)s"))
        source = " UNION ALL ".join(parts)
    else:
        source = ("SELECT * FROM fretcoach.report_groups(current_setting('fretcoach.user_id', "
                  "true), %(tz)s, %(f_since)s, %(f_until)s, %(f_scale)s)")
    day_sums = ", ".join(f"sum({m}_n) AS {m}_n, sum({m}_s) AS {m}_s" for m in METRICS)

    def mean(m: str, cond: str = "") -> str:
        f = f" FILTER (WHERE {cond})" if cond else ""
        return f"sum({m}_s){f} / nullif(sum({m}_n){f}, 0)"

    def slope(m: str) -> str:
        n, sx, sxx, sxy, sy = (f"sum({m}_n)", f"sum({m}_sx)", f"sum({m}_sxx)",
                               f"sum({m}_sxy)", f"sum({m}_s)")
        den = f"({n} * {sxx} - {sx} * {sx})"
        return (f"CASE WHEN {n} >= 2 AND {den} > 1e-9 * {n} * {n} "
                f"THEN ({n} * {sxy} - {sx} * {sy}) / {den} END")

    def half(m: str, first: bool) -> str:
        # whole days of the half (summed once per day in ``hv``), plus (first) or minus
        # (second) the straddling day's oldest sessions; the straddling day itself counts
        # with the second half's days
        k, sign = ("1", "+") if first else ("2", "-")
        return (f"((SELECT {m}_s{k} FROM hv) {sign} (SELECT {m}_s FROM mid)) / "
                f"nullif((SELECT {m}_n{k} FROM hv) {sign} (SELECT {m}_n FROM mid), 0)")

    half_sums = ", ".join(
        f"coalesce(sum({m}_{x}) FILTER (WHERE part = 1), 0) AS {m}_{x}1, "
        f"coalesce(sum({m}_{x}) FILTER (WHERE part <> 1), 0) AS {m}_{x}2"
        for m in METRICS for x in ("s", "n"))
    metric_json = ", ".join(
        f"""'{m}', json_build_object(
                'sessions', sum({m}_n), 'mean', {mean(m)}, 'min', min({m}_lo),
                'max', max({m}_hi), 'slope_per_week', {slope(m)},
                'first_half', {half(m, True)}, 'second_half', {half(m, False)})"""
        for m in METRICS)
    mid_sums = ", ".join(f"count({m}) AS {m}_n, coalesce(sum({m}), 0) AS {m}_s"
                         for m in METRICS)
    raw_json = ", ".join(f"'{r}', sum({r}_s) / nullif(sum({r}_n), 0)" for r in RAW)
    area_json = ", ".join(f"'{a}', sum(w_{a})" for a in WEAKEST_CHOICES)
    bucket_means = ", ".join(f"'{m}', {mean(m)}" for m in METRICS)
    if by == "scale":
        bucket_sql = f"""SELECT coalesce(json_agg(b ORDER BY b.sessions DESC, b.key), '[]')
            FROM (SELECT coalesce(nullif(scale, ''), '(none)') AS key, NULL::date AS start,
                         sum(n) AS sessions, sum(secs) AS practice_seconds, sum(notes) AS notes,
                         json_build_object({bucket_means}) AS metrics
                  FROM g GROUP BY scale) b"""
    elif by in ("day", "week", "month"):
        bucket_sql = f"""SELECT coalesce(json_agg(b ORDER BY b.start), '[]')
            FROM (SELECT NULL AS key, date_trunc('{by}', day)::date AS start,
                         sum(n) AS sessions, sum(secs) AS practice_seconds, sum(notes) AS notes,
                         json_build_object({bucket_means}) AS metrics
                  FROM days GROUP BY 2) b"""
    else:
        bucket_sql = "SELECT '[]'::json"
    sql = f"""
    WITH g AS MATERIALIZED (SELECT * FROM ({source}) src WHERE n > 0),
    days AS MATERIALIZED (
        SELECT day, sum(n) AS n, sum(secs) AS secs, sum(notes) AS notes, {day_sums}
        FROM g GROUP BY day),
    cut AS (SELECT days.*, sum(n) OVER (ORDER BY day) - n AS before,
                   floor((SELECT sum(n) FROM days) / 2) AS k
            FROM days),
    -- the older half is the oldest floor(N/2) sessions: days wholly inside it (part 1),
    -- wholly after it (2), and at most one day it splits (0), of which ``take`` count
    h AS MATERIALIZED (
        SELECT cut.*, CASE WHEN before + n <= k THEN 1 WHEN before >= k THEN 2 ELSE 0 END
                      AS part,
               (k - before)::bigint AS take
        FROM cut),
    -- each half's whole days, summed once (the metrics themselves come from g: no join
    -- of groups with days, which the planner ran as a nested loop on fresh statistics)
    hv AS MATERIALIZED (SELECT {half_sums} FROM h),
    -- that day's oldest ``take`` sessions (start time, then id), read through
    -- sessions_user_start_idx with the same conditions as the groups
    mid AS (
        SELECT {mid_sums}
        FROM h CROSS JOIN LATERAL (
            SELECT s.* FROM fretcoach.sessions s
            WHERE s.user_id = current_setting('fretcoach.user_id', true)
              AND s.status IN ('completed', 'interrupted') AND {PLAYED_COND}
              AND s.start_time >= greatest(h.day::timestamp AT TIME ZONE %(tz)s,
                                           %(f_since)s::timestamptz)
              AND s.start_time < least((h.day + 1)::timestamp AT TIME ZONE %(tz)s,
                                       %(f_until)s::timestamptz)
              AND (%(f_scale)s::text IS NULL OR s.scale_chosen = %(f_scale)s::text)
            ORDER BY s.start_time, s.session_id
            LIMIT h.take) s
        WHERE h.part = 0),
    runs AS (
        SELECT min(day) AS first, max(day) AS last, count(*) AS len
        FROM (SELECT day, day - (row_number() OVER (ORDER BY day))::int AS grp FROM days) r
        GROUP BY grp)
    SELECT json_build_object(
        'totals', (SELECT json_build_object(
            'sessions', coalesce(sum(n), 0), 'practice_seconds', coalesce(sum(secs), 0),
            'notes', coalesce(sum(notes), 0), 'correct_notes', coalesce(sum(correct), 0),
            'bad_notes', coalesce(sum(bad), 0), 'days_practised', (SELECT count(*) FROM days),
            'first_session', min(first_at), 'last_session', max(last_at)) FROM g),
        'metrics', (SELECT json_build_object({metric_json}) FROM g),
        'raw', (SELECT json_build_object({raw_json}) FROM g),
        'areas', (SELECT json_build_object({area_json}) FROM g),
        'scales', (SELECT coalesce(json_agg(x ORDER BY x.sessions DESC, x.scale), '[]') FROM (
            SELECT scale, sum(n) AS sessions, sum(secs) AS practice_seconds,
                   sum(notes) AS notes, {mean("overall_score")} AS overall_score,
                   {mean("pitch_accuracy")} AS pitch_accuracy,
                   {mean("scale_conformity")} AS scale_conformity,
                   {mean("timing_stability")} AS timing_stability, max(last_at) AS last_played
            FROM g WHERE scale <> '' GROUP BY scale) x),
        'longest', (SELECT json_build_object('days', len, 'first', first, 'last', last)
                    FROM runs ORDER BY len DESC, last DESC LIMIT 1),
        'current', (SELECT json_build_object('days', len, 'first', first, 'last', last)
                    FROM runs WHERE last >= %(today)s::date - 1 AND last <= %(today)s::date
                    ORDER BY last DESC LIMIT 1),
        'buckets', ({bucket_sql}))"""
    return sql, params


def _ts(text: str | None, tz: str) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(ZoneInfo(tz))


def _d(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _bucket_key(by: str, start: date | None, key: str | None) -> str:
    if by == "scale" or start is None:
        return key or "(none)"
    if by == "month":
        return start.strftime("%Y-%m")
    if by == "week":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return start.isoformat()


class NotWholeDays(Exception):
    """The period starts or ends inside a local day: the per-day groups cannot serve it."""


def _local_day(moment: datetime | None, tz: ZoneInfo) -> date | None:
    if moment is None:
        return None
    local = moment.astimezone(tz)
    if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
        raise NotWholeDays
    return local.date()


def split_period(flt: SessionFilter) -> tuple[date | None, date | None, bool, bool]:
    """The period as whole local days and edges: (first, last) whole day (inclusive; None =
    open; first > last when there is none), and whether it starts (head) or ends (tail)
    inside a day. A period inside one day has first = its day + 1, last = its day - 1."""
    tz = ZoneInfo(flt.timezone)
    first = last = None
    head = tail = False
    if flt.period.start is not None:
        local = flt.period.start.astimezone(tz)
        head = (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0)
        first = local.date() + timedelta(days=1) if head else local.date()
    if flt.period.end is not None:
        local = flt.period.end.astimezone(tz)
        tail = (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0)
        last = local.date() - timedelta(days=1)
    return first, last, head, tail


def day_bounds(flt: SessionFilter) -> tuple[date | None, date | None]:
    """First and last local day of the period (inclusive); NotWholeDays if it starts or
    ends inside a day (an ISO date-time was given)."""
    tz = ZoneInfo(flt.timezone)
    first = _local_day(flt.period.start, tz)
    end = _local_day(flt.period.end, tz)
    return first, (end - timedelta(days=1) if end is not None else None)


def ensure_rollup(conn: psycopg.Connection[Any], tz: str) -> bool:
    """Make sure ``report_days`` is maintained for this user and zone; False if it cannot be
    (read-only connection, lock not granted quickly): the caller then computes the groups
    from the sessions instead."""
    import psycopg
    from psycopg.pq import TransactionStatus

    idle = conn.info.transaction_status == TransactionStatus.IDLE
    with conn.transaction():
        row = conn.execute(
            "SELECT 1 FROM fretcoach.report_zones WHERE user_id = "
            "current_setting('fretcoach.user_id', true) AND tz = %s", (tz,)).fetchone()
    if row is not None:
        return True
    if not idle:
        return False  # never take the table lock inside the caller's open transaction
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', '3s', true)")
            # writers wait while the groups are built, so none is missed
            conn.execute("LOCK TABLE fretcoach.sessions IN SHARE MODE")
            made = conn.execute(
                "INSERT INTO fretcoach.report_zones (user_id, tz) VALUES "
                "(current_setting('fretcoach.user_id', true), %s) ON CONFLICT DO NOTHING "
                "RETURNING 1", (tz,)).fetchone()
            if made:
                conn.execute("SELECT set_config('work_mem', '64MB', true)")
                conn.execute("SELECT fretcoach.report_days_refresh("
                             "current_setting('fretcoach.user_id', true), %s, NULL)", (tz,))
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege,
            psycopg.errors.LockNotAvailable):
        return False
    return True


def aggregate(conn: psycopg.Connection[Any], flt: SessionFilter, *, by: str | None = None,
              today: date, use_rollup: bool = True) -> dict[str, Any]:
    """Run the single report statement and return its JSON document (parsed).

    Reads the maintained per-day groups (and computes only the day a period starts or ends
    inside from its sessions) when they can be set up, else computes every group from the
    sessions: same numbers either way.
    """
    if by is not None and by not in GROUPINGS:
        raise UsageError(f"unknown grouping {by!r}", hint=f"use {', '.join(GROUPINGS)}")
    rollup = use_rollup and ensure_rollup(conn, flt.timezone)
    sql, params = _aggregate_sql(flt, by, rollup=rollup)
    params["today"] = today
    with conn.transaction():
        # enough memory to hash the groups instead of sorting on disk
        conn.execute("SELECT set_config('work_mem', '64MB', true)")
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    doc = row[0]
    return json.loads(doc) if isinstance(doc, str) else doc


def _metric(m: str, d: dict[str, Any]) -> MetricTrend:
    from fretcoach_cli.reports.trend import MIN_SESSIONS, trend_change

    n = int(d["sessions"] or 0)
    h1, h2 = (_f(d["first_half"]), _f(d["second_half"])) if n >= MIN_SESSIONS else (None, None)
    change = trend_change(h1, h2, scored=n)
    return MetricTrend(m, n, _f(d["mean"]), _f(d["min"]), _f(d["max"]),
                       _f(d["slope_per_week"]), h1, h2, change)


def _streak(d: dict[str, Any] | None) -> Streak:
    if not d:
        return Streak(0, None, None)
    return Streak(int(d["days"]), _d(d["first"]), _d(d["last"]))


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


def buckets(conn: psycopg.Connection[Any], flt: SessionFilter, by: str) -> list[Bucket]:
    """Sessions grouped by local day/week (ISO, Monday first)/month, or by scale; oldest
    period first (scales: most practised first); only groups with sessions."""
    today = now_in(flt.timezone).date()
    return _buckets(aggregate(conn, flt, by=by, today=today)["buckets"], by)


def _buckets(rows: list[dict[str, Any]], by: str) -> list[Bucket]:
    out = []
    for b in rows:
        start = _d(b["start"])
        out.append(Bucket(_bucket_key(by, start, b["key"]), start, int(b["sessions"]),
                          float(b["practice_seconds"]), int(b["notes"]),
                          {m: _f(b["metrics"][m]) for m in METRICS}))
    return out


def daily_seconds(conn: psycopg.Connection[Any], flt: SessionFilter, first: date,
                  last: date) -> dict[date, float]:
    """Practice seconds per local day between ``first`` and ``last`` (for the heat map),
    from the per-day groups when the period is whole days, else from the sessions."""
    try:
        lo, hi = day_bounds(flt)
        rollup = ensure_rollup(conn, flt.timezone)
    except NotWholeDays:
        rollup = False
    if rollup:
        rows = conn.execute("""
            SELECT day, sum(secs) FROM fretcoach.report_days
            WHERE user_id = current_setting('fretcoach.user_id', true) AND tz = %(tz)s
              AND day BETWEEN greatest(%(first)s::date, %(lo)s::date)
                          AND least(%(last)s::date, %(hi)s::date)
              AND (%(scale)s::text IS NULL OR scale = %(scale)s::text) AND n > 0
            GROUP BY day""", {"tz": flt.timezone, "first": first, "last": last,
                              "lo": lo, "hi": hi,
                              "scale": flt.scale}).fetchall()
        return {r[0]: float(r[1]) for r in rows}
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
                   by: str | None = None, today: date | None = None,
                   use_rollup: bool = True) -> PracticeStats:
    """Everything `fretcoach stats` reports, for the sessions ``flt`` selects.

    ``conn`` is a user-scoped connection (a read-only one works: nothing is written);
    ``today`` (the user's local date, for the current streak) defaults to now in the
    filter's time zone. One SQL statement, one scan of the sessions.
    """
    today = today or now_in(flt.timezone).date()
    doc = aggregate(conn, flt, by=by, today=today, use_rollup=use_rollup)
    tz = flt.timezone
    t = doc["totals"]
    totals = Totals(int(t["sessions"]), float(t["practice_seconds"]), int(t["notes"]),
                    int(t["correct_notes"]), int(t["bad_notes"]), int(t["days_practised"]),
                    _ts(t["first_session"], tz), _ts(t["last_session"], tz))
    metrics = {m: _metric(m, doc["metrics"][m]) for m in METRICS}
    raw = {r: _f(doc["raw"][r]) for r in RAW}
    scales = [ScaleSummary(x["scale"], int(x["sessions"]), float(x["practice_seconds"]),
                           int(x["notes"]), _f(x["overall_score"]), _f(x["pitch_accuracy"]),
                           _f(x["scale_conformity"]), _f(x["timing_stability"]),
                           _ts(x["last_played"], tz)) for x in doc["scales"]]
    areas = {a: int(v or 0) for a, v in doc["areas"].items()}
    top = max(sorted(areas), key=lambda a: areas[a]) if any(areas.values()) else None
    means = [(metrics[a].mean, a) for a in AREAS if metrics[a].mean is not None]
    weak = WeakestArea(top, areas.get(top, 0) if top else 0, min(means)[1] if means else None)
    best, worst = best_and_worst(scales)
    return PracticeStats(flt.as_dict(), today, totals, metrics, raw, scales, best, worst,
                         _streak(doc["current"]), _streak(doc["longest"]), weak, by,
                         _buckets(doc["buckets"], by) if by else [])
