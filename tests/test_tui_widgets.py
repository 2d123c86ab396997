"""Widget rendering and the value translations behind them (no engine, no terminal)."""

from __future__ import annotations

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.judge import judge_note, tolerance_cents
from fretcoach_cli.tui.live_view import MarkTrail, feed_row, metric_rows, reading_from_pitch
from fretcoach_cli.tui.widgets.fretboard import FretMark
from fretcoach_cli.tui.widgets.header import format_clock, level_meter
from fretcoach_cli.tui.widgets.metrics import bar
from fretcoach_cli.tui.widgets.metronome import beat_at
from fretcoach_cli.tui.widgets.note_feed import format_row
from fretcoach_cli.tui.widgets.tuner import needle_line

AM_PENT = parse_scale("A minor pentatonic")


def _judge(midi: float, onset: float = 1.0):
    note = NoteEvent(onset, onset + 0.4, midi, 0.9)
    return judge_note(note, AM_PENT, tolerance=tolerance_cents(0.5))


def test_needle_sits_at_centre_for_zero_and_at_the_edges_for_fifty_cents():
    assert needle_line(0.0, 21, "green").plain.index("┃") == 10
    assert needle_line(-50.0, 21, "green").plain.index("┃") == 0
    assert needle_line(80.0, 21, "green").plain.index("┃") == 20  # clamped


def test_bar_length_follows_the_score():
    assert bar(100, 10).plain == "█" * 10
    assert bar(50, 10).plain.startswith("█████") and len(bar(50, 10).plain) == 10
    assert set(bar(None, 4).plain) == {"·"}


def test_clock_and_meter():
    assert format_clock(83.9) == "01:23"
    assert format_clock(3723) == "1:02:03"
    assert level_meter(0.0, False, 10).plain == "█" * 10
    assert level_meter(-60.0, False, 10).plain == "░" * 10


def test_metronome_beats_follow_the_audio_clock():
    assert [beat_at(t, 120) for t in (0.0, 0.49, 0.5, 1.0, 1.5, 2.0)] == [0, 0, 1, 2, 3, 0]


def test_wrong_note_is_marked_on_the_neck_and_in_the_feed():
    trail = MarkTrail(size=3)
    for midi in (57.0, 60.0, 61.0):  # A3, C4 (in scale), C#4 (not in A minor pentatonic)
        trail.add(_judge(midi))
    marks = trail.marks()
    assert [m.status for m in marks] == ["good", "good", "wrong"]
    assert marks[-1].age == 0 and marks[0].age == 2
    row = format_row(feed_row(_judge(61.0)))
    assert "not in scale" in row.plain and "C#4" in row.plain


def test_trail_follows_the_hand():
    trail = MarkTrail()
    trail.add(_judge(57.0))  # A3: the lowest fret is the 2nd fret of the G string
    trail.add(_judge(69.0))  # A4: the hand stays low, so the 5th fret of high e
    assert trail.marks() == (FretMark(3, 2, "good", 1), FretMark(5, 5, "good", 0))


def test_tuner_reading_while_settling():
    r = reading_from_pitch(57.2, AM_PENT, 22.5)
    assert r.name == "A3" and round(r.cents) == 20 and r.in_scale and r.in_tune
    assert not r.settled
    assert not reading_from_pitch(57.3, AM_PENT, 22.5).in_tune


def test_metric_rows_mark_the_weakest_area_and_survive_no_data():
    rows = metric_rows(None, None)
    assert [r.window for r in rows] == [None] * 5 and not any(r.weakest for r in rows)
