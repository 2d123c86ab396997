"""Export and import of a user's practice history (`fretcoach export` / `fretcoach import`).

The JSON export is the complete, re-importable form: plans, then sessions with their notes
(compact arrays under ``note_columns``), coach replies and exercise verdicts, then the
replies outside a session (plans, chat answers) and the tables that are not a session's
(ratings, memories, input latency, settings, chat threads; reports/carry.py). It is written
as a stream, one page of sessions at a time, so exporting months of practice does not hold
it in memory. Format 2 added all but plans, sessions, notes and replies' first five
columns; a format 1 file still imports.
CSV is a flat sessions table for spreadsheets (not importable).

Import applies the file with :mod:`fretcoach_cli.reports.transfer` (idempotent,
last-writer-wins on ``updated_at``): importing the same file twice changes nothing the second
time; an import deliberately revives sessions deleted since the export. It runs in one
transaction: a file that fails half-way (a hand-edited row) leaves nothing behind.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fretcoach_cli.errors import UsageError
from fretcoach_cli.reports import carry, transfer
from fretcoach_cli.reports.filters import SessionFilter

if TYPE_CHECKING:
    import psycopg

FORMAT = "fretcoach-export"
VERSION = 2
PAGE = 500


def _dumps(value: Any) -> str:
    from fretcoach_cli.store.rows import json_safe

    return json.dumps(json_safe(value), ensure_ascii=False, separators=(",", ":"))


def _session_pages(conn: psycopg.Connection[Any], flt: SessionFilter,
                   ) -> Iterator[list[dict[str, Any]]]:
    """The selected sessions, oldest first, in pages (keyset pagination)."""
    from psycopg.rows import dict_row

    cols = transfer.session_columns()
    where, params = flt.where(played_only=False)  # a backup keeps every row
    after: tuple[Any, Any] | None = None
    while True:
        cond = where
        if after is not None:
            cond += " AND (start_time, session_id) > (%(a_t)s, %(a_id)s)"
            params.update(a_t=after[0], a_id=after[1])
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SELECT {', '.join(cols)} FROM fretcoach.sessions WHERE {cond} "
                        f"ORDER BY start_time, session_id LIMIT {PAGE}", params)
            rows = cur.fetchall()
        if not rows:
            return
        yield rows
        after = (rows[-1]["start_time"], rows[-1]["session_id"])
        if len(rows) < PAGE:
            return


def _plans(conn: psycopg.Connection[Any], flt: SessionFilter) -> list[dict[str, Any]]:
    """All plans, or with a filter: plans generated in the period or followed by a selected
    session."""
    from psycopg.rows import dict_row

    cols = transfer.plan_columns()
    params: dict[str, Any]
    if flt.period.start is None and flt.period.end is None and flt.scale is None:
        cond, params = "true", {}
    else:
        where, params = flt.where(alias="s", played_only=False)
        conds = [f"practice_id IN (SELECT s.practice_id FROM fretcoach.sessions s "
                 f"WHERE {where} AND s.practice_id IS NOT NULL)"]
        if flt.scale is None:
            inner = []
            if flt.period.start is not None:
                inner.append("generated_at >= %(f_since)s")
            if flt.period.end is not None:
                inner.append("generated_at < %(f_until)s")
            conds.append("(" + " AND ".join(inner) + ")")
        cond = " OR ".join(conds)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {', '.join(cols)} FROM fretcoach.ai_practice_plans WHERE {cond} "
                    "ORDER BY generated_at, practice_id", params)
        return cur.fetchall()


@dataclass
class ExportSummary:
    sessions: int = 0
    notes: int = 0
    plans: int = 0
    coach_replies: int = 0
    exercise_verdicts: int = 0
    other: dict[str, int] = field(default_factory=dict)  # reports/carry.py STANDALONE


def export_json(conn: psycopg.Connection[Any], flt: SessionFilter, out: IO[str], *,
                user: str) -> ExportSummary:
    """Write the JSON export of the selected sessions to ``out`` (streamed)."""
    summary = ExportSummary()
    note_cols = transfer.note_columns()
    head = {"format": FORMAT, "version": VERSION,
            "exported_at": datetime.now(UTC).isoformat(), "user": user,
            "filter": flt.as_dict(), "note_columns": list(note_cols)}
    out.write(_dumps(head)[:-1])
    plans = _plans(conn, flt)
    summary.plans = len(plans)
    out.write(',"plans":[')
    out.write(",".join(_dumps(p) for p in plans))
    out.write('],"sessions":[')
    first = True
    for page in _session_pages(conn, flt):
        ids = [r["session_id"] for r in page]
        notes = transfer.read_notes(conn, ids)
        replies: dict[Any, list[dict[str, Any]]] = {}
        for r in transfer.read_of_sessions(conn, "coach_replies", ids):
            replies.setdefault(r.pop("session_id"), []).append(r)
        verdicts: dict[Any, list[dict[str, Any]]] = {}
        for v in transfer.read_of_sessions(conn, "exercise_verdicts", ids):
            verdicts.setdefault(v.pop("session_id"), []).append(v)
        for row in page:
            sid = str(row["session_id"])
            row["notes"] = [[n[c] for c in note_cols] for n in notes[row["session_id"]]]
            row["coach_replies"] = replies.get(sid, [])
            row["exercise_verdicts"] = verdicts.get(sid, [])
            out.write(("" if first else ",") + "\n" + _dumps(row))
            first = False
            summary.sessions += 1
            summary.notes += len(row["notes"])
            summary.coach_replies += len(row["coach_replies"])
            summary.exercise_verdicts += len(row["exercise_verdicts"])
    out.write("\n]")
    loose = _loose_replies(conn, flt)
    summary.coach_replies += len(loose)
    out.write(',"coach_replies":' + _dumps(loose))
    for spec in carry.STANDALONE:
        rows = carry.read(conn, spec)
        summary.other[spec.table] = len(rows)
        out.write(f',"{spec.table}":' + _dumps(rows))
    out.write("}\n")
    return summary


def _loose_replies(conn: psycopg.Connection[Any], flt: SessionFilter) -> list[dict[str, Any]]:
    """Replies outside a session (plans, chat answers): all, or those of the period."""
    cond, params = ["session_id IS NULL"], {}
    if flt.period.start is not None:
        cond.append("at >= %(f_since)s")
        params["f_since"] = flt.period.start
    if flt.period.end is not None:
        cond.append("at < %(f_until)s")
        params["f_until"] = flt.period.end
    return carry.read(conn, carry.REPLIES, " AND ".join(cond), params)


def export_csv(conn: psycopg.Connection[Any], flt: SessionFilter, out: IO[str]) -> int:
    """A flat sessions table (metrics as JSON text); returns the number of rows."""
    cols = transfer.session_columns()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    n = 0
    for page in _session_pages(conn, flt):
        for row in page:
            vals = []
            for c in cols:
                v = row[c]
                if isinstance(v, dict):
                    v = _dumps(v)
                elif isinstance(v, datetime):
                    v = v.isoformat()
                vals.append("" if v is None else v)
            writer.writerow(vals)
            n += 1
    return n


@dataclass
class ImportReport:
    sessions_inserted: int = 0
    sessions_updated: int = 0
    sessions_unchanged: int = 0
    sessions_kept_newer: int = 0
    plans_inserted: int = 0
    plans_updated: int = 0
    plans_unchanged: int = 0
    notes_inserted: int = 0
    coach_replies_inserted: int = 0
    exercise_verdicts_inserted: int = 0
    links_fixed: int = 0
    ids_remapped: bool = False  # another user's file: its rows got ids of their own
    other: dict[str, int] = field(default_factory=dict)  # rows written per carry.STANDALONE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_export(path: Path) -> dict[str, Any]:
    """Load and check an export file; UsageError for anything that is not one."""
    if str(path) != "-" and not path.exists():
        from fretcoach_cli.errors import NotFoundError

        raise NotFoundError(f"no such file {path}")
    try:
        if str(path) == "-":
            import sys

            data = json.load(sys.stdin)
        else:
            with path.open(encoding="utf-8") as fh:
                data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not a fretcoach JSON export ({exc.__class__.__name__})",
                         hint="import reads files written by 'fretcoach export --format json'"
                         ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path} is not a fretcoach JSON export",
                         hint="import reads files written by 'fretcoach export --format json'")
    if int(data.get("version", 0)) > VERSION:
        raise UsageError(f"{path} was written by a newer fretcoach (format version "
                         f"{data.get('version')})", hint="upgrade fretcoach to import it")
    return data


def import_data(conn: psycopg.Connection[Any], data: dict[str, Any]) -> ImportReport:
    """Apply an export (already loaded) to the connection's user, in one transaction.
    Another user's file gets ids of its own (reports/remap.py)."""
    from fretcoach_cli.reports import remap

    report = ImportReport()
    me = conn.execute("SELECT current_setting('fretcoach.user_id', true)").fetchone()
    if me and me[0] and data.get("user") not in (None, me[0]):
        data = remap.for_user(data, str(me[0]))
        report.ids_remapped = True
    note_cols = data.get("note_columns") or list(transfer.note_columns())
    plans = list(data.get("plans") or [])
    sessions = list(data.get("sessions") or [])
    with conn.transaction():
        transfer.mark_sync(conn)
        res = transfer.apply_plans(conn, plans, respect_deletions=False)
        report.plans_inserted, report.plans_updated = res.inserted, res.updated
        report.plans_unchanged = res.unchanged + res.kept_newer
        for lo in range(0, len(sessions), PAGE):
            _import_sessions(conn, sessions[lo:lo + PAGE], note_cols, report)
        report.coach_replies_inserted += transfer.apply_replies(
            conn, [{**r, "session_id": None} for r in _rows(data, "coach_replies")])
        for spec in carry.STANDALONE:
            report.other[spec.table] = carry.apply(conn, spec, _rows(data, spec.table))
        report.links_fixed = transfer.link_plans(conn, transfer.link_pairs(plans, sessions))
        _check_all_mine(conn, data)
    if not conn.autocommit:
        conn.commit()
    return report


def _check_all_mine(conn: psycopg.Connection[Any], data: dict[str, Any]) -> None:
    """Every session, plan, reply, rating and chat thread of the file is now the user's: one
    whose id another user of this database owns was skipped (row-level security hides it),
    so the import would silently lose it — refuse instead (the transaction rolls back)."""
    sessions = _rows(data, "sessions")
    ids = {
        ("sessions", "session_id"): [s.get("session_id") for s in sessions],
        ("ai_practice_plans", "practice_id"): [p.get("practice_id")
                                               for p in _rows(data, "plans")],
        ("coach_ratings", "reply_uuid"): [r.get("reply_uuid")
                                          for r in _rows(data, "coach_ratings")],
        ("chat_threads", "thread_id"): [t.get("thread_id") for t in _rows(data, "chat_threads")],
    }
    for (table, key), values in ids.items():
        wanted = [str(v) for v in values if v is not None]
        if not wanted:
            continue
        row = conn.execute(f"""
            SELECT count(*) FROM unnest(%s::text[]) AS w(id)
             WHERE NOT EXISTS (SELECT 1 FROM fretcoach.{table} t WHERE t.{key}::text = w.id)
            """, (wanted,)).fetchone()
        _refuse_if(int(row[0]) if row else 0, table)
    replies = [{**r, "session_id": s.get("session_id")}
               for s in sessions for r in _rows(s, "coach_replies")]
    replies += [{**r, "session_id": None} for r in _rows(data, "coach_replies")]
    if replies:  # there under its uuid, or as the twin a format 1 file brought in
        row = conn.execute("""
            SELECT count(*) FROM jsonb_to_recordset(%s)
                   AS w(reply_uuid text, session_id uuid, at timestamptz, text text)
             WHERE w.reply_uuid IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM fretcoach.coach_replies c
                                WHERE c.reply_uuid::text = w.reply_uuid)
               AND NOT EXISTS (SELECT 1 FROM fretcoach.coach_replies c
                                WHERE c.session_id IS NOT DISTINCT FROM w.session_id
                                  AND c.at = w.at AND c.text = w.text)""",
                           (transfer.jsonb_rows(replies),)).fetchone()
        _refuse_if(int(row[0]) if row else 0, "coach_replies")


class ForeignIds(UsageError):
    """The file's rows have ids that another user of the database owns."""


def _refuse_if(missing: int, table: str) -> None:
    if missing:
        raise ForeignIds(f"{missing} row(s) of {table} in this file have ids that another "
                         "user of this database owns; nothing was imported",
                         hint="the file's \"user\" was changed: put the exporter's name back, "
                         "and its rows get ids of their own")


def _rows(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """A list of row objects under ``key`` (absent in older files: none)."""
    rows = data.get(key) or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f'"{key}" is not a list of rows')
    return rows


def _import_sessions(conn: psycopg.Connection[Any], page: list[dict[str, Any]],
                     note_cols: list[str], report: ImportReport) -> None:
    rows = [{k: v for k, v in s.items()
             if k not in ("notes", "coach_replies", "exercise_verdicts")} for s in page]
    res = transfer.apply_sessions(conn, rows, respect_deletions=False)
    report.sessions_inserted += res.inserted
    report.sessions_updated += res.updated
    report.sessions_unchanged += res.unchanged
    report.sessions_kept_newer += res.kept_newer
    changed = {str(k) for k in res.changed_ids}
    replies, notes, verdicts, replace = [], [], [], []
    for s in page:
        sid = s["session_id"]
        notes += [{**(dict(zip(note_cols, n, strict=True)) if isinstance(n, list) else n),
                   "session_id": sid} for n in s.get("notes") or []]
        replies += [{**r, "session_id": sid} for r in _rows(s, "coach_replies")]
        if "exercise_verdicts" in s:  # format 2: the session's whole verdict set
            verdicts += [{**v, "session_id": sid} for v in _rows(s, "exercise_verdicts")]
            if str(sid) in changed:
                replace.append(sid)
    report.notes_inserted += transfer.apply_note_rows(conn, notes)
    report.coach_replies_inserted += transfer.apply_replies(conn, replies)
    report.exercise_verdicts_inserted += transfer.apply_verdicts(conn, verdicts,
                                                                 replace_sessions=replace)
