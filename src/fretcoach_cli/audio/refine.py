"""Sub-cent refinement and polyphony check of a settled note, from its raw audio.

SwiftF0 is biased by 2–7 cents on steady tones; a normalised cross-correlation searched
only within ±40 cents of the model's pitch (so it cannot jump an octave, the classic failure
of plain YIN on low strings) finds the period to a fraction of a sample (for a note, and
for each frame of file analysis's pitch track: :func:`refine_frames`). The same segment's
spectrum tells a single harmonic series from a chord: the share of spectral-peak energy that
sits on harmonics of the note's f0 drops when other notes sound with it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

RATE = 16000


def refine_f0(x: np.ndarray, f0: float, *, span_cents: float = 40.0,
              min_r: float = 0.8) -> float | None:
    """Period by normalised cross-correlation near ``RATE/f0``; None when it is unreliable
    (the best correlation under ``min_r``, or at the edge of the search)."""
    if f0 <= 0 or len(x) < 3 * RATE / f0:
        return None
    p = RATE / f0
    lo = max(2, int(np.floor(p * 2 ** (-span_cents / 1200))) - 1)
    hi = int(np.ceil(p * 2 ** (span_cents / 1200))) + 1
    # use several periods per lag for robustness at high pitches
    mult = max(1, int(64 // p))
    lags = np.arange(lo, hi + 1) * mult
    n = len(x) - lags[-1]
    if n < RATE * 0.02:
        mult = 1
        lags = np.arange(lo, hi + 1)
        n = len(x) - lags[-1]
        if n < 2 * p:
            return None
    x = x.astype(np.float64)
    a = x[:n]
    ea = float(a @ a)
    if ea <= 0:
        return None
    r = np.empty(len(lags))
    for i, lag in enumerate(lags):
        b = x[lag:lag + n]
        r[i] = (a @ b) / np.sqrt(ea * float(b @ b) + 1e-20)
    k = int(np.argmax(r))
    if k == 0 or k == len(r) - 1 or r[k] < min_r:
        return None
    y0, y1, y2 = r[k - 1], r[k], r[k + 1]
    den = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
    period = (lags[k] + shift * (lags[1] - lags[0])) / mult
    return RATE / period


FRAME_WINDOW_S = 0.04  # audio correlated per frame (or FRAME_PERIODS periods, if longer)
FRAME_PERIODS = 4
FRAME_MIN_CONF = 0.2  # frames less sure than this keep the model's pitch
FRAME_MAX_MOVE_CENTS = 35.0  # a refinement further than this from the model is not trusted


def frame_window(f0: float) -> tuple[int, int]:
    """Samples (before, after) a frame's centre that :func:`refine_frames` correlates."""
    p = RATE / f0
    half = int(max(FRAME_WINDOW_S * RATE, FRAME_PERIODS * p) / 2)
    return half, half + int(p * 1.05 * max(1, 64 // p)) + 2


def refine_frames(times: np.ndarray, f0: np.ndarray, conf: np.ndarray,
                  audio: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Each pitched frame's f0 refined on the audio around it (a held note's pitch track).

    SwiftF0's frames carry its 2–7 cent bias; the same ±40-cent correlation search as a
    note's pitch, on 40 ms (or four periods) centred on the frame, reads a held string to a
    fraction of a cent (median |error| 0.13 cent against 2.3 raw on the string-model clips).
    ``audio(a, b)`` returns samples ``a:b`` (absolute 16 kHz indices; fewer at the edges).
    Frames it cannot refine keep the model's pitch.
    """
    out = np.array(f0, dtype=np.float64, copy=True)
    for i, (t, f, c) in enumerate(zip(times, f0, conf, strict=True)):
        if c < FRAME_MIN_CONF or not f > 0:
            continue
        before, after = frame_window(float(f))
        centre = round(float(t) * RATE)
        better = refine_f0(audio(centre - before, centre + after), float(f))
        if better is not None and abs(1200 * math.log2(better / f)) <= FRAME_MAX_MOVE_CENTS:
            out[i] = better
    return out


# A frame inside a detected note whose reading is further than this from the note's pitch
# (or less sure than FRAME_MIN_CONF) is read again at the note's pitch (:func:`follow_notes`)
FOLLOW_CENTS = 50.0
FOLLOW_MIN_R = 0.9  # ... and takes that reading only when the audio repeats this well there
FOLLOW_SUB_K = (2, 3, 4)  # a reading this many times under the note holds the note's series


def follow_notes(times: np.ndarray, f0: np.ndarray, conf: np.ndarray,
                 notes: Sequence[tuple[float, float, float]],
                 audio: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """The frame track following each detected note's string to the note's end.

    In a held note's quiet decay SwiftF0 loses the string: it is unsure, reads a high
    partial, or reads a sub-harmonic (under a room's tail or in a let-ring decay a lower
    string still ringing, whose series holds every harmonic of the note, outweighs it).
    ``notes`` are the engine's single notes as (onset s, end s, f0 Hz); a frame inside one,
    after the model has read the note's pitch there (a note named from its harmonics while
    the model heard another pitch throughout has no string of its own to follow), whose
    reading is off the note's pitch (or unsure) gets the period the audio shows within
    ±40 cents of the note's pitch (:func:`refine_f0`: no octave or sub-harmonic jump), when
    the audio repeats at that period with correlation at least FOLLOW_MIN_R. Failing that,
    a reading 1/k of the note's pitch (``FOLLOW_SUB_K``) that the audio confirms as well
    gives k times its refined pitch: the note's series is all there, inside the lower one.
    Other frames (the string no longer heard) keep the model's reading; ``f0`` is not
    modified.
    """
    out = np.array(f0, dtype=np.float64, copy=True)
    for onset, end, hz in notes:
        if not hz > 0:
            continue
        lo, hi = np.searchsorted(times, (onset, end), side="left")
        heard_note = False  # the model has read the note's pitch in it: there is a string
        for i in range(int(lo), int(hi)):
            f = out[i]
            if (conf[i] >= FRAME_MIN_CONF and f > 0
                    and abs(1200 * math.log2(f / hz)) <= FOLLOW_CENTS):
                heard_note = True
                continue
            if not heard_note:
                continue
            centre = round(float(times[i]) * RATE)
            heard = _heard_at(audio, centre, hz)
            if heard is None and f > 0:
                k = round(hz / f)
                if k in FOLLOW_SUB_K and abs(1200 * math.log2(k * f / hz)) <= FOLLOW_CENTS:
                    sub = _heard_at(audio, centre, hz / k)
                    heard = None if sub is None else k * sub
            if heard is not None and abs(1200 * math.log2(heard / hz)) <= FOLLOW_CENTS:
                out[i] = heard
    return out


def _heard_at(audio: Callable[[int, int], np.ndarray], centre: int, hz: float) -> float | None:
    """The pitch near ``hz`` the audio around sample ``centre`` repeats at, FOLLOW_MIN_R sure."""
    before, after = frame_window(hz)
    return refine_f0(audio(centre - before, centre + after), hz, min_r=FOLLOW_MIN_R)


@functools.lru_cache(maxsize=64)
def _window(n: int) -> tuple[np.ndarray, float]:
    """Hann window of ``n`` samples and its energy (segments come in a few fixed lengths)."""
    w = np.hanning(n)
    w.flags.writeable = False
    return w, float(w @ w)


def _power(x: np.ndarray, n_fft: int) -> np.ndarray:
    if len(x) < 64:
        return np.zeros(n_fft // 2 + 1)
    w, energy = _window(len(x))
    return np.abs(np.fft.rfft(x * w, n_fft)) ** 2 / energy


def harmonic_share(x: np.ndarray, f0: float, *, before: np.ndarray | None = None,
                   fmax: float = 4000.0, wobble_cents: float = 0.0) -> float:
    """Share (0–1) of *new* spectral-peak energy lying on harmonics of ``f0``.

    ``before`` is the audio just before the onset: its spectrum is subtracted so strings
    still ringing from earlier notes (normal in a scale run) do not look like a chord.
    ``wobble_cents`` is how far the pitch itself moved in ``x`` (vibrato, a bend): each
    harmonic then spreads that much further, and still belongs to the note.
    """
    return harmonic_figures(x, f0, before=before, fmax=fmax, wobble_cents=wobble_cents)[0]


# Where a chord's other notes put energy that no single note at f0 has: a fifth or fourth
# away from its series (f0 × 3/2 is the fifth above, 2/3 the fifth below, 4/3 the fourth...).
CHORD_INTERVALS = (1 / 2, 2 / 3, 4 / 3, 3 / 2, 5 / 3, 5 / 2, 7 / 2)


# A peak on a ringing note's harmonics is that note's tail when it sounded before at least this
# share (-17 dB) of its power now (the before-window scaled to the same length): a new note's
# partial on an old note's harmonic (a double stop's fourth on the octave of an earlier note)
# was not there before. At 0.5, devset reverb note F1 0.897; 0.02, 0.911; no limit, 0.916 but
# one doublestop read as a single note.
TAIL_SHARE = 0.02


def harmonic_figures(x: np.ndarray, f0: float, *, before: np.ndarray | None = None,
                     fmax: float = 4000.0, wobble_cents: float = 0.0,
                     ringing: tuple[float, ...] = (), ringing_share: bool = False,
                     ) -> tuple[float, float]:
    """(harmonic share, chord-interval peak in dB) of the new sound in ``x``, one spectrum.

    The second figure is the strongest new peak at ``f0 × CHORD_INTERVALS`` relative to the
    strongest harmonic, −inf when there is none: a D major strum read as D3 still has 84–92 %
    of its energy on D3's harmonics, but its A3 stands 3–10 dB under them, where a single
    note has nothing (above −10 dB in 4 of 2,834 devset notes). Peaks on the harmonics of
    ``ringing`` (f0s of earlier notes left ringing, let-ring) are theirs, not a chord's.
    With ``ringing_share`` those peaks (off ``f0``'s series, and already sounding before:
    see ``TAIL_SHARE``) are left out of the share too: under a room's tail, subtracting the
    spectrum from before the pluck leaves part of the earlier notes' decaying sound.
    """
    if f0 <= 0 or len(x) < 256:
        return 0.0, -math.inf
    n_fft = 1 << int(np.ceil(np.log2(max(len(x), 8192))))
    spec = _power(x, n_fft)
    was = np.zeros_like(spec)  # what sounded before, as loud as a steady tone in ``x`` reads
    if before is not None and len(before) >= 256:
        pb = _power(before, n_fft)
        was = pb * max(1.0, len(x) / len(before))
        spec = np.maximum(spec - pb, 0.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    band = (freqs >= 55.0) & (freqs <= fmax)
    s, f, was = spec[band], freqs[band], was[band]
    if s.size < 3 or s.max() <= 0:
        return 0.0, -math.inf
    peaks = np.flatnonzero((s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:])) + 1
    peaks = peaks[s[peaks] > s.max() * 1e-3]  # within 30 dB of the strongest peak
    if peaks.size == 0:
        return 0.0, -math.inf
    pf, pe = f[peaks], s[peaks]
    h = pf / f0
    k = np.maximum(np.round(h), 1.0)
    near = np.abs(h - np.round(h)) <= 0.03 * k ** 0.5 + k * (2 ** (wobble_cents / 1200) - 1)
    near &= np.round(h) >= 1
    rung = np.zeros(len(h), dtype=bool)  # on an earlier, still ringing note's harmonics
    for fr in ringing:
        hr = pf / fr
        rung |= ((np.abs(hr - np.round(hr)) <= 0.03 * np.maximum(np.round(hr), 1.0) ** 0.5)
                 & (np.round(hr) >= 1))
    # ... and already sounding before it (a new note on an earlier one's harmonic is not)
    theirs = rung & ~near & (was[peaks] >= TAIL_SHARE * pe)
    total = pe.sum() if not ringing_share else pe[~theirs].sum()
    share = float(pe[near].sum() / total) if total > 0 else 0.0
    if not near.any():
        return share, -math.inf
    at_interval = np.zeros(len(h), dtype=bool)
    for ratio in CHORD_INTERVALS:
        at_interval |= np.abs(h / ratio - 1.0) <= 0.02
    at_interval &= ~near & ~rung
    if not at_interval.any():
        return share, -math.inf
    return share, float(10 * np.log10(pe[at_interval].max() / pe[near].max()))


def _new_peaks(x: np.ndarray, before: np.ndarray, fmax: float
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """(frequency, power) of the spectral peaks of what is new in ``x``, frequencies
    interpolated (parabola on dB), within 30 dB of the strongest."""
    if len(x) < 256 or len(before) < 256:
        return None
    n_fft = 1 << int(np.ceil(np.log2(max(len(x), 8192))))
    # a steady tone's peak in an energy-normalised spectrum grows with the window's length:
    # ``before`` scaled so takes a string still ringing from before out of a longer ``x``
    spec = np.maximum(_power(x, n_fft) - _power(before, n_fft) * max(1.0, len(x) / len(before)),
                      0.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    band = (freqs >= 55.0) & (freqs <= fmax)
    s, f = spec[band], freqs[band]
    if s.size < 3 or s.max() <= 0:
        return None
    peaks = np.flatnonzero((s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:])) + 1
    peaks = peaks[s[peaks] > s.max() * 1e-3]
    if peaks.size == 0:
        return None
    ly, l0, l1 = (10 * np.log10(s[peaks + d] + 1e-30) for d in (-1, 0, 1))
    den = ly - 2 * l0 + l1
    shift = np.where(den != 0, 0.5 * (ly - l1) / np.where(den != 0, den, 1.0), 0.0)
    return f[peaks] + shift * (f[1] - f[0]), s[peaks]


def _on_series(pf: np.ndarray, f0: float) -> tuple[np.ndarray, np.ndarray]:
    """(harmonic numbers, which peaks sit on a harmonic of ``f0``)."""
    h = pf / f0
    k = np.round(h)
    return k, (np.abs(h - k) <= 0.03 * np.maximum(k, 1.0) ** 0.5) & (k >= 1)


# A lower candidate (a sub-harmonic of the strongest peak) is taken only when it explains
# this much more of the new sound: every harmonic of a note is a harmonic of its sub-octave
# and of a twelfth below (a G4 read as C3 on clean_06 at 0.02)
SUBHARMONIC_GAIN = 0.1


def new_series(x: np.ndarray, before: np.ndarray, *, fmin: float = 60.0,
               fmax: float = 4000.0, max_k: int = 6, f0_max: float = 1400.0,
               min_harmonics: int = 3,
               ringing: tuple[float, ...] = ()) -> tuple[float, float, float] | None:
    """(f0, harmonic share, chord-interval dB) of the one harmonic series that best explains
    the *new* sound in ``x``, or None.

    For a note plucked while a louder string rings on: the pitch model follows the louder
    string, so the note's own pitch is sought here. The strongest new peak is harmonic
    1…``max_k`` of it; the candidate with the largest share wins (the higher f0 unless a lower
    one explains SUBHARMONIC_GAIN more: a sub-octave holds every harmonic too), its f0 fitted
    on the harmonics
    found (:func:`fit_series`); at most ``f0_max`` (a guitar's highest note) and with at
    least ``min_harmonics`` peaks on it (a lone peak of a dense distorted spectrum is no
    series). ``ringing`` as for :func:`harmonic_figures`."""
    found = _new_peaks(x, before, fmax)
    if found is None:
        return None
    pf, pe = found
    top = float(pf[int(np.argmax(pe))])
    best: tuple[float, float] | None = None
    for k in range(1, max_k + 1):
        f0 = top / k
        if f0 < fmin:
            break
        kk, near = _on_series(pf, f0)
        if f0 > f0_max or int(near.sum()) < min_harmonics:
            continue
        share = float(pe[near].sum() / pe.sum())
        if best is None or share > best[1] + SUBHARMONIC_GAIN:
            best = (float((pf[near] * pe[near]).sum() / (kk[near] * pe[near]).sum()), share)
    if best is None:
        return None
    _share, interval = harmonic_figures(x, best[0], before=before, fmax=fmax, ringing=ringing)
    return best[0], best[1], interval


def series_share(x: np.ndarray, before: np.ndarray, f0: float, *, fmax: float = 4000.0
                 ) -> float:
    """Share (0–1) of the new sound's peak energy on harmonics of ``f0``, ``before`` scaled
    as in :func:`new_series` (a string ringing on is taken out whole)."""
    found = _new_peaks(x, before, fmax)
    if found is None:
        return 0.0
    pf, pe = found
    return float(pe[_on_series(pf, f0)[1]].sum() / pe.sum())


def low_harmonics_share(x: np.ndarray, before: np.ndarray, f0: float, *, k_max: int = 2,
                        fmax: float = 4000.0) -> float:
    """Share (0–1) of the new sound's peak energy on harmonics 1…``k_max`` of ``f0``,
    ``before`` scaled as in :func:`new_series`: a re-pick of a note has new energy there; a
    higher note whose harmonics all sit on its series (D4 over a ringing G2) has none."""
    found = _new_peaks(x, before, fmax)
    if found is None:
        return 0.0
    pf, pe = found
    kk, near = _on_series(pf, f0)
    return float(pe[near & (kk <= k_max)].sum() / pe.sum())


def fit_series(x: np.ndarray, before: np.ndarray, f0: float, *, fmax: float = 4000.0
               ) -> float | None:
    """``f0`` fitted on the new sound's peaks on its harmonics (energy-weighted mean of peak
    frequency / harmonic number): a longer ``x`` resolves them finer than the attack."""
    found = _new_peaks(x, before, fmax)
    if found is None:
        return None
    pf, pe = found
    kk, near = _on_series(pf, f0)
    if not near.any():
        return None
    return float((pf[near] * pe[near]).sum() / (kk[near] * pe[near]).sum())


def new_energy(x: np.ndarray, before: np.ndarray, *, fmax: float = 4000.0) -> float:
    """Share (0–1) of ``x``'s energy in the guitar band that was not in ``before`` (same length).

    A new note brings energy of its own; a held chord or a decaying string brings none,
    however its pitch track wanders.
    """
    if len(x) < 256 or len(before) < 256:
        return 0.0
    n_fft = 1 << int(np.ceil(np.log2(max(len(x), len(before), 2048))))
    now, then = _power(x, n_fft), _power(before, n_fft)
    band = slice(int(55.0 * n_fft / RATE), int(fmax * n_fft / RATE) + 1)
    total = float(now[band].sum())
    return float(np.maximum(now[band] - then[band], 0.0).sum() / total) if total > 0 else 0.0

