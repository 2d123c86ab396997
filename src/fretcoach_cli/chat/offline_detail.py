"""Offline answers about single sessions, notes and the coach's words (``chat.offline``).

* best / worst (overall score) and longest / shortest (duration) session of a period;
* the notes missed most (``reports.missed_notes``: out of the scale or out of tune), over
  the newest ``DEFAULT_NOTE_SESSIONS`` sessions or a named period;
* what the coach said in the last session (``coach_replies``, newest first).

Like the other offline answers every figure printed is in what was fetched (recorded in
``_Fetch.data``), and each read is a ``ToolCall`` (``--json`` ``tool_calls``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fretcoach_cli.chat.offline import plural as _plural
from fretcoach_cli.chat.tools import ToolCall

if TYPE_CHECKING:
    from fretcoach_cli.chat.intents import Query
    from fretcoach_cli.chat.offline import _Fetch

#: "which notes do I miss most?" without a period: the newest this many sessions
DEFAULT_NOTE_SESSIONS = 10
#: the coach's replies shown at most
MAX_REPLIES = 5
NOTES_SHOWN = 5

#: intent → (ordered column, direction, what the ranking is by, the word for the session)
RANKS = {
    "best_session": ("overall_score", "DESC", "overall score", "best"),
    "worst_session": ("overall_score", "ASC", "overall score", "worst"),
    "longest_session": ("duration_seconds", "DESC", "length", "longest"),
    "shortest_session": ("duration_seconds", "ASC", "length", "shortest"),
}
_KINDS = {"live": "live tip", "summary": "closing words", "plan": "plan", "chat": "chat"}
_COLUMNS = ("session_id, start_time, status, scale_chosen, duration_seconds, "
            "total_notes_played, tempo_bpm, weakest_area, overall_score, pitch_accuracy, "
            "scale_conformity, timing_stability, clean_playing, scale_coverage")


def _local(f: _Fetch, row: dict[str, Any]) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    out = dict(row)
    out["session_id"] = str(row["session_id"])
    out["start_time"] = row["start_time"].astimezone(ZoneInfo(f.ctx.timezone)).isoformat()
    return out


def _filter(f: _Fetch, q: Query) -> Any:
    from fretcoach_cli.reports.filters import build_filter

    args = q.span.args() if q.span else {}
    return build_filter(since=args.get("since"), until=args.get("until"),
                        scale=q.scale, timezone=f.ctx.timezone)


# -- best / worst / longest / shortest ---------------------------------------------------------

def ranked_session(q: Query, f: _Fetch, everything: dict[str, Any]) -> str:
    """The session a period ranks first by overall score or by length."""
    from psycopg.rows import dict_row

    from fretcoach_cli.chat.intents import METRICS
    from fretcoach_cli.chat.offline import session_card

    column, direction, by, word = RANKS[q.intent]
    if column == "overall_score" and q.metric in METRICS:  # "…with the best timing"
        column, by = q.metric, METRICS[q.metric][1]
    flt = _filter(f, q)
    where, params = flt.where(("completed", "interrupted"))
    extra = " AND duration_seconds > 0" if column == "duration_seconds" else ""
    conn = f.ctx.runner.conn
    with f.ctx.runner.lock, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # one scan of the period's sessions (no index orders by score): the window holds
        # narrow rows only, the chosen row's columns come by primary key (100k sessions,
        # all time: ≈180 ms against ≈300 ms for the wide window)
        cur.execute(
            f"WITH top AS (SELECT session_id, count(*) OVER () AS compared "
            f"FROM fretcoach.sessions WHERE {where} AND {column} IS NOT NULL{extra} "
            f"ORDER BY {column} {direction}, start_time DESC, session_id DESC LIMIT 1) "
            f"SELECT {_COLUMNS}, top.compared FROM top JOIN fretcoach.sessions "
            "USING (session_id)", params)
        found = cur.fetchone()
    args: dict[str, Any] = {"by": column, "order": direction.lower(),
                            **(q.span.args() if q.span else {})}
    if q.scale:
        args["scale"] = q.scale
    f.calls.append(ToolCall("ranked_sessions", args, rows=1 if found else 0))
    kind = "session" if column == "duration_seconds" else "scored session"
    on = f" on {q.scale}" if q.scale else ""
    if found is None:
        where = on + (f" {q.span.label}" if q.span else "")
        return f"No {kind}{where or ' yet'}."
    row = _local(f, found)
    compared = int(row.pop("compared"))
    f.data["session"] = row
    f.data["ranked"] = {"by": column, "order": direction.lower(),
                      "sessions_compared": compared}
    when = f" {q.span.label}" if q.span else " so far"
    head = (f"Your {word} session{on}{when}, by {by} (of {_plural(compared, kind)})"
            if compared > 1 else f"Your only {kind}{on}{when} (so also your {word})")
    return session_card(row, everything, head)


# -- the notes missed most ---------------------------------------------------------------------

def missed_notes(q: Query, f: _Fetch) -> str:
    """The pitch classes missed most often, with how (out of the scale, sharp, flat)."""
    from fretcoach_cli.reports.missed_notes import MAX_SESSIONS
    from fretcoach_cli.reports.missed_notes import missed_notes as read

    limit = q.count or (MAX_SESSIONS if q.span else DEFAULT_NOTE_SESSIONS)
    flt = _filter(f, q)
    conn = f.ctx.runner.conn
    with f.ctx.runner.lock, conn.transaction():
        result = read(conn, flt, max_sessions=limit)
    args: dict[str, Any] = {"sessions": limit, **(q.span.args() if q.span else {})}
    if q.scale:
        args["scale"] = q.scale
    f.calls.append(ToolCall("missed_notes", args, rows=len(result.notes)))
    doc = result.to_dict()
    f.data["missed_notes"] = doc
    f.data["note_sessions_asked"] = limit
    on = f" on {q.scale}" if q.scale else ""
    if not result.sessions:
        return f"No sessions{on} {q.span.label if q.span else 'yet'} to count notes from."
    first = str(doc["first"])[:10]
    last = str(doc["last"])[:10]
    dates = first if first == last else f"{first} to {last}"
    sessions = _plural(result.sessions, "session")
    if q.span is not None:
        scope = (f"{q.span.label}{on}, over {sessions} ({dates}"
                 + (f": the newest {result.sessions} of them" if result.capped else "") + ")")
    elif result.sessions == 1 and not q.count:
        scope = f"in your only session{on} ({dates})"
    elif result.sessions < limit:
        scope = (f"over your {sessions}{on} ({dates}; you asked about the last {limit}, "
                 "these are all there are)" if q.count else f"over your {sessions}{on} "
                 f"({dates})")
    else:
        scope = (f"over your last {sessions}{on} ({dates})"
                 + ("" if q.count else f" — I look at the last {DEFAULT_NOTE_SESSIONS} unless "
                    "you name a period, e.g. \"this month\""))
    if not result.played:
        return f"No notes were stored {scope}, so I can't tell which you miss."
    if not result.missed:
        return (f"You missed no notes {scope}: all {_plural(result.played, 'note')} were "
                "in the scale and in tune.")
    lines = [f"The notes you miss most {scope}: **{result.missed} of "
             f"{_plural(result.played, 'note')}** missed "
             f"({100 * result.missed / result.played:.0f}%).", "",
             "| note | missed | of played | out of scale | out of tune | most missed as |",
             "|---|---|---|---|---|---|"]
    for n in result.notes[:NOTES_SHOWN]:
        sour = str(n.out_of_tune)
        if n.out_of_tune:
            lean = ("sharp" if n.sharp > n.flat else "flat" if n.flat > n.sharp else "")
            sour += f" (mostly {lean})" if lean else ""
        octaves = ", ".join(f"{name} ({count})" for name, count in
                            list(n.by_name.items())[:3]) or "—"
        lines.append(f"| **{n.name}** | {n.missed} | {n.played} "
                     f"({100 * n.missed_ratio:.0f}% missed) | {n.out_of_scale} | {sour} | "
                     f"{octaves} |")
    if len(result.notes) > NOTES_SHOWN:
        more = len(result.notes) - NOTES_SHOWN
        lines.append(f"\n{_plural(more, 'more note')} {'was' if more == 1 else 'were'} "
                     "missed less often.")
        doc["more"] = len(result.notes) - NOTES_SHOWN
    lines += ["", "A miss is a note outside the session's scale, or one further from its "
              "pitch than the session's tolerance (as in \"Notes to work on\" after a "
              "session)."]
    return "\n".join(lines)


# -- what the coach said -----------------------------------------------------------------------

def coach_said(q: Query, f: _Fetch) -> str:
    """The coach's replies in the last session (of the period), newest first."""
    from zoneinfo import ZoneInfo

    rows = f.sessions(1, q.span)
    if not rows:
        return f"No session {q.span.label if q.span else 'yet'}, so no coach replies."
    session = rows[0]
    replies, total = _replies(f, session["session_id"])
    tz = ZoneInfo(f.ctx.timezone)
    when = datetime.fromisoformat(session["start_time"])
    about = (f"**{session.get('scale_chosen') or 'no scale'}**, {when:%Y-%m-%d %H:%M}, "
             f"id {session['session_id'][:8]}")
    which = f"your last session{' ' + q.span.label if q.span else ''}"
    if not replies:
        text = f"The coach said nothing that was kept in {which} ({about})."
        if q.span is None:
            older = _newest_replied_session(f)
            if older is not None:
                replies, total = _replies(f, older["session_id"])
                when = datetime.fromisoformat(older["start_time"])
                f.data["replied_session"] = older
                text += (f" The last session it spoke in was "
                         f"**{older.get('scale_chosen') or 'no scale'}**, "
                         f"{when:%Y-%m-%d %H:%M} (id {older['session_id'][:8]}):")
                return text + "\n\n" + _reply_lines(replies, total, tz)
        return text
    return (f"What the coach said in {which} ({about}), newest first:\n\n"
            + _reply_lines(replies, total, tz))


def _reply_lines(replies: list[dict[str, Any]], total: int, tz: Any) -> str:
    lines = []
    for r in replies:
        at = datetime.fromisoformat(r["at"]).astimezone(tz)
        text = " ".join(str(r["text"]).split())
        lines.append(f"- {at:%H:%M} ({_KINDS.get(r['kind'], r['kind'])}): {text}")
    if total > len(replies):
        lines.append(f"\n({len(replies)} of {total} shown: the newest.)")
    return "\n".join(lines)


def _replies(f: _Fetch, session_id: str) -> tuple[list[dict[str, Any]], int]:
    """The newest ``MAX_REPLIES`` replies of one session (``coach_replies_session_idx``) and
    how many there are, on the app connection (the reader role does not see them)."""
    from zoneinfo import ZoneInfo

    from fretcoach_cli.store import replies

    tz = ZoneInfo(f.ctx.timezone)
    rows, total = replies.of_session(f.ctx.app_conn(), session_id, limit=MAX_REPLIES)
    out = [{"reply_id": r.reply_id, "kind": r.kind, "text": r.text, "model": r.source,
            "at": r.at.astimezone(tz).isoformat()} for r in rows]
    f.calls.append(ToolCall("coach_replies", {"session_id": session_id,
                                              "limit": MAX_REPLIES}, rows=len(out)))
    f.data.setdefault("coach_replies", []).extend(out)
    f.data["coach_replies_total"] = total
    return out, total


def _newest_replied_session(f: _Fetch) -> dict[str, Any] | None:
    """The newest session the coach spoke in (``coach_replies_user_at_idx``)."""
    from psycopg.rows import dict_row

    conn = f.ctx.app_conn()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM fretcoach.sessions WHERE session_id = ("
            "SELECT session_id FROM fretcoach.coach_replies "
            "WHERE user_id = current_setting('fretcoach.user_id', true) "
            "AND session_id IS NOT NULL ORDER BY at DESC LIMIT 1)")
        row = cur.fetchone()
    f.calls.append(ToolCall("coach_replies", {"newest_session": True},
                            rows=1 if row else 0))
    return _local(f, row) if row else None
