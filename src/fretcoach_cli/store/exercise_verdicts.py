"""Exercise sessions: which exercise a session played and every note's verdict (ddl/065).

Written by the session's writer at the end (``StoreSink.finish``), from the summary's
``exercise_verdicts`` list (the dicts of ``NoteVerdict.to_dict``, the same as the ``verdicts``
of `--json`); read back by `sessions show`, the summary and the coach. A replayed journal
rewrites the rows in one transaction, so they are never doubled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fretcoach_cli.store.rows import Repository, as_uuid, columns, finite, translate_errors

_ME = "current_setting('fretcoach.user_id')"


@dataclass(frozen=True)
class VerdictRow:
    """One row of fretcoach.exercise_verdicts (``index`` is expected_index)."""

    ord: int
    expected_index: int | None
    verdict: str
    beat: float | None
    string: int | None
    fret: int | None
    expected_midi: int | None
    expected_s: float | None
    played_midi: float | None
    onset_s: float | None
    offset_ms: float | None
    session_id: UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        """The shape of a `verdicts` entry of `--json` (``index`` for expected_index)."""
        return {"index": self.expected_index, "verdict": self.verdict, "beat": self.beat,
                "string": self.string, "fret": self.fret, "expected_midi": self.expected_midi,
                "expected_s": self.expected_s, "played_midi": self.played_midi,
                "onset_s": self.onset_s, "offset_ms": self.offset_ms}


@translate_errors("exercise verdicts")
class ExerciseVerdicts(Repository):
    """Repository over fretcoach.exercise_verdicts on a user-scoped connection."""


    def set_exercise(self, session_id: UUID | str, *, name: str, source: str | None,
                     bpm: float | None) -> None:
        """Name the exercise a session plays (at its start)."""
        self.conn.execute(
            "UPDATE fretcoach.sessions SET exercise_name = %s, exercise_source = %s, "
            "exercise_bpm = %s WHERE session_id = %s",
            (name, source, finite(bpm), as_uuid(session_id, "session id")))
        self._commit()

    def set_bpm(self, session_id: UUID | str, bpm: float) -> None:
        """The tempo of the stored verdicts, known at the end (`practice --exercise --ramp`
        stores its best pass, whose tempo the ramp chose)."""
        self.conn.execute(
            "UPDATE fretcoach.sessions SET exercise_bpm = %s WHERE session_id = %s",
            (finite(bpm), as_uuid(session_id, "session id")))
        self._commit()

    def replace(self, session_id: UUID | str, verdicts: Sequence[Mapping[str, Any]]) -> int:
        """Store a session's verdicts (any earlier ones are replaced); returns the count."""
        sid = as_uuid(session_id, "session id")
        self.conn.execute("DELETE FROM fretcoach.exercise_verdicts WHERE session_id = %s",
                          (sid,))
        params = [(sid, k, v.get("index"), v["verdict"], finite(v.get("beat")),
                   v.get("string"), v.get("fret"), v.get("expected_midi"),
                   finite(v.get("expected_s")), finite(v.get("played_midi")),
                   finite(v.get("onset_s")), finite(v.get("offset_ms")))
                  for k, v in enumerate(verdicts)]
        if params:
            with self.conn.cursor() as cur:
                cur.executemany(
                    f"""
                    INSERT INTO fretcoach.exercise_verdicts
                        (session_id, ord, user_id, expected_index, verdict, beat, string,
                         fret, expected_midi, expected_s, played_midi, onset_s, offset_ms)
                    VALUES (%s, %s, {_ME}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    """, params)
        self._commit()
        return len(params)

    def of_session(self, session_id: UUID | str) -> list[VerdictRow]:
        from psycopg.rows import class_row

        with self.conn.cursor(row_factory=class_row(VerdictRow)) as cur:
            cur.execute(f"SELECT {columns(VerdictRow)} FROM fretcoach.exercise_verdicts "
                        "WHERE session_id = %s ORDER BY ord",
                        (as_uuid(session_id, "session id"),))
            return cur.fetchall()

    def of_exercise(self, name: str, *, limit_sessions: int = 10) -> list[VerdictRow]:
        """The verdicts of the latest ``limit_sessions`` completed sessions of an exercise
        (the coach and `recommend` average them per expected note)."""
        from psycopg.rows import class_row

        with self.conn.cursor(row_factory=class_row(VerdictRow)) as cur:
            cur.execute(
                f"""
                SELECT {', '.join('v.' + c for c in columns(VerdictRow).split(', '))}
                  FROM fretcoach.exercise_verdicts v
                  JOIN (SELECT session_id FROM fretcoach.sessions
                         WHERE exercise_name = %s AND status <> 'active'
                         ORDER BY start_time DESC LIMIT %s) s USING (session_id)
                 ORDER BY v.session_id, v.ord
                """, (name, int(limit_sessions)))
            return cur.fetchall()

    def latest_exercise(self) -> tuple[str, float | None] | None:
        """The exercise of this user's latest exercise session (name, bpm), if any."""
        row = self.conn.execute(
            "SELECT exercise_name, exercise_bpm FROM fretcoach.sessions "
            "WHERE exercise_name IS NOT NULL AND status <> 'active' "
            "ORDER BY start_time DESC LIMIT 1").fetchone()
        return None if row is None else (str(row[0]), row[1])
