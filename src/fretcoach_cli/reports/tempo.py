"""The speed trainer over time: the best clean tempo per scale (and exercise, when the session
played one), per day, week or month.

Read from ``sessions.max_clean_bpm`` (ddl/060): only sessions played with ``--ramp`` that held
a tempo clean have one. `stats` shows it as a group and in ``--json``; `history` shows the
per-session figure as a column; `recommend` starts the next ramp from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import psycopg

    from fretcoach_cli.reports.filters import SessionFilter

PERIODS = ("day", "week", "month")
_KEY_FORMAT = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW', "month": "YYYY-MM"}


@dataclass(frozen=True)
class TempoPoint:
    """The best clean tempo of one scale in one period."""

    key: str
    start: date
    max_clean_bpm: float
    sessions: int


@dataclass(frozen=True)
class ScaleTempo:
    """One scale's (or scale and exercise's) best clean tempo and its course over the
    periods; ``exercise`` is None for free practice of the scale."""

    scale: str
    exercise: str | None
    max_clean_bpm: float
    sessions: int
    last_at: datetime | None
    points: list[TempoPoint] = field(default_factory=list)


@dataclass(frozen=True)
class CleanTempo:
    """What `stats` reports (``period`` is the grouping of the points)."""

    period: str
    scales: list[ScaleTempo]

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, datetime | date):
                return value.isoformat()
            return value

        return plain(asdict(self))


def clean_tempo(conn: psycopg.Connection[Any], flt: SessionFilter, *,
                period: str = "week") -> CleanTempo:
    """The best clean tempo per scale in each ``period`` (day, week or month) of the
    sessions ``flt`` selects, scales in name order, periods oldest first."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {PERIODS}")
    where, params = flt.where()
    params["tz"] = flt.timezone
    params["fmt"] = _KEY_FORMAT[period]
    params["unit"] = period
    rows = conn.execute(
        f"""
        SELECT coalesce(scale_chosen, '') AS scale, exercise_name,
               to_char(date_trunc(%(unit)s, start_time AT TIME ZONE %(tz)s), %(fmt)s) AS key,
               date_trunc(%(unit)s, start_time AT TIME ZONE %(tz)s)::date AS start,
               max(max_clean_bpm) AS best, count(*) AS n, max(start_time) AS last_at
          FROM fretcoach.sessions
         WHERE {where} AND max_clean_bpm IS NOT NULL
         GROUP BY 1, 2, 3, 4
         ORDER BY 1, 2 NULLS FIRST, 4
        """,
        params,
    ).fetchall()
    tz = ZoneInfo(flt.timezone)
    groups: dict[tuple[str, str | None], list[tuple[TempoPoint, datetime]]] = {}
    for scale, exercise, key, start, best, n, last_at in rows:
        groups.setdefault((scale, exercise), []).append(
            (TempoPoint(key, start, float(best), int(n)), last_at.astimezone(tz)))
    out = [ScaleTempo(scale, exercise, max(p.max_clean_bpm for p, _ in pts),
                      sum(p.sessions for p, _ in pts), max(t for _, t in pts),
                      [p for p, _ in pts])
           for (scale, exercise), pts in groups.items()]
    return CleanTempo(period, out)


def latest_clean_tempo(conn: psycopg.Connection[Any], scale: str | None = None
                       ) -> dict[str, Any] | None:
    """The most recent session that held a tempo clean (of ``scale`` if given): its scale,
    max clean tempo, ramp and start time — what `recommend` plans the next ramp from."""
    sql = ("SELECT scale_chosen, max_clean_bpm, ramp, start_time FROM fretcoach.sessions "
           "WHERE user_id = current_setting('fretcoach.user_id') "
           "AND max_clean_bpm IS NOT NULL AND status = 'completed'")
    params: list[Any] = []
    if scale is not None:
        sql += " AND scale_chosen = %s"
        params.append(scale)
    row = conn.execute(sql + " ORDER BY start_time DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    return {"scale": row[0], "max_clean_bpm": float(row[1]), "ramp": row[2],
            "start_time": row[3]}
