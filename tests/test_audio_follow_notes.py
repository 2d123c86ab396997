"""The frame track inside a detected note (refine.follow_notes), on rendered strings.

A held note's quiet decay under a louder string an octave down: the model reads that one (every
harmonic of the note is one of the lower string's too); the track must give the note's own
pitch there, measured on the audio, and must not invent it where the string is not heard.
"""

from __future__ import annotations

import numpy as np

from fretcoach_cli.audio.refine import RATE, follow_notes

E3, E4, F4 = 164.8138, 329.6276, 349.2282
HOP = 0.016


def string(hz: float, seconds: float, *, amp: float, decay_s: float, partials: int = 8,
           start: float = 0.0) -> np.ndarray:
    """A plucked string: ``partials`` harmonics falling 1/k, decaying exponentially."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * k * hz * t + k) / k for k in range(1, partials + 1))
    env = np.where(t >= start, amp * np.exp(-(t - start) / decay_s), 0.0)
    return (x * env).astype(np.float32)


def frames(seconds: float) -> np.ndarray:
    return np.arange(0.05, seconds - 0.05, HOP)


def cents(f: np.ndarray, hz: float) -> np.ndarray:
    return 1200 * np.log2(f / hz)


def reader(audio: np.ndarray):
    return lambda a, b: audio[max(a, 0):max(a, b, 0)]


def test_a_sub_octave_reading_inside_a_note_becomes_the_notes_own_pitch():
    """E4 decaying under a louder E3 left ringing (the room's tail of an earlier note): the
    model's E3 readings give E4 again, within a cent of the string."""
    audio = (string(E4, 2.0, amp=0.05, decay_s=1.0)
             + string(E3, 2.0, amp=0.3, decay_s=3.0))
    times = frames(2.0)
    f0 = np.where(times < 0.3, E4, E3 * 2 ** (-3 / 1200))  # the model: E4, then E3 flat
    conf = np.full(len(times), 0.8)
    out = follow_notes(times, f0, conf, [(0.0, 2.0, E4)], reader(audio))
    assert np.abs(cents(out, E4)).max() <= 1.0
    assert (f0[times >= 0.3] < E4 / 1.9).all()  # not modified
    # a note the model never read (one named from its harmonics): nothing to follow
    never = follow_notes(times, f0, conf, [(0.3, 2.0, E4)], reader(audio))
    assert np.array_equal(never, f0)


def test_an_unsure_reading_inside_a_note_is_read_on_the_audio():
    """A held E4 the model is unsure of (confidence 0.1, a wild reading): its pitch from
    the audio, within a cent."""
    audio = string(E4, 2.0, amp=0.2, decay_s=1.5)
    times = frames(2.0)
    f0 = np.where(times < 0.2, E4, 2075.0)
    conf = np.where(times < 0.2, 0.9, 0.1)
    out = follow_notes(times, f0, conf, [(0.0, 2.0, E4)], reader(audio))
    assert np.abs(cents(out, E4)).max() <= 1.0


def test_nothing_is_invented_outside_notes_in_silence_or_under_another_note():
    """Frames outside the note, in a stretch where only noise sounds, and under an F4 a
    semitone away keep the model's reading: the note's pitch is not heard there."""
    rng = np.random.default_rng(5)
    noise = (0.01 * rng.standard_normal(int(3.0 * RATE))).astype(np.float32)
    audio = noise.copy()
    audio[: RATE] += string(E4, 1.0, amp=0.2, decay_s=2.0)  # E4 for 1 s, then noise
    audio[2 * RATE:] += string(F4, 1.0, amp=0.2, decay_s=2.0)  # then an F4
    times = frames(3.0)
    f0 = np.where(times < 0.2, E4, 123.0)  # E4, then a reading no note here has
    conf = np.where(times < 0.2, 0.9, 0.1)
    out = follow_notes(times, f0, conf, [(0.0, 3.0, E4)], reader(audio))
    during = times < 0.95
    assert np.abs(cents(out[during], E4)).max() <= 1.0  # the E4 itself is followed
    assert (out[times > 1.1] == 123.0).all()  # noise, then the F4: kept as the model read
    outside = follow_notes(times, f0, conf, [(0.0, 0.5, E4)], reader(audio))
    assert (outside[times >= 0.5] == 123.0).all()  # not inside a note: never touched
