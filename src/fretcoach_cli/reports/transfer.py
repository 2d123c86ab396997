"""Reading rows out of one database and applying them to another: shared by import and sync.

Rows travel as JSON-safe dicts keyed by column name (the export file holds exactly these).
Applying is idempotent and last-writer-wins:

* sessions and plans are upserted on their uuid and only overwrite a copy whose
  ``updated_at`` is strictly older, keeping the source's ``updated_at`` (the transaction sets
  ``fretcoach.sync = on`` so the trigger of ddl/010_reports.sql does not restamp it);
* notes are inserted with ``ON CONFLICT (session_id, seq) DO NOTHING``;
* coach replies are inserted on their ``reply_uuid`` and exercise verdicts with their session
  (reports/carry.py, which also carries the tables that are not a session's);
* with ``respect_deletions`` a row older than a local deletion (tombstone) is not revived
  (sync; import is a snapshot and revives);
* tombstones (:func:`apply_deletions`) delete a row last changed before the deletion.

``user_id`` always becomes the destination connection's user: rows are scoped by RLS there.
The plan ↔ session references are cyclic, so a reference to a row that is not there (yet)
is stored as NULL and :func:`link_plans` fills it in once both exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

_ME = "current_setting('fretcoach.user_id', true)"


def session_columns() -> tuple[str, ...]:
    from fretcoach_cli.store import SessionRow

    return tuple(f.name for f in fields(SessionRow))


def plan_columns() -> tuple[str, ...]:
    from fretcoach_cli.store import PlanRow

    return tuple(f.name for f in fields(PlanRow))


def note_columns() -> tuple[str, ...]:
    from fretcoach_cli.store import NoteRow

    return tuple(f.name for f in fields(NoteRow) if f.name != "session_id")


@dataclass
class Applied:
    """What one apply call changed."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0       # same or older copy at the source
    kept_newer: int = 0      # the destination's copy was newer (a conflict it won)
    skipped_deleted: int = 0  # deleted at the destination after this copy was written
    changed_ids: list[Any] = field(default_factory=list)

    def add(self, other: Applied) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.kept_newer += other.kept_newer
        self.skipped_deleted += other.skipped_deleted
        self.changed_ids += other.changed_ids


def as_json_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    from fretcoach_cli.store.rows import json_safe

    return [json_safe(r) for r in rows]


def _jsonb(rows: Sequence[dict[str, Any]]) -> Any:
    from fretcoach_cli.store.rows import jsonb

    return jsonb(list(rows))


def jsonb_rows(rows: Sequence[dict[str, Any]]) -> Any:
    """Rows as one jsonb parameter (JSON-safe first)."""
    return _jsonb(as_json_rows(rows))


def mark_sync(conn: psycopg.Connection[Any]) -> None:
    """Inside the current transaction: keep the applied rows' own updated_at."""
    conn.execute("SELECT set_config('fretcoach.sync', 'on', true)")


def _apply(conn: psycopg.Connection[Any], table: str, key: str, cols: Sequence[str],
           rows: Sequence[dict[str, Any]], values: dict[str, str],
           respect_deletions: bool) -> Applied:
    """Upsert ``rows`` into ``table`` last-writer-wins; ``values`` overrides the SELECT
    expression of some columns (``r.`` is the incoming row)."""
    if not rows:
        return Applied()
    data = _jsonb(rows)
    probe = conn.execute(f"""
        SELECT count(*) FILTER (WHERE t.updated_at > r.updated_at),
               count(*) FILTER (WHERE t.updated_at >= r.updated_at),
               count(*) FILTER (WHERE t.{key} IS NULL AND d.row_id IS NOT NULL)
        FROM jsonb_populate_recordset(NULL::fretcoach.{table}, %s) r
        LEFT JOIN fretcoach.{table} t ON t.{key} = r.{key}
        LEFT JOIN fretcoach.deleted_rows d ON %s AND d.table_name = '{table}'
             AND d.row_id = r.{key} AND d.deleted_at >= r.updated_at""",
                         (data, respect_deletions)).fetchone()
    assert probe is not None
    exprs = ", ".join(values.get(c, f"r.{c}") for c in cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in (key, "user_id"))
    deleted_guard = (f"""AND NOT EXISTS (SELECT 1 FROM fretcoach.deleted_rows d
                         WHERE d.table_name = '{table}' AND d.row_id = r.{key}
                           AND d.deleted_at >= r.updated_at)""" if respect_deletions else "")
    done = conn.execute(f"""
        INSERT INTO fretcoach.{table} AS t ({", ".join(cols)})
        SELECT {exprs} FROM jsonb_populate_recordset(NULL::fretcoach.{table}, %s) r
        WHERE true {deleted_guard}
        ON CONFLICT ({key}) DO UPDATE SET {updates}
        WHERE excluded.updated_at > t.updated_at
        RETURNING t.{key}, (xmax = 0)""", (data,)).fetchall()
    inserted = sum(1 for _k, ins in done if ins)
    skipped_deleted = 0 if not respect_deletions else int(probe[2])
    return Applied(inserted=inserted, updated=len(done) - inserted,
                   unchanged=len(rows) - len(done) - int(probe[0]) - skipped_deleted,
                   kept_newer=int(probe[0]), skipped_deleted=skipped_deleted,
                   changed_ids=[k for k, _ins in done])


def apply_plans(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]], *,
                respect_deletions: bool = True) -> Applied:
    cols = plan_columns()
    return _apply(conn, "ai_practice_plans", "practice_id", cols, rows, {
        "user_id": _ME,
        "session_id": "(SELECT s.session_id FROM fretcoach.sessions s "
                      "WHERE s.session_id = r.session_id)",
    }, respect_deletions)


def apply_sessions(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]], *,
                   respect_deletions: bool = True) -> Applied:
    cols = session_columns()
    return _apply(conn, "sessions", "session_id", cols, rows, {
        "user_id": _ME,
        "practice_id": "(SELECT p.practice_id FROM fretcoach.ai_practice_plans p "
                       "WHERE p.practice_id = r.practice_id)",
        "metrics": "coalesce(r.metrics, '{}'::jsonb)",
    }, respect_deletions)


def apply_note_rows(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]) -> int:
    """Insert notes the destination lacks (rows carry session_id); returns rows added."""
    if not rows:
        return 0
    cols = note_columns()
    cur = conn.execute(f"""
        INSERT INTO fretcoach.session_notes (session_id, user_id, {", ".join(cols)})
        SELECT r.session_id, {_ME}, {", ".join("r." + c for c in cols)}
        FROM jsonb_populate_recordset(NULL::fretcoach.session_notes, %s) r
        WHERE EXISTS (SELECT 1 FROM fretcoach.sessions s WHERE s.session_id = r.session_id)
        ON CONFLICT (session_id, seq) DO NOTHING""", (_jsonb(rows),))
    return max(cur.rowcount, 0)


def apply_replies(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]) -> int:
    """Insert coach replies that are not there yet (by ``reply_uuid``; see reports/carry.py),
    every column of them; returns rows added."""
    from fretcoach_cli.reports import carry

    return carry.apply(conn, carry.REPLIES, rows)


def apply_verdicts(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]], *,
                   replace_sessions: Iterable[Any] = ()) -> int:
    """Exercise verdicts of sessions that are there (``replace_sessions``: sessions whose
    verdict set ``rows`` replaces); returns rows written."""
    from fretcoach_cli.reports import carry

    return carry.apply(conn, carry.VERDICTS, rows, replace_sessions=replace_sessions)


def link_plans(conn: psycopg.Connection[Any], pairs: Sequence[dict[str, Any]]) -> int:
    """Fill plan.session_id / session.practice_id references left NULL because the other row
    had not arrived yet. ``pairs``: {"practice_id", "session_id", "kind"} from the source,
    kind "plan" (plan → session) or "session" (session → plan). Keeps updated_at."""
    if not pairs:
        return 0
    data = _jsonb(pairs)
    a = conn.execute("""
        UPDATE fretcoach.ai_practice_plans p SET session_id = r.session_id
        FROM jsonb_to_recordset(%s) AS r(practice_id uuid, session_id uuid, kind text)
        WHERE r.kind = 'plan' AND p.practice_id = r.practice_id AND p.session_id IS NULL
          AND EXISTS (SELECT 1 FROM fretcoach.sessions s WHERE s.session_id = r.session_id)
        """, (data,)).rowcount
    b = conn.execute("""
        UPDATE fretcoach.sessions s SET practice_id = r.practice_id
        FROM jsonb_to_recordset(%s) AS r(practice_id uuid, session_id uuid, kind text)
        WHERE r.kind = 'session' AND s.session_id = r.session_id AND s.practice_id IS NULL
          AND EXISTS (SELECT 1 FROM fretcoach.ai_practice_plans p
                      WHERE p.practice_id = r.practice_id)
        """, (data,)).rowcount
    return max(a, 0) + max(b, 0)


def link_pairs(plans: Iterable[dict[str, Any]], sessions: Iterable[dict[str, Any]],
               ) -> list[dict[str, Any]]:
    out = [{"practice_id": p["practice_id"], "session_id": p["session_id"], "kind": "plan"}
           for p in plans if p.get("session_id")]
    out += [{"practice_id": s["practice_id"], "session_id": s["session_id"], "kind": "session"}
            for s in sessions if s.get("practice_id")]
    return out


def apply_deletions(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]) -> int:
    """Apply tombstones {table_name, row_id, row_key, deleted_at}: delete the row unless it
    changed after the deletion (last writer wins) and keep the tombstone. Sessions and plans
    are found by ``row_id``; the tables of reports/carry.py ``KEYED_DELETIONS`` by their
    natural key ``row_key`` (their ``row_id`` names the source's user: it is made anew here).
    Returns rows deleted."""
    from fretcoach_cli.reports import carry

    deleted = 0
    for t in rows:
        conn.execute("SELECT set_config('fretcoach.sync_deleted_at', %s, true)",
                     (str(t["deleted_at"]),))
        if str(t["table_name"]) in carry.KEYED_DELETIONS:
            deleted += carry.apply_deletion(conn, str(t["table_name"]), str(t["row_key"]),
                                            t["deleted_at"])
            continue
        table, key = {"sessions": ("sessions", "session_id"),
                      "ai_practice_plans": ("ai_practice_plans", "practice_id")}[
                          str(t["table_name"])]
        cur = conn.execute(
            f"DELETE FROM fretcoach.{table} WHERE {key} = %s AND updated_at <= %s",
            (t["row_id"], t["deleted_at"]))
        deleted += max(cur.rowcount, 0)
        conn.execute(f"""
            INSERT INTO fretcoach.deleted_rows (table_name, row_id, user_id, deleted_at)
            SELECT %s, %s, {_ME}, %s
            WHERE NOT EXISTS (SELECT 1 FROM fretcoach.{table} WHERE {key} = %s)
            ON CONFLICT (table_name, row_id) DO UPDATE
                SET deleted_at = greatest(fretcoach.deleted_rows.deleted_at,
                                          excluded.deleted_at)""",
                     (table, t["row_id"], t["deleted_at"], t["row_id"]))
    conn.execute("SELECT set_config('fretcoach.sync_deleted_at', '', true)")
    return deleted


# -- reading ------------------------------------------------------------------------------
def read_notes(conn: psycopg.Connection[Any], session_ids: Sequence[Any],
               ) -> dict[Any, list[dict[str, Any]]]:
    """Notes of these sessions, grouped by session id, in seq order."""
    from psycopg.rows import dict_row

    out: dict[Any, list[dict[str, Any]]] = {sid: [] for sid in session_ids}
    if not session_ids:
        return out
    cols = note_columns()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT session_id, {', '.join(cols)} FROM fretcoach.session_notes "
                    "WHERE session_id = ANY(%s) ORDER BY session_id, seq", (list(session_ids),))
        for row in cur:
            sid = row.pop("session_id")
            out[sid].append(row)
    return out


def read_of_sessions(conn: psycopg.Connection[Any], table: str, session_ids: Sequence[Any],
                     ) -> list[dict[str, Any]]:
    """Every column of a session-owned table's rows (``"coach_replies"`` or
    ``"exercise_verdicts"``, as ``reports.carry`` carries them) for these sessions, JSON-safe."""
    from fretcoach_cli.reports import carry

    if not session_ids:
        return []
    spec = {carry.REPLIES.table: carry.REPLIES, carry.VERDICTS.table: carry.VERDICTS}[table]
    return carry.read(conn, spec, "session_id = ANY(%s::uuid[])",
                      ([str(s) for s in session_ids],))
