"""`practice --exercise` in the practice room: the next notes lit on the fretboard, and each
verdict written into the note feed as it is decided (scoring.exercise_live).

A verdict for a played note rewrites that note's line (same onset) with the verdict at its
end; a missed note, which has no line, gets one of its own at the time it was due.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fretcoach_cli.music.notes import note_name
from fretcoach_cli.practice.messages import ExerciseProgress
from fretcoach_cli.scoring.exercise_report import verdict_label
from fretcoach_cli.tui.widgets.fretboard import Fretboard
from fretcoach_cli.tui.widgets.note_feed import FeedRow, NoteFeed


def show_progress(app: Any, msg: ExerciseProgress) -> None:
    """Apply one update of the live exercise to the app's fretboard and note feed."""
    notes = msg.exercise.notes
    app.query_one(Fretboard).targets = tuple((notes[i].string, notes[i].fret)
                                             for i in msg.next_indices)
    feed = app.query_one(NoteFeed)
    for v in msg.decided:
        label = verdict_label(v.to_dict())
        if v.onset_s is None:  # missed: a line of its own
            feed.add(FeedRow(v.expected_s or 0.0, note_name(float(v.expected_midi or 0)), None,
                             None, None, kind="missed", exercise=label))
            continue
        row = feed.row_at(v.onset_s)
        if row is not None:
            feed.rewrite(v.onset_s, replace(row, exercise=label))
    app.exercise_verdicts.extend(msg.decided)
