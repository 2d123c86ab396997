"""The committed example recordings, their ground truth, and the renderer behind both.

The truth files are the yardstick of the accuracy benchmark and of engine tests, so they are
checked against the audio itself (pitch measured by an independent long-window estimator,
onsets by the envelope) and against a fresh regeneration.
"""

from __future__ import annotations

import json
import math
import statistics
import sys

import numpy as np
import pytest

from audio_fixtures import (
    CLEAN,
    EXAMPLES,
    NYLON,
    STEEL,
    NoteSpec,
    augment,
    example_path,
    example_truth,
    f0ref,
    load,
    render,
    render_clip,
    require_fluidsynth,
    sustained,
)

NAMES = [
    "a_minor_pentatonic_clean",
    "e_major_steel_100bpm",
    "low_e_a_sustained",
    "g_major_overdrive",
    "chord_strum",
    "a_minor_pentatonic_noisy",
]


@pytest.mark.parametrize("name", NAMES)
def test_example_decodes_and_matches_its_truth_length(name: str) -> None:
    audio, sr = load(example_path(name))
    truth = example_truth(name)
    assert sr == 44100 == truth["sample_rate"]
    assert abs(len(audio) / sr - truth["duration_s"]) < 1e-3
    peak = float(np.max(np.abs(audio)))
    assert 0.2 < peak <= 1.0
    assert truth["notes"], "an example without notes"
    assert truth["notes"][-1]["offset_s"] <= truth["duration_s"]


@pytest.mark.parametrize("name", NAMES)
def test_truth_is_self_consistent(name: str) -> None:
    truth = example_truth(name)
    notes = truth["notes"]
    onsets = [n["onset_s"] for n in notes]
    assert onsets == sorted(onsets)
    for n in notes:
        assert n["offset_s"] > n["onset_s"] >= 0
        assert n["midi"] == pytest.approx(n["key"] + n["cents"] / 100, abs=1e-6)
        assert abs(n["cents"] - n["cents_requested"]) <= 0.5 + 1e-9
        assert n["hz"] == pytest.approx(440 * 2 ** ((n["midi"] - 69) / 12), rel=1e-6)
    pcs = render.scale_pcs(truth["key"], truth["scale"])
    flags = [n["in_scale"] for n in notes]
    assert flags == [n["key"] % 12 in pcs for n in notes]
    fig = truth["figures"]
    assert fig["note_count"] == len(notes)
    assert fig["in_scale_ratio"] == pytest.approx(sum(flags) / len(flags), abs=1e-6)
    events = onsets
    if truth["polyphonic"]:
        events = sorted(min(onsets[i] for i in chord) for chord in truth["chords"])
    if len(events) > 2:
        iois = np.diff(events)
        assert fig["ioi_cv"] == pytest.approx(np.std(iois) / np.mean(iois), abs=1e-5)


def test_scale_membership_is_right_for_known_scales() -> None:
    assert render.scale_pcs("A", "minor pentatonic") == {9, 0, 2, 4, 7}
    assert render.scale_pcs("E", "major") == {4, 6, 8, 9, 11, 1, 3}
    assert render.scale_pcs("Bb", "blues") == {10, 1, 3, 4, 5, 8}
    assert render.scale_midis("G", "major", 55, 60) == [55, 57, 59, 60]


def test_demo_example_is_a_musical_practice_phrase() -> None:
    truth = example_truth("a_minor_pentatonic_clean")
    notes = truth["notes"]
    assert 30.0 <= truth["duration_s"] <= 45.0
    assert (truth["key"], truth["scale"]) == ("A", "minor pentatonic")
    wrong = [n for n in notes if not n["in_scale"]]
    assert {n["key"] for n in wrong} == {53, 59}  # F3 and B3
    detuned = [n for n in notes if abs(n["cents_requested"]) >= 20]
    assert len(detuned) == 1 and detuned[0]["cents"] == pytest.approx(30, abs=0.5)
    # a person, not a sequencer: the eighth notes of the opening run are not all equal
    eighth = 60 / 90 / 2
    iois = np.diff([n["onset_s"] for n in notes[:23]])
    assert np.allclose(iois, eighth, atol=0.03)
    assert np.std(iois) > 0.003


def test_examples_stay_small() -> None:
    total = sum(p.stat().st_size for p in EXAMPLES.glob("*.flac"))
    assert total < 3.3e6, f"examples/ FLACs total {total / 1e6:.2f} MB"


def test_chord_example_groups_simultaneous_strings() -> None:
    truth = example_truth("chord_strum")
    assert truth["polyphonic"]
    notes = truth["notes"]
    grouped = {i for chord in truth["chords"] for i in chord}
    for chord in truth["chords"]:
        starts = [notes[i]["onset_s"] for i in chord]
        assert len(chord) >= 4 and max(starts) - min(starts) < 0.1
    assert [i for i in range(len(notes)) if i not in grouped] == [len(notes) - 1]


def test_committed_examples_equal_a_fresh_regeneration(tmp_path) -> None:
    require_fluidsynth()
    sys.path.insert(0, str(EXAMPLES))
    import generate  # examples/generate.py

    for name in NAMES:
        fresh = generate.EXAMPLES[name](tmp_path / f"{name}.flac")
        committed = example_truth(name)
        assert fresh == json.loads(json.dumps(committed)), f"{name}: truth differs"
        a, _ = load(tmp_path / f"{name}.flac")
        b, _ = load(example_path(name))
        assert len(a) == len(b)
        assert float(np.max(np.abs(a - b))) < 2e-3, f"{name}: audio differs"


@pytest.mark.parametrize(
    ("midi", "cents", "program"),
    [(40, 0.0, CLEAN), (45, -37.0, NYLON), (57, 23.0, STEEL), (64, 8.0, CLEAN), (76, -12.0, NYLON)],
)
def test_rendered_note_sounds_at_its_truth_pitch_and_time(midi, cents, program) -> None:
    path, truth = sustained(midi, seconds=1.6, cents=cents, program=program)
    audio, sr = load(path)
    (note,) = truth["notes"]
    seg = audio[int((note["onset_s"] + 0.3) * sr) : int((note["offset_s"] - 0.05) * sr)]
    measured = f0ref.yin_hz(seg, sr, note["hz"])
    assert f0ref.cents_between(measured, note["hz"]) == pytest.approx(0.0, abs=1.5)
    onset = f0ref.audible_onset_s(audio, sr, note["onset_s"] - 0.04)
    assert onset == pytest.approx(note["onset_s"], abs=0.003)
    # before the onset: at most the sample's soft lead-in (some attacks swell for ~25 ms)
    before = audio[: int((note["onset_s"] - 0.015) * sr)]
    assert float(np.max(np.abs(before))) < 0.05 * float(np.max(np.abs(audio)))


def test_uncalibrated_render_is_measurably_off_so_calibration_matters() -> None:
    """The steel string's worst key plays > 2 cents sharp and late, uncorrected."""
    cal = render.default_calibration()
    assert cal is not None
    key = max(range(40, 89), key=lambda k: abs(cal.offset_cents(STEEL, k)))
    assert abs(cal.offset_cents(STEEL, key)) > 2.0
    assert cal.latency_s(STEEL, key) > 0.004
    note = NoteSpec(0.3, 1.5, key, program=STEEL)
    raw = render.render_notes([note], calibrated=False, peak_dbfs=None)
    seg = raw[int(0.6 * 44100) : int(1.7 * 44100)]
    nominal = render.midi_to_hz(key)
    off = f0ref.cents_between(f0ref.yin_hz(seg, 44100, nominal), nominal)
    assert off == pytest.approx(cal.offset_cents(STEEL, key), abs=0.5)
    late = f0ref.audible_onset_s(raw, 44100, 0.25) - 0.3
    assert late == pytest.approx(cal.latency_s(STEEL, key), abs=0.002)


def test_noise_augmentation_hits_the_requested_snr() -> None:
    path, _ = sustained(57, seconds=1.0)
    clean, _ = load(path)
    for snr in (20.0, 10.0):
        noisy = augment.add_noise(clean.astype(np.float64), snr, kind="pink", seed=3)
        assert augment.measured_snr_db(clean, noisy) == pytest.approx(snr, abs=0.05)


def test_reverb_adds_a_tail_but_never_moves_an_onset() -> None:
    path, truth = sustained(57, seconds=0.5, lead_s=0.5)
    dry, sr = load(path)
    wet = augment.reverb(dry, rt60_s=0.8, wet=0.4, seed=1)
    onset = truth["notes"][0]["onset_s"]
    assert float(np.max(np.abs(wet[: int((onset - 0.015) * sr)]))) < 1e-6
    after = slice(int((truth["notes"][0]["offset_s"] + 0.3) * sr), int((onset + 1.2) * sr))
    assert np.sqrt(np.mean(wet[after] ** 2)) > 3 * np.sqrt(np.mean(dry[after] ** 2))


def test_augmented_clips_are_cached_and_keep_their_truth() -> None:
    notes = [NoteSpec(0.3, 0.4, 45), NoteSpec(0.8, 0.4, 48)]
    p1, t1 = render_clip(notes, augment=[("noise", 10, "white", 5)], key="A", scale="minor")
    p2, t2 = render_clip(notes, augment=[("noise", 10, "white", 5)], key="A", scale="minor")
    p3, _ = render_clip(notes, augment=[("noise", 20, "white", 5)], key="A", scale="minor")
    assert p1 == p2 and t1 == t2 and p1 != p3
    assert t1["augment"] == ["noise 10 white 5"]
    assert [n["in_scale"] for n in t1["notes"]] == [True, True]


def test_midi_writer_encodes_variable_length_quantities() -> None:
    assert render._vlq(0) == b"\x00"
    assert render._vlq(0x40) == b"\x40"
    assert render._vlq(0x80) == b"\x81\x00"
    assert render._vlq(0x3FFF) == b"\xff\x7f"
    assert render._vlq(0x200000) == b"\x81\x80\x80\x00"
    smf = render.midi_file_bytes([NoteSpec(0.5, 0.25, 60)])
    assert smf[:4] == b"MThd" and smf[14:18] == b"MTrk"
    assert smf.endswith(b"\xff\x2f\x00")


def test_ioi_cv_matches_its_definition() -> None:
    assert render.ioi_cv([0.0, 0.5, 1.0, 1.5]) == 0.0
    cv = render.ioi_cv([0.0, 0.4, 1.0, 1.5])
    iois = [0.4, 0.6, 0.5]
    assert cv == pytest.approx(statistics.pstdev(iois) / statistics.fmean(iois))
    assert render.ioi_cv([0.0, 1.0]) is None
    assert math.isclose(render.midi_to_hz(69), 440.0)
