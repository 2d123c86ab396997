"""Deterministic plucked-string audio (Karplus–Strong) for the demo source and for tests.

A fractional-delay (first-order allpass) string loop keeps the pitch exact to a fraction of
a cent, so tests can check cents against known truth rather than against another tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fretcoach_cli.audio.resample import MODEL_RATE


@dataclass(frozen=True)
class Pluck:
    """One plucked note: onset and duration in seconds, MIDI number, peak amplitude."""

    onset_s: float
    duration_s: float
    midi: float
    amp: float = 0.5


def midi_hz(midi: float, a4: float = 440.0) -> float:
    return a4 * 2.0 ** ((midi - 69.0) / 12.0)


def pluck(freq: float, duration_s: float, *, rate: int = MODEL_RATE, amp: float = 0.5,
          t60_s: float = 2.0, brightness: float = 0.5, seed: int = 0) -> np.ndarray:
    """One Karplus–Strong pluck with an allpass fractional delay (exact tuning)."""
    rng = np.random.default_rng(seed)
    n = max(1, round(duration_s * rate))
    # The averaging filter adds half a sample of delay; the allpass supplies the fraction.
    period = rate / freq
    decay = 10.0 ** (-3.0 / (t60_s * freq))  # per trip round the loop: same T60 for any pitch
    loop = period - 0.5
    delay = int(np.floor(loop - 0.1))
    frac = loop - delay
    coef = (1.0 - frac) / (1.0 + frac)
    burst = rng.uniform(-1.0, 1.0, delay)
    # a softer pick: smooth the excitation a little (brightness 1 = raw noise)
    if brightness < 1.0:
        k = max(1, round((1.0 - brightness) * 4))
        burst = np.convolve(burst, np.ones(k) / k, mode="same")
    burst -= burst.mean()
    buf = np.concatenate([burst, np.zeros(1)])
    out = np.empty(n)
    line = list(buf[:delay])
    ap_x1 = ap_y1 = 0.0
    prev = 0.0
    idx = 0
    for i in range(n):
        x = line[idx]
        avg = decay * 0.5 * (x + prev)
        prev = x
        y = coef * avg + ap_x1 - coef * ap_y1  # first-order allpass
        ap_x1, ap_y1 = avg, y
        out[i] = x
        line[idx] = y
        idx += 1
        if idx == delay:
            idx = 0
    peak = np.abs(out).max() or 1.0
    fade = min(n, int(0.005 * rate))
    if fade > 1:
        out[-fade:] *= np.linspace(1.0, 0.0, fade)
    return (out / peak * amp).astype(np.float32)


def render(notes: list[Pluck], *, rate: int = MODEL_RATE, tail_s: float = 0.3,
           noise_db: float | None = None, seed: int = 0, a4: float = 440.0) -> np.ndarray:
    """Mix plucks into one mono track; optional white noise at ``noise_db`` dBFS RMS."""
    end = max((p.onset_s + p.duration_s for p in notes), default=0.0) + tail_s
    out = np.zeros(round(end * rate) + 1, dtype=np.float32)
    for i, p in enumerate(notes):
        start = round(p.onset_s * rate)
        tone = pluck(midi_hz(p.midi, a4), p.duration_s, rate=rate, amp=p.amp, seed=seed + i)
        out[start:start + len(tone)] += tone
    if noise_db is not None:
        rng = np.random.default_rng(seed + 10_000)
        out += (rng.standard_normal(len(out)) * 10 ** (noise_db / 20)).astype(np.float32)
    return out


def demo_run(seed: int = 0, *, bpm: float = 100.0, root_midi: int = 57) -> list[Pluck]:
    """An A minor pentatonic run up and down two octaves in eighth notes, slightly humanised."""
    steps = [0, 3, 5, 7, 10, 12, 15, 17, 19, 22, 24]
    seq = steps + steps[-2::-1]
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm / 2
    notes = []
    t = 0.25
    for s in seq:
        jitter = float(rng.normal(0.0, 0.008))
        amp = float(rng.uniform(0.3, 0.6))
        notes.append(Pluck(max(0.0, t + jitter), beat * 0.95, root_midi - 12 + s, amp))
        t += beat
    return notes
