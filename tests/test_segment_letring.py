"""Let-ring arpeggios: a new note plucked while a louder string rings on.

Rendered with the physical string model (``bench/string_model.py``: exact truth). A G2 on
the low E string is plucked hard and left ringing; softer notes on the next strings follow,
each left ringing too. The pitch model keeps hearing the loud G2 through the next notes, so
before the fix the A#2 came back as a chord (its new sound was nothing like G2's series),
and the ringing strings heard again as a later note decays started notes of their own.
"""

from __future__ import annotations

import json

import pytest

from audio_fixtures import bench_module
from fretcoach_cli.audio.engine import analyze_file


@pytest.fixture(scope="module")
def letring_clip(tmp_path_factory):
    sm = bench_module("string_model")
    plucks = (sm.Pluck(0.5, 0, 3, velocity=0.9),   # G2, loud, left ringing
              sm.Pluck(0.9, 1, 1, velocity=0.6),   # A#2 under it
              sm.Pluck(1.3, 2, 0, velocity=0.6),   # D3
              sm.Pluck(1.7, 3, 0, velocity=0.6),   # G3
              sm.Pluck(2.1, 4, 3, velocity=0.6))   # D4, rings to the end
    scene = sm.Scene(plucks, total_s=3.4, seed=77, sympathy_db=-28.0, hiss_db=-70.0)
    path = tmp_path_factory.mktemp("letring") / "letring.flac"
    sm.write(path, scene)
    truth = json.loads(sm.truth_file(path).read_text())["notes"]
    return path, truth


def test_each_let_ring_note_is_one_note_with_its_own_pitch(letring_clip):
    path, truth = letring_clip
    notes = analyze_file(path).notes
    assert [n.kind for n in notes] == ["note"] * len(truth), notes
    for got, want in zip(notes, truth, strict=True):
        assert abs(got.onset_s - want["onset_s"]) <= 0.05, (got, want)
        assert abs(got.midi - want["midi"]) * 100 <= 10, (got, want)
        # a let-ring note hands over at the next pick (the truth's monophonic end)
        duration = want["offset_s"] - want["onset_s"]
        assert abs(got.offset_s - want["offset_s"]) <= max(0.2 * duration, 0.05), (got, want)
