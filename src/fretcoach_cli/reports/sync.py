"""Delta sync of one user's history between two databases: sessions (with their notes,
replies and exercise verdicts), plans, deletions, then the tables with a time of their own —
coach replies outside a session, ratings, memories, input latency, settings, chat threads
(reports/carry.py).

``push`` copies local → peer, ``pull`` copies peer → local. Each table is read from the
source in (updated_at, key) order starting at a high-water mark, in batches; each batch is
applied to the destination in one transaction (:mod:`fretcoach_cli.reports.transfer`:
idempotent upserts, last writer wins on ``updated_at``) and only then is the mark advanced.
Marks live in the local database (``fretcoach.sync_marks``, per peer instance, direction and
table), so an interrupted sync resumes where it stopped and a repeated sync moves nothing.

Why a look-back (``OVERLAP``): ``updated_at`` is the writer's transaction start time, so a
transaction that commits late can become visible with a timestamp below a mark already
taken. Each run re-reads the last few minutes before the mark; re-applying those rows is a
no-op (an equal ``updated_at`` never overwrites), so nothing is counted twice.

Conflicts: when both sides changed the same session or plan, the copy with the later
``updated_at`` wins, on both sides after a two-way sync; deletions travel as tombstones and
win over copies last changed before the deletion. That holds for the rows of
``carry.STANDALONE`` too (a forgotten memory, a removed rating or chat thread, a cleared
calibration or settings row: ddl/075), judged on each table's own stamp (reports/carry.py).
Clocks of the two servers are trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fretcoach_cli.errors import UsageError
from fretcoach_cli.reports import carry, transfer

if TYPE_CHECKING:
    import psycopg

Direction = Literal["push", "pull"]
OVERLAP = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 500


@dataclass
class TableReport:
    scanned: int = 0
    inserted: int = 0
    updated: int = 0
    kept_newer: int = 0      # conflicts the destination's newer copy won
    skipped_deleted: int = 0
    deleted: int = 0
    notes: int = 0
    coach_replies: int = 0
    exercise_verdicts: int = 0


@dataclass
class SyncReport:
    direction: Direction
    peer: str
    batches: int = 0
    plans: TableReport = field(default_factory=TableReport)
    sessions: TableReport = field(default_factory=TableReport)
    deletions: TableReport = field(default_factory=TableReport)
    links_fixed: int = 0
    other: dict[str, TableReport] = field(default_factory=dict)  # replies, carry.STANDALONE
    complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def moved(self) -> int:
        return (self.plans.inserted + self.plans.updated + self.sessions.inserted
                + self.sessions.updated + self.deletions.deleted)


BatchHook = Callable[[str, SyncReport], None]
Reader = Callable[[tuple[datetime, str]], list[Any]]


def instance_id(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT instance_id FROM fretcoach.instance").fetchone()
    if row is None:
        raise UsageError("the database has no instance id", hint="run 'fretcoach db migrate'")
    return str(row[0])


def _get_mark(local: psycopg.Connection[Any], peer: str, direction: str, table: str,
              ) -> tuple[datetime, str]:
    row = local.execute(
        "SELECT mark_time, mark_key FROM fretcoach.sync_marks WHERE peer = %s "
        "AND direction = %s AND table_name = %s", (peer, direction, table)).fetchone()
    return (row[0], row[1]) if row else (EPOCH, "")


def _set_mark(local: psycopg.Connection[Any], peer: str, direction: str, table: str,
              mark: tuple[datetime, str]) -> None:
    local.execute("""
        INSERT INTO fretcoach.sync_marks (user_id, peer, direction, table_name, mark_time,
                                          mark_key, updated_at)
        VALUES (current_setting('fretcoach.user_id', true), %s, %s, %s, %s, %s, now())
        ON CONFLICT (user_id, peer, direction, table_name)
        DO UPDATE SET mark_time = excluded.mark_time, mark_key = excluded.mark_key,
                      updated_at = now()""", (peer, direction, table, mark[0], mark[1]))


def _read_batch(src: psycopg.Connection[Any], table: str, key: str, cols: tuple[str, ...],
                after: tuple[datetime, str], limit: int) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with src.cursor(row_factory=dict_row) as cur:
        cur.execute(f"""
            SELECT {", ".join(cols)} FROM fretcoach.{table}
            WHERE user_id = current_setting('fretcoach.user_id', true)
              AND updated_at >= %s AND (updated_at, {key}::text) > (%s, %s)
            ORDER BY updated_at, {key}::text LIMIT %s""", (after[0], after[0], after[1], limit))
        return cur.fetchall()


def sync(local: psycopg.Connection[Any], peer: psycopg.Connection[Any], direction: Direction,
         *, batch_size: int = BATCH, on_batch: BatchHook | None = None) -> SyncReport:
    """Copy what changed since the last sync in one direction; returns what moved.

    Both connections must be scoped to the same user and not in autocommit mode.
    ``on_batch(table, report)`` runs after each committed batch (progress, tests).
    """
    if direction not in ("push", "pull"):
        raise UsageError(f"unknown sync direction {direction!r}")
    peer_id = instance_id(peer)
    if peer_id == instance_id(local):
        raise UsageError("the sync peer is this same database")
    local.commit()
    peer.commit()
    src, dst = (local, peer) if direction == "push" else (peer, local)
    report = SyncReport(direction, peer_id)

    def run(table: str, key: str, cols: tuple[str, ...], apply: Callable[[list[Any]], None],
            read: Reader | None = None, stamp: str = "updated_at") -> None:
        mark = _get_mark(local, peer_id, direction, table)
        local.commit()
        cursor = (mark[0] - OVERLAP, "") if mark[0] > EPOCH else mark
        while True:
            rows = (read(cursor) if read is not None
                    else _read_batch(src, table, key, cols, cursor, batch_size))
            src.commit()
            if not rows:
                break
            last = (rows[-1][stamp], str(rows[-1][key]))
            with dst.transaction():
                transfer.mark_sync(dst)
                apply(rows)
                if dst is local and last > mark:
                    _set_mark(local, peer_id, direction, table, last)
            if dst is not local and last > mark:
                _set_mark(local, peer_id, direction, table, last)
                local.commit()
            mark = max(mark, last)
            cursor = last
            report.batches += 1
            if on_batch is not None:
                on_batch(table, report)
            if len(rows) < batch_size:
                break

    def apply_plans(rows: list[Any]) -> None:
        res = transfer.apply_plans(dst, transfer.as_json_rows(rows))
        _count(report.plans, rows, res)
        report.links_fixed += transfer.link_plans(
            dst, transfer.link_pairs(transfer.as_json_rows(rows), []))

    def apply_sessions(rows: list[Any]) -> None:
        data = transfer.as_json_rows(rows)
        res = transfer.apply_sessions(dst, data)
        _count(report.sessions, rows, res)
        changed = res.changed_ids
        notes = transfer.read_notes(src, changed)
        replies = transfer.read_of_sessions(src, "coach_replies", changed)
        flat = [{**n, "session_id": sid} for sid, ns in notes.items() for n in ns]
        report.sessions.notes += transfer.apply_note_rows(dst, transfer.as_json_rows(flat))
        report.sessions.coach_replies += transfer.apply_replies(dst, replies)
        verdicts = transfer.read_of_sessions(src, "exercise_verdicts", changed)
        report.sessions.exercise_verdicts += transfer.apply_verdicts(
            dst, verdicts, replace_sessions=changed)
        report.links_fixed += transfer.link_plans(dst, transfer.link_pairs([], data))

    def stream(spec: carry.Carried) -> None:
        """A table with a time of its own (replies, ratings, memories, ...): a delta stream
        like the sessions', applied with reports/carry.py."""
        counts = report.other.setdefault(spec.table, TableReport())

        def read(after: tuple[datetime, str]) -> list[Any]:
            return carry.read_since(src, spec, after, batch_size)

        def apply(rows: list[Any]) -> None:
            counts.scanned += len(rows)
            counts.inserted += carry.apply(dst, spec, transfer.as_json_rows(rows),
                                           respect_deletions=True)

        run(spec.table, "sync_key", (), apply, read=read, stamp="sync_at")

    def apply_deletions(rows: list[Any]) -> None:
        report.deletions.scanned += len(rows)
        report.deletions.deleted += transfer.apply_deletions(dst, transfer.as_json_rows(rows))

    run("ai_practice_plans", "practice_id", transfer.plan_columns(), apply_plans)
    run("sessions", "session_id", transfer.session_columns(), apply_sessions)
    for spec in (carry.REPLIES, *carry.STANDALONE):
        stream(spec)
    _run_deletions(local, src, dst, peer_id, direction, batch_size, apply_deletions, report,
                   on_batch)
    # a final pass for plan → session links whose session arrived after the plan, and for
    # verdicts of sessions synced before verdicts travelled
    with dst.transaction():
        transfer.mark_sync(dst)
        report.links_fixed += _relink_all(src, dst)
        report.sessions.exercise_verdicts += _backfill_verdicts(src, dst)
    src.commit()
    report.complete = True
    return report


def _count(t: TableReport, rows: list[Any], res: transfer.Applied) -> None:
    t.scanned += len(rows)
    t.inserted += res.inserted
    t.updated += res.updated
    t.kept_newer += res.kept_newer
    t.skipped_deleted += res.skipped_deleted


def _run_deletions(local: Any, src: Any, dst: Any, peer_id: str, direction: str,
                   batch_size: int, apply: Callable[[list[Any]], None], report: SyncReport,
                   on_batch: BatchHook | None) -> None:
    """Tombstones are keyed by deleted_at instead of updated_at."""
    from psycopg.rows import dict_row

    table = "deleted_rows"
    mark = _get_mark(local, peer_id, direction, table)
    local.commit()
    cursor = (mark[0] - OVERLAP, "") if mark[0] > EPOCH else mark
    while True:
        with src.cursor(row_factory=dict_row) as cur:
            cur.execute("""
                SELECT table_name, row_id, row_key, deleted_at FROM fretcoach.deleted_rows
                WHERE user_id = current_setting('fretcoach.user_id', true)
                  AND (deleted_at, row_id::text) > (%s, %s)
                ORDER BY deleted_at, row_id::text LIMIT %s""",
                        (cursor[0], cursor[1], batch_size))
            rows = cur.fetchall()
        src.commit()
        if not rows:
            return
        last = (rows[-1]["deleted_at"], str(rows[-1]["row_id"]))
        with dst.transaction():
            transfer.mark_sync(dst)
            apply(rows)
            if dst is local and last > mark:
                _set_mark(local, peer_id, direction, table, last)
        if dst is not local and last > mark:
            _set_mark(local, peer_id, direction, table, last)
            local.commit()
        mark = max(mark, last)
        cursor = last
        report.batches += 1
        if on_batch is not None:
            on_batch(table, report)
        if len(rows) < batch_size:
            return


def _relink_all(src: Any, dst: Any) -> int:
    """Plans at the destination with no session but one at the source (small table)."""
    missing = [r[0] for r in dst.execute(
        "SELECT practice_id FROM fretcoach.ai_practice_plans WHERE session_id IS NULL")]
    if not missing:
        return 0
    pairs = [{"practice_id": str(p), "session_id": str(s), "kind": "plan"}
             for p, s in src.execute(
                 "SELECT practice_id, session_id FROM fretcoach.ai_practice_plans "
                 "WHERE practice_id = ANY(%s) AND session_id IS NOT NULL", (missing,))]
    return transfer.link_plans(dst, pairs)


def _backfill_verdicts(src: Any, dst: Any) -> int:
    """Sessions that have verdicts at the source and none at the destination (synced by a
    version that did not carry them, and unchanged since): copy them. A few rows per
    exercise session, read through the verdicts' per-user index."""
    have = [str(r[0]) for r in src.execute(
        "SELECT DISTINCT session_id FROM fretcoach.exercise_verdicts")]
    if not have:
        return 0
    lacking = [str(r[0]) for r in dst.execute(
        """SELECT s.session_id FROM fretcoach.sessions s
            WHERE s.session_id = ANY(%s::uuid[])
              AND NOT EXISTS (SELECT 1 FROM fretcoach.exercise_verdicts v
                               WHERE v.session_id = s.session_id)""", (have,))]
    if not lacking:
        return 0
    verdicts = transfer.read_of_sessions(src, "exercise_verdicts", lacking)
    return transfer.apply_verdicts(dst, verdicts)


def open_peer(url: str, settings: Any) -> Any:
    """Open (and migrate) the database at ``url`` with the same user settings."""
    from fretcoach_cli.store import open_database

    return open_database(settings.with_overrides(database_url=url))
