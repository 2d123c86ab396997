"""The offline coach: grounded in the actual notes and figures, and deterministic."""

from __future__ import annotations

import itertools

from fretcoach_cli.coach import offline
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.notes import parse_note
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.metrics import compute_metrics

A_MIN_PENT = parse_scale("A minor pentatonic")


def _notes(names: list[str], cents: dict[str, float] | None = None, gap: float = 0.5,
           jitter: float = 0.0) -> list[NoteEvent]:
    cents = cents or {}
    out, t = [], 0.0
    for i, name in enumerate(names):
        midi = parse_note(name) + cents.get(name, 0.0) / 100.0
        out.append(NoteEvent(t, t + 0.4, midi, 0.9))
        t += gap + (jitter if i % 2 else -jitter)
    return out


def test_pitch_tip_names_the_note_its_cents_and_where_it_was_played():
    notes = _notes(["A3", "C4", "D4", "E4", "G3", "A3", "G3", "E4"], {"G3": -30.0})
    metrics = compute_metrics(notes, A_MIN_PENT, enabled=["pitch_accuracy"])
    text, metric = offline.live_tip(metrics, notes, A_MIN_PENT)
    assert metric == "pitch_accuracy"
    assert text.startswith("Your G3 is 30 cents flat over 2 notes (open 3rd string (G))")
    assert any(tip in text for tip in offline.TIPS["flat"])


def test_sharp_notes_get_a_sharp_technique():
    notes = _notes(["A3", "C4", "D4", "E4"], {"D4": 40.0})
    metrics = compute_metrics(notes, A_MIN_PENT, enabled=["pitch_accuracy"])
    text, _ = offline.live_tip(metrics, notes, A_MIN_PENT)
    assert "D4 is 40 cents sharp" in text
    assert any(tip in text for tip in offline.TIPS["sharp"])


def test_wrong_notes_are_named_with_their_interval_and_the_nearest_scale_notes():
    notes = _notes(["A3", "C4", "D4", "F4", "E4", "F4", "G4"])
    metrics = compute_metrics(notes, A_MIN_PENT, enabled=["scale_conformity"])
    text, metric = offline.live_tip(metrics, notes, A_MIN_PENT)
    assert metric == "scale_conformity"
    assert "You played F4 (b6) 2 times" in text
    assert "not in A minor pentatonic" in text and "nearest scale notes are E and G" in text


def test_uneven_timing_suggests_a_concrete_click_tempo():
    notes = _notes(["A3", "C4", "D4", "E4", "G4", "A4", "G4", "E4"], gap=0.5, jitter=0.15)
    metrics = compute_metrics(notes, A_MIN_PENT, enabled=["timing_stability"])
    text, metric = offline.live_tip(metrics, notes, A_MIN_PENT)
    assert metric == "timing_stability"
    assert f"varies by {100 * metrics.ioi_cv:.0f}%" in text


def test_missing_degrees_are_listed_by_name():
    notes = _notes(["A3", "C4", "A3", "C4"])
    metrics = compute_metrics(notes, A_MIN_PENT, enabled=["scale_coverage"])
    text, _ = offline.live_tip(metrics, notes, A_MIN_PENT)
    assert "You have not played D (4), E (5), G (b7) of A minor pentatonic yet" in text


def test_too_few_notes_says_so_instead_of_inventing_advice():
    metrics = compute_metrics([], A_MIN_PENT)
    assert offline.live_tip(metrics, [], A_MIN_PENT) == (offline.NOT_ENOUGH, None)


def test_offline_coach_is_deterministic():
    notes = _notes(["A3", "C4", "D4", "F4", "E4", "G3", "A3"], {"G3": -25.0}, jitter=0.1)
    metrics = compute_metrics(notes, A_MIN_PENT)
    first = [offline.live_tip(metrics, notes, A_MIN_PENT),
             offline.session_summary(metrics, notes, A_MIN_PENT, 125.0)]
    again_metrics = compute_metrics(list(notes), parse_scale("a min pent"))
    second = [offline.live_tip(again_metrics, list(notes), A_MIN_PENT),
              offline.session_summary(again_metrics, list(notes), A_MIN_PENT, 125.0)]
    assert first == second


def test_summary_has_the_scores_and_one_thing_to_work_on():
    notes = _notes(["A3", "C4", "D4", "E4", "G4", "A4", "G4", "E4", "F4"])
    metrics = compute_metrics(notes, A_MIN_PENT)
    text, metric = offline.session_summary(metrics, notes, A_MIN_PENT, 95.0)
    assert text.startswith("You played 9 notes of A minor pentatonic over 1:35 for an overall "
                           f"{metrics.overall_score:.0f}/100.")
    assert text.count("Work on:") == 1
    assert metric == metrics.weakest_area


def test_live_tips_do_not_repeat_themselves_word_for_word():
    """Issue 16: over a steady session the offline coach said the same sentence again and
    again; each live tip now differs from the one before it (other wording, or the next
    weakest area), while staying grounded in the same metrics."""
    from fretcoach_cli.coach.live import LiveCoach, LiveContext
    from fretcoach_cli.events import NoteEvent
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.scoring.metrics import compute_metrics

    scale = parse_scale("A minor pentatonic")
    notes = [NoteEvent(i * 0.37 + (0.06 if i % 3 else 0.0), i * 0.37 + 0.3,
                       57.0 + [0, 3, 5, 7, 10][i % 5] + 0.05, 0.9) for i in range(20)]
    metrics = compute_metrics(notes, scale)
    coach = LiveCoach()  # offline
    said = []
    for _ in range(6):
        stream = coach.stream(LiveContext(metrics=metrics, notes=notes, scale=scale))
        assert stream is not None
        said.append("".join(stream))
    assert all(a != b for a, b in itertools.pairwise(said)), said
    assert coach.tips_given == 6
