"""`practice --exercise`: the exercise side of a practice session.

The session's runner hands every judged note to :class:`ExerciseRun`, which feeds the live
tracker (scoring.exercise_live) and returns an :class:`ExerciseProgress` message for the
subscribers (the TUI lights the next notes on the fretboard and writes each verdict into the
note feed). At the end, :meth:`ExerciseRun.finish` judges the whole take with
``judge_exercise`` — what `analyze --exercise` runs — and puts those verdicts into the
session's summary fields, so they are journaled and stored with the session (see
``store.exercise_verdicts``).
"""

from __future__ import annotations

from typing import Any

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.practice.messages import ExerciseProgress
from fretcoach_cli.scoring.exercise import ExerciseResult, judge_exercise
from fretcoach_cli.scoring.exercise_live import ExerciseTracker

NEXT_NOTES = 2  # how many upcoming notes the fretboard highlights
SUMMARY_KEY = "exercise_verdicts"  # the summary field that carries the verdict rows


class ExerciseRun:
    """Live verdicts during the session, ``judge_exercise`` verdicts at its end."""

    def __init__(self, exercise: Any, *, bpm: float, tolerance_ms: float) -> None:
        self.exercise = exercise
        self.bpm = bpm
        self.tolerance_ms = tolerance_ms
        self.tracker = ExerciseTracker(exercise, bpm=bpm, tolerance_ms=tolerance_ms)
        self.result: ExerciseResult | None = None

    def progress(self) -> ExerciseProgress:
        """The state before any note: nothing decided, the first notes next."""
        return ExerciseProgress((), self.tracker.next_indices(NEXT_NOTES), self.exercise)

    def on_note(self, event: NoteEvent) -> ExerciseProgress:
        update = self.tracker.add(event, NEXT_NOTES)
        return ExerciseProgress(update.decided, update.next_indices, self.exercise,
                                onset_s=event.onset_s)

    def flush(self) -> ExerciseProgress:
        update = self.tracker.flush(NEXT_NOTES)
        return ExerciseProgress(update.decided, update.next_indices, self.exercise)

    def finish(self, events: list[NoteEvent], fields: dict[str, Any]) -> ExerciseResult:
        """The final verdicts over the whole take, also put into the summary ``fields``."""
        self.result = judge_exercise(self.exercise, events, bpm=self.bpm,
                                     tolerance_ms=self.tolerance_ms)
        fields.update(stored_fields(self.result))
        return self.result


def stored_fields(result: ExerciseResult) -> dict[str, Any]:
    """What a judged take adds to the session's summary: its verdict rows, and its tempo as
    the session's best clean tempo when every note was hit (so `stats`, `history` and
    `recommend` follow an exercise's clean tempo over time as they follow the ramp's)."""
    fields: dict[str, Any] = {SUMMARY_KEY: [v.to_dict() for v in result.verdicts]}
    if result.clean:
        fields["max_clean_bpm"] = result.bpm
    return fields
