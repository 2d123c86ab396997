"""Session metrics against hand-computed values, edge cases and the timing curve."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.metrics import (
    METRIC_NAMES,
    WEIGHTS,
    compute_metrics,
    ioi_cv,
    normalized_iois,
    timing_score_from_cv,
    timing_score_from_grid,
)

AMP = parse_scale("A minor pentatonic")
DB_COLUMNS = ("pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing",
              "scale_coverage", "overall_score", "mean_abs_cents", "in_scale_ratio",
              "in_tune_ratio", "ioi_cv", "mean_abs_grid_dev_ms", "clean_ratio", "weakest_area",
              "total_notes_played", "correct_notes_played", "bad_notes_played")


def note(t: float, midi: float | None, kind: str = "note") -> NoteEvent:
    return NoteEvent(t, t + 0.3, midi, 0.9 if midi is not None else 0.1, kind)  # type: ignore[arg-type]


def steady(midis: list[float], step: float = 0.5, start: float = 0.0) -> list[NoteEvent]:
    return [note(start + i * step, m) for i, m in enumerate(midis)]


# A3 0¢, C4 +10¢, D4 +30¢, F#4 (out), E4 −20¢, A3 −5¢, then a chord.
HAND = [*steady([57.0, 60.1, 62.3, 66.0, 63.8, 56.95]), note(3.0, None, "polyphonic")]


def test_hand_computed_session() -> None:
    m = compute_metrics(HAND, AMP, strictness=0.5)
    assert m.tolerance_cents == 22.5
    assert m.total_onsets == 7
    assert m.total_notes_played == 6
    assert m.bad_notes_played == 1
    assert m.correct_notes_played == 4
    assert m.out_of_tune_notes == 1
    assert m.polyphonic_notes == 1 and m.unclear_notes == 0
    assert m.in_scale_ratio == pytest.approx(5 / 6)
    assert m.scale_conformity == pytest.approx(500 / 6)
    assert m.in_tune_ratio == pytest.approx(0.8)
    assert m.pitch_accuracy == pytest.approx(80.0)
    assert m.mean_abs_cents == pytest.approx((0 + 10 + 30 + 20 + 5) / 5)
    assert m.mean_cents == pytest.approx((0 + 10 + 30 - 20 - 5) / 5)
    assert m.coverage_ratio == pytest.approx(0.8)
    assert m.scale_coverage == pytest.approx(80.0)
    assert m.degrees_played == ("1", "b3", "4", "5")
    assert m.degrees_missing == ("b7",)
    assert m.clean_ratio == pytest.approx(6 / 7)
    assert m.clean_playing == pytest.approx(600 / 7)
    assert m.ioi_cv == pytest.approx(0.0, abs=1e-12)
    assert m.timing_stability == pytest.approx(100.0)
    expected = (0.3 * 80 + 0.3 * 500 / 6 + 0.2 * 100 + 0.1 * 600 / 7 + 0.1 * 80)
    assert m.overall_score == pytest.approx(expected)
    assert m.weakest_area == "pitch_accuracy"  # tie with coverage at 80: the first listed wins
    assert m.unavailable == {}
    assert m.start_s == 0.0 and m.end_s == pytest.approx(3.3)


def test_hand_computed_tables() -> None:
    m = compute_metrics(HAND, AMP)
    by_label = {d.label: d for d in m.per_degree}
    assert [d.label for d in m.per_degree] == ["1", "b3", "4", "5", "b7"]
    assert by_label["1"].count == 2 and by_label["1"].name == "A"
    assert by_label["1"].mean_cents == pytest.approx(-2.5)
    assert by_label["1"].mean_abs_cents == pytest.approx(2.5)
    assert by_label["1"].in_tune_share == 1.0
    assert by_label["4"].mean_cents == pytest.approx(30.0) and by_label["4"].in_tune_share == 0
    assert by_label["5"].mean_cents == pytest.approx(-20.0)
    assert by_label["b7"].count == 0 and by_label["b7"].mean_cents is None
    assert by_label["b7"].in_tune_share is None
    assert [(w.name, w.reason, w.onset_s) for w in m.worst_notes] == [
        ("F#4", "out of scale", 1.5), ("D4", "30 cents sharp", 1.0)]
    assert [(o.name, o.interval, o.count) for o in m.out_of_scale_notes] == [("F#", "6", 1)]


def test_no_notes_gives_no_fake_scores() -> None:
    m = compute_metrics([], AMP)
    for name in (*METRIC_NAMES, "overall_score", "weakest_area", "mean_abs_cents",
                 "in_scale_ratio", "in_tune_ratio", "ioi_cv", "clean_ratio"):
        assert getattr(m, name) is None, name
    assert m.total_notes_played == m.correct_notes_played == m.bad_notes_played == 0
    assert set(m.unavailable) == {*METRIC_NAMES, "overall_score"}
    assert m.start_s is None and m.end_s is None


def test_all_unclear() -> None:
    m = compute_metrics([note(i * 0.5, None, "unclear") for i in range(4)], AMP)
    assert m.clean_ratio == 0.0 and m.clean_playing == 0.0
    assert m.unclear_notes == 4 and m.total_onsets == 4
    assert m.total_notes_played == 0 and m.bad_notes_played == 0
    assert m.pitch_accuracy is None and m.scale_conformity is None
    assert m.timing_stability is None
    # no pitched note at all: no overall score to give (clean playing says what happened)
    assert m.overall_score is None and m.weakest_area is None


def test_single_note() -> None:
    m = compute_metrics([note(1.0, 60.0)], AMP)
    assert m.scale_conformity == 100.0 and m.pitch_accuracy == 100.0
    assert m.scale_coverage == pytest.approx(20.0)
    assert m.timing_stability is None and m.ioi_cv is None
    assert "at least 3" in m.unavailable["timing_stability"]
    # No overall score (nor a weakest area) from one note: not enough evidence yet.
    assert m.overall_score is None and m.weakest_area is None
    assert "at least 3" in m.unavailable["overall_score"]


def test_overall_comes_with_the_third_note() -> None:
    """From 3 pitched notes on, over the figures available, renormalised."""
    m = compute_metrics(steady([57.0, 60.0, 62.0]), AMP)
    present = {n: getattr(m, n) for n in METRIC_NAMES if getattr(m, n) is not None}
    assert m.overall_score is not None and "overall_score" not in m.unavailable
    assert min(present.values()) <= m.overall_score <= max(present.values())


def test_two_notes_have_no_timing() -> None:
    m = compute_metrics(steady([57.0, 60.0]), AMP)
    assert m.timing_stability is None


def test_repeated_notes() -> None:
    m = compute_metrics(steady([64.0] * 6, step=0.25), AMP)
    assert m.total_notes_played == 6 and m.correct_notes_played == 6
    assert m.scale_coverage == pytest.approx(20.0)
    assert m.degrees_played == ("5",)
    assert m.timing_stability == pytest.approx(100.0)
    assert m.per_degree[3].count == 6


def test_out_of_scale_notes_are_not_counted_for_tuning() -> None:
    m = compute_metrics(steady([61.4, 61.4, 57.0]), AMP)  # C# 40¢ sharp twice, then A
    assert m.bad_notes_played == 2
    assert m.pitch_accuracy == 100.0 and m.mean_abs_cents == 0.0
    assert m.out_of_scale_notes[0].count == 2 and m.out_of_scale_notes[0].name == "C#"


def test_uneven_timing_hand_computed() -> None:
    onsets = [0.0, 0.5, 1.1, 1.5]  # IOIs 0.5 0.6 0.4
    cv = math.sqrt((0.0**2 + 0.1**2 + 0.1**2) / 3) / 0.5
    m = compute_metrics([note(t, 57.0) for t in onsets], AMP, strictness=0.5)
    assert m.ioi_cv == pytest.approx(cv)
    assert m.timing_stability == pytest.approx(100 / (1 + (cv / 0.15) ** 2))


def test_long_pause_is_a_phrase_break_not_bad_timing() -> None:
    onsets = [0.0, 0.5, 1.0, 1.5, 6.5, 7.0, 7.5]
    m = compute_metrics([note(t, 57.0) for t in onsets], AMP)
    assert m.timing_breaks == 1
    assert m.ioi_cv == pytest.approx(0.0, abs=1e-12)
    assert m.timing_stability == pytest.approx(100.0)


def test_three_notes_around_a_pause_have_no_timing() -> None:
    m = compute_metrics([note(t, 57.0) for t in (0.0, 0.5, 10.0)], AMP)
    assert m.timing_stability is None and m.timing_breaks == 1
    assert "phrase breaks" in m.unavailable["timing_stability"]


def test_eighths_and_quarters_mixed_are_steady() -> None:
    onsets = [0.0, 0.25, 0.5, 0.75, 1.25, 1.75, 2.25, 2.5, 2.75]
    kept, breaks = normalized_iois(onsets)
    assert breaks == 0 and kept == pytest.approx([0.25] * 8)
    m = compute_metrics([note(t, 57.0) for t in onsets], AMP)
    assert m.timing_stability == pytest.approx(100.0)


def test_missed_note_does_not_ruin_timing() -> None:
    onsets = [0.0, 0.5, 1.0, 2.0, 2.5, 3.0]  # one beat skipped
    cv, _ = ioi_cv(onsets)
    assert cv == pytest.approx(0.0, abs=1e-12)


def test_random_timing_scores_low() -> None:
    onsets = [0.0, 0.31, 0.5, 1.02, 1.2, 1.77, 1.9, 2.5]
    m = compute_metrics([note(t, 57.0) for t in onsets], AMP)
    assert m.ioi_cv is not None and m.ioi_cv > 0.3
    assert m.timing_stability is not None and m.timing_stability < 25


def test_timing_curves_are_monotone() -> None:
    for s in (0.0, 0.5, 1.0):
        cvs = [timing_score_from_cv(i / 100, s) for i in range(0, 101)]
        assert cvs[0] == 100.0
        assert all(a > b for a, b in itertools.pairwise(cvs))
        devs = [timing_score_from_grid(float(ms), s) for ms in range(0, 200)]
        assert devs[0] == 100.0
        assert all(a > b for a, b in itertools.pairwise(devs))
    # Strictness makes the same unsteadiness score lower.
    assert timing_score_from_cv(0.1, 1.0) < timing_score_from_cv(0.1, 0.5) < \
        timing_score_from_cv(0.1, 0.0)
    assert timing_score_from_grid(25, 1.0) < timing_score_from_grid(25, 0.0)
    assert timing_score_from_cv(0.15, 0.5) == pytest.approx(50.0)
    assert timing_score_from_grid(30.0, 0.5) == pytest.approx(50.0)


def test_grid_timing_hand_computed() -> None:
    onsets = [0.0, 0.26, 0.49, 0.75]
    m = compute_metrics([note(t, 57.0) for t in onsets], AMP, bpm=120, grid_origin_s=0.0)
    assert m.mean_abs_grid_dev_ms == pytest.approx(5.0)
    assert m.timing_stability == pytest.approx(100 / (1 + (5 / 30) ** 2))
    assert m.ioi_cv is not None  # the raw CV is stored too


def test_quarters_on_an_eighth_grid_are_not_penalised() -> None:
    onsets = [0.02 + 0.5 * k for k in range(8)]  # quarters at 120 bpm, 20 ms latency
    m = compute_metrics([note(t, 57.0) for t in onsets], AMP, bpm=120)
    assert m.mean_abs_grid_dev_ms == pytest.approx(0.0, abs=1e-6)
    assert m.timing_stability == pytest.approx(100.0)
    late = compute_metrics([note(t, 57.0) for t in onsets], AMP, bpm=120, grid_origin_s=0.0)
    assert late.mean_abs_grid_dev_ms == pytest.approx(20.0)


def test_strictness_tightens_pitch_accuracy() -> None:
    notes = steady([57.0, 57.12, 57.2, 57.3, 60.05, 62.15])  # 0 12 20 30 5 15 cents
    acc = [compute_metrics(notes, AMP, strictness=s / 4).pitch_accuracy for s in range(5)]
    # tolerances 35, 28.75, 22.5, 16.25, 10 → in tune 6, 5, 5, 4, 2 of 6
    assert acc == pytest.approx([100.0, 500 / 6, 500 / 6, 400 / 6, 200 / 6])


def test_enabled_metrics_shape_overall_and_weakest() -> None:
    m = compute_metrics(HAND, AMP, enabled=["scale_conformity", "timing_stability"])
    assert m.overall_score == pytest.approx((0.3 * 500 / 6 + 0.2 * 100) / 0.5)
    assert m.weakest_area == "scale_conformity"
    assert m.pitch_accuracy == pytest.approx(80.0)  # still computed and stored
    only = compute_metrics(HAND, AMP, enabled=["timing_stability"])
    assert only.overall_score == pytest.approx(100.0)
    with pytest.raises(UsageError, match="unknown metric"):
        compute_metrics(HAND, AMP, enabled=["speed"])
    with pytest.raises(UsageError):
        compute_metrics(HAND, AMP, enabled=[])


def test_weights_sum_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert set(WEIGHTS) == set(METRIC_NAMES)


def test_order_of_input_does_not_matter() -> None:
    assert compute_metrics(list(reversed(HAND)), AMP) == compute_metrics(HAND, AMP)


def test_to_dict_is_json_safe_and_uses_db_names() -> None:
    d = compute_metrics(HAND, AMP, bpm=100).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert set(DB_COLUMNS) <= set(d)
    assert json.loads(text)["worst_notes"][0]["name"] == "F#4"
    assert isinstance(d["per_degree"], list)
    empty = json.dumps(compute_metrics([], AMP).to_dict(), allow_nan=False)
    assert '"overall_score": null' in empty
