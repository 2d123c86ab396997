"""A physical plucked-string guitar: what a real acoustic guitar in a real room sends a mic.

Why: the soundfont renders (``render.py``) are clean samples that stop on note-off. A real
guitar rings for seconds, its two polarisations beat (the level swells and dips while it
decays), the other open strings ring in sympathy 15–30 dB down, the body resonates, and the
room, the mains and a cheap microphone add their own. The engine must cope with all of that,
so the benchmark needs it — with exact truth (onset, true end, pitch to the cent).

Model (numpy/scipy, deterministic for a seed):

- **String**: an extended Karplus–Strong digital waveguide per polarisation. Loop = delay
  ``N`` samples × first-order allpass (fractional delay) × DC-normalised one-pole low-pass ×
  gain ``g``. ``g`` and the pole are solved so the fundamental decays 60 dB in ``t60`` and a
  2 kHz partial in ``t60_hi`` (frequency-dependent loss); the allpass coefficient is solved
  so the loop's phase delay at f0 is exactly ``sr / f0``: the fundamental is exact to
  round-off (tests: within 1 cent). Computed one period at a time (``lfilter`` with carried
  state on the previous period), ≈50 ms per string-second-pair, no per-sample Python loop.
- **Two polarisations** with different decays whose partials sit ±``split_cents``/2 (of the
  fundamental; the same in Hz for every partial, by a single-sideband shift) around the
  note: beating, the whole tone swelling and dipping. The truth's pitch is the centre; the
  heard pitch leans towards the longer-lived polarisation late in the decay.
- **Pick**: a short DC-free pulse (shorter = harder, brighter) through the pick-position
  comb ``x[n] − x[n − βP]``; a hard re-pick of a ringing string stops the old vibration
  (5 ms), a soft (legato) one keeps half of it; a damp (the player's hand) switches the
  loop to a fast loss: −40 dB in ≈60–90 ms.
- **Sympathetic strings**: every open string not played in the clip is a waveguide driven by
  the bridge (the sum of the played strings), so it rings at its own pitch, loudest where its
  harmonics meet the played note's; the strongest is scaled to ``sympathy_db`` under the
  loudest played note. A damp mutes them too (the hand lies across the strings).
- **Body**: direct path + resonances near 100, 200 and 400 Hz. **Room**: early reflections +
  a late tail whose highs die faster (:func:`room_ir`). **Microphone**: "flat" or "cheap"
  (gentle 150 Hz high-pass, +5 dB presence at 3.5 kHz, 8 kHz low-pass). **Noise**: mains
  hum (50/60 Hz with harmonics, slightly wandering), pick clicks, fret squeaks, hiss.

Truth (``fretcoach-truth/1`` like ``render.py``, fields added, none renamed), see
:func:`note_ends` and ``TIMING_REFERENCE``:

- ``onset_s`` = the sample the pick releases the string (the output jumps there; ±0.5 ms).
- ``string_offset_s`` = where the note stops sounding *on its own string*: the damp time, or
  the next pluck on the same string, or else the end of the last 20 ms RMS frame of the
  isolated string signal (after body and microphone, before room and noise) that is still
  above max(its own peak − 40 dB, noise floor + 6 dB).
- ``offset_s`` = what a monophonic transcriber must report: ``string_offset_s``, or the next
  onset on any other string if that comes first (a let-ring arpeggio: each note hands over
  to the next, as legato is scored). Double-stop notes share their group's ends.
- ``kind`` = "note" or "double_stop"; ``sympathetic`` lists the strings ringing in
  sympathy (never notes) with their peak level under the played note.

    python bench/string_model.py --demo out.flac       # a G3 ringing 6 s with sympathy
    python bench/string_model.py --write-test-clips    # tests/data/real_guitar/*
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

SR = 44100
OPEN_MIDI = (40, 45, 50, 55, 59, 64)  # standard tuning, string 0 = low E2
STRING_NAMES = ("E2", "A2", "D3", "G3", "B3", "E4")
# T60 (s) of an open string's fundamental on a good acoustic, and at 2 kHz
T60_RANGE = ((7.0, 10.0), (6.0, 9.0), (5.0, 8.0), (4.5, 7.0), (4.0, 6.5), (3.5, 6.0))
FLOOR_MARGIN_DB = 6.0
END_DROP_DB = 40.0
ENV_WIN_S, ENV_HOP_S = 0.02, 0.005
HELD_MIN_S = 1.5
TEST_CLIPS = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_guitar"

TIMING_REFERENCE = (
    "onset_s = the sample the pick releases the string (+-0.5 ms). string_offset_s = the damp "
    "time, or the next pluck on the same string, or else the end of the last 20 ms RMS frame "
    "(5 ms hop) of the isolated string signal (after body and microphone, before room and "
    "noise) still above max(own peak - 40 dB, noise floor + 6 dB); noise floor = median "
    "envelope of the added hum + hiss. offset_s = min(string_offset_s, the next onset on "
    "another string): the end a monophonic transcriber must report. Double-stop notes share "
    "their group's onset and end. Sympathetic strings are listed under 'sympathetic', never "
    "as notes."
)


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


# ------------------------------------------------------------------------------ the loop


def _onepole_design(f0: float, t60: float, t60_hi: float, sr: int) -> tuple[float, float]:
    """(gain g, pole a) of the loop filter g(1−a)/(1−a z⁻¹): the partial at f0 decays 60 dB
    in ``t60`` s and one at 2 kHz in ``t60_hi`` s (one loop pass = one period of f0)."""
    g0 = 10.0 ** (-3.0 / (f0 * t60))
    g1 = 10.0 ** (-3.0 / (f0 * min(t60_hi, t60)))
    w0 = 2 * math.pi * f0 / sr
    w1 = 2 * math.pi * max(2000.0, 3 * f0) / sr
    r2 = (g1 / g0) ** 2
    a = 0.0
    if r2 < 1.0 - 1e-9:
        c0, c1 = math.cos(w0), math.cos(w1)
        p = c0 - r2 * c1
        q = 1.0 - r2
        disc = p * p - q * q
        a = (p - math.sqrt(max(disc, 0.0))) / q
        a = min(max(a, 0.0), 0.95)
    h0 = (1 - a) / abs(1 - a * complex(math.cos(w0), -math.sin(w0)))
    return min(g0 / h0, 0.99999), a


def _phase_delay(b: Sequence[float], a: Sequence[float], w: float) -> float:
    z = complex(math.cos(w), -math.sin(w))  # z^-1
    num = sum(c * z**k for k, c in enumerate(b))
    den = sum(c * z**k for k, c in enumerate(a))
    return -math.atan2((num / den).imag, (num / den).real) / w


def _allpass_for_delay(d: float, w: float) -> float:
    """Coefficient c of (c + z⁻¹)/(1 + c z⁻¹) whose phase delay at ``w`` is exactly ``d``."""
    lo, hi = -0.999, 0.999  # phase delay decreases as c grows
    for _ in range(80):
        c = 0.5 * (lo + hi)
        if _phase_delay((c, 1.0), (1.0, c), w) > d:
            lo = c
        else:
            hi = c
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Loop:
    """One tuned waveguide loop: y[n] = x[n] + g · (allpass · lowpass)(y)[n − N]."""

    n: int
    b: tuple[float, ...]
    a: tuple[float, ...]
    g: float

    @classmethod
    def tuned(cls, f0: float, t60: float, t60_hi: float, sr: int = SR) -> Loop:
        g, p = _onepole_design(f0, t60, t60_hi, sr)
        w0 = 2 * math.pi * f0 / sr
        tau_lp = _phase_delay((1 - p,), (1.0, -p), w0)
        total = sr / f0 - tau_lp
        n = math.floor(total - 0.5)
        c = _allpass_for_delay(total - n, w0)
        b = tuple(np.convolve([1 - p], [c, 1.0]))
        a = tuple(np.convolve([1.0, -p], [1.0, c]))
        return cls(n, b, a, g)


def freq_shift(x: np.ndarray, hz: float, sr: int = SR) -> np.ndarray:
    """Shift every component of ``x`` by ``hz`` (single-sideband: analytic signal times
    e^{j2π hz t}, t = 0 at the first sample, so the attack is unchanged). Zero-padded so the
    FFT's wrap-around does not leak the attack into the tail."""
    from scipy.signal import hilbert

    n = len(x)
    analytic = hilbert(np.concatenate([x, np.zeros(n // 2 + 1024)]))[:n]
    return np.real(analytic * np.exp(2j * np.pi * hz * np.arange(n) / sr))


def _damp_gain(f0: float, seconds: float = 0.07) -> float:
    """Loop gain per period that takes the string down 40 dB in ``seconds``."""
    return 10.0 ** (-2.0 / max(1.0, f0 * seconds))


def run_loop(x: np.ndarray, loop: Loop, *, f0: float,
             damp: Sequence[tuple[int, int]] = ()) -> np.ndarray:  # fmt: skip
    """Drive ``loop`` with ``x``; inside a ``damp`` window (samples [start, end)) the loop
    loses 40 dB in ≈70 ms (a hand on the string). One ``lfilter`` call per period."""
    from scipy.signal import lfilter

    n_tot = len(x)
    y = np.zeros(n_tot)
    prev = np.zeros(loop.n)
    zi = np.zeros(max(len(loop.a), len(loop.b)) - 1)
    b, a, N = np.asarray(loop.b), np.asarray(loop.a), loop.n
    g_damp = _damp_gain(f0)
    for start in range(0, n_tot, N):
        stop = min(start + N, n_tot)
        v, zi = lfilter(b, a, prev[: stop - start], zi=zi)
        gain = loop.g
        if any(s <= start < e for s, e in damp):
            gain = min(gain, g_damp)
        y[start:stop] = x[start:stop] + gain * v
        prev = y[start:stop]
    return y


# ------------------------------------------------------------------------------ the scene


@dataclass(frozen=True)
class Pluck:
    """One picked note. ``string`` 0 = low E … 5 = high E; ``fret`` 0 = open; ``cents`` the
    player's intonation (exact in the truth); ``hold`` s until the hand damps the string
    (None: let it ring); ``velocity`` 0–1; ``repick`` how it meets a still-ringing same
    string: "hard" (the pick stops it) or "soft" (legato: half of it keeps ringing);
    ``group`` ties the notes of a double stop; ``t60`` overrides the string's decay."""

    onset: float
    string: int
    fret: int
    hold: float | None = None
    cents: float = 0.0
    velocity: float = 0.8
    repick: str = "hard"
    group: int | None = None
    t60: float | None = None

    @property
    def midi(self) -> float:
        return OPEN_MIDI[self.string] + self.fret + self.cents / 100.0


@dataclass(frozen=True)
class Scene:
    """A whole clip. Levels in dB are relative to the loudest played note's peak
    (isolated string, 20 ms RMS). ``split_cents`` = polarisation split range; ``pol_balance``
    0 = one polarisation only … 1 = both equal (deepest beats)."""

    plucks: tuple[Pluck, ...]
    total_s: float
    seed: int = 0
    sympathy_db: float | None = None
    split_cents: tuple[float, float] = (0.5, 1.5)
    pol_balance: tuple[float, float] = (0.2, 0.5)
    body: bool = True
    room: tuple[float, float] | None = None  # (rt60_s, wet share)
    mic: str = "flat"  # "flat" | "cheap"
    hum: tuple[float, float] | None = None  # (50 or 60 Hz, level dB)
    hiss_db: float = -75.0
    pick_noise_db: float | None = -24.0
    fret_noises: tuple[float, ...] = ()  # squeak times (s)
    description: str = ""


def _excitation(n: int, f0: float, velocity: float, pick_pos: float,
                rng: np.random.Generator, sr: int = SR) -> np.ndarray:  # fmt: skip
    """A pick releasing the string: a half-cosine pulse (0.3–1.5 ms, shorter when harder)
    plus a little noise, through the pick-position comb (DC-free)."""
    length = max(3, int(sr * (0.0003 + 0.0012 * (1.0 - velocity))))
    pulse = np.sin(np.linspace(0, math.pi, length)) ** 2
    pulse = pulse + 0.15 * rng.standard_normal(length) * pulse
    x = np.zeros(n)
    x[:length] = pulse
    lag = max(1, round(pick_pos * sr / f0))
    comb = x.copy()
    comb[lag:] -= x[: n - lag]
    return comb * velocity


@dataclass
class _Voice:
    pluck: Pluck
    index: int
    start: int
    signal: np.ndarray  # from ``start`` on, before body/mic
    cut: int | None = None  # next pluck on the same string (sample)
    damp_at: int | None = None


def _string_params(s: int, fret: int, rng: np.random.Generator) -> tuple[float, float]:
    lo, hi = T60_RANGE[s]
    t60 = rng.uniform(lo, hi) * 0.97**fret  # a fretted (shorter) string dies a little sooner
    return t60, t60 * rng.uniform(0.12, 0.25)


def _render_string_voices(scene: Scene, rng: np.random.Generator, n_total: int) -> list[_Voice]:
    plucks = sorted(scene.plucks, key=lambda p: (p.onset, p.string))
    voices: list[_Voice] = []
    for i, p in enumerate(plucks):
        start = round(p.onset * SR)
        nxt = [q for q in plucks[i + 1:] if q.string == p.string]
        cut = round(nxt[0].onset * SR) if nxt else None
        damp_at = round((p.onset + p.hold) * SR) if p.hold is not None else None
        t60, t60_hi = _string_params(p.string, p.fret, rng)
        if p.t60 is not None:
            t60_hi, t60 = p.t60 * t60_hi / t60, p.t60
        f0 = midi_to_hz(p.midi)
        end = n_total
        if damp_at is not None:
            end = min(end, damp_at + int(0.4 * SR))
        end = min(end, start + int(1.4 * t60 * SR))
        n = max(1, end - start)
        split = rng.uniform(*scene.split_cents)
        balance = rng.uniform(*scene.pol_balance)
        pick_pos = rng.uniform(0.08, 0.22)
        x = _excitation(n, f0, p.velocity, pick_pos, rng)
        damp = [(damp_at - start, n)] if damp_at is not None else []
        sig = np.zeros(n)
        # polarisation 1 (couples to the top: radiates more, dies sooner) and 2; their
        # partials sit ±split/2 apart, the same in Hz for every partial (the bridge shifts
        # each mode a little): all partials swell and dip together, as recordings show
        dhz = f0 * (2 ** (split / 1200.0) - 1.0)
        for sign, amp, t_mul in ((-1, 1.0, 1.0), (1, balance, rng.uniform(1.1, 1.5))):
            if amp <= 0:
                continue
            loop = Loop.tuned(f0, t60 * t_mul, t60_hi * t_mul)
            y = run_loop(x, loop, f0=f0, damp=damp)
            sig += amp * (freq_shift(y, sign * dhz / 2) if dhz > 0 else y)
        voices.append(_Voice(p, i, start, sig, cut, damp_at))
    # re-picks: a hard one stops the ringing string in 5 ms, a soft one keeps half of it;
    # a new fret on the same string always stops the old note
    for v in voices:
        if v.cut is None:
            continue
        nxt = next(w for w in voices if w.start == v.cut and w.pluck.string == v.pluck.string)
        same = nxt.pluck.fret == v.pluck.fret
        keep = 0.5 if same and nxt.pluck.repick == "soft" else 0.0
        k = v.cut - v.start
        if k < len(v.signal):
            ramp = np.ones(len(v.signal) - k) * keep
            r = min(len(ramp), int(0.005 * SR))
            ramp[:r] = np.linspace(1.0, keep, r)
            v.signal[k:] *= ramp
    return voices


def _placed(v: _Voice, n_total: int) -> np.ndarray:
    out = np.zeros(n_total)
    m = min(len(v.signal), n_total - v.start)
    out[v.start:v.start + m] = v.signal[:m]
    return out


def body_filter(x: np.ndarray, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Direct sound plus the top's and air cavity's resonances near 100, 200 and 400 Hz."""
    from scipy.signal import iirpeak, lfilter

    out = x.copy()
    for f, q, gain in ((100.0, 12.0, 1.4), (200.0, 14.0, 1.0), (400.0, 10.0, 0.6)):
        b, a = iirpeak(f * rng.uniform(0.9, 1.1), q, fs=sr)
        out += gain * lfilter(b, a, x)
    return out


def _peaking(f: float, gain_db: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ peaking-EQ biquad."""
    amp = 10 ** (gain_db / 40)
    w = 2 * math.pi * f / sr
    alpha = math.sin(w) / (2 * q)
    b = np.array([1 + alpha * amp, -2 * math.cos(w), 1 - alpha * amp])
    a = np.array([1 + alpha / amp, -2 * math.cos(w), 1 - alpha / amp])
    return b / a[0], a / a[0]


def mic_filter(x: np.ndarray, kind: str, sr: int = SR) -> np.ndarray:
    """"flat": 40 Hz–16 kHz. "cheap": gentle 150 Hz high-pass (1st order), +5 dB presence
    bump at 3.5 kHz, 8 kHz low-pass (2nd order) — a budget USB/phone microphone."""
    from scipy.signal import butter, lfilter

    if kind == "flat":
        sos_hp = butter(2, 40.0, "highpass", fs=sr)
        sos_lp = butter(2, 16000.0, "lowpass", fs=sr)
        return lfilter(*sos_lp, lfilter(*sos_hp, x))
    if kind != "cheap":
        raise ValueError(f"unknown microphone {kind!r}")
    y = lfilter(*butter(1, 150.0, "highpass", fs=sr), x)
    y = lfilter(*_peaking(3500.0, 5.0, 1.2, sr), y)
    return lfilter(*butter(2, 8000.0, "lowpass", fs=sr), y)


def room_ir(rt60_s: float, seed: int, sr: int = SR) -> np.ndarray:
    """A small room: direct path, 6–10 early reflections (3–30 ms), then a diffuse tail
    that decays 60 dB in ``rt60_s`` below 1 kHz and about twice as fast above."""
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(seed)
    n = int(rt60_s * 1.1 * sr)
    ir = np.zeros(n)
    ir[0] = 1.0
    for _ in range(rng.integers(6, 11)):
        t = int(rng.uniform(0.003, 0.030) * sr)
        ir[t] += rng.choice((-1, 1)) * rng.uniform(0.15, 0.5)
    t = np.arange(n) / sr
    onset = int(0.02 * sr)
    noise = rng.standard_normal(n)
    low = lfilter(*butter(2, 1000.0, "lowpass", fs=sr), noise) * np.exp(-6.9078 * t / rt60_s)
    high = lfilter(*butter(2, 1000.0, "highpass", fs=sr), noise) * np.exp(-13.8 * t / rt60_s)
    tail = (low + 0.5 * high) * np.minimum(1.0, t / 0.02)
    tail[:onset] *= np.linspace(0, 1, onset)
    early_e = float(np.sum(ir**2))
    tail *= math.sqrt(1.5 * early_e / (np.sum(tail**2) + 1e-12))
    return ir + tail


def hum(n: int, base_hz: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Mains hum with harmonics (odd ones stronger: a buzz), its frequency wandering by a few
    hundredths of a hertz and its level by ±1 dB; unit RMS."""
    t = np.arange(n) / sr
    drift = 0.03 * np.sin(2 * math.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.3))
    phase = 2 * math.pi * np.cumsum(base_hz + drift) / sr
    out = np.zeros(n)
    for k, amp in ((1, 1.0), (2, 0.35), (3, 0.6), (4, 0.15), (5, 0.35), (7, 0.2), (9, 0.1)):
        out += amp * np.sin(k * phase + rng.uniform(0, 6.3))
    out *= 1 + 0.12 * np.sin(2 * math.pi * rng.uniform(0.1, 0.5) * t)
    return out / (np.std(out) + 1e-12)


def _click(n: int, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """A pick's click: 2–4 ms of high-passed noise, fast decay; unit peak."""
    from scipy.signal import butter, lfilter

    m = int(rng.uniform(0.002, 0.004) * sr)
    burst = lfilter(*butter(2, 2000.0, "highpass", fs=sr), rng.standard_normal(m))
    burst *= np.exp(-np.arange(m) / (0.3 * m))
    out = np.zeros(n)
    out[: min(n, m)] = burst[: min(n, m)]
    return out / (np.max(np.abs(out)) + 1e-12)


def _squeak(n: int, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """A finger sliding on a wound string: noise swept through a 1–4 kHz band, 60–150 ms."""
    from scipy.signal import butter, sosfilt

    m = int(rng.uniform(0.06, 0.15) * sr)
    noise = rng.standard_normal(m)
    lo, hi = rng.uniform(900, 1500), rng.uniform(2500, 4000)
    a = sosfilt(butter(2, (lo, hi), "bandpass", fs=sr, output="sos"), noise)
    env = np.sin(np.linspace(0, math.pi, m)) ** 2
    # a rough ridge pattern: the windings tick under the finger
    ticks = 1 + 0.8 * np.sign(np.sin(2 * math.pi * np.cumsum(np.linspace(80, 200, m)) / sr))
    out = np.zeros(n)
    seg = (a * env * ticks)[:n]
    out[: len(seg)] = seg
    return out / (np.max(np.abs(out)) + 1e-12)


def envelope_db(x: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """20 ms RMS every 5 ms: (frame centre times, dB)."""
    w, h = int(ENV_WIN_S * sr), int(ENV_HOP_S * sr)
    if len(x) < w:
        return np.zeros(0), np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(np.asarray(x, dtype=np.float64) ** 2)])
    starts = np.arange(0, len(x) - w + 1, h)
    power = (c[starts + w] - c[starts]) / w
    return (starts + w / 2) / sr, 10 * np.log10(power + 1e-20)


# ------------------------------------------------------------------------------ truth


def note_end_s(sig: np.ndarray, start_s: float, floor_db: float, *,
               hard_end_s: float | None) -> tuple[float, float]:  # fmt: skip
    """(end time, peak dB) of an isolated string signal starting at ``start_s``: the end of
    the last 20 ms frame still above max(peak − 40 dB, floor + 6 dB), capped at
    ``hard_end_s`` (a damp or the next pluck on the string)."""
    times, env = envelope_db(sig)
    times = times + start_s
    peak = float(env.max()) if len(env) else -200.0
    thr = max(peak - END_DROP_DB, floor_db + FLOOR_MARGIN_DB)
    above = np.nonzero(env >= thr)[0]
    end = float(times[above[-1]] + ENV_WIN_S / 2) if len(above) else start_s
    if hard_end_s is not None:
        end = min(end, hard_end_s)
    return end, peak


def render(scene: Scene, *, peak_dbfs: float | None = -3.0) -> tuple[np.ndarray, dict]:
    """Render a scene: (mono float32 audio at 44.1 kHz peak-normalised to ``peak_dbfs``,
    or unscaled if None; truth dict)."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(scene.seed)
    n_total = round(scene.total_s * SR)
    voices = _render_string_voices(scene, rng, n_total)
    body_rng_seed = int(rng.integers(1 << 30))
    played_strings = {v.pluck.string for v in voices}
    placed = [_placed(v, n_total) for v in voices]

    def chain(x: np.ndarray) -> np.ndarray:
        y = body_filter(x, np.random.default_rng(body_rng_seed)) if scene.body else x
        return mic_filter(y, scene.mic)

    dry = [chain(p) for p in placed]  # each note alone, as the mic hears it (no room)
    peaks = [float(envelope_db(d[v.start:])[1].max()) for d, v in zip(dry, voices, strict=True)]
    ref_db = max(peaks) if peaks else 0.0

    # sympathetic strings, driven by the bridge
    symp: list[dict] = []
    symp_sig = np.zeros(n_total)
    if scene.sympathy_db is not None and voices:
        bridge = np.sum(placed, axis=0)
        damp_windows = []
        onsets = sorted(v.start for v in voices)
        for v in voices:
            if v.damp_at is not None:
                later = [o for o in onsets if o > v.damp_at]
                damp_windows.append((v.damp_at, later[0] if later else n_total))
        raw = []
        for s in range(6):
            if s in played_strings:
                continue
            f0 = midi_to_hz(OPEN_MIDI[s])
            t60, t60_hi = _string_params(s, 0, rng)
            y = run_loop(bridge * 0.02, Loop.tuned(f0, t60, t60_hi), f0=f0, damp=damp_windows)
            raw.append((s, y, chain(y)))
        levels = [float(envelope_db(c)[1].max()) - ref_db for _, _, c in raw]
        if raw:
            # the strongest (most shared harmonics) at sympathy_db; the others keep half
            # their natural distance below it, at most 12 dB (each string's coupling differs)
            top = max(levels)
            for (s, y, c), lev in zip(raw, levels, strict=True):
                want = max(scene.sympathy_db - 12.0, scene.sympathy_db + 0.5 * (lev - top))
                scale = 10 ** ((want - lev) / 20)
                symp_sig += y * scale
                times, env = envelope_db(c * scale)
                rel = env - ref_db
                audible = times[rel >= -60.0]
                symp.append({
                    "string": s, "string_name": STRING_NAMES[s], "midi": float(OPEN_MIDI[s]),
                    "hz": round(midi_to_hz(OPEN_MIDI[s]), 4),
                    "peak_db_rel": round(lev + 20 * math.log10(scale), 2),
                    "audible_from_s": round(float(audible[0]), 3) if len(audible) else None,
                    "audible_until_s": round(float(audible[-1]), 3) if len(audible) else None,
                })  # fmt: skip

    # the mix: strings + pick clicks → body → room → mic; then hiss and hum
    acoustic = np.sum(placed, axis=0) + symp_sig if placed else np.zeros(n_total)
    if scene.pick_noise_db is not None:
        for v, pk in zip(voices, peaks, strict=True):
            amp = 10 ** ((pk + scene.pick_noise_db) / 20) * v.pluck.velocity
            acoustic[v.start:] += amp * _click(n_total - v.start, rng)
    for t in scene.fret_noises:
        i = int(t * SR)
        acoustic[i:] += 10 ** ((ref_db - 30) / 20) * _squeak(n_total - i, rng)
    mix = body_filter(acoustic, np.random.default_rng(body_rng_seed)) if scene.body else acoustic
    if scene.room is not None:
        rt60, wet = scene.room
        ir = room_ir(rt60, int(rng.integers(1 << 30)))
        wet_sig = fftconvolve(mix, ir)[:n_total]
        mix = (1 - wet) * mix + wet * wet_sig * (np.std(mix) / (np.std(wet_sig) + 1e-12))
    mix = mic_filter(mix, scene.mic)
    noise = rng.standard_normal(n_total) * 10 ** ((ref_db + scene.hiss_db) / 20)
    if scene.hum is not None:
        base, level = scene.hum
        noise += hum(n_total, base, rng) * 10 ** ((ref_db + level) / 20)
    mix = mix + noise
    _, noise_env = envelope_db(noise)
    floor_db = float(np.median(noise_env))

    notes = _truth_notes(voices, dry, floor_db, ref_db)
    peak = float(np.max(np.abs(mix))) or 1.0
    gain = 1.0 if peak_dbfs is None else 10 ** (peak_dbfs / 20) / peak
    audio = (mix * gain).astype(np.float32)
    truth = _truth_doc(scene, notes, symp, floor_db - ref_db, len(audio) / SR)
    return audio, truth


def _truth_notes(voices: list[_Voice], dry: list[np.ndarray], floor_db: float,
                 ref_db: float) -> list[dict]:  # fmt: skip
    out = []
    for v, d in zip(voices, dry, strict=True):
        p = v.pluck
        hard = None
        reason = "decay"
        if v.damp_at is not None:
            hard, reason = v.damp_at / SR, "damped"
        if v.cut is not None and (hard is None or v.cut / SR < hard):
            hard, reason = v.cut / SR, "repick"
        seg = d[v.start:]
        end, peak = note_end_s(seg, v.start / SR, floor_db, hard_end_s=hard)
        if hard is not None and end < hard - 1e-9:
            reason = "decay"  # it had died away before the hand or the next pluck came
        out.append({
            "onset_s": round(v.start / SR, 6), "string_offset_s": round(end, 6),
            "end_reason": reason, "midi": round(p.midi, 6), "key": OPEN_MIDI[p.string] + p.fret,
            "cents": round(p.cents, 3), "cents_requested": round(p.cents, 3),
            "attack_cents": round(p.cents, 3), "hz": round(midi_to_hz(p.midi), 4),
            "velocity": round(p.velocity * 127), "program": None,
            "string": p.string, "string_name": STRING_NAMES[p.string], "fret": p.fret,
            "kind": "double_stop" if p.group is not None else "note", "group": p.group,
            "damped": p.hold is not None, "repick": p.repick,
            "peak_db_rel": round(peak - ref_db, 2),
        })  # fmt: skip
    out.sort(key=lambda n: (n["onset_s"], n["midi"]))
    # a group's notes share onset and string end (the longer of the two)
    groups: dict[int, list[dict]] = {}
    for n in out:
        if n["group"] is not None:
            groups.setdefault(n["group"], []).append(n)
    for members in groups.values():
        end = max(m["string_offset_s"] for m in members)
        for m in members:
            m["group_offset_s"] = end
    for n in out:
        own = n.get("group_offset_s", n["string_offset_s"])
        later = [m["onset_s"] for m in out if m["onset_s"] > n["onset_s"] + 1e-6
                 and (n["group"] is None or m["group"] != n["group"])]  # fmt: skip
        off = min([own, *later[:1]])
        n["offset_s"] = round(off, 6)
        if later and later[0] < own:
            n["end_reason_mono"] = "next_note"
        n.pop("group_offset_s", None)
    return out


def _truth_doc(scene: Scene, notes: list[dict], symp: list[dict], floor_rel_db: float,
               duration_s: float) -> dict:  # fmt: skip
    import itertools
    import statistics

    onsets = sorted({n["onset_s"] for n in notes})
    iois = [b - a for a, b in itertools.pairwise(onsets)]
    cv = (statistics.pstdev(iois) / statistics.fmean(iois)) if len(iois) >= 2 else None
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(notes):
        if n["group"] is not None:
            groups.setdefault(n["group"], []).append(i)
    params = asdict(scene)
    params.pop("description")
    params["plucks"] = [asdict(p) for p in scene.plucks]
    return {
        "format": "fretcoach-truth/1",
        "description": scene.description,
        "sample_rate": SR,
        "duration_s": round(duration_s, 6),
        "a4_hz": 440.0,
        "key": None,
        "scale": None,
        "polyphonic": False,
        "instrument": "string_model",
        "notes": notes,
        "double_stops": sorted(groups.values()),
        "sympathetic": symp,
        "noise_floor_db_rel": round(floor_rel_db, 2),
        "figures": {
            "note_count": len(notes),
            "in_scale_ratio": None,
            "ioi_cv": None if cv is None else round(cv, 6),
            "wrong_notes": None,
            "mean_abs_cents": round(statistics.fmean(abs(n["cents"]) for n in notes), 3)
            if notes else None,
            "held_notes": sum(1 for n in notes if n["offset_s"] - n["onset_s"] >= HELD_MIN_S),
        },
        "timing_reference": TIMING_REFERENCE,
        "params": params,
    }


def write(path: Path, scene: Scene, *, sample_rate: int = SR) -> dict:
    """Render ``scene`` to ``path`` (16-bit FLAC/WAV, resampled if ``sample_rate`` differs)
    and its truth to ``<stem>.truth.json``; returns the truth."""
    import soundfile as sf

    audio, truth = render(scene)
    if sample_rate != SR:
        from scipy.signal import resample_poly

        g = math.gcd(sample_rate, SR)
        audio = resample_poly(audio, sample_rate // g, SR // g).astype(np.float32)
        truth["sample_rate"] = sample_rate
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    sf.write(str(path), np.clip(audio, -1, 1), sample_rate, format=fmt, subtype="PCM_16")
    truth_file(path).write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def truth_file(audio_path: Path) -> Path:
    return audio_path.with_name(audio_path.name.rsplit(".", 1)[0] + ".truth.json")


# ------------------------------------------------------------------------------ test clips


def test_clip_scenes() -> dict[str, Scene]:
    """The committed engine-test clips (``tests/data/real_guitar``)."""
    g3 = Scene((Pluck(0.5, 3, 0, hold=None, velocity=0.85, t60=9.0),), total_s=7.0, seed=301,
               sympathy_db=-18.0, split_cents=(5.0, 5.0), pol_balance=(1.0, 1.0),
               hiss_db=-80.0,
               description="open G3 plucked once, rings ~6 s: polarisation beating and the "
               "other open strings in sympathy (one note)")  # fmt: skip
    e4 = Scene((Pluck(0.4, 5, 0, velocity=0.8, t60=10.5),), total_s=6.0, seed=302,
               sympathy_db=-24.0, hiss_db=-80.0,
               description="open high E4 plucked once, rings ~5 s (one note)")  # fmt: skip
    e2 = Scene((Pluck(0.5, 0, 0, hold=8.0, velocity=0.85, t60=24.0),), total_s=9.3, seed=303,
               sympathy_db=-22.0, hiss_db=-80.0,
               description="open low E2 held 8 s then damped (one note)")  # fmt: skip
    phrase = Scene((
        Pluck(0.5, 2, 2, hold=1.1),                    # E3, damped
        Pluck(2.0, 3, 2, hold=None, t60=5.0),          # A3 let ring ...
        Pluck(3.6, 4, 1, hold=1.2, cents=-6.0),        # C4 (A3 hands over) damped
        Pluck(5.4, 4, 1, hold=None, repick="hard", velocity=0.7),  # C4 again, hard re-pick
        Pluck(6.6, 4, 1, hold=1.4, repick="soft", velocity=0.6),   # C4 legato soft re-pick
        Pluck(8.6, 1, 2, hold=None, t60=7.0, cents=4.0),  # B2 let ring to the end
    ), total_s=12.0, seed=304, sympathy_db=-28.0, hiss_db=-80.0,
        description="slow phrase: E3 damped, A3 let ring, C4 damped, C4 hard re-pick, C4 soft "
        "re-pick, B2 let ring (6 notes)")  # fmt: skip
    return {"g3_ring_beating_sympathy": g3, "e4_ring": e4, "e2_held": e2,
            "phrase_damped_letring_repick": phrase}  # fmt: skip


def write_test_clips(out: Path = TEST_CLIPS) -> list[tuple[str, dict, int]]:
    rows = []
    for name, scene in test_clip_scenes().items():
        path = out / f"{name}.flac"
        truth = write(path, scene, sample_rate=22050)
        rows.append((name, truth, path.stat().st_size))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", type=Path, help="render one G3 ringing 6 s to this .flac/.wav")
    p.add_argument("--write-test-clips", action="store_true",
                   help=f"regenerate {TEST_CLIPS.relative_to(TEST_CLIPS.parents[2])}")
    args = p.parse_args(argv)
    if args.write_test_clips:
        for name, truth, size in write_test_clips():
            notes = ", ".join(f"{n['string_name']}+{n['fret']} {n['onset_s']:.2f}–"
                              f"{n['offset_s']:.2f} s ({n['end_reason']})"
                              for n in truth["notes"])  # fmt: skip
            print(f"{name}: {size / 1000:.0f} kB, {len(truth['notes'])} notes: {notes}")
        return 0
    if args.demo:
        truth = write(args.demo, replace(test_clip_scenes()["g3_ring_beating_sympathy"]))
        print(json.dumps({k: truth[k] for k in ("notes", "sympathetic")}, indent=1))
        return 0
    p.error("nothing to do: --demo FILE or --write-test-clips")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

