"""Held plucked strings with exact ground truth, for the tuner's tests (and the renderer's own
checks). Other tuner tests import :func:`held_note` and :func:`write_clip` from here.

The model is a sum of slightly inharmonic, decaying partials (``f_n = n·f0·√(1+B·n²)``,
scaled so the first partial sits exactly on the truth), with the pluck's sharp start (the
pitch settles from +15 cents within ~0.3 s), a pick-position comb, 50 or 60 Hz mains hum with
harmonics and white noise. The truth of a note is the frequency of its first partial, which
is what a tuner beats against the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

RATE = 16000


def held_note(midi: float, *, seconds: float = 6.0, cents: float = 0.0, a4: float = 440.0,
              rate: int = RATE, seed: int = 0, hum_hz: float | None = 50.0,
              hum_db: float = -50.0, noise_db: float = -75.0, amp: float = 0.5,
              inharmonicity: float = 1e-4, t60_s: float | None = None,
              glide_cents: float = 15.0, lead_s: float = 0.0) -> np.ndarray:
    """One plucked string ringing for ``seconds`` at ``midi`` + ``cents`` (first partial).

    ``hum_db`` is the hum's level relative to the note's peak, ``noise_db`` the noise's RMS in
    dBFS; ``lead_s`` of hum and noise come before the pluck.
    """
    rng = np.random.default_rng(seed)
    f1 = a4 * 2 ** ((midi + cents / 100 - 69) / 12)
    n_out = round((lead_s + seconds) * rate)
    t = np.arange(round(seconds * rate)) / rate
    t60 = t60_s if t60_s is not None else float(np.interp(midi, [28, 40, 64, 76], [12, 9, 6, 4]))
    glide = 2 ** (glide_cents * np.exp(-t / 0.07) / 1200)  # the pluck starts sharp
    beta = 0.13 + 0.02 * rng.random()  # pick position along the string
    out = np.zeros(len(t))
    base = np.sqrt(1 + inharmonicity)
    for n in range(1, 40):
        fn = n * f1 * np.sqrt(1 + inharmonicity * n * n) / base
        if fn > 0.45 * rate:
            break
        a = abs(np.sin(n * np.pi * beta)) / n ** 1.3
        t60_n = t60 / (1 + 0.25 * (n - 1))
        phase = 2 * np.pi * fn * np.cumsum(glide) / rate + rng.uniform(0, 2 * np.pi)
        out += a * np.exp(-6.9 * t / t60_n) * np.sin(phase)
    attack = np.minimum(1.0, t / 0.003)
    out *= attack * amp / (np.abs(out).max() or 1.0)
    clip = np.zeros(n_out)
    clip[n_out - len(out):] = out
    tt = np.arange(n_out) / rate
    if hum_hz:
        hum = sum(np.sin(2 * np.pi * hum_hz * k * tt + k) / k for k in range(1, 6))
        clip += hum * amp * 10 ** (hum_db / 20)
    if noise_db is not None:
        clip += rng.standard_normal(n_out) * 10 ** (noise_db / 20)
    return clip.astype(np.float32)


def chord(midis: list[int], *, seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """Several strings plucked together (a strum), at equal level."""
    parts = [held_note(m, seconds=seconds, seed=seed + i, hum_hz=None, noise_db=None,
                       amp=0.3) for i, m in enumerate(midis)]
    mix = np.sum(parts, axis=0)
    mix += np.random.default_rng(seed).standard_normal(len(mix)) * 10 ** (-75 / 20)
    return (mix / np.abs(mix).max() * 0.6).astype(np.float32)


def write_clip(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    import soundfile as sf

    sf.write(str(path), audio, rate, subtype="PCM_24" if path.suffix == ".flac" else "FLOAT")
    return path


def _first_partial_hz(x: np.ndarray, rate: int, near: float) -> float:
    """Frequency of the strongest spectral peak within ±3 % of ``near`` (Hann, zero-padded)."""
    n_fft = 1 << 22
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    band = (freqs > near * 0.97) & (freqs < near * 1.03)
    return float(freqs[band][np.argmax(spec[band])])


@pytest.mark.parametrize(("midi", "cents"), [(40, 0.0), (45, -13.0), (64, 7.0)])
def test_first_partial_sits_on_the_truth(midi: int, cents: float) -> None:
    x = held_note(midi, cents=cents, seconds=4.0, hum_hz=None, noise_db=None)
    truth = 440 * 2 ** ((midi + cents / 100 - 69) / 12)
    seg = x[int(0.5 * RATE):]  # after the glide
    got = _first_partial_hz(seg, RATE, truth)
    assert abs(1200 * np.log2(got / truth)) < 0.2


def test_hum_and_noise_are_there_and_the_note_rings() -> None:
    x = held_note(40, seconds=6.0, hum_hz=60.0)
    quiet = held_note(40, seconds=6.0, hum_hz=None, noise_db=None)
    resid = x - quiet
    assert 20 * np.log10(np.sqrt(np.mean(resid ** 2))) > -70  # hum dominates the noise floor
    late = quiet[int(5.0 * RATE):]
    assert 20 * np.log10(np.abs(late).max() / 0.5) > -50  # E2 still rings after 5 s, above the hum
