"""The tuner core on rendered held strings with exact truth: cents, octaves, states, guide."""

from __future__ import annotations

import numpy as np
import pytest

from fretcoach_cli.audio.pitch import get_backend
from fretcoach_cli.audio.tuner import (
    CHORD,
    NO_PITCH,
    PITCH,
    STEP_S,
    Guide,
    Summary,
    Tuner,
    TunerReading,
    track_entry,
)
from fretcoach_cli.music.tunings import STANDARD, parse_tuning
from test_tuner_material import RATE, chord, held_note

SUSTAIN_FROM_S = 0.3


@pytest.fixture(scope="module")
def backend():
    return get_backend("swift")


def run(backend, audio: np.ndarray, tuning=STANDARD, *, block: int = 1024, a4: float = 440.0,
        tuner: Tuner | None = None) -> list[TunerReading]:
    tuner = tuner or Tuner(tuning, a4=a4, backend=backend)
    out: list[TunerReading] = []
    for i in range(0, len(audio), block):
        out += tuner.push(audio[i:i + block])
    return out + tuner.flush()


def sustain(readings: list[TunerReading]) -> list[TunerReading]:
    return [r for r in readings if r.t >= SUSTAIN_FROM_S]


@pytest.mark.parametrize(("midi", "cents", "hum"), [
    (40, 0.0, 50.0), (45, -13.0, 60.0), (50, 7.0, 50.0), (55, 0.0, 60.0), (59, -13.0, 50.0),
    (64, 7.0, 60.0), (40, -120.0, 60.0), (45, 7.0, 50.0),
])
def test_held_string_reads_within_a_cent(backend, midi: int, cents: float, hum: float) -> None:
    audio = held_note(midi, cents=cents, seconds=6.0, hum_hz=hum, seed=midi)
    readings = sustain(run(backend, audio))
    pitched = [r for r in readings if r.pitched]
    assert len(pitched) >= 0.6 * len(readings)  # the rest: the string faded into the hum
    errors = np.array([(r.midi - (midi + cents / 100)) * 100 for r in pitched])
    assert abs(float(np.median(errors))) <= 1.0
    assert np.percentile(np.abs(errors), 90) <= 3.0
    assert not np.any(np.abs(errors) > 50), "octave or note errors"
    string, offset = pitched[len(pitched) // 2].string, pitched[len(pitched) // 2].offset_cents
    assert STANDARD.strings[string] == midi and offset == pytest.approx(cents, abs=1.0)


@pytest.mark.parametrize("midi", [40, 45])
def test_low_strings_have_no_octave_errors_and_ring_to_the_end(backend, midi: int) -> None:
    """E2 and A2 held 8 s: every sustain reading is the right note, with no 1 s cut."""
    audio = held_note(midi, seconds=8.0, hum_hz=None, seed=3)
    readings = sustain(run(backend, audio))
    pitched = [r for r in readings if r.pitched]
    audible = [r for r in readings if r.level_db >= -66.0]  # 10 dB over the noise
    assert audible[-1].t >= 7.0
    assert sum(r.pitched for r in audible) >= 0.97 * len(audible)
    assert pitched[-1].t >= audible[-1].t
    assert all(round(r.midi) == midi for r in pitched)


@pytest.mark.parametrize("midi", [40, 45])
def test_a_cheap_microphone_without_bass_makes_no_octave_error(backend, midi: int) -> None:
    """Through a 300 Hz high-pass (a small microphone) E2's fundamental is 25 dB down and its
    second partial leads: still E2, within a cent."""
    from scipy.signal import butter, sosfilt

    sos = butter(2, 300.0, "highpass", fs=RATE, output="sos")
    audio = sosfilt(sos, held_note(midi, seconds=5.0, hum_hz=60.0, seed=midi))
    pitched = [r for r in sustain(run(backend, audio.astype(np.float32))) if r.pitched]
    assert len(pitched) >= 70
    assert {round(r.midi) for r in pitched} == {midi}
    assert abs(np.median([(r.midi - midi) * 100 for r in pitched])) <= 1.0


def test_readings_come_every_50_ms_whatever_the_block_size(backend) -> None:
    audio = held_note(45, cents=5.0, seconds=3.0, seed=1)
    a = run(backend, audio, block=1024)
    b = run(backend, audio, block=333)
    assert [r.t for r in a] == pytest.approx([STEP_S * (i + 1) for i in range(len(a))])
    assert [r.state for r in a] == [r.state for r in b]
    assert [r.midi for r in a] == pytest.approx([r.midi for r in b], abs=1e-9)


def test_steadiness_is_small_on_a_held_note_and_unknown_at_first(backend) -> None:
    readings = run(backend, held_note(50, seconds=3.0, seed=2))
    pitched = [r for r in readings if r.pitched]
    assert pitched[0].steadiness is None
    late = [r.steadiness for r in pitched if r.t > 1.0]
    assert late and max(late) < 2.0


def test_silence_and_noise_are_no_pitch(backend) -> None:
    silence = np.zeros(RATE * 2, dtype=np.float32)
    noise = (np.random.default_rng(0).standard_normal(RATE * 2) * 0.05).astype(np.float32)
    hum = held_note(40, seconds=2.0, amp=1e-4, hum_db=40.0)  # mains hum alone, loud
    for audio in (silence, noise, hum):
        assert {r.state for r in run(backend, audio)} == {NO_PITCH}


@pytest.mark.parametrize("midis", [[45, 48, 52], [48, 52, 55], [40, 47, 52, 55, 59, 64]])
def test_a_chord_says_play_one_string(backend, midis: list[int]) -> None:
    readings = sustain(run(backend, chord(midis)))
    states = [r.state for r in readings]
    assert states.count(CHORD) >= 0.8 * len(states)
    assert states.count(PITCH) <= 2


def test_a_string_far_flat_names_the_nearest_string_and_says_tighten(backend) -> None:
    readings = sustain(run(backend, held_note(40, cents=-150.0, seconds=5.0)))
    pitched = [r for r in readings if r.pitched]
    assert len(pitched) >= 0.5 * len(readings)
    assert {r.string for r in pitched} == {0}
    assert {r.advice for r in pitched} == {"tighten"}
    assert np.median([r.offset_cents for r in pitched]) == pytest.approx(-150.0, abs=1.0)


@pytest.mark.parametrize(("tuning", "midi"), [("bass", 28), ("bass", 33), ("bass-5", 23),
                                              ("bass", 43), ("drop-d", 38)])
def test_bass_and_dropped_strings(backend, tuning: str, midi: int) -> None:
    """E1 and B0 lie under the pitch model's range: the spectrum names them."""
    t = parse_tuning(tuning)
    readings = sustain(run(backend, held_note(midi, seconds=5.0, seed=midi), t))
    pitched = [r for r in readings if r.pitched]
    assert len(pitched) >= 0.5 * len(readings)
    wrong = [r for r in pitched if round(r.midi) != midi]
    assert len(wrong) <= 0.03 * len(pitched)
    assert abs(np.median([r.offset_cents for r in pitched])) <= 1.0


def test_reference_pitch_moves_the_cents(backend) -> None:
    """An A2 tuned to 432 Hz reads −31.8 cents against 440 and 0 against 432."""
    audio = held_note(45, a4=432.0, seconds=3.0)
    at_440 = [r for r in sustain(run(backend, audio)) if r.pitched]
    at_432 = [r for r in sustain(run(backend, audio, a4=432.0)) if r.pitched]
    assert np.median([r.offset_cents for r in at_440]) == pytest.approx(-31.77, abs=1.0)
    assert np.median([r.offset_cents for r in at_432]) == pytest.approx(0.0, abs=1.0)


def _reading(t: float, midi: float | None, target: int = 0, steady: float | None = 0.5,
             state: str = PITCH) -> TunerReading:
    if midi is None:
        return TunerReading(t, state, -30.0)
    off = (midi - STANDARD.strings[target]) * 100
    word = "tighten" if off < -3 else "loosen" if off > 3 else "in tune"
    return TunerReading(t, PITCH, -30.0, 0.0, midi, "X", 0.0, target, "E2", off, word, steady)


def test_guide_moves_on_after_a_steady_second_in_tune(backend) -> None:
    tuner = Tuner(STANDARD, backend=backend)
    guide = Guide(tuner)
    assert tuner.target == 0
    assert guide.feed(_reading(0.05, 39.8)).message == "tighten 20¢"
    assert guide.feed(_reading(0.1, 40.5)).message.startswith("loosen")
    assert guide.feed(_reading(0.15, 40.01, steady=5.0)).message.startswith("in tune — let")
    t, step = 0.2, None
    while t < 1.25:
        step = guide.feed(_reading(t, 40.01))
        if step.advanced:
            break
        t += 0.05
    assert step is not None and step.advanced and t >= 1.2 - 1e-9
    assert guide.index == 1 and tuner.target == 1 and step.done[0]
    assert "5th string" in guide.feed(_reading(t + 0.05, 40.0, target=1)).message
    assert guide.feed(_reading(t + 0.1, None, state=CHORD)).message == "play one string at a time"
    guide.previous()
    assert guide.index == 0 and tuner.target == 0
    guide.go(99)
    assert guide.index == 5


def test_summary_judges_each_string_by_its_settled_readings() -> None:
    summary = Summary(STANDARD)
    for i in range(40):  # E2 held 2 s at −13 cents; its first 0.3 s at −40 (the pluck)
        summary.add(_reading(0.05 * i, 39.6 if i < 6 else 39.87))
    summary.add(_reading(2.1, None))
    for i in range(3):  # a brief A2: too short to judge
        summary.add(_reading(2.2 + 0.05 * i, 45.0, target=1))
    verdicts = summary.verdicts()
    assert verdicts[0].heard_cents == pytest.approx(-13.0) and verdicts[0].verdict == "tighten"
    assert verdicts[1].verdict == "not played" and verdicts[1].heard_cents is None
    assert verdicts[0].to_dict(STANDARD)["string"] == 6


def test_track_entry_fields() -> None:
    entry = track_entry(_reading(1.0, 39.87), STANDARD)
    assert entry == {"t": 1.0, "state": PITCH, "midi": 39.87, "cents": 0.0, "note": "X",
                     "string": 6, "offset_cents": -13.0}
    assert track_entry(_reading(1.05, None), STANDARD)["midi"] is None


def test_sustained_low_notes_of_the_example_recording(backend) -> None:
    """examples/low_e_a_sustained.flac (E2 A2 E2 D3 G2 E2−15¢, nylon, 2 s each): no octave
    error anywhere in a note's sustain (its fundamental fades before its octave does), and
    the cents agree with the bench's reference YIN over the same windows. (The soundfont's
    own pitch drifts ~3 cents down as a note rings, so one figure per note cannot be truth.)"""
    import json
    from pathlib import Path

    import soundfile as sf

    from audio_fixtures import f0ref
    from fretcoach_cli.audio.sources import FileSource

    path = Path(__file__).resolve().parents[1] / "examples" / "low_e_a_sustained.flac"
    truth = json.loads(path.with_suffix("").with_suffix(".truth.json").read_text())
    tuner = Tuner(STANDARD, backend=backend)
    source = FileSource(path)
    readings: list[TunerReading] = []
    while (block := source.read()) is not None:
        readings += tuner.push(block)
    source.close()
    audio, sr = sf.read(str(path), dtype="float64")
    for note in truth["notes"]:
        key, hz = note["key"], 440 * 2 ** ((note["key"] - 69) / 12)
        span = [r for r in readings if note["onset_s"] + SUSTAIN_FROM_S <= r.t <= note["offset_s"]]
        pitched = [r for r in span if r.pitched]
        assert len(pitched) >= 0.95 * len(span)
        assert {round(r.midi) for r in pitched} == {key}, (key, "octave or note error")
        window = min(0.5, max(0.25, 40 / hz))
        diffs = []
        for r in pitched[::3]:
            if r.t - window >= note["onset_s"] + SUSTAIN_FROM_S:
                seg = audio[int((r.t - window) * sr):int(r.t * sr)]
                yin = f0ref.cents_between(f0ref.yin_hz(seg, sr, hz), hz)
                diffs.append((r.midi - key) * 100 - yin)
        assert abs(float(np.median(diffs))) <= 1.0, (key, np.median(diffs))


@pytest.mark.parametrize("name", ["e2_held", "e4_ring", "g3_ring_beating_sympathy"])
def test_string_model_recordings_held_for_their_whole_ring(backend, name: str) -> None:
    """tests/data/real_guitar (the physical string model): an 8 s low E, a ringing high E,
    and a G3 with polarisation beating and the other open strings in sympathy (−28 to −34
    dB) are read as one note, within a cent, from 0.3 s after the pluck to the damping."""
    import json
    from pathlib import Path

    from fretcoach_cli.audio.sources import FileSource

    path = Path(__file__).resolve().parent / "data" / "real_guitar" / f"{name}.flac"
    note = json.loads(path.with_suffix("").with_suffix(".truth.json").read_text())["notes"][0]
    tuner = Tuner(STANDARD, backend=backend)
    source = FileSource(path)
    readings: list[TunerReading] = []
    while (block := source.read()) is not None:
        readings += tuner.push(block)
    source.close()
    span = [r for r in readings if note["onset_s"] + SUSTAIN_FROM_S <= r.t <= note["offset_s"]]
    pitched = [r for r in span if r.pitched]
    assert len(pitched) >= 0.97 * len(span) and not any(r.state == CHORD for r in span)
    errors = [(r.midi - note["midi"]) * 100 for r in pitched]
    assert abs(float(np.median(errors))) <= 1.0
    assert max(abs(e) for e in errors) < 50  # no octave, no wrong note


def test_shared_frames_give_the_same_readings_as_the_tuners_own_model(backend) -> None:
    """The practice room's tuner is fed the engine's SwiftF0 frames instead of running a
    second model: the readings are the same, also when it starts mid-stream."""
    audio = held_note(45, cents=-4.0, seconds=3.0, seed=7)
    own = run(backend, audio, block=700)
    stream = backend.stream()
    shared = Tuner(STANDARD, shared_frames=True)
    got: list[TunerReading] = []
    for i in range(0, len(audio), 700):
        block = audio[i:i + 700]
        got += shared.push(block, stream.push(block))
    assert [r.state for r in got] == [r.state for r in own]
    assert [r.midi for r in got] == pytest.approx([r.midi for r in own], abs=1e-9)
    with pytest.raises(ValueError, match="frames"):
        Tuner(STANDARD, shared_frames=True).push(audio[:700])
    later = Tuner(STANDARD, shared_frames=True, start_sample=8000)
    assert later.push(np.zeros(800, dtype=np.float32), stream.push(np.zeros(0)))[0].t == 0.55


def test_the_practice_rooms_tuner_feed_reads_every_block_and_restarts_after_a_gap(backend):
    """TunerFeed (the tuner pane's feed on the engine's thread): a reading every 100 ms of
    a held A2 as PitchUpdates, each sent by the put() whose block reaches its instant; a gap
    in the blocks (paused input) starts a fresh tuner on the new sample clock."""
    from fretcoach_cli.audio.tuner_feed import PANE_STEP, TunerFeed
    from fretcoach_cli.events import PitchUpdate

    audio = held_note(45, cents=3.0, seconds=2.0, seed=3)
    got: list[PitchUpdate] = []
    feed = TunerFeed(got.append)
    stream = backend.stream()
    for i in range(0, len(audio), 512):
        block = audio[i:i + 512]
        feed.put(i, block, stream.push(block))
        assert got == [] or got[-1].time_s <= (i + len(block)) / RATE  # never a late one
        assert len(got) == (i + len(block)) // PANE_STEP  # ... nor one held back
    feed.close()
    assert PANE_STEP == 1600
    assert [u.time_s for u in got] == pytest.approx(
        [PANE_STEP / RATE * (k + 1) for k in range(len(audio) // PANE_STEP)])
    sustained = [u for u in got if u.time_s >= 0.5]
    assert all(u.midi == pytest.approx(45.03, abs=0.02) for u in sustained)
    assert feed.error is None
    gap: list[PitchUpdate] = []
    feed = TunerFeed(gap.append)
    stream = backend.stream()
    feed.put(0, audio[:8000], stream.push(audio[:8000]))
    feed.put(16000, audio[16000:24000], stream.push(audio[8000:24000]))
    feed.close()
    assert [u.time_s for u in gap] == pytest.approx(
        [0.1 * k for k in range(1, 6)] + [1.1 + 0.1 * k for k in range(5)])


def test_the_practice_room_tuner_names_a_note_among_ringing_strings(backend) -> None:
    """chords=False (the practice room: let-ring is normal) never says "play one string";
    it reads one of the notes that sound."""
    audio = chord([45, 48, 52])
    readings = sustain(run(backend, audio, tuner=Tuner(STANDARD, backend=backend,
                                                       chords=False)))
    assert not any(r.state == CHORD for r in readings)
    pitched = [r for r in readings if r.pitched]
    assert len(pitched) >= 0.5 * len(readings)
    assert all(min(abs(r.midi - m) for m in (45, 48, 52)) <= 0.2 for r in pitched)
