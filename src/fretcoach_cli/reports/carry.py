"""The per-user tables beyond sessions, notes and plans, as export/import and sync carry them.

Each table is described once (:class:`Carried`): its natural key, the column that decides
which copy is newer, and what is left behind. The columns themselves are read from the
database's catalogue at run time, so a column added by a later migration travels without a
change here (``tests/test_carry_roundtrip.py`` fails for a table that is neither carried nor
listed in :data:`NOT_CARRIED`).

* ``coach_replies``: written once; keyed by ``reply_uuid`` (the local ``reply_id`` number is
  re-drawn at the destination). A reply whose twin (same session, time and text) is already
  there under another uuid — copied by an older sync or a format 1 export, which carried no
  uuids — is not added again: the twin adopts its uuid and missing columns
  (:func:`_adopt_twins`).
* ``exercise_verdicts``: travel with their session (``session_id`` is kept, so they stay
  attached to it); a session that changed gets the source's verdict set in place of its own.
* ``coach_ratings``: keyed by ``reply_uuid``, so a rating follows its reply; the later
  ``rated_at`` wins (a re-rating clears ``opik_sent_at``; for the same rating the later
  ``opik_sent_at`` is kept, so a rating sent to Opik on one side is not sent again).
* ``coach_memories``: keyed by the normalised text; the later ``updated_at`` wins and
  ``last_recalled_at`` keeps the later of both. The embedding columns are not carried: the
  destination embeds a memory when it is first recalled (store/memory.py), with its own model.
* ``input_latency`` (per device, later ``measured_at`` wins), ``user_configs`` and
  ``chat_threads`` (later ``updated_at`` wins).

``user_id`` always becomes the destination connection's user: row-level security scopes
every row there, and a source is only ever read through its user's scoped connection.

Deletions: a deleted rating, memory, latency calibration, settings row or chat thread leaves
a tombstone in ``deleted_rows`` (ddl/075: ``row_key`` holds the natural key, ``row_id`` is
``fretcoach.tombstone_id(table, user, key)``), as sessions and plans do (ddl/010). Sync
carries tombstones and applies them last-writer-wins against the row's ``stamp``
(:func:`apply_deletion`): a copy changed after the deletion survives (and clears the
tombstone when it arrives), an older one is deleted and is not revived by :func:`apply`
with ``respect_deletions``. A recall (``last_recalled_at``) or an Opik send
(``opik_sent_at``) is not a change: a forgotten memory stays forgotten. Import is a snapshot
and deliberately revives (``respect_deletions`` off), as it does for sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

_ME = "current_setting('fretcoach.user_id', true)"
_SESSION_THERE = "EXISTS (SELECT 1 FROM fretcoach.sessions s WHERE s.session_id = r.session_id)"


@dataclass(frozen=True)
class Carried:
    """How one table travels."""

    table: str
    conflict: str                 # the ON CONFLICT target (its natural key)
    key: str                      # unique per user; orders a sync batch after ``since``
    stamp: str | None = None      # last writer wins on this column; None: written once
    since: str | None = None      # what sync reads in order (default: ``stamp``)
    skip: tuple[str, ...] = ()    # columns left behind (besides user_id and identities)
    latest: tuple[str, ...] = ()  # columns that keep the later of both copies
    on_tie: tuple[str, ...] = ()  # ... when both copies have the same ``stamp`` (else: its)
    of_session: bool = False      # belongs to a session (left out when that is not there)


REPLIES = Carried("coach_replies", "(reply_uuid)", "reply_uuid", since="at", of_session=True)
VERDICTS = Carried("exercise_verdicts", "(session_id, ord)", "ord", of_session=True)
RATINGS = Carried("coach_ratings", "(reply_uuid)", "reply_uuid", stamp="rated_at",
                  since="greatest(rated_at, opik_sent_at)", on_tie=("opik_sent_at",))
MEMORIES = Carried("coach_memories", "(user_id, norm)", "norm", stamp="updated_at",
                   since="greatest(updated_at, last_recalled_at)",
                   skip=("embedding", "embedding_model"), latest=("last_recalled_at",))
LATENCY = Carried("input_latency", "(user_id, device_key)", "device_key", stamp="measured_at")
CONFIGS = Carried("user_configs", "(user_id)", "user_id", stamp="updated_at")
THREADS = Carried("chat_threads", "(thread_id)", "thread_id", stamp="updated_at")

#: Tables not tied to one session: exported whole, synced as streams of their own.
STANDALONE: tuple[Carried, ...] = (RATINGS, MEMORIES, LATENCY, CONFIGS, THREADS)
#: Tables whose deletions travel keyed by ``row_key`` (sessions, plans: by ``row_id``).
KEYED_DELETIONS = {t.table: t for t in STANDALONE}
#: Every per-user table that moves (sessions, notes and plans: reports/transfer.py).
CARRIED_TABLES = ("sessions", "session_notes", "ai_practice_plans", "coach_replies",
                  "exercise_verdicts", *(t.table for t in STANDALONE))
#: Per-user tables that stay where they are, and why.
NOT_CARRIED = {
    "deleted_rows": "tombstones: sync carries them as deletions; an export is a snapshot "
                    "(import deliberately revives deleted rows)",
    "sync_marks": "this database's own progress with each sync peer",
    "report_zones": "derived: stats rebuilds it from the sessions",
    "report_days": "derived: stats rebuilds it from the sessions",
}


def columns(conn: psycopg.Connection[Any], spec: Carried) -> list[tuple[str, str | None]]:
    """(column, default expression for a NOT NULL column) of what travels, in table order."""
    rows = conn.execute(
        """SELECT column_name,
                  CASE WHEN is_nullable = 'NO' THEN column_default END
             FROM information_schema.columns
            WHERE table_schema = 'fretcoach' AND table_name = %s AND is_identity = 'NO'
              AND is_generated = 'NEVER' AND column_name <> 'user_id'
            ORDER BY ordinal_position""", (spec.table,)).fetchall()
    return [(str(c), d) for c, d in rows if c not in spec.skip]


def names(conn: psycopg.Connection[Any], spec: Carried) -> list[str]:
    return [c for c, _d in columns(conn, spec)]


def read(conn: psycopg.Connection[Any], spec: Carried, where: str = "true",
         params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
    """Rows of the connection's user (JSON-safe dicts keyed by column name)."""
    from psycopg.rows import dict_row

    from fretcoach_cli.store.rows import json_safe

    cols = ", ".join(names(conn, spec))
    order = "session_id, ord" if spec is VERDICTS else f"{spec.since or spec.key}, {spec.key}"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {cols} FROM fretcoach.{spec.table} WHERE {where} "
                    f"ORDER BY {order}", params)
        return [json_safe(r) for r in cur.fetchall()]


def read_since(conn: psycopg.Connection[Any], spec: Carried, after: tuple[Any, str],
               limit: int) -> list[dict[str, Any]]:
    """One sync batch: rows after ``after`` = (time, key) in (``since``, key) order; each row
    also holds its ``sync_at`` and ``sync_key`` (what it was ordered by)."""
    from psycopg.rows import dict_row

    since = spec.since or spec.stamp
    assert since is not None, spec
    cols = ", ".join(names(conn, spec))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"""
            SELECT {cols}, {since} AS sync_at, {spec.key}::text AS sync_key
              FROM fretcoach.{spec.table}
             WHERE user_id = {_ME} AND {since} >= %s AND ({since}, {spec.key}::text) > (%s, %s)
             ORDER BY {since}, {spec.key}::text LIMIT %s""",
                    (after[0], after[0], after[1], limit))
        return cur.fetchall()


def apply(conn: psycopg.Connection[Any], spec: Carried, rows: Sequence[dict[str, Any]],
          *, replace_sessions: Iterable[Any] = (), respect_deletions: bool = False) -> int:
    """Insert (or, when newer, update) ``rows`` at the destination; returns rows written.

    ``replace_sessions``: for verdicts, the sessions whose verdict set is replaced by the
    one in ``rows`` (their copy just changed). ``respect_deletions`` (sync): a row deleted
    here at or after its ``stamp`` is not brought back."""
    from fretcoach_cli.store.rows import json_safe, jsonb

    replace = [str(s) for s in replace_sessions]
    if spec is VERDICTS and replace:
        conn.execute("DELETE FROM fretcoach.exercise_verdicts WHERE session_id = ANY(%s::uuid[])",
                     (replace,))
    if not rows:
        return 0
    cols = columns(conn, spec)
    adopted = _adopt_twins(conn, cols, rows) if spec is REPLIES else 0
    exprs = [f"coalesce(r.{c}, {d})" if d else f"r.{c}" for c, d in cols]
    guards = []
    if spec.of_session:
        guards.append(f"({_SESSION_THERE})" if spec is VERDICTS
                      else f"(r.session_id IS NULL OR {_SESSION_THERE})")
    if spec is REPLIES:  # the same reply stored before replies had uuids (format 1)
        guards.append("""NOT EXISTS (SELECT 1 FROM fretcoach.coach_replies c
                          WHERE c.session_id IS NOT DISTINCT FROM r.session_id
                            AND c.at = r.at AND c.text = r.text
                            AND c.reply_uuid IS DISTINCT FROM r.reply_uuid)""")
    if respect_deletions and spec.table in KEYED_DELETIONS:
        assert spec.stamp is not None, spec
        guards.append(f"""NOT EXISTS (SELECT 1 FROM fretcoach.deleted_rows d
                          WHERE d.table_name = '{spec.table}'
                            AND d.row_id = fretcoach.tombstone_id('{spec.table}', {_ME},
                                                                  {_key_of(spec, "r")})
                            AND d.deleted_at >= r.{spec.stamp})""")
    if spec.stamp is None:
        action = "NOTHING"
    else:
        newer = f"excluded.{spec.stamp} > t.{spec.stamp}"
        sets, later = [], [newer]
        tie = f"excluded.{spec.stamp} = t.{spec.stamp}"
        for c, _d in cols:
            if c in spec.latest:
                sets.append(f"{c} = greatest(t.{c}, excluded.{c})")
                later.append(f"excluded.{c} > coalesce(t.{c}, '-infinity')")
            elif c in spec.on_tie:
                sets.append(f"{c} = CASE WHEN {newer} THEN excluded.{c} WHEN {tie} "
                            f"THEN greatest(t.{c}, excluded.{c}) ELSE t.{c} END")
                later.append(f"({tie} AND excluded.{c} > coalesce(t.{c}, '-infinity'))")
            elif f"({c})" != spec.conflict:
                sets.append(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE t.{c} END")
        action = f"UPDATE SET {', '.join(sets)} WHERE {' OR '.join(later)}"
    cur = conn.execute(f"""
        INSERT INTO fretcoach.{spec.table} AS t (user_id, {", ".join(c for c, _d in cols)})
        SELECT {_ME}, {", ".join(exprs)}
          FROM jsonb_populate_recordset(NULL::fretcoach.{spec.table}, %s) r
         WHERE {" AND ".join(guards) or "true"}
        ON CONFLICT {spec.conflict} DO {action}""", (jsonb([json_safe(r) for r in rows]),))
    return max(cur.rowcount, 0) + adopted


def _key_of(spec: Carried, alias: str) -> str:
    """The row's natural key as text; ``user_configs``' is the user (not a carried column)."""
    return _ME if spec.key == "user_id" else f"{alias}.{spec.key}::text"


def apply_deletion(conn: psycopg.Connection[Any], table: str, row_key: str,
                   deleted_at: Any) -> int:
    """Apply one tombstone of a :data:`KEYED_DELETIONS` table from another database: delete
    the row unless it changed after ``deleted_at`` (last writer wins on its stamp), and keep
    the tombstone while the row is gone (the delete trigger writes it with the source's time:
    the caller sets ``fretcoach.sync_deleted_at``). Returns rows deleted (0 or 1)."""
    spec = KEYED_DELETIONS[table]
    assert spec.stamp is not None, spec
    key = _ME if spec.key == "user_id" else "%(key)s"
    match = f"{spec.key}::text = {key}"
    args = {"key": row_key, "at": deleted_at, "table": table}
    cur = conn.execute(f"DELETE FROM fretcoach.{table} WHERE {match} "
                       f"AND {spec.stamp} <= %(at)s", args)
    conn.execute(f"""
        INSERT INTO fretcoach.deleted_rows (table_name, row_id, row_key, user_id, deleted_at)
        SELECT %(table)s, fretcoach.tombstone_id(%(table)s, {_ME}, k), k, {_ME}, %(at)s
          FROM (SELECT ({key})::text AS k) x
         WHERE NOT EXISTS (SELECT 1 FROM fretcoach.{table} WHERE {match})
        ON CONFLICT (table_name, row_id) DO UPDATE
            SET deleted_at = greatest(fretcoach.deleted_rows.deleted_at, excluded.deleted_at)
        """, args)
    return max(cur.rowcount, 0)


def _adopt_twins(conn: psycopg.Connection[Any], cols: list[tuple[str, str | None]],
                 rows: Sequence[dict[str, Any]]) -> int:
    """A reply copied before replies carried their uuid (an old sync or a format 1 import;
    or a uuid ddl/055 drew on each side) is the same reply as the incoming one with the same
    session, time and text: it takes the incoming uuid — its rating here moves with it — and
    the columns it lacks, so both sides converge on one id. Returns replies adopted."""
    from fretcoach_cli.store.rows import json_safe, jsonb

    filled = [c for c, _d in cols if c not in ("reply_uuid", "session_id", "at", "text")]
    data = jsonb([json_safe(r) for r in rows if r.get("reply_uuid")])
    twins = f"""
        SELECT DISTINCT ON (i.reply_uuid) c.reply_id AS twin_id, c.reply_uuid AS old_uuid,
               i.reply_uuid AS new_uuid{"".join(f", i.{c}" for c in filled)}
          FROM jsonb_populate_recordset(NULL::fretcoach.coach_replies, %s) i
          JOIN fretcoach.coach_replies c
            ON c.session_id IS NOT DISTINCT FROM i.session_id AND c.at = i.at
           AND c.text = i.text AND c.reply_uuid <> i.reply_uuid
         WHERE NOT EXISTS (SELECT 1 FROM fretcoach.coach_replies x
                            WHERE x.reply_uuid = i.reply_uuid)
         ORDER BY i.reply_uuid, c.reply_id"""  # one twin per uuid (a doubled copy stays)
    conn.execute(f"""
        UPDATE fretcoach.coach_ratings g SET reply_uuid = w.new_uuid
          FROM ({twins}) w
         WHERE g.reply_uuid = w.old_uuid
           AND NOT EXISTS (SELECT 1 FROM fretcoach.coach_ratings h
                            WHERE h.reply_uuid = w.new_uuid)""", (data,))
    sets = "".join(f", {c} = coalesce(c.{c}, w.{c})" for c in filled)
    cur = conn.execute(f"""
        UPDATE fretcoach.coach_replies c SET reply_uuid = w.new_uuid{sets}
          FROM ({twins}) w WHERE c.reply_id = w.twin_id""", (data,))
    return max(cur.rowcount, 0)
