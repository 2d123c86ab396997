"""Repositories: sessions written as they happen, notes, plans, user settings."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.store import (
    Database,
    NoteRecord,
    Plans,
    Sessions,
    SessionSummary,
    Users,
    note_records,
)


def _events(n: int) -> list[NoteEvent]:
    return [NoteEvent(0.5 * i, 0.5 * i + 0.4, 57.0 + i + 0.1, 0.9, level_db=-20.0)
            for i in range(n)]


def test_session_lifecycle(conn: Any) -> None:
    sessions = Sessions(conn)
    sid = sessions.create(scale_chosen="A minor pentatonic", scale_type="minor pentatonic",
                          scale_root="A", input_source="file:examples/x.flac",
                          pitch_model="swift", a4_hz=440.0, sensitivity=0.5, strictness=0.7,
                          tempo_bpm=90)
    row = sessions.require(sid)
    assert row.status == "active" and row.end_time is None and row.total_notes_played == 0
    assert row.user_id.startswith("test-") and row.input_source == "file:examples/x.flac"

    records = note_records(_events(3), [(True, True), (True, False), (False, None)])
    assert sessions.add_notes(sid, records) == 3
    assert sessions.add_notes(sid, records[1:]) == 0  # a replayed batch never duplicates
    extra = [NoteRecord(3, NoteEvent(2.0, 2.3, None, 0.2, "polyphonic")),
             NoteRecord(4, NoteEvent(2.5, 2.6, None, 0.1, "unclear", level_db=-math.inf))]
    assert sessions.add_notes(sid, extra) == 2

    notes = sessions.notes(sid)
    assert [n.seq for n in notes] == [0, 1, 2, 3, 4]
    first = notes[0]
    assert first.midi == pytest.approx(57.1) and first.cents == pytest.approx(10.0)
    assert first.pitch_class == 9 and first.note_name == "A3" and first.kind == "note"
    assert (first.in_scale, first.in_tune) == (True, True)
    assert notes[2].in_tune is None
    assert notes[3].midi is None and notes[3].pitch_class is None and notes[3].cents is None
    assert notes[4].level_db == -math.inf

    summary = SessionSummary.from_mapping({
        "duration_seconds": 2.6, "pitch_accuracy": 66.7, "scale_conformity": 66.7,
        "timing_stability": 80.0, "total_notes_played": 3, "correct_notes_played": 2,
        "bad_notes_played": 1, "mean_abs_cents": 10.0, "ioi_cv": float("nan"),
        "weakest_area": "timing", "windows": [1, 2, 3], "unknown_key": "kept in blob",
    })
    done = sessions.finish(sid, summary)
    assert done.status == "completed" and done.end_time is not None
    assert done.pitch_accuracy == pytest.approx(66.7) and done.bad_notes_played == 1
    assert done.ioi_cv is None  # NaN is stored as NULL
    assert done.metrics["unknown_key"] == "kept in blob" and done.metrics["ioi_cv"] is None
    assert done.weakest_area == "timing"

    assert sessions.delete(sid) is True
    assert sessions.get(sid) is None and sessions.notes(sid) == []
    assert sessions.delete(sid) is False
    with pytest.raises(NotFoundError):
        sessions.finish(sid, SessionSummary())


def test_list_filters_and_resolve(conn: Any) -> None:
    sessions = Sessions(conn)
    now = datetime.now(UTC)
    ids = [sessions.create(scale_chosen=scale, start_time=now - timedelta(days=d),
                           hold_writer_lock=False)
           for d, scale in [(0, "A minor pentatonic"), (3, "E blues"), (10, "A minor pentatonic")]]
    assert [r.session_id for r in sessions.list()] == ids  # newest first
    assert [r.session_id for r in sessions.list(scale="a MINOR pentatonic")] == [ids[0], ids[2]]
    assert [r.session_id for r in sessions.list(since=now - timedelta(days=5))] == ids[:2]
    assert [r.session_id for r in sessions.list(until=now - timedelta(days=1))] == ids[1:]
    assert len(sessions.list(limit=1)) == 1
    assert sessions.list(status="completed") == []
    assert sessions.resolve(str(ids[1])[:8]) == ids[1]
    with pytest.raises(NotFoundError):
        sessions.resolve("ffffffff-ffff")
    with pytest.raises(UsageError):
        sessions.resolve("not-an-id!")
    with pytest.raises(UsageError):
        sessions.get("nope")


def test_chosen_session_id(conn: Any) -> None:
    wanted = uuid.uuid4()
    assert Sessions(conn).create(session_id=wanted, hold_writer_lock=False) == wanted


def test_writer_gone_means_interrupted(database: Database, user_id: str) -> None:
    writer = database.connect(user_id)
    live = database.connect(user_id)
    try:
        dead_sid = Sessions(writer).create(scale_chosen="E blues")
        Sessions(writer).add_notes(dead_sid, note_records(_events(2), [(True, True)] * 2))
        live_sid = Sessions(live).create(scale_chosen="E blues")
        # the writer is alive: nothing to mark, not even by the other connection
        assert Sessions(live).mark_interrupted() == []
        writer.close()  # the process died: its connection (and lock) are gone
        with database.connect(user_id) as other:
            assert Sessions(other).mark_interrupted() == [dead_sid]
            row = Sessions(other).require(dead_sid)
            assert row.status == "interrupted"
            assert row.duration_seconds == pytest.approx(0.9)  # up to the last note
            assert Sessions(other).require(live_sid).status == "active"
            # an interrupted session can still be finished
            done = Sessions(other).finish(dead_sid, SessionSummary(total_notes_played=2))
            assert done.status == "completed"
        assert Sessions(live).interrupt(live_sid) is True
        assert Sessions(live).require(live_sid).status == "interrupted"
    finally:
        writer.close()
        live.close()


def test_plans(conn: Any) -> None:
    plans, sessions = Plans(conn), Sessions(conn)
    assert plans.latest_pending() is None
    old = plans.create({"focus": "timing"}, source="offline", prompt_version="v1")
    new = plans.create({"focus": "pitch", "steps": ["a", "b"]}, source="model")
    assert plans.latest_pending().practice_id == new  # type: ignore[union-attr]
    assert [p.practice_id for p in plans.list()] == [new, old]
    row = plans.require(new)
    assert row.practice_plan == {"focus": "pitch", "steps": ["a", "b"]}
    assert row.source == "model" and row.status == "pending"

    sid = sessions.create(hold_writer_lock=False)
    plans.link_session(new, sid)
    assert plans.require(new).session_id == sid and plans.require(new).status == "in_progress"
    assert sessions.require(sid).practice_id == new
    assert plans.set_status(new, "completed").status == "completed"
    assert plans.latest_pending().practice_id == old  # type: ignore[union-attr]
    assert [p.practice_id for p in plans.list(status="completed")] == [new]
    with pytest.raises(UsageError):
        plans.set_status(old, "bogus")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        plans.set_status(uuid.uuid4(), "dismissed")
    with pytest.raises(UsageError):
        plans.create({}, source="llm")  # type: ignore[arg-type]
    sessions.delete(sid)  # deleting the session keeps the plan, unlinked
    assert plans.require(new).session_id is None


def test_user_settings(conn: Any) -> None:
    users = Users(conn)
    assert users.get_settings() == {}
    users.set_settings({"enabled_metrics": ["pitch_accuracy", "timing_stability"], "a": 1})
    users.set_settings({"a": 2})
    assert users.get_settings() == {"enabled_metrics": ["pitch_accuracy", "timing_stability"],
                                    "a": 2}
    assert users.set_settings({"b": True}, merge=False) == {"b": True}


def test_connect_needs_a_user(database: Database) -> None:
    with pytest.raises(UsageError):
        database.connect("  ")
