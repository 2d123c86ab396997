"""Reference (offline, slow-but-exact) measurements of a rendered note: f0 and audible onset.

Why: the ground truth is only as true as our knowledge of what the soundfont actually plays.
These estimators look at one isolated, sustained note whose nominal pitch is known, so they can
afford long windows and narrow searches — sub-cent accuracy, no octave ambiguity.
"""

from __future__ import annotations

import math

import numpy as np


def fundamental_hz(x: np.ndarray, sr: int, approx_hz: float, search_cents: float = 80.0) -> float:
    """Frequency of the first partial near ``approx_hz``: Hann-windowed, zero-padded FFT peak
    with parabolic interpolation on log magnitude. Needs ≥ ~0.3 s of settled tone."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    w = np.hanning(len(x))
    n_fft = 1 << max(20, math.ceil(math.log2(len(x) * 8)))
    spec = np.abs(np.fft.rfft(x * w, n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lo = approx_hz * 2 ** (-search_cents / 1200)
    hi = approx_hz * 2 ** (search_cents / 1200)
    band = np.nonzero((freqs >= lo) & (freqs <= hi))[0]
    if len(band) < 3:
        raise ValueError("search band too narrow")
    k = band[int(np.argmax(spec[band]))]
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-30)
    denom = a - 2 * b + c
    delta = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return float((k + delta) * sr / n_fft)


def yin_hz(x: np.ndarray, sr: int, approx_hz: float, search_cents: float = 80.0) -> float:
    """Period by the YIN cumulative-mean-normalised difference, searched only near the
    expected lag (no octave errors), refined by parabolic interpolation. This is what a
    time-domain pitch tracker hears, which differs from the first partial when the string's
    overtones are inharmonic."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    max_lag = int(sr / (approx_hz * 2 ** (-search_cents / 1200))) + 2
    n = len(x) - max_lag
    if n <= max_lag:
        raise ValueError("segment too short")
    # Difference function via FFT autocorrelation: d(tau) = r0 + r_tau(shifted) - 2 r(tau).
    n_fft = 1 << math.ceil(math.log2(len(x) + max_lag))
    fx = np.fft.rfft(x, n_fft)
    corr = np.fft.irfft(fx[: n_fft // 2 + 1] * np.conj(np.fft.rfft(x[:n], n_fft)), n_fft)[
        : max_lag + 1
    ]
    sq = np.concatenate([[0.0], np.cumsum(x * x)])
    energy0 = sq[n] - sq[0]
    taus = np.arange(max_lag + 1)
    energy_tau = sq[taus + n] - sq[taus]
    d = energy0 + energy_tau - 2 * corr
    d[0] = 0.0
    cmnd = np.ones_like(d)
    cums = np.cumsum(d[1:])
    cmnd[1:] = d[1:] * np.arange(1, len(d)) / np.where(cums == 0, 1e-30, cums)
    lo = int(sr / (approx_hz * 2 ** (search_cents / 1200)))
    hi = max_lag - 1
    k = lo + int(np.argmin(cmnd[lo : hi + 1]))
    a, b, c = cmnd[k - 1 : k + 2]
    denom = a - 2 * b + c
    delta = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return float(sr / (k + delta))


def envelope_db(x: np.ndarray, sr: int, win_s: float = 0.001) -> tuple[np.ndarray, float]:
    """RMS envelope in dB with a hop equal to the window; returns (env_db, hop_s)."""
    w = max(1, int(sr * win_s))
    m = len(x) // w
    frames = np.asarray(x[: m * w], dtype=np.float64).reshape(m, w)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-12
    return 20 * np.log10(rms), w / sr


def audible_onset_s(
    x: np.ndarray, sr: int, start_s: float, *, rel_db: float = -20.0, horizon_s: float = 0.08
) -> float:
    """First time after ``start_s`` at which the 1 ms RMS envelope reaches ``rel_db`` below
    the note's early peak (max within ``horizon_s``) — our definition of "the note starts".
    Interpolated linearly between envelope frames."""
    i0 = int(start_s * sr)
    seg = np.asarray(x[i0 : i0 + int((horizon_s + 0.05) * sr)])
    env, hop = envelope_db(seg, sr)
    n_h = int(horizon_s / hop)
    peak = env[:n_h].max()
    thr = peak + rel_db
    idx = int(np.argmax(env >= thr))
    if idx == 0:
        return start_s
    e0, e1 = env[idx - 1], env[idx]
    frac = (thr - e0) / (e1 - e0) if e1 != e0 else 0.0
    # frame centres sit at (i + 0.5) * hop
    return start_s + (idx - 1 + 0.5 + frac) * hop


def cents_between(hz: float, ref_hz: float) -> float:
    return 1200.0 * math.log2(hz / ref_hz)
