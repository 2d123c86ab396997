"""Session history: the list (`fretcoach history`) and one session in depth (`sessions show`).

Rows are plain dicts with the documented keys (docs/reports.md) so the CLI's ``--json``/
``--csv`` and the chat agent see the same shape. Times are returned in the user's time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fretcoach_cli.reports.filters import SessionFilter, day_group_conditions

if TYPE_CHECKING:
    import psycopg

# The columns of one history row, in output order (also the CSV header).
HISTORY_COLUMNS = (
    "session_id", "start_time", "end_time", "duration_seconds", "scale_chosen", "status",
    "overall_score", "pitch_accuracy", "scale_conformity", "timing_stability",
    "clean_playing", "scale_coverage", "total_notes_played", "correct_notes_played",
    "bad_notes_played", "tempo_bpm", "weakest_area", "practice_id",
    "max_clean_bpm",  # the speed trainer's best clean tempo (ddl/060), NULL without a ramp
)
# Raw figures shown by `sessions show` beside the scores they explain.
RAW_FIGURES = ("mean_abs_cents", "in_scale_ratio", "in_tune_ratio", "ioi_cv",
               "mean_abs_grid_dev_ms", "clean_ratio")
# Timing histogram: inter-onset intervals relative to the session's median IOI, in %.
TIMING_EDGES = (-50, -25, -10, 10, 25, 50, 100)
TIMING_LABELS = ("< -50%", "-50..-25%", "-25..-10%", "±10%", "+10..+25%", "+25..+50%",
                 "+50..+100%", "pause (> 2×)")


def _plain(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def list_sessions(conn: psycopg.Connection[Any], flt: SessionFilter, *,
                  limit: int | None = 50) -> list[dict[str, Any]]:
    """The selected sessions, newest first (all statuses unless the filter names some)."""
    where, params = flt.where()
    # session_id breaks ties, so equal start times list in one stable order
    sql = (f"SELECT {', '.join(HISTORY_COLUMNS)} FROM fretcoach.sessions WHERE {where} "
           "ORDER BY start_time DESC, session_id DESC")
    if limit is not None:
        sql += " LIMIT %(limit)s"
        params["limit"] = int(limit)
    tz = ZoneInfo(flt.timezone)
    rows = conn.execute(sql, params).fetchall()
    return [{k: _plain(v, tz) for k, v in zip(HISTORY_COLUMNS, r, strict=True)} for r in rows]


def count_sessions(conn: psycopg.Connection[Any], flt: SessionFilter) -> int:
    """How many sessions ``list_sessions`` would give without a limit.

    Completed and interrupted sessions are counted from the maintained per-day groups of
    `stats` (ddl/011–012: the same PLAYED_COND), so the count reads a row per day and scale,
    not every session; active ones through the partial index ``sessions_active_idx``. A
    period that starts or ends inside a day, a status filter that splits the two, or a
    connection that cannot set the groups up counts the sessions themselves.
    """
    from fretcoach_cli.reports.filters import STATUSES
    from fretcoach_cli.reports.stats import NotWholeDays, day_bounds, ensure_rollup

    statuses = flt.statuses or STATUSES
    where, params = flt.where()
    try:
        first, last = day_bounds(flt)
    except NotWholeDays:
        first = last = None
        grouped = False
    else:
        grouped = {"completed", "interrupted"} <= set(statuses)
    if grouped and ensure_rollup(conn, flt.timezone):
        conds = day_group_conditions(flt, first, last, params)
        active = (f"(SELECT count(*) FROM fretcoach.sessions WHERE {where} "
                  "AND status = 'active')") if "active" in statuses else "0"
        row = conn.execute(
            f"SELECT coalesce(sum(n), 0) + {active} FROM fretcoach.report_days "
            f"WHERE {' AND '.join(conds)}", params).fetchone()
    else:
        row = conn.execute(f"SELECT count(*) FROM fretcoach.sessions WHERE {where}",
                           params).fetchone()
    return int(row[0]) if row else 0


def _degree_table(conn: psycopg.Connection[Any], sid: UUID,
                  scale_name: str | None) -> list[dict[str, Any]]:
    """Per pitch class played: count, in-tune share, mean and mean |cents|, with the scale
    degree label when the stored scale name can be parsed; scale degrees never played are
    listed with count 0."""
    rows = conn.execute("""
        SELECT pitch_class, count(*), count(*) FILTER (WHERE in_tune),
               avg(cents), avg(abs(cents)), bool_or(in_scale)
        FROM fretcoach.session_notes
        WHERE session_id = %s AND kind = 'note' AND pitch_class IS NOT NULL
        GROUP BY pitch_class""", (sid,)).fetchall()
    by_pc = {int(r[0]): r for r in rows}
    scale = None
    if scale_name:
        from fretcoach_cli.errors import UsageError
        from fretcoach_cli.music.scales import parse_scale

        try:
            scale = parse_scale(scale_name)
        except UsageError:
            scale = None
    out: list[dict[str, Any]] = []
    order: list[int] = list(scale.pitch_classes) if scale else []
    order += sorted(pc for pc in by_pc if pc not in order)
    for pc in order:
        r = by_pc.get(pc)
        count = int(r[1]) if r else 0
        out.append({
            "pitch_class": pc,
            "note": scale.name_of(pc) if scale else None,
            "degree": scale.interval_label(pc) if scale else None,
            "in_scale": scale.contains(pc) if scale else (bool(r[5]) if r else None),
            "count": count,
            "in_tune": int(r[2]) if r else 0,
            "in_tune_share": (int(r[2]) / count) if r and count else None,
            "mean_cents": float(r[3]) if r and r[3] is not None else None,
            "mean_abs_cents": float(r[4]) if r and r[4] is not None else None,
        })
    return out


def _worst_notes(conn: psycopg.Connection[Any], sid: UUID, limit: int = 5,
                 ) -> list[dict[str, Any]]:
    """Wrong notes first (earliest first), then the furthest out of tune."""
    rows = conn.execute("""
        SELECT seq, onset_s, note_name, midi, cents, in_scale,
               CASE WHEN in_scale IS FALSE THEN 'not in scale' ELSE 'out of tune' END
        FROM fretcoach.session_notes
        WHERE session_id = %s AND kind = 'note'
          AND (in_scale IS FALSE OR in_tune IS FALSE)
        ORDER BY (in_scale IS FALSE) DESC,
                 CASE WHEN in_scale IS FALSE THEN onset_s END,
                 abs(cents) DESC NULLS LAST
        LIMIT %s""", (sid, limit)).fetchall()
    keys = ("seq", "onset_s", "note", "midi", "cents", "in_scale", "reason")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _timing_histogram(conn: psycopg.Connection[Any], sid: UUID) -> dict[str, Any]:
    """Inter-onset intervals binned by their deviation from the median IOI (computed in SQL)."""
    edges = "ARRAY[" + ", ".join(str(e) for e in TIMING_EDGES) + "]::float8[]"
    rows = conn.execute(f"""
        WITH o AS (SELECT onset_s - lag(onset_s) OVER (ORDER BY seq) AS ioi
                   FROM fretcoach.session_notes WHERE session_id = %s AND kind <> 'unclear'),
        m AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ioi) AS med, count(ioi) AS n
              FROM o WHERE ioi > 0)
        SELECT m.med, m.n, width_bucket(100.0 * (o.ioi - m.med) / m.med, {edges}) AS b,
               count(*)
        FROM o, m WHERE o.ioi > 0 AND m.med > 0
        GROUP BY m.med, m.n, b ORDER BY b""", (sid,)).fetchall()
    counts = [0] * len(TIMING_LABELS)
    median = None
    for med, _n, b, c in rows:
        median = float(med)
        counts[int(b)] += int(c)
    return {"median_ioi_s": median,
            "bins": [{"label": lab, "count": c} for lab, c in zip(TIMING_LABELS, counts,
                                                                    strict=True)]}


def session_detail(conn: psycopg.Connection[Any], session_id: str | UUID, *,
                   timezone: str, notes: bool = False) -> dict[str, Any]:
    """Everything about one session: the row (scores and raw figures), per-degree accuracy,
    worst notes, timing histogram, coach replies, its plan and optionally every note.

    ``session_id`` may be a unique prefix. NotFoundError / UsageError (ambiguous) otherwise.
    """
    from fretcoach_cli.store import Plans, Sessions

    repo = Sessions(conn)
    sid = session_id if isinstance(session_id, UUID) else repo.resolve(str(session_id))
    row = repo.require(sid)
    tz = ZoneInfo(timezone)
    session = {k: _plain(v, tz) for k, v in vars(row).items()} if hasattr(row, "__dict__") \
        else {f: _plain(getattr(row, f), tz) for f in row.__dataclass_fields__}
    replies = conn.execute(
        "SELECT r.at, r.source, r.kind, r.text, r.reply_id, r.prompt_version, g.rating "
        "FROM fretcoach.coach_replies r LEFT JOIN fretcoach.coach_ratings g "
        "USING (reply_uuid) WHERE r.session_id = %s ORDER BY r.at", (sid,)).fetchall()
    plan = None
    if row.practice_id is not None:
        p = Plans(conn).get(row.practice_id)
        if p is not None:
            plan = {f: _plain(getattr(p, f), tz) for f in p.__dataclass_fields__}
    detail: dict[str, Any] = {
        "session": session,
        "raw_figures": {k: session.get(k) for k in RAW_FIGURES},
        "degrees": _degree_table(conn, sid, row.scale_chosen),
        "worst_notes": _worst_notes(conn, sid),
        "timing": _timing_histogram(conn, sid),
        "coach_replies": [{"at": _plain(r[0], tz), "source": r[1], "kind": r[2], "text": r[3],
                           "reply_id": r[4], "prompt_version": r[5], "rating": r[6]}
                          for r in replies],
        "plan": plan,
    }
    if notes:
        detail["notes"] = [{f: _plain(getattr(n, f), tz) for f in n.__dataclass_fields__
                            if f != "session_id"} for n in repo.notes(sid)]
    if getattr(row, "exercise_name", None) is not None:
        detail["exercise"] = exercise_detail(conn, row)
    return detail


def exercise_detail(conn: psycopg.Connection[Any], row: Any) -> dict[str, Any]:
    """An exercise session's per-note table (ddl/065): the same ``verdicts`` entries and
    ``summary`` as `practice --exercise --json`, plus the notes to work on in words."""
    from fretcoach_cli.scoring.exercise import verdict_summary
    from fretcoach_cli.scoring.exercise_report import describe_stat, weakest_notes
    from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

    verdicts = [v.to_dict() for v in ExerciseVerdicts(conn).of_session(row.session_id)]
    expected = sum(1 for v in verdicts if v["index"] is not None)
    return {"name": row.exercise_name, "source": row.exercise_source, "bpm": row.exercise_bpm,
            "summary": verdict_summary(verdicts, expected),
            "work_on": [describe_stat(s) for s in weakest_notes(verdicts)],
            "verdicts": verdicts}


def delete_session(conn: psycopg.Connection[Any], session_id: str) -> UUID:
    """Delete one session (unique prefix allowed) with its notes and coach replies."""
    from fretcoach_cli.store import Sessions

    repo = Sessions(conn)
    sid = repo.resolve(session_id)
    repo.delete(sid)
    return sid
