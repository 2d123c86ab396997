"""Practice sessions and their notes, written as they happen.

Lifecycle: :meth:`Sessions.create` (status ``active``) → :meth:`Sessions.add_notes` in small
batches → :meth:`Sessions.finish` (summary columns + the full metrics blob, ``completed``).
The creating connection holds a PostgreSQL advisory lock on the session until it closes, so
:meth:`Sessions.mark_interrupted` can tell, on any machine, that a writer is gone (its lock is
free) without heartbeats or clocks. Keep that connection open while the session runs.

Every query goes through a user-scoped connection (``Database.connect(user)``): the user id
comes from the connection's ``fretcoach.user_id`` setting, so rows of other users are neither
visible nor writable.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.store.rows import Repository, as_uuid, columns, finite, jsonb, translate_errors

if TYPE_CHECKING:
    from fretcoach_cli.events import NoteEvent  # annotations only: reports need not load it

SessionStatus = Literal["active", "completed", "interrupted"]
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# classid half of the two-int advisory lock key for "a writer holds this session"
_WRITER_LOCK_CLASS = 0x46524554  # b"FRET"
_ME = "current_setting('fretcoach.user_id')"


@dataclass(frozen=True)
class SessionRow:
    """One row of fretcoach.sessions (field names are the column names)."""

    session_id: UUID
    user_id: str
    start_time: datetime
    end_time: datetime | None
    duration_seconds: float | None
    scale_chosen: str | None
    scale_type: str | None
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    total_notes_played: int
    correct_notes_played: int
    bad_notes_played: int
    sensitivity: float | None
    strictness: float | None
    status: SessionStatus
    tempo_bpm: float | None
    input_source: str | None
    pitch_model: str | None
    a4_hz: float | None
    scale_root: str | None
    clean_playing: float | None
    scale_coverage: float | None
    overall_score: float | None
    mean_abs_cents: float | None
    in_scale_ratio: float | None
    in_tune_ratio: float | None
    ioi_cv: float | None
    mean_abs_grid_dev_ms: float | None
    clean_ratio: float | None
    weakest_area: str | None
    updated_at: datetime
    practice_id: UUID | None
    metrics: dict[str, Any]
    tuning: str | None = None  # NULL = standard (ddl/030)
    exercise_name: str | None = None  # practice --exercise (ddl/065); NULL = free playing
    exercise_source: str | None = None
    exercise_bpm: float | None = None
    ramp: str | None = None  # speed trainer (ddl/060): START:TARGET:STEP, NULL = none
    max_clean_bpm: float | None = None
    tempo_curve: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class NoteRow:
    """One row of fretcoach.session_notes."""

    session_id: UUID
    seq: int
    onset_s: float
    offset_s: float
    midi: float | None
    cents: float | None
    pitch_class: int | None
    note_name: str | None
    kind: str
    in_scale: bool | None
    in_tune: bool | None
    confidence: float | None
    level_db: float | None


@dataclass(frozen=True)
class NoteRecord:
    """A note to store: the engine's event, its sequence number and the scorer's verdicts."""

    seq: int
    event: NoteEvent
    in_scale: bool | None = None
    in_tune: bool | None = None
    note_name: str | None = None  # scale-aware spelling; a sharp name is derived if None


@dataclass(frozen=True)
class SessionSummary:
    """The end-of-session figures written by :meth:`Sessions.finish` (0–100 scores + raw)."""

    duration_seconds: float | None = None
    pitch_accuracy: float | None = None
    scale_conformity: float | None = None
    timing_stability: float | None = None
    clean_playing: float | None = None
    scale_coverage: float | None = None
    overall_score: float | None = None
    total_notes_played: int = 0
    correct_notes_played: int = 0
    bad_notes_played: int = 0
    mean_abs_cents: float | None = None
    in_scale_ratio: float | None = None
    in_tune_ratio: float | None = None
    ioi_cv: float | None = None
    mean_abs_grid_dev_ms: float | None = None
    clean_ratio: float | None = None
    weakest_area: str | None = None
    ramp: str | None = None  # the speed trainer's (ddl/060); None without one
    max_clean_bpm: float | None = None
    tempo_curve: list[dict[str, Any]] | None = None
    metrics: Any = field(default_factory=dict)  # full metrics blob (mapping or dataclass)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SessionSummary:
        """Build from a flat dict of figures (unknown keys ignored); it is also the blob."""
        names = {f for f in cls.__dataclass_fields__ if f != "metrics"}
        return cls(**{k: v for k, v in data.items() if k in names}, metrics=dict(data))


_SUMMARY_FLOATS = ("duration_seconds", "pitch_accuracy", "scale_conformity", "timing_stability",
                   "clean_playing", "scale_coverage", "overall_score", "mean_abs_cents",
                   "in_scale_ratio", "in_tune_ratio", "ioi_cv", "mean_abs_grid_dev_ms",
                   "clean_ratio")
_SUMMARY_INTS = ("total_notes_played", "correct_notes_played", "bad_notes_played")


def _note_name(midi: float | None) -> str | None:
    if midi is None:
        return None
    n = round(midi)
    return f"{_SHARP_NAMES[n % 12]}{n // 12 - 1}"


@translate_errors("sessions")
class Sessions(Repository):
    """Repository over fretcoach.sessions / session_notes on a user-scoped connection."""


    # -- writing -------------------------------------------------------------------------
    def create(self, *, scale_chosen: str | None = None, scale_type: str | None = None,
               scale_root: str | None = None, input_source: str | None = None,
               pitch_model: str | None = None, a4_hz: float | None = None,
               sensitivity: float | None = None, strictness: float | None = None,
               tempo_bpm: float | None = None, practice_id: UUID | str | None = None,
               start_time: datetime | None = None, session_id: UUID | str | None = None,
               hold_writer_lock: bool = True, tuning: str | None = None) -> UUID:
        """Insert an ``active`` session and return its id (``session_id`` to choose it, e.g.
        the id a crash journal already uses).

        With ``hold_writer_lock`` this connection keeps an advisory lock on the session until
        it closes, which is how :meth:`mark_interrupted` knows the writer is alive.
        """
        row = self.conn.execute(
            f"""
            INSERT INTO fretcoach.sessions
                (session_id, user_id, start_time, scale_chosen, scale_type, scale_root,
                 input_source, pitch_model, a4_hz, sensitivity, strictness, tempo_bpm,
                 practice_id, tuning)
            VALUES (coalesce(%s, gen_random_uuid()), {_ME}, coalesce(%s, now()),
                    %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING session_id
            """,
            (None if session_id is None else as_uuid(session_id, "session id"),
             start_time, scale_chosen, scale_type, scale_root, input_source, pitch_model,
             a4_hz, sensitivity, strictness, tempo_bpm,
             None if practice_id is None else as_uuid(practice_id, "practice id"), tuning),
        ).fetchone()
        assert row is not None
        new_id: UUID = row[0]
        if hold_writer_lock:
            self.conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                              (_WRITER_LOCK_CLASS, str(new_id)))
        self._commit()
        return new_id

    def add_notes(self, session_id: UUID | str, notes: Iterable[NoteRecord]) -> int:
        """Insert a batch of notes; returns rows added or lengthened.

        A replayed sequence number changes nothing, except a later ``offset_s``: a note judged
        while it still rang is sent again with its true end (the later end wins)."""
        sid = as_uuid(session_id, "session id")
        params = []
        for rec in notes:
            ev = rec.event
            midi = ev.midi if ev.kind == "note" else None
            params.append((
                sid, rec.seq, ev.onset_s, ev.offset_s, finite(midi),
                finite(ev.cents) if midi is not None else None,
                ev.pitch_class if midi is not None else None,
                rec.note_name or _note_name(midi), ev.kind, rec.in_scale, rec.in_tune,
                finite(ev.confidence), finite(ev.level_db),
            ))
        if not params:
            return 0
        with self.conn.cursor() as cur:
            cur.executemany(
                f"""
                INSERT INTO fretcoach.session_notes
                    (session_id, seq, user_id, onset_s, offset_s, midi, cents, pitch_class,
                     note_name, kind, in_scale, in_tune, confidence, level_db)
                VALUES (%s, %s, {_ME}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (session_id, seq) DO UPDATE SET offset_s = EXCLUDED.offset_s
                    WHERE EXCLUDED.offset_s > fretcoach.session_notes.offset_s
                """,
                params,
            )
            added = max(cur.rowcount, 0)
        self.conn.execute(
            "UPDATE fretcoach.sessions SET updated_at = now() WHERE session_id = %s", (sid,))
        self._commit()
        return added

    def finish(self, session_id: UUID | str, summary: SessionSummary, *,
               end_time: datetime | None = None,
               status: SessionStatus = "completed") -> SessionRow:
        """Write the summary and metrics blob and close the session (also an interrupted one)."""
        sid = as_uuid(session_id, "session id")
        sets = ", ".join(f"{name} = %s" for name in (*_SUMMARY_FLOATS, *_SUMMARY_INTS))
        values: list[Any] = [finite(getattr(summary, n)) for n in _SUMMARY_FLOATS]
        values += [int(getattr(summary, n) or 0) for n in _SUMMARY_INTS]
        row = self.conn.execute(
            f"""
            UPDATE fretcoach.sessions
               SET {sets}, weakest_area = %s, metrics = %s, status = %s,
                   end_time = coalesce(%s, end_time, now()), updated_at = now(),
                   ramp = %s, max_clean_bpm = %s, tempo_curve = %s
             WHERE session_id = %s
            RETURNING session_id
            """,
            (*values, summary.weakest_area, jsonb(summary.metrics), status, end_time,
             summary.ramp, finite(summary.max_clean_bpm),
             None if summary.tempo_curve is None else jsonb(summary.tempo_curve), sid),
        ).fetchone()
        if row is None:
            self._rollback()
            raise NotFoundError(f"no session {sid}")
        self._release_writer_lock(sid)
        self._commit()
        return self.require(sid)

    def set_ramp(self, session_id: UUID | str, *, ramp: str | None,
                 max_clean_bpm: float | None,
                 tempo_curve: builtins.list[dict[str, Any]] | None) -> bool:
        """Store the speed trainer's outcome so far on an unfinished session (``practice
        --ramp`` writes it as the ramp runs, so a crash keeps it; :meth:`finish` writes the
        final one). False when there is no such unfinished session of this user."""
        sid = as_uuid(session_id, "session id")
        cur = self.conn.execute(
            f"""
            UPDATE fretcoach.sessions
               SET ramp = %s, max_clean_bpm = %s, tempo_curve = %s, updated_at = now()
             WHERE session_id = %s AND user_id = {_ME} AND status <> 'completed'
            """,
            (ramp, finite(max_clean_bpm), None if tempo_curve is None else jsonb(tempo_curve),
             sid))
        self._commit()
        return cur.rowcount > 0

    def mark_interrupted(self) -> list[UUID]:
        """Turn this user's ``active`` sessions whose writer is gone into ``interrupted``
        (with the notes they hold counted, so no report shows them as empty)."""
        active = self.conn.execute(
            "SELECT session_id FROM fretcoach.sessions WHERE status = 'active' "
            "ORDER BY start_time"
        ).fetchall()
        gone = []
        for (sid,) in active:
            free = self.conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_WRITER_LOCK_CLASS, str(sid))
            ).fetchone()
            if free and free[0]:
                self.conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                                  (_WRITER_LOCK_CLASS, str(sid)))
                if not self._holds_writer_lock(sid):
                    gone.append(sid)
        if gone:
            self.conn.execute(
                """
                UPDATE fretcoach.sessions s
                   SET status = 'interrupted', updated_at = now(),
                       duration_seconds = coalesce(s.duration_seconds, n.last_offset_s),
                       end_time = coalesce(s.end_time,
                                           s.start_time + make_interval(secs => n.last_offset_s),
                                           s.updated_at),
                       total_notes_played = greatest(s.total_notes_played, n.played)
                  FROM (SELECT sid AS session_id,
                               (SELECT max(offset_s) FROM fretcoach.session_notes x
                                 WHERE x.session_id = sid) AS last_offset_s,
                               (SELECT count(*) FROM fretcoach.session_notes x
                                 WHERE x.session_id = sid AND x.kind = 'note') AS played
                          FROM unnest(%s::uuid[]) AS sid) n
                 WHERE s.session_id = n.session_id AND s.status = 'active'
                """,
                (gone,),
            )
        self._commit()
        return gone

    def interrupt(self, session_id: UUID | str) -> bool:
        """The writer itself gives up on an active session (e.g. Ctrl+C before any summary)."""
        sid = as_uuid(session_id, "session id")
        cur = self.conn.execute(
            "UPDATE fretcoach.sessions s SET status = 'interrupted', updated_at = now(), "
            "end_time = coalesce(end_time, now()), total_notes_played = greatest("
            "total_notes_played, (SELECT count(*) FROM fretcoach.session_notes x "
            "WHERE x.session_id = s.session_id AND x.kind = 'note')) "
            "WHERE session_id = %s AND status = 'active'", (sid,))
        self._release_writer_lock(sid)
        self._commit()
        return cur.rowcount > 0

    def _release_writer_lock(self, sid: UUID) -> None:
        # unlocking a lock we do not hold makes the server log a WARNING: check first
        while self._holds_writer_lock(sid):
            self.conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                              (_WRITER_LOCK_CLASS, str(sid)))

    def _holds_writer_lock(self, sid: UUID) -> bool:
        """Whether this very connection still holds the writer lock (it is the writer)."""
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND classid = %s::oid AND objid = "
            "(hashtext(%s)::bigint & 4294967295)::oid AND objsubid = 2)",
            (_WRITER_LOCK_CLASS, str(sid)),
        ).fetchone()
        return bool(row and row[0])

    def add_reply(self, session_id: UUID | str, *, at: datetime, source: str, kind: str,
                  text: str) -> bool:
        """Store one coach reply of a session; a replayed one (same time, kind and text) is
        skipped, so journals can be replayed safely. Returns whether a row was added."""
        sid = as_uuid(session_id, "session id")
        cur = self.conn.execute(
            f"""
            INSERT INTO fretcoach.coach_replies (session_id, user_id, at, source, kind, text)
            SELECT %s, {_ME}, %s, %s, %s, %s
             WHERE NOT EXISTS (SELECT 1 FROM fretcoach.coach_replies
                                WHERE session_id = %s AND at = %s AND kind = %s AND text = %s)
            """,
            (sid, at, source, kind, text, sid, at, kind, text))
        self._commit()
        return cur.rowcount > 0

    def delete(self, session_id: UUID | str) -> bool:
        """Delete a session with its notes and coach replies; False if there was none."""
        sid = as_uuid(session_id, "session id")
        cur = self.conn.execute("DELETE FROM fretcoach.sessions WHERE session_id = %s", (sid,))
        self._release_writer_lock(sid)  # the writer itself may be discarding its session
        self._commit()
        return cur.rowcount > 0

    # -- reading -------------------------------------------------------------------------
    def get(self, session_id: UUID | str) -> SessionRow | None:
        from psycopg.rows import class_row

        sid = as_uuid(session_id, "session id")
        with self.conn.cursor(row_factory=class_row(SessionRow)) as cur:
            cur.execute(f"SELECT {columns(SessionRow)} FROM fretcoach.sessions "
                        "WHERE session_id = %s", (sid,))
            return cur.fetchone()

    def require(self, session_id: UUID | str) -> SessionRow:
        row = self.get(session_id)
        if row is None:
            raise NotFoundError(f"no session {session_id}",
                                hint="list sessions with 'fretcoach history'")
        return row

    def resolve(self, prefix: str) -> UUID:
        """A full session id from a unique prefix (as shown in short form by the CLI)."""
        text = prefix.strip().lower()
        if not text or any(c not in "0123456789abcdef-" for c in text):
            raise UsageError(f"{prefix!r} is not a session id")
        # The ids a prefix can name form one range of the uuid order (bytewise, as the hex
        # reads): a primary-key range scan instead of casting every id to text. A prefix
        # whose dashes sit where no canonical id has them names nothing, as LIKE did.
        bounds = _prefix_range(text)
        rows = [] if bounds is None else self.conn.execute(
            "SELECT session_id FROM fretcoach.sessions "
            "WHERE session_id BETWEEN %s::uuid AND %s::uuid AND session_id::text LIKE %s "
            "ORDER BY start_time DESC LIMIT 2", (*bounds, text + "%")
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no session {prefix}",
                                hint="list sessions with 'fretcoach history'")
        if len(rows) > 1:
            raise UsageError(f"session id {prefix!r} is ambiguous", hint="give more characters")
        return rows[0][0]

    def list(self, *, since: datetime | None = None, until: datetime | None = None,
             scale: str | None = None, status: SessionStatus | None = None,
             limit: int | None = 50) -> list[SessionRow]:
        """This user's sessions, newest first; ``scale`` matches scale_chosen (any case)."""
        from psycopg.rows import class_row

        where: builtins.list[str] = ["true"]  # `list` here is the method
        params: builtins.list[object] = []
        if since is not None:
            where.append("start_time >= %s")
            params.append(since)
        if until is not None:
            where.append("start_time < %s")
            params.append(until)
        if scale:
            where.append("lower(scale_chosen) = lower(%s)")
            params.append(scale)
        if status:
            where.append("status = %s")
            params.append(status)
        sql = (f"SELECT {columns(SessionRow)} FROM fretcoach.sessions "
               f"WHERE {' AND '.join(where)} ORDER BY start_time DESC")
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        with self.conn.cursor(row_factory=class_row(SessionRow)) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def notes(self, session_id: UUID | str) -> builtins.list[NoteRow]:
        from psycopg.rows import class_row

        sid = as_uuid(session_id, "session id")
        with self.conn.cursor(row_factory=class_row(NoteRow)) as cur:
            cur.execute(f"SELECT {columns(NoteRow)} FROM fretcoach.session_notes "
                        "WHERE session_id = %s ORDER BY seq", (sid,))
            return cur.fetchall()


_DASHES = (8, 13, 18, 23)  # where a canonical uuid's text has its dashes


def _prefix_range(prefix: str) -> tuple[str, str] | None:
    """The lowest and highest uuid whose canonical text starts with ``prefix`` (lowercase
    hex and dashes), or None when no canonical id can start so."""
    if len(prefix) > 36 or any((c == "-") != (i in _DASHES) for i, c in enumerate(prefix)):
        return None
    digits = prefix.replace("-", "")
    return (digits.ljust(32, "0"), digits.ljust(32, "f"))


def note_records(events: Sequence[NoteEvent], verdicts: Sequence[tuple[bool | None, bool | None]],
                 *, start_seq: int = 0) -> list[NoteRecord]:
    """Pair events with (in_scale, in_tune) verdicts and number them from ``start_seq``."""
    if len(events) != len(verdicts):
        raise ValueError("one verdict per event is required")
    return [NoteRecord(start_seq + i, ev, in_scale, in_tune)
            for i, (ev, (in_scale, in_tune)) in enumerate(zip(events, verdicts, strict=True))]
