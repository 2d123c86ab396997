"""`sessions recover --finish` of an exercise session that crashed: its note verdicts are
judged and stored as a normal finish would have (practice/exercise_run.stored_fields)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli import main
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import load
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.exercise import judge_exercise
from fretcoach_cli.store import NoteRecord, Sessions
from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

main._register_commands()
SCALE = "A minor pentatonic"
BPM = 90.0
ORIGIN = 1.0


def crashed_exercise_session(conn: Any, *, name: str, source: str,
                             events: list[NoteEvent]) -> Any:
    """What a killed `practice --exercise` leaves: an interrupted session with its notes."""
    sessions = Sessions(conn)
    sid = sessions.create(scale_chosen=SCALE, scale_type="minor pentatonic", scale_root="A",
                          tempo_bpm=BPM, strictness=0.5, input_source="mic:0",
                          hold_writer_lock=False)
    ExerciseVerdicts(conn).set_exercise(sid, name=name, source=source, bpm=BPM)
    sessions.add_notes(sid, [NoteRecord(i + 1, e) for i, e in enumerate(events)])
    assert sessions.interrupt(sid)
    return sid


def played(exercise: Any, *, skip: int | None = None, late: int | None = None,
           ) -> list[NoteEvent]:
    events = []
    for i, (t, note) in enumerate(zip(exercise.times_s(BPM), exercise.notes, strict=True)):
        if i == skip:
            continue
        onset = ORIGIN + t + (0.09 if i == late else 0.0)
        events.append(NoteEvent(onset, onset + 0.3, note.midi + 0.02, 0.95, "note", -20.0))
    return events


def recover(user_id: str) -> None:
    result = CliRunner().invoke(main.app, ["--user", user_id, "sessions", "recover",
                                           "--finish", "--yes"])
    assert result.exit_code == 0, result.output
    assert "finished" in result.output


def test_recover_judges_the_exercise_like_a_finish(conn: Any, user_id: str) -> None:
    exercise = load("scale-run", parse_scale(SCALE))
    events = played(exercise, skip=3, late=5)
    sid = crashed_exercise_session(conn, name=exercise.name, source=exercise.source,
                                   events=events)
    assert ExerciseVerdicts(conn).of_session(sid) == []
    recover(user_id)
    row = Sessions(conn).require(sid)
    assert row.status == "completed" and row.exercise_name == "scale-run"
    stored = [v.to_dict() for v in ExerciseVerdicts(conn).of_session(sid)]
    want = [v.to_dict() for v in judge_exercise(exercise, events, bpm=BPM).verdicts]
    assert len(stored) == len(want) == len(exercise.notes)
    for got, exp in zip(stored, want, strict=True):
        assert got == pytest.approx(exp)
    verdicts = [v["verdict"] for v in stored]
    assert verdicts[3] == "missed" and verdicts[5] == "late"
    assert verdicts.count("hit") == len(exercise.notes) - 2
    assert row.max_clean_bpm is None  # not every note hit: no clean tempo
    assert row.metrics.get("recovered") is True


def test_a_clean_recovered_take_stores_its_clean_tempo(conn: Any, user_id: str) -> None:
    exercise = load("caged-E", parse_scale(SCALE))
    events = played(exercise)
    sid = crashed_exercise_session(conn, name=exercise.name, source=exercise.source,
                                   events=events)
    recover(user_id)
    row = Sessions(conn).require(sid)
    stored = ExerciseVerdicts(conn).of_session(sid)
    assert {v.verdict for v in stored} == {"hit"} and len(stored) == len(exercise.notes)
    assert row.max_clean_bpm == BPM


def test_an_exercise_file_gone_since_still_finishes(conn: Any, user_id: str,
                                                   tmp_path: Path) -> None:
    exercise = load("scale-run", parse_scale(SCALE))
    sid = crashed_exercise_session(conn, name="my riff",
                                   source=str(tmp_path / "gone" / "riff.txt"),
                                   events=played(exercise))
    # what the row already held survives the finish (which writes these columns)
    conn.execute("UPDATE fretcoach.sessions SET ramp = '80:140:+4', max_clean_bpm = 96, "
                 "tempo_curve = '[{\"t\": 2.0, \"bpm\": 96, \"clean\": true}]' "
                 "WHERE session_id = %s", (sid,))
    conn.commit()
    recover(user_id)
    row = Sessions(conn).require(sid)
    assert (row.ramp, row.max_clean_bpm) == ("80:140:+4", 96)
    assert row.tempo_curve == [{"t": 2.0, "bpm": 96, "clean": True}]
    assert row.status == "completed" and row.total_notes_played == len(exercise.notes)
    assert ExerciseVerdicts(conn).of_session(sid) == []
    assert "riff.txt" in row.metrics["exercise_not_judged"]
