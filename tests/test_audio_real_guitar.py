"""Real-guitar behaviour of the engine on rendered physical-string recordings.

The clips in tests/data/real_guitar (made by ``bench/string_model.py --write-test-clips``,
exact truth beside each) ring for seconds with what a real acoustic guitar adds: two
polarisations beating, the other open strings ringing in sympathy, body resonance, damped
and let-ring notes, a same-pitch re-pick. The engine must give one note per pluck, with its
true end (not the 1 s judging point), its pitch, and never refuse the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fretcoach_cli.audio.engine import Engine, analyze_file
from fretcoach_cli.audio.pitch import PitchTrack, get_backend
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.events import NoteEnded, NoteEvent, with_end

DATA = Path(__file__).resolve().parent / "data" / "real_guitar"
CLIPS = sorted(p.stem for p in DATA.glob("*.flac"))


def truth(name: str) -> list[dict]:
    return [n for n in json.loads((DATA / f"{name}.truth.json").read_text())["notes"]
            if n.get("kind", "note") == "note"]


def test_the_clips_are_there():
    assert len(CLIPS) >= 4, CLIPS


@pytest.mark.parametrize("name", CLIPS)
def test_one_note_per_pluck_with_its_true_end(name):
    notes = analyze_file(DATA / f"{name}.flac").notes
    want = truth(name)
    assert [n.kind for n in notes] == ["note"] * len(want), notes
    assert len(notes) == len(want), (notes, want)
    for got, t in zip(notes, want, strict=True):
        assert abs(got.onset_s - t["onset_s"]) <= 0.05, (got, t)
        assert round(got.midi) == round(t["midi"]), (got, t)
        assert abs(got.midi - t["midi"]) * 100 <= 10, (got, t)
        duration = t["offset_s"] - t["onset_s"]
        # mir_eval's offset rule: within 20 % of the note's length or 50 ms
        assert abs(got.offset_s - t["offset_s"]) <= max(0.2 * duration, 0.05), (got, t)


def test_a_held_note_is_not_cut_at_the_judging_point():
    """The E2 rings 8 s: judged after 1 s (live), ended when it stops, and live and file
    analysis agree on the end."""
    name = "e2_held"
    engine = Engine(FileSource(DATA / f"{name}.flac"))
    events: list = []
    engine.subscribe(events.append)
    engine.run_sync()
    judged = [e for e in events if isinstance(e, NoteEvent)]
    ended = [e for e in events if isinstance(e, NoteEnded)]
    assert len(judged) == 1 and judged[0].offset_s < 2.0  # the verdict comes while it rings
    assert len(ended) == 1 and ended[0].offset_s > 7.5
    assert ended[0].emitted_at_s >= ended[0].offset_s
    notes = list(judged)
    with_end(notes, ended[0])
    assert notes == engine.notes == analyze_file(DATA / f"{name}.flac").notes


def test_practice_stores_a_held_note_with_its_true_end(conn, user_id):
    """Through `practice` (headless, the real recorder and PostgreSQL): the phrase's notes
    are stored with the ends the file analysis gives, not the 1 s judging point."""
    from typer.testing import CliRunner

    from fretcoach_cli.cli.main import _register_commands, app
    from fretcoach_cli.store import Sessions

    _register_commands()
    clip = DATA / "phrase_damped_letring_repick.flac"
    played = CliRunner().invoke(app, ["--user", user_id, "practice", "--input", str(clip),
                                      "--fast", "--no-tui", "--json", "--no-coach",
                                      "--scale", "C major"])
    assert played.exit_code == 0, played.output
    row = json.loads(played.stdout)
    stored = Sessions(conn).notes(row["session_id"])
    want = analyze_file(clip).notes
    assert len(stored) == len(want)
    for got, note in zip(stored, want, strict=True):
        assert got.onset_s == pytest.approx(note.onset_s, abs=1e-6)
        assert got.offset_s == pytest.approx(note.offset_s, abs=1e-6)
    assert max(n.offset_s - n.onset_s for n in stored) > 3.0  # the last note rings 3.4 s
    assert row["duration_seconds"] == pytest.approx(analyze_file(clip).duration_s, abs=0.05)


@pytest.mark.parametrize("name", ["e2_held", "e4_ring", "g3_ring_beating_sympathy"])
def test_a_held_note_pitch_track_is_within_a_cent_over_its_whole_sustain(name):
    """The frame track over the whole sustain is refined on the audio: SwiftF0's own frames
    sit 2–3 cents off on these strings, the refined ones within a cent at the median."""
    analysis = analyze_file(DATA / f"{name}.flac")
    note = max(truth(name), key=lambda n: n["offset_s"] - n["onset_s"])
    inside = ((analysis.times >= note["onset_s"] + 0.05)
              & (analysis.times <= note["offset_s"] - 0.05) & (analysis.f0 > 0))
    assert inside.sum() >= 1.5 / 0.016  # the whole sustain has frames
    cents = np.abs((69 + 12 * np.log2(analysis.f0[inside] / 440.0) - note["midi"]) * 100)
    assert np.median(cents) <= 1.0, np.median(cents)
    assert np.mean(cents <= 50) >= 0.95
    raw = get_backend("swift").stream()  # the model alone, to show the refinement matters
    src = FileSource(DATA / f"{name}.flac")
    src.open()
    parts = []
    while (block := src.read(0.1)) is not None:
        parts.append(raw.push(block))
    parts.append(raw.flush())
    src.close()
    tr = PitchTrack.concat(parts)
    sel = (tr.times >= note["onset_s"] + 0.05) & (tr.times <= note["offset_s"] - 0.05) \
        & (tr.f0 > 0)
    raw_cents = np.abs((69 + 12 * np.log2(tr.f0[sel] / 440.0) - note["midi"]) * 100)
    assert np.median(raw_cents) > np.median(cents) + 0.5


def test_the_pitch_track_follows_a_held_note_to_the_end_of_its_decay():
    """In the G3's last second and a half (beating, the other open strings in sympathy, the
    string 40 dB down) SwiftF0 reads a high partial now and then; inside the note the engine
    detected, the frame track stays on the string's own pitch to the end, and the notes are
    the same as without the track."""
    clip = DATA / "g3_ring_beating_sympathy.flac"
    analysis = analyze_file(clip)
    note = truth("g3_ring_beating_sympathy")[0]
    late = ((analysis.times >= note["offset_s"] - 1.5)
            & (analysis.times <= note["offset_s"] - 0.05))
    assert late.sum() >= 1.4 / 0.016
    assert (analysis.f0[late] > 0).all()
    cents = (69 + 12 * np.log2(analysis.f0[late] / 440.0) - note["midi"]) * 100
    assert np.abs(cents).max() <= 50, analysis.times[late][np.abs(cents) > 50]
    assert np.median(np.abs(cents)) <= 1.0
    assert analysis.notes == analyze_file(clip, keep_track=False).notes
