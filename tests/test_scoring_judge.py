"""Per-note verdicts: scale membership, tuning tolerance, grid offsets."""

from __future__ import annotations

import itertools

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.judge import (
    Grid,
    describe_cents,
    estimate_origin,
    judge_note,
    judge_notes,
    tolerance_cents,
)

AMP = parse_scale("A minor pentatonic")


def note(t: float, midi: float | None, kind: str = "note") -> NoteEvent:
    return NoteEvent(t, t + 0.3, midi, 0.9 if midi is not None else 0.1, kind)  # type: ignore[arg-type]


def test_tolerance_ends_and_middle() -> None:
    assert tolerance_cents(0.0) == 35.0
    assert tolerance_cents(1.0) == 10.0
    assert tolerance_cents(0.5) == 22.5


def test_tolerance_tightens_with_strictness() -> None:
    values = [tolerance_cents(i / 20) for i in range(21)]
    assert all(a > b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize("s", [-0.01, 1.01, "x", None])
def test_strictness_out_of_range(s: object) -> None:
    with pytest.raises(UsageError, match="strictness"):
        tolerance_cents(s)  # type: ignore[arg-type]


def test_in_scale_in_tune_note() -> None:
    v = judge_note(note(1.0, 57.2), AMP, tolerance=22.5)
    assert v.judged and v.in_scale and v.in_tune and v.correct
    assert v.degree == 1 and v.degree_label == "1" and v.name == "A3"
    assert v.cents == pytest.approx(20.0)
    assert v.grid_offset_ms is None


def test_same_note_fails_when_strict() -> None:
    v = judge_note(note(1.0, 57.2), AMP, tolerance=tolerance_cents(1.0))
    assert v.in_scale and not v.in_tune and not v.correct


def test_tolerance_boundary_is_inclusive() -> None:
    assert judge_note(note(0, 60.35), AMP, tolerance=35.0).in_tune
    assert not judge_note(note(0, 60.36), AMP, tolerance=35.0).in_tune
    assert judge_note(note(0, 59.65), AMP, tolerance=35.0).in_tune  # 35 cents flat of C


def test_out_of_scale_note() -> None:
    v = judge_note(note(0, 66.0), AMP, tolerance=22.5)
    assert v.judged and v.in_scale is False and v.degree is None and v.name == "F#4"
    assert not v.correct


@pytest.mark.parametrize("kind", ["unclear", "polyphonic"])
def test_unpitched_onsets_are_not_wrong_notes(kind: str) -> None:
    v = judge_note(note(0.26, None, kind), AMP, tolerance=22.5, grid=Grid(120, 2, 0.0))
    assert not v.judged
    assert v.in_scale is None and v.in_tune is None and v.degree is None
    assert v.grid_offset_ms == pytest.approx(10.0)


def test_grid_offsets_at_120_bpm_eighths() -> None:
    grid = Grid(120.0, 2, 0.0)
    assert grid.period_s == 0.25
    assert grid.offset_s(0.26) == pytest.approx(0.01)
    assert grid.offset_s(0.49) == pytest.approx(-0.01)
    assert grid.offset_s(1.0) == pytest.approx(0.0)
    assert Grid(120.0, 4, 0.0).period_s == 0.125
    assert Grid(90.0, 3, 0.0).period_s == pytest.approx(60 / 90 / 3)


def test_grid_validation() -> None:
    with pytest.raises(UsageError, match="bpm"):
        Grid(10.0)
    with pytest.raises(UsageError, match="subdivision"):
        Grid(120.0, 5)


def test_estimated_origin_absorbs_constant_latency() -> None:
    onsets = [0.03 + 0.5 * k for k in range(8)]
    assert estimate_origin(onsets, 120.0, 2) == pytest.approx(0.03)
    verdicts = judge_notes([note(t, 57.0) for t in onsets], AMP, bpm=120.0)
    assert all(abs(v.grid_offset_ms or 0.0) < 1e-6 for v in verdicts)


def test_explicit_origin_is_used() -> None:
    verdicts = judge_notes([note(0.03, 57.0)], AMP, bpm=120.0, grid_origin_s=0.0)
    assert verdicts[0].grid_offset_ms == pytest.approx(30.0)


def test_describe_cents() -> None:
    assert describe_cents(-20.2) == "20 cents flat"
    assert describe_cents(12.0) == "12 cents sharp"
    assert describe_cents(0.2) == "in tune"
