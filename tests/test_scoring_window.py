"""The live sliding window equals the batch computation over the same notes."""

from __future__ import annotations

import random

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.metrics import SlidingWindow, compute_metrics

AMP = parse_scale("A minor pentatonic")


def session(n: int = 60, seed: int = 7) -> list[NoteEvent]:
    rng = random.Random(seed)
    t = 0.0
    out = []
    for _ in range(n):
        t += rng.choice([0.25, 0.25, 0.5, 0.26, 0.24, 3.0])
        kind = rng.choices(["note", "unclear", "polyphonic"], [8, 1, 1])[0]
        midi = None if kind != "note" else rng.choice([57, 60, 62, 64, 67, 66]) + rng.uniform(
            -0.4, 0.4)
        out.append(NoteEvent(t, t + 0.2, midi, 0.9, kind))  # type: ignore[arg-type]
    return out


def test_unbounded_window_is_the_session() -> None:
    notes = session()
    win = SlidingWindow(AMP, strictness=0.7)
    for e in notes:
        last = win.add(e)
    assert last == compute_metrics(notes, AMP, strictness=0.7)
    assert len(win) == len(notes)


@pytest.mark.parametrize("bpm", [None, 120.0])
def test_time_window_matches_batch_after_every_note(bpm: float | None) -> None:
    notes = session()
    win = SlidingWindow(AMP, seconds=4.0, bpm=bpm)
    for i, e in enumerate(notes):
        got = win.add(e)
        inside = [n for n in notes[: i + 1] if n.onset_s >= e.onset_s - 4.0]
        assert got == compute_metrics(inside, AMP, bpm=bpm), i
        assert win.notes == tuple(inside)


def test_note_count_window_matches_batch() -> None:
    notes = session()
    win = SlidingWindow(AMP, max_notes=8, enabled=["pitch_accuracy", "clean_playing"])
    for i, e in enumerate(notes):
        got = win.add(e)
        expected = compute_metrics(notes[max(0, i - 7): i + 1], AMP,
                                   enabled=["pitch_accuracy", "clean_playing"])
        assert got == expected


def test_extend_equals_repeated_add() -> None:
    notes = session(30)
    a = SlidingWindow(AMP, seconds=5.0)
    b = SlidingWindow(AMP, seconds=5.0)
    for e in notes:
        a.add(e)
    assert b.extend(notes) == a.metrics()


def test_silence_ages_notes_out() -> None:
    notes = session(20)
    win = SlidingWindow(AMP, seconds=3.0)
    win.extend(notes)
    assert win.metrics().total_onsets > 0
    empty = win.advance(notes[-1].onset_s + 10.0)
    assert empty.total_onsets == 0 and empty.overall_score is None
    # Advancing backwards never resurrects anything.
    assert win.advance(0.0).total_onsets == 0


def test_bad_windows() -> None:
    with pytest.raises(UsageError):
        SlidingWindow(AMP, seconds=0)
    with pytest.raises(UsageError):
        SlidingWindow(AMP, max_notes=0)
    with pytest.raises(UsageError):
        SlidingWindow(AMP, strictness=2)
