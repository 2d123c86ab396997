"""Finishing or discarding sessions whose writer died (crash, kill -9, power loss).

First the local journals of dead processes are written to the database (they may hold notes
the database never got), then the store marks sessions without a live writer as
``interrupted``. Finishing one recomputes every figure from its stored notes, exactly as a
normal end of session would have — an exercise session's note verdicts included — and keeps
the speed trainer's ramp (spec, tempo curve, best clean tempo) as it was stored while it ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fretcoach_cli.config import Settings
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.practice.recorder import ReplayReport, replay_journals
from fretcoach_cli.practice.store_sink import sink_factory


@dataclass(frozen=True)
class Pending:
    replay: ReplayReport | None
    replay_error: str | None
    sessions: list[Any]  # store.SessionRow, status interrupted


def replay_pending(settings: Settings) -> ReplayReport | None:
    """Write the journals of dead sessions to the database (None: there were none).

    Cheap when there is nothing to do (one directory read), so every command that opens
    the database runs it first (see ``cli.context``): no report then shows a journaled
    session as interrupted and empty.
    """
    from fretcoach_cli.practice.journal import any_journals

    if not any_journals(settings.data_path):
        return None
    return replay_journals(settings.data_path, sink_factory(settings))


def find_interrupted(settings: Settings, conn: Any) -> Pending:
    """Replay orphaned journals, mark dead writers' sessions, list the interrupted ones."""
    from fretcoach_cli.store import Sessions

    report, error = None, None
    try:
        report = replay_journals(settings.data_path, sink_factory(settings))
    except Exception as exc:  # a broken journal must not hide the database's sessions
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    sessions = Sessions(conn)
    sessions.mark_interrupted()
    rows = sorted(sessions.list(status="interrupted", limit=None), key=lambda r: r.start_time)
    return Pending(report, error, rows)


def events_of(note_rows: list[Any]) -> list[NoteEvent]:
    return [NoteEvent(n.onset_s, n.offset_s, n.midi, float(n.confidence or 0.0), n.kind,
                      -math.inf if n.level_db is None else float(n.level_db))
            for n in note_rows]


def finish_interrupted(conn: Any, row: Any) -> Any:
    """Recompute the summary of an interrupted session from its notes and complete it."""
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.scoring.metrics import compute_metrics
    from fretcoach_cli.store import Sessions, SessionSummary

    sessions = Sessions(conn)
    events = events_of(sessions.notes(row.session_id))
    scale = parse_scale(row.scale_chosen or "A minor pentatonic")
    metrics = compute_metrics(events, scale, strictness=row.strictness or 0.5,
                              bpm=row.tempo_bpm)
    fields = metrics.to_dict()
    duration = row.duration_seconds
    if duration is None:
        duration = max((e.offset_s for e in events), default=0.0)
    fields["duration_seconds"] = duration
    fields["recovered"] = True
    # finish() writes all three ramp columns: what the row holds (with --ramp, stored as the
    # ramp ran) is passed on
    for name in ("ramp", "max_clean_bpm", "tempo_curve"):
        if getattr(row, name, None) is not None:
            fields[name] = getattr(row, name)
    if row.exercise_name is not None:  # practice --exercise: judge the take as a finish does
        _judge_exercise(conn, row, scale, events, fields)
        if row.ramp is not None:  # the ramp's best clean tempo outranks one take's verdict
            fields["max_clean_bpm"] = row.max_clean_bpm
    return sessions.finish(row.session_id, SessionSummary.from_mapping(fields),
                           end_time=row.end_time)


def _judge_exercise(conn: Any, row: Any, scale: Any, events: list[NoteEvent],
                    fields: dict[str, Any]) -> None:
    """Store the exercise verdicts of an interrupted exercise session and put what a judged
    take adds to the summary (``exercise_run.stored_fields``) into ``fields``. When the
    exercise cannot be rebuilt (a file since moved) the reason goes into the metrics blob
    (``exercise_not_judged``) and the notes keep the session's figures."""
    from fretcoach_cli.errors import FretcoachError
    from fretcoach_cli.practice.exercise_run import SUMMARY_KEY, stored_fields
    from fretcoach_cli.scoring.exercise import DEFAULT_TOLERANCE_MS, judge_exercise
    from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

    try:
        exercise = rebuild_exercise(row, scale)
        if row.exercise_bpm is None:
            raise FretcoachError("the session stored no exercise tempo")
        result = judge_exercise(exercise, events, bpm=float(row.exercise_bpm),
                                tolerance_ms=DEFAULT_TOLERANCE_MS)
    except (FretcoachError, OSError, ValueError) as exc:
        fields["exercise_not_judged"] = str(exc).splitlines()[0] if str(exc) else repr(exc)
        return
    extra = stored_fields(result)
    ExerciseVerdicts(conn).replace(row.session_id, extra.pop(SUMMARY_KEY))
    fields.update(extra)


def rebuild_exercise(row: Any, scale: Any) -> Any:
    """The exercise an interrupted session played, from what its row stored: a built-in by
    name in the session's scale and tuning (its default position: a `--position` given at
    the start is not stored), or the file it was read from."""
    from fretcoach_cli.music.exercises import load
    from fretcoach_cli.music.tunings import parse_tuning

    strings = parse_tuning(row.tuning).strings
    if (row.exercise_source or "built-in") != "built-in":
        return load(str(row.exercise_source), scale, tuning=strings)
    name, _, shape = str(row.exercise_name).partition(" caged-")  # "thirds caged-E"
    return load(name, scale, tuning=strings, shape=shape or None)


def drop_empty(conn: Any, rows: list[Any]) -> tuple[list[Any], list[Any]]:
    """Delete the interrupted sessions that hold no notes (stopped or killed before the
    first one: nothing to finish, and not practice); returns (kept, deleted)."""
    from fretcoach_cli.store import Sessions

    if not rows:
        return [], []
    with_notes = {r[0] for r in conn.execute(
        "SELECT DISTINCT session_id FROM fretcoach.session_notes WHERE session_id = ANY(%s)",
        ([r.session_id for r in rows],)).fetchall()}
    kept = [r for r in rows if r.session_id in with_notes]
    empty = [r for r in rows if r.session_id not in with_notes]
    sessions = Sessions(conn)
    for r in empty:
        sessions.delete(r.session_id)
    return kept, empty


def discard_interrupted(conn: Any, row: Any) -> bool:
    from fretcoach_cli.store import Sessions

    return Sessions(conn).delete(row.session_id)
