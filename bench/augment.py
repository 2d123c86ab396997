"""Degrade clean renders the way rooms, cables and cheap microphones do — deterministically.

Each function takes and returns mono float32 audio at 44.1 kHz and never moves a note in time
(the reverb is causal and its direct path is at lag 0), so the ground truth still holds.
Every random draw comes from an explicit ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SR = 44100
Augment = Callable[[np.ndarray], np.ndarray]


def active_power(x: np.ndarray, sr: int = SR, floor_db: float = -40.0) -> float:
    """Mean power over the 20 ms frames within ``floor_db`` of the loudest one: the signal
    level a player hears, not diluted by the silences between phrases."""
    w = int(0.02 * sr)
    m = max(1, len(x) // w)
    frames = np.asarray(x[: m * w], dtype=np.float64).reshape(m, -1)
    p = np.mean(frames**2, axis=1)
    if p.max() <= 0:
        return 0.0
    keep = p >= p.max() * 10 ** (floor_db / 10)
    return float(p[keep].mean())


def white_noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def pink_noise(n: int, seed: int) -> np.ndarray:
    """1/f noise by shaping white noise in the frequency domain (DC removed)."""
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec /= np.sqrt(f)
    spec[0] = 0.0
    out = np.fft.irfft(spec, n)
    return out / (np.std(out) + 1e-12)


def add_noise(x: np.ndarray, snr_db: float, *, kind: str = "white", seed: int = 0) -> np.ndarray:
    """Add white or pink noise so that active-signal power / noise power = ``snr_db``."""
    gen = {"white": white_noise, "pink": pink_noise}[kind]
    noise = gen(len(x), seed)
    noise *= np.sqrt(active_power(x) / 10 ** (snr_db / 10)) / (np.std(noise) + 1e-12)
    return (x + noise).astype(np.float32)


def reverb(
    x: np.ndarray, *, rt60_s: float = 0.6, wet: float = 0.35, seed: int = 0, sr: int = SR
) -> np.ndarray:
    """Convolve with a synthetic room: exponentially decaying (60 dB in ``rt60_s``), slightly
    low-passed noise after a 12 ms pre-delay, mixed ``wet`` against the dry path. Output keeps
    the input's peak level."""
    from scipy.signal import fftconvolve, lfilter

    n = int(rt60_s * 1.2 * sr)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.907755 * t / rt60_s)
    tail = lfilter([0.35], [1.0, -0.65], tail)  # rooms absorb highs
    pre = int(0.012 * sr)
    ir = np.concatenate([np.zeros(pre), tail])
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet_sig = fftconvolve(x.astype(np.float64), ir)[: len(x)]
    out = (1 - wet) * x + wet * wet_sig
    peak_in = float(np.max(np.abs(x))) or 1.0
    return (out * (peak_in / (np.max(np.abs(out)) + 1e-12))).astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return (x * 10 ** (db / 20)).astype(np.float32)


def hard_clip(x: np.ndarray, drive_db: float, ceiling: float = 0.98) -> np.ndarray:
    """Amplify by ``drive_db`` then clip at ``ceiling`` — an overloaded interface input."""
    return np.clip(x * 10 ** (drive_db / 20), -ceiling, ceiling).astype(np.float32)


def soft_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """tanh saturation (a fuzz/overdrive pedal), renormalised to the input's peak."""
    y = np.tanh(x * 10 ** (drive_db / 20))
    peak_in = float(np.max(np.abs(x))) or 1.0
    return (y * (peak_in / (np.max(np.abs(y)) + 1e-12))).astype(np.float32)


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR by the same definition as :func:`add_noise` (for tests)."""
    noise = noisy.astype(np.float64) - clean
    return float(10 * np.log10(active_power(clean) / np.mean(noise**2)))


def apply_spec(x: np.ndarray, spec: Sequence) -> np.ndarray:
    """Apply a hashable augmentation description, so callers (devset, test fixtures) can
    cache renders by it: ``("noise", snr_db, "white"|"pink", seed)``,
    ``("reverb", rt60_s, wet, seed)``, ``("gain", db)``, ``("clip", drive_db)``,
    ``("softclip", drive_db)``."""
    kind, *args = spec
    if kind == "noise":
        snr, color, seed = args
        return add_noise(x, float(snr), kind=str(color), seed=int(seed))
    if kind == "reverb":
        rt60, wet, seed = args
        return reverb(x, rt60_s=float(rt60), wet=float(wet), seed=int(seed))
    if kind == "gain":
        return gain(x, float(args[0]))
    if kind == "clip":
        return hard_clip(x, float(args[0]))
    if kind == "softclip":
        return soft_clip(x, float(args[0]))
    raise ValueError(f"unknown augmentation {kind!r}")


def describe(spec: Sequence) -> str:
    return " ".join(str(s) for s in spec)
