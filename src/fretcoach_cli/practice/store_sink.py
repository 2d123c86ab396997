"""The recorder's database side: fretcoach.store's Sessions/Plans on one user-scoped connection.

The connection stays open for the whole session because it holds the store's writer lock:
while it lives, ``Sessions.mark_interrupted`` (run by other commands) knows the session is
being written; when the process dies the lock goes with it and the session reads as
``interrupted``.
"""

from __future__ import annotations

import math
from typing import Any

from fretcoach_cli.config import Settings
from fretcoach_cli.events import NoteEvent


def note_record(row: dict[str, Any]) -> Any:
    """A journal note row → the store's NoteRecord."""
    from fretcoach_cli.store import NoteRecord

    level = row.get("level_db")
    event = NoteEvent(row["onset_s"], row["offset_s"], row.get("midi"),
                      float(row.get("confidence") or 0.0), row.get("kind", "note"),
                      -math.inf if level is None else float(level))
    return NoteRecord(int(row["seq"]), event, row.get("in_scale"), row.get("in_tune"),
                      row.get("note_name"))


def _when(value: Any) -> Any:
    """A journal time (ISO text after a round trip through the journal) as a datetime."""
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value


class StoreSink:
    """Implements ``recorder.SessionSink`` over fretcoach.store."""

    def __init__(self, settings: Settings) -> None:
        from fretcoach_cli.store import Plans, Sessions, open_database

        self.db = open_database(settings)
        self.conn = self.db.connect(settings.user)
        self.sessions = Sessions(self.conn)
        self.plans = Plans(self.conn)

    def create_session(self, meta: dict[str, Any], session_uuid: str) -> str:
        """Create the row under the journal's own id, so replays can never duplicate it."""
        plan_id = meta.get("plan_id")
        if self.sessions.get(session_uuid) is not None:  # a replay after a lost confirmation
            return session_uuid
        sid = self.sessions.create(
            session_id=session_uuid,
            scale_chosen=meta.get("scale_chosen"), scale_type=meta.get("scale_type"),
            scale_root=meta.get("scale_root"), input_source=meta.get("input_source"),
            pitch_model=meta.get("pitch_model"), a4_hz=meta.get("a4_hz"),
            sensitivity=meta.get("sensitivity"), strictness=meta.get("strictness"),
            tempo_bpm=meta.get("bpm"), practice_id=plan_id,
            start_time=_when(meta.get("started_at")), tuning=meta.get("tuning"),
        )
        if meta.get("exercise"):  # practice --exercise (ddl/065)
            from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

            ex = meta["exercise"]
            ExerciseVerdicts(self.conn).set_exercise(sid, name=ex["name"], source=ex.get("source"),
                                                     bpm=ex.get("bpm"))
        if plan_id:
            self.plans.link_session(plan_id, sid)  # pending → in_progress
        return str(sid)

    def add_notes(self, session_id: Any, notes: list[dict[str, Any]]) -> None:
        self.sessions.add_notes(session_id, [note_record(n) for n in notes])

    def add_reply(self, session_id: Any, reply: dict[str, Any]) -> None:
        """One coach reply, stored as the session's own (idempotent on replay), with its
        rating when the player rated it in the room."""
        from fretcoach_cli.store import replies

        kind = str(reply.get("kind") or "live")
        replies.record(self.conn, session_id=session_id, at=_when(reply["at"]),
                       source=str(reply.get("source") or "offline"), kind=kind,
                       text=str(reply["text"]), reply_uuid=reply.get("reply_uuid"),
                       prompt_name=kind if reply.get("prompt_version") else None,
                       prompt_version=reply.get("prompt_version"),
                       trace_id=reply.get("trace_id"))
        if reply.get("rating") and reply.get("reply_uuid"):
            replies.rate(self.conn, reply["reply_uuid"], int(reply["rating"]),
                         reply.get("comment"))

    def ramp_progress(self, session_id: Any, fields: dict[str, Any]) -> None:
        """The speed trainer's outcome so far (``speed_trainer.ramp_fields``) on the running
        session; ignored once the session is completed (its summary holds the final one)."""
        self.sessions.set_ramp(session_id, ramp=fields.get("ramp"),
                               max_clean_bpm=fields.get("max_clean_bpm"),
                               tempo_curve=fields.get("tempo_curve"))

    def finish(self, session_id: Any, summary: dict[str, Any]) -> dict[str, Any]:
        from fretcoach_cli.store import SessionSummary
        from fretcoach_cli.store.rows import json_safe

        summary = dict(summary)
        verdicts = summary.pop("exercise_verdicts", None)  # practice --exercise (ddl/065)
        if verdicts is not None:
            from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

            ExerciseVerdicts(self.conn).replace(session_id, verdicts)
        bpm = summary.pop("exercise_bpm", None)  # a looped exercise: the stored pass's tempo
        if bpm is not None:
            from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

            ExerciseVerdicts(self.conn).set_bpm(session_id, bpm)
        row = self.sessions.finish(session_id, SessionSummary.from_mapping(summary))
        if row.practice_id is not None:  # completed only once the plan's targets are met
            self.plans.settle(row.practice_id)
        return json_safe(row)

    def discard(self, session_id: Any) -> None:
        """Delete a session that ended with no notes; a plan it followed goes back to pending
        unless other sessions of it were played."""
        row = self.sessions.get(session_id)
        self.sessions.delete(session_id)
        if row is not None and row.practice_id is not None:
            self.plans.settle(row.practice_id)

    def mark_interrupted(self, session_id: Any) -> None:
        """Only called for journals of dead processes: their writer is gone for sure."""
        self.sessions.interrupt(session_id)

    def sweep(self) -> None:
        """Mark this user's sessions whose writer died (lock gone) as interrupted."""
        self.sessions.mark_interrupted()

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.db.close()


def sink_factory(settings: Settings):
    """A factory for the recorder: each call opens a fresh connection, as ``user`` if given
    (journal replay writes each journal as the user who played it)."""

    def make(user: str | None = None) -> StoreSink:
        return StoreSink(settings.with_overrides(user=user) if user else settings)

    return make
