"""Note ends in a reverberant room, and the upper-band level the onset detector keeps for them.

Under a 25-50 % wet room a damped note's broadband level falls only a few dB, at the room's
rate, so every note used to end at the next pick (soundfont reverb offset F1 0.55) or, with no
next pick, when the room's tail faded into the background up to 1 s later (physical-string
realroom 0.70). The string's upper partials stop when the hand damps it (a room absorbs
highs), and a string damped in a room decays at the room's rate, far faster than it rings on
its own: both mark the end. Scored with mir_eval's offset rule (20 % of the length or 50 ms).
"""

from __future__ import annotations

import numpy as np
import pytest

from audio_fixtures import STEEL, NoteSpec, bench_module, notes_clip, render_clip
from fretcoach_cli.audio.engine import analyze_file
from fretcoach_cli.audio.onsets import RATE, OnsetDetector

MELODY = [57, 60, 62, 64, 62, 60, 57, 55]


def _tone(hz: float, seconds: float = 0.5, db: float = -20.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (10 ** (db / 20) * np.sqrt(2) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _high_levels(x: np.ndarray, block: int) -> list[float]:
    det = OnsetDetector()
    for i in range(0, len(x), block):
        det.push(x[i:i + block])
    det.flush()
    assert len(det.high_db) == len(det.levels_db)
    return det.high_db


def test_the_upper_band_level_is_the_level_above_1500_hz_whatever_the_blocks():
    high = np.asarray(_high_levels(_tone(3000.0), 160))[10:-10]
    low = np.asarray(_high_levels(_tone(200.0), 160))[10:-10]
    assert np.all(np.abs(high - (-20.0)) <= 1.0), high  # a -20 dBFS tone above the band edge
    assert np.all(low <= -60.0), low  # one far under it leaves the band nearly empty
    x = _tone(440.0) + _tone(2500.0, db=-30.0)
    assert _high_levels(x, 160) == _high_levels(x, 1000) == _high_levels(x, 37)


def _offset_hits(path, truth) -> tuple[int, int]:
    notes = [n for n in analyze_file(path).notes if n.is_note]
    hits = 0
    for ref in truth["notes"]:
        dur = ref["offset_s"] - ref["onset_s"]
        same = [n for n in notes if abs(n.onset_s - ref["onset_s"]) <= 0.05
                and abs(n.midi - ref["midi"]) * 100 <= 50]
        hits += bool(same) and abs(same[0].offset_s - ref["offset_s"]) <= max(0.2 * dur, 0.05)
    return hits, len(truth["notes"])


def test_staccato_notes_in_a_wet_room_end_where_the_hand_damps_them():
    """0.15 s steel-string notes every 0.24 s: the hand damps each 90 ms before the next
    pick, under a 1 s room, 35 % wet, that keeps ringing (before: 2 of the 8 ended in time,
    the others at the next pick)."""
    path, truth = notes_clip(MELODY, spacing_s=0.24, duration_s=0.15, program=STEEL,
                             augment=[("reverb", 1.0, 0.35, 7)])
    hits, total = _offset_hits(path, truth)
    assert hits >= total - 2, (hits, total)


def test_legato_notes_in_a_room_still_end_at_the_next_pick():
    """Notes ringing until the next pick, in the same room: no fall, no early end."""
    path, truth = notes_clip(MELODY, spacing_s=0.3, duration_s=0.3, program=STEEL,
                             augment=[("reverb", 0.8, 0.35, 7)])
    hits, total = _offset_hits(path, truth)
    assert hits == total, (hits, total)


@pytest.fixture(scope="module")
def room_phrase(tmp_path_factory):
    """The devset's realroom_01 scene (string model): four damped notes in a 1.05 s room
    through a cheap microphone, then one left to ring out."""
    string_model = bench_module("string_model")
    string_scenes = bench_module("string_scenes")
    path = tmp_path_factory.mktemp("room") / "realroom_01.flac"
    truth = string_model.write(path, string_scenes.scene_plan("realroom", 1))
    return path, truth


def test_a_string_damped_in_a_room_ends_where_it_was_damped_not_when_the_tail_fades(
        room_phrase):
    path, truth = room_phrase
    notes = [n for n in analyze_file(path).notes]
    want = [n for n in truth["notes"] if n.get("kind", "note") == "note"]
    assert [n.kind for n in notes] == ["note"] * len(want), notes  # no note from the tail
    damped = 0
    for got, ref in zip(notes, want, strict=True):
        assert abs(got.onset_s - ref["onset_s"]) <= 0.05, (got, ref)
        if ref["end_reason"] == "damped":
            dur = ref["offset_s"] - ref["onset_s"]
            damped += abs(got.offset_s - ref["offset_s"]) <= max(0.2 * dur, 0.05)
    # before: 1 of the 4 damped notes ended in time (the others at the next pick, 0.2-0.35 s
    # late); a damp 0.2 s before the next pick is still too close to see a knee before it
    assert damped >= 2, (notes, want)


def test_soft_plucks_under_a_wet_rooms_tail_are_found():
    """32 steel-string sixteenths at 88 BPM, velocities 70-110, under a 1.25 s room 48 % wet
    (the devset's reverb_00): the model hears a soft pluck late, at a sub-harmonic or not at
    all under the louder tail; the plucks' new sound names them. Before: 21 of 32 found."""
    import random

    rng = random.Random(5)
    melody = [64, 66, 69, 71, 69, 66, 64, 66, 74, 71, 69, 66, 64, 62, 64, 66] * 2
    specs = [NoteSpec(0.4 + i * 0.17, 0.09, m, velocity=rng.choice([70, 80, 100, 110]),
                      program=STEEL) for i, m in enumerate(melody)]
    path, truth = render_clip(specs, augment=[("reverb", 1.25, 0.48, 11)])
    got = [n for n in analyze_file(path).notes if n.is_note]
    found = sum(any(abs(n.onset_s - r["onset_s"]) <= 0.05 and abs(n.midi - r["midi"]) <= 0.5
                    for n in got) for r in truth["notes"])
    assert found >= 23, (found, len(truth["notes"]))
    assert len(got) - found <= 3, got  # few notes that are not there
