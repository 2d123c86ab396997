"""The accuracy benchmark's matching and metrics, on synthetic event lists with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from audio_fixtures import bench_module
from fretcoach_cli.events import NoteEvent

metrics = bench_module("metrics")


def _truth(notes: list[tuple[float, float, float]], key="A", scale="minor pentatonic") -> dict:
    render = bench_module("render")
    pcs = render.scale_pcs(key, scale)
    items = [
        {"onset_s": on, "offset_s": off, "midi": m, "in_scale": round(m) % 12 in pcs}
        for on, off, m in notes
    ]
    return {
        "notes": items,
        "key": key,
        "scale": scale,
        "duration_s": 10.0,
        "figures": {
            "in_scale_ratio": sum(i["in_scale"] for i in items) / len(items),
            "ioi_cv": metrics.ioi_cv([i["onset_s"] for i in items]),
        },
    }


def test_matching_is_one_to_one_and_respects_the_tolerance() -> None:
    ref = [1.0, 1.5, 2.0]
    est = [1.01, 1.02, 1.49, 2.2]
    pairs = metrics.match(ref, est)
    assert pairs == [(0, 0), (1, 2)]  # 1.02 cannot take 1.0 twice; 2.2 is 200 ms late
    assert metrics.match(ref, []) == [] and metrics.match([], est) == []


def test_matching_maximises_the_count_not_the_greedy_choice() -> None:
    # Greedy nearest-first would pair 0.52↔0.50 and leave 0.47 with nothing; the optimum
    # pairs 0.47↔0.50 (ref 0) and 0.52↔0.55 (ref 1).
    pairs = metrics.match([0.50, 0.55], [0.47, 0.52], onset_tol=0.03)
    assert pairs == [(0, 0), (1, 1)]


def test_pitch_matching_needs_both_time_and_pitch() -> None:
    pairs = metrics.match([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ref_midi=[57, 60, 64],
                          est_midi=[57.3, 60.6, None], pitch_tol_cents=50)  # fmt: skip
    assert pairs == [(0, 0)]
    with pytest.raises(ValueError):
        metrics.match([1.0], [1.0], pitch_tol_cents=50)


def test_prf_edge_cases() -> None:
    assert metrics.prf(0, 0, 0) == (1.0, 1.0, 1.0)
    assert metrics.prf(0, 3, 0) == (0.0, 0.0, 0.0)
    p, r, f = metrics.prf(3, 4, 6)
    assert (p, r) == (0.5, 0.75) and f == pytest.approx(0.6)


def test_perfect_detection_scores_perfectly() -> None:
    truth = _truth([(0.5, 0.9, 57.0), (1.0, 1.4, 60.1), (1.5, 1.9, 62.0), (2.1, 2.5, 64.0)])
    events = [NoteEvent(n["onset_s"] + 0.02, n["offset_s"], n["midi"], 0.9) for n in truth["notes"]]
    s = metrics.score_clip(truth, events)
    assert s.onset_f1 == s.note_f1 == 1.0
    assert s.cents_errors == pytest.approx([0, 0, 0, 0], abs=1e-9)
    assert s.onset_errors_ms == pytest.approx([20.0] * 4)
    assert s.in_scale_err == 0.0 and s.ioi_cv_err == pytest.approx(0.0, abs=1e-12)
    assert s.octave_errors == 0


def test_octave_errors_wrong_notes_and_unpitched_events() -> None:
    truth = _truth([(0.5, 0.9, 45.0), (1.0, 1.4, 48.0), (1.5, 1.9, 50.0), (2.0, 2.4, 52.0)])
    events = [
        NoteEvent(0.51, 0.9, 57.2, 0.9),  # one octave up: onset match, no note match
        NoteEvent(1.01, 1.4, 48.3, 0.9),  # 30 cents sharp: still a note match
        NoteEvent(1.52, 1.9, None, 0.2, kind="unclear"),  # an onset without a pitch
        NoteEvent(2.0, 2.4, 53.0, 0.9),  # wrong semitone, out of the scale
        NoteEvent(3.0, 3.4, 52.0, 0.9),  # a spurious extra note
    ]
    s = metrics.score_clip(truth, events)
    assert (s.onset_matches, s.note_matches, s.octave_errors) == (4, 1, 1)
    assert s.onset_f1 == pytest.approx(2 * 0.8 * 1.0 / 1.8)
    assert s.note_f1 == pytest.approx(2 * 0.2 * 0.25 / 0.45)
    assert s.cents_errors == pytest.approx([30.0])
    # detected pitched notes: 57(A) 48(C) 53(F, out) 52(E) -> 3/4; truth 4/4
    assert s.in_scale_est == pytest.approx(0.75) and s.in_scale_err == pytest.approx(0.25)


def test_frame_accuracy_counts_voiced_frames_and_octaves() -> None:
    notes = [{"onset_s": 0.0, "offset_s": 1.0, "midi": 57.0}]
    times = np.arange(0.0, 1.2, 0.01)
    f0 = np.full(len(times), 220.0)
    f0[50:60] = 440.0  # ten octave-error frames
    f0[60:65] = 0.0  # five unvoiced frames
    f0[65:70] = 220.0 * 2 ** (60 / 1200)  # five frames 60 cents sharp
    voiced, raw, chroma = metrics.frame_accuracy(notes, times, f0)
    expected_voiced = int(np.sum((times >= 0.03) & (times <= 0.98)))
    assert voiced == expected_voiced
    assert raw == voiced - 20 and chroma == voiced - 10


def test_frames_where_two_true_notes_overlap_are_left_out() -> None:
    notes = [{"onset_s": 0.0, "offset_s": 1.0, "midi": 57.0},
             {"onset_s": 0.5, "offset_s": 1.5, "midi": 60.0}]  # fmt: skip
    ref = metrics.truth_voiced_midi(notes, np.array([0.2, 0.7, 1.2]))
    assert ref[0] == 57.0 and np.isnan(ref[1]) and ref[2] == 60.0


def test_aggregate_micro_averages_counts() -> None:
    a = metrics.ClipScore("a", "clean", n_ref=10, n_est=10, onset_matches=10, note_matches=9,
                          voiced_frames=100, rpa_frames=90, cents_errors=[2.0, 4.0])  # fmt: skip
    b = metrics.ClipScore("b", "clean", n_ref=30, n_est=10, onset_matches=10, note_matches=10,
                          voiced_frames=300, rpa_frames=150, cents_errors=[6.0])  # fmt: skip
    agg = metrics.aggregate([a, b])
    assert agg["onset_p"] == 1.0 and agg["onset_r"] == 0.5
    assert agg["note_f1"] == pytest.approx(2 * 0.95 * 0.475 / 1.425)
    assert agg["rpa"] == pytest.approx(240 / 400)
    assert agg["mean_abs_cents"] == pytest.approx(4.0)
