"""The tuner core: 16 kHz blocks in, tuner readings out (note, cents, string, steadiness).

No UI and no threads: the CLI, the headless ``tune --json`` and the Textual tuner all feed
blocks through :class:`Tuner` and show what it returns, so a file gives the same readings
however it is played.

How a reading is made (one every ``STEP_S`` of audio, from the audio up to that instant):

* The pitch model (SwiftF0, streamed exactly as the engine streams it) names the note
  roughly. Its frames arrive 3–11 frames late (fixed chunks of 8 with 3 frames of
  lookahead), so a reading uses the frames the audio up to its instant has made final
  (:func:`last_final_frame`), whatever blocks brought that audio: the reading never depends
  on how the input was split into blocks. SwiftF0 hears nothing below
  47 Hz; for a bass's low strings a harmonic-sum search over the spectrum stands in.
* Octaves are checked against the spectrum, inside the tuning's compass: a low E read an
  octave up still has strong partials at the odd multiples of 82 Hz, which no E3 has.
* The cents come from the spectrum of the last ``WINDOW_*`` seconds (Hann, zero-padded,
  parabolic peaks on log magnitude): each partial's frequency divided by its number,
  partials that disagree with the strong ones (hum, a sympathetic string) dropped, the rest
  averaged by power. That is the note's period, as YIN or the ear's periodicity pitch has
  it (and as ``bench/calibrate.py`` defines the rendered truth), so a stiff string reads a
  fraction of a cent above its first partial. On rendered held strings with hum it is
  within +0.2 cent at the median (tests/test_tuner*); on the soundfont's sustained low notes
  (examples/low_e_a_sustained.flac) within 0.6 cent of YIN over the same windows at the
  median of every note (0.15 on five of the six).
* A note's octave is kept while its own series still sounds: late in a held E2 the
  fundamental and the odd partials fade first, and the spectrum looks more and more like E3.
* A chord ("play one string") is new sound not on one harmonic series, judged with the same
  spectral figures as the engine's polyphony check (``refine.harmonic_figures``).
* Nothing ends a reading but the sound: a held note is tracked for as long as it rings above
  the noise, with no note segmentation and no time limit.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fretcoach_cli.audio.pitch.swift import CHUNK as SWIFT_CHUNK
from fretcoach_cli.audio.pitch.swift import HOP as SWIFT_HOP
from fretcoach_cli.audio.pitch.swift import LOOKAHEAD as SWIFT_LOOKAHEAD
from fretcoach_cli.audio.refine import harmonic_figures
from fretcoach_cli.audio.resample import MODEL_RATE
from fretcoach_cli.music import notes
from fretcoach_cli.music.tunings import STANDARD, Tuning, advice, nearest_string

RATE = MODEL_RATE
STEP = 800  # samples between readings: 20 a second
STEP_S = STEP / RATE
# SwiftF0 streams frames in chunks of 8 with 3 frames of lookahead: frame i is out once the
# audio reaches frame 8·ceil((i+1)/8)+3, at most 11 frames (176 ms) later.
LAG = (SWIFT_CHUNK + SWIFT_LOOKAHEAD) * SWIFT_HOP
LAG_S = LAG / RATE
FRAMES_S = 0.15  # model frames (that old) that name the note
VOICED = 0.5  # model confidence of a pitched frame (the engine's figure)
MIN_VOICED = 3  # pitched frames needed among them
HOLD_VOICED = 0.2  # ... or frames this confident on the note already being tracked
GATE_DB = -70.0  # RMS level (dBFS) under which there is no pitch whatever the model says
LEVEL_S = 0.1  # audio the level is measured over
WINDOW_MIN_S, WINDOW_MAX_S, WINDOW_PERIODS = 0.25, 0.5, 40  # spectrum window: 40 periods
KEEP = int(WINDOW_MAX_S * RATE) + STEP  # audio kept
MAX_PARTIAL = 8
PAD = 2  # zero-padding of the spectrum (at least): a peak within 0.07 cent of 4x padding's
NOISE_MARGIN = 10.0  # a partial is evidence only this far (20 dB) above the median bin
AGREE_CENTS = 6.0  # a partial further than this from the others' answer is not the note's
PARTIAL_DB = -40.0  # partials weaker than this under the strongest one are not used
# The engine's polyphony figures: under this share of new peak energy on one series, or a
# peak a fifth/fourth off the series this strong, it is more than one string.
POLY_SHARE = 0.8
CHORD_INTERVAL_DB = -10.0
CHORD_VOTES = 3  # readings out of the last 5 that must look like a chord to say so
# ... judged only while the sound is within this of its peak: a string dying away into the
# hum and the noise has more and more energy off its series, and is still one string
CHORD_RANGE_DB = 20.0
FADED_SHARE = 0.5  # ... where under this share on its series it has faded into the background
SMOOTH = 3  # readings whose median is shown (150 ms; 300 ms at the pane's 10 a second)
STEADY_S = 0.5  # steadiness: spread of the cents over this much of the latest readings
SAME_NOTE_CENTS = 35.0  # readings further apart than this are a new note (smoothing restarts)
SUB_BASS_HZ = 47.0  # SwiftF0's lowest pitch: below it the spectrum's own search names notes
# Mains hum is a pitch too (50 or 60 Hz and its harmonics): a quiet "note" this close to it
# is the hum, heard once a string has died away.
HUM_HZ = (50.0, 60.0, 100.0, 120.0, 150.0, 180.0)
HUM_CENTS = 8.0
HUM_MAX_DB = -40.0

PITCH = "pitch"
NO_PITCH = "no pitch"
CHORD = "play one string"


@dataclass(frozen=True, slots=True)
class TunerReading:
    """One reading. ``state`` is PITCH, NO_PITCH or CHORD; the pitch fields are None
    unless PITCH. ``offset_cents`` is from ``string`` (the guided target, else the nearest
    open string), ``cents`` from the nearest semitone."""

    t: float
    state: str
    level_db: float
    hz: float | None = None
    midi: float | None = None
    note: str | None = None
    cents: float | None = None
    string: int | None = None  # index, 0 = lowest string
    string_name: str | None = None
    offset_cents: float | None = None
    advice: str | None = None
    steadiness: float | None = None  # cents spread over the last STEADY_S; None until known

    @property
    def pitched(self) -> bool:
        return self.state == PITCH


Partial = tuple[int, float, float]  # (number k, frequency Hz, power) of one partial found


class Spectrum:
    """Magnitude spectrum of one window, Hann and zero-padded at least ``PAD`` times.

    Partial searches are memoised per (f0, span): a reading asks for the same series more
    than once (the octave check, then the cents). They and the figures made of them work on
    at most MAX_PARTIAL values, where plain Python costs a fraction of numpy's per-call
    overhead.
    """

    def __init__(self, x: np.ndarray) -> None:
        rfft = load_fft()
        # float32 throughout (the audio's own precision: readings within 1e-4 cent of
        # float64, in half the time and memory), windowed straight into the padded input
        x = np.asarray(x, dtype=np.float32)
        n = len(x)
        self.n_fft = 1 << math.ceil(math.log2(max(n, 64) * PAD))
        padded = np.zeros(self.n_fft, dtype=np.float32)
        np.subtract(x, float(x.sum(dtype=np.float64)) / n, out=padded[:n])
        padded[:n] *= _hann(n)
        self.mag = np.abs(rfft(padded, overwrite_x=True))
        self.bin_hz = RATE / self.n_fft
        self._floor: float | None = None
        self._floor_under = math.inf  # a level the floor is known to lie under
        self._partials: dict[tuple[float, float], list[Partial]] = {}
        self._peaks: dict[tuple[float, float], tuple[float, float] | None] = {}

    @property
    def floor(self) -> float:
        """The noise's typical magnitude: the median bin (a sort of the whole spectrum, so
        made only when :meth:`floor_under` cannot tell without it)."""
        if self._floor is None:
            self._floor = float(np.median(self.mag)) + 1e-12
        return self._floor

    def floor_under(self, level: float) -> bool:
        """Whether :attr:`floor` < ``level``; with no median made yet, by counting the bins
        under ``level`` (more than half: the median is under it), a fraction of a sort.
        False when the count cannot tell (the caller then compares with :attr:`floor`)."""
        if self._floor is not None:
            return self._floor < level
        if level >= self._floor_under:
            return True
        if np.count_nonzero(self.mag < level - 1e-12) > len(self.mag) // 2:
            self._floor_under = level
            return True
        return False

    def partials(self, f0: float, span_cents: float) -> list[Partial]:
        """The peaks (:meth:`_peak`, within ±``span_cents``) of partials 1…MAX_PARTIAL of
        ``f0`` that are found. Each peak is memoised too: the octave checks search the even
        partials of f0/2, which are f0's own."""
        key = (f0, span_cents)
        got = self._partials.get(key)
        if got is not None:
            return got
        got = self._partials[key] = []
        up, down = _span(span_cents)
        for k in range(1, MAX_PARTIAL + 1):
            hz = k * f0
            if hz * up > 0.45 * RATE:
                break
            pkey = (hz, span_cents)
            found = self._peaks.get(pkey, _UNSEEN)
            if found is _UNSEEN:
                found = self._peaks[pkey] = self._peak(hz, up, down)
            if found is not None:
                got.append((k, found[0], found[1]))
        return got

    def _peak(self, hz: float, up: float, down: float) -> tuple[float, float] | None:
        """(frequency, power) of the strongest bin between ``hz·down`` and ``hz·up`` when it
        is a local maximum there, between bins by a parabola through the log magnitudes."""
        mag, bin_hz = self.mag, self.bin_hz
        lo = int(hz * down / bin_hz)
        hi = math.ceil(hz * up / bin_hz) + 1
        if lo < 1 or hi >= len(mag) - 1:
            return None
        i = int(mag[lo:hi + 1].argmax())
        if not 0 < i < hi - lo:
            return None  # the slope of something outside the span, not a peak here
        j = lo + i
        ma, mb, mc = mag[j - 1:j + 2].tolist()
        a, b, c = math.log(ma + 1e-30), math.log(mb + 1e-30), math.log(mc + 1e-30)
        den = a - 2 * b + c
        delta = 0.5 * (a - c) / den if den < 0 else 0.0
        return (j + delta) * bin_hz, mb * mb

    def level_at(self, hz: float) -> float:
        """Magnitude at the bin nearest ``hz`` (0 outside the spectrum)."""
        i = round(hz / self.bin_hz)
        return float(self.mag[i]) if 0 <= i < len(self.mag) else 0.0


@functools.cache
def load_fft() -> Any:
    """scipy's real FFT (about twice numpy's in float32). Its import takes ~0.3 s: a
    :class:`Tuner` makes it when it is created, and the practice room's feed before the
    audio starts, so no reading waits for it."""
    from scipy.fft import rfft  # type: ignore[import-untyped]

    return rfft


_UNSEEN: Any = object()
_SPANS: dict[float, tuple[float, float]] = {}


def _span(cents: float) -> tuple[float, float]:
    """(up, down) frequency ratios of ±``cents`` (a reading asks for two spans only)."""
    got = _SPANS.get(cents)
    if got is None:
        got = _SPANS[cents] = 2 ** (cents / 1200), 2 ** (-cents / 1200)
    return got


_HANN: dict[int, np.ndarray] = {}


def _hann(n: int) -> np.ndarray:
    w = _HANN.get(n)
    if w is None:
        if len(_HANN) >= 256:  # window lengths follow the pitch: keep the cache bounded
            _HANN.clear()
        w = _HANN[n] = np.hanning(n).astype(np.float32)
    return w


def first_partial_hz(spec: Spectrum, f0: float) -> float | None:
    """The note's frequency from all partials near multiples of ``f0`` (±50 cents).

    Each partial k gives f_k / k; those more than AGREE_CENTS from the strongest ones'
    weighted median are something else (hum, a sympathetic string); the rest are averaged
    by power, which is what a period (YIN, autocorrelation) measures.
    """
    found = spec.partials(f0, 50.0)
    if not found:
        return None
    least = max(p for _, _, p in found) * 10 ** (PARTIAL_DB / 10)
    strong = [(hz / k, p) for k, hz, p in found if p >= least]
    centre = _weighted_median(strong)
    keep = [(y, w) for y, w in strong if abs(1200 * math.log2(y / centre)) <= AGREE_CENTS]
    total = sum(w for _, w in keep)
    if total <= 0:
        return None
    return sum(w * y for y, w in keep) / total


def _median(values: list[float]) -> float:
    """np.median of a few floats (the same value) without numpy's overhead."""
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    """The value at half the total weight of (value, weight) pairs, in value order."""
    pairs = sorted(pairs)
    half = sum(w for _, w in pairs) / 2
    cum = 0.0
    for y, w in pairs:
        cum += w
        if cum >= half:
            return y
    return pairs[-1][0]


def _odd_partials(spec: Spectrum, f0: float, floor_db: float | None = None
                  ) -> tuple[int, float, float, float]:
    """(odd partials found, power of all, power of the odd ones, strongest partial's power)
    of the series at ``f0``, counting only peaks within a few cents of k·f0 (a stiff string
    stretches its partials: the tolerance widens with k), 20 dB over the noise, and with
    ``floor_db`` no further than that under the strongest partial."""
    found = spec.partials(f0, 30.0)
    if not found:
        return 0, 0.0, 0.0, 0.0
    strongest = max(p for _, _, p in found)
    least = 0.0 if floor_db is None else strongest * 10 ** (floor_db / 10)
    on = [(k, p) for k, hz, p in found
          if p >= least and abs(1200 * math.log2(hz / (k * f0))) <= 4.0 + 0.15 * k ** 2]
    # ... and NOISE_MARGIN over the noise: the weakest is, or each is compared with it
    if on and not spec.floor_under(math.sqrt(min(p for _, p in on)) / NOISE_MARGIN
                                   * (1 - 1e-9)):
        noise = (NOISE_MARGIN * spec.floor) ** 2
        on = [(k, p) for k, p in on if p >= noise]
    odd, total, odd_power = 0, 0.0, 0.0
    for k, p in on:
        total += p
        if k % 2:
            odd, odd_power = odd + 1, odd_power + p
    return odd, total, odd_power, strongest


def odd_share(spec: Spectrum, f0: float) -> float:
    """Share of the power on partials 1, 3, 5, 7 of ``f0`` among partials 1–8: near 0 when
    the true note is an octave up (only the even ones, i.e. 2·f0's series, are there)."""
    found = spec.partials(f0, 30.0)
    total = sum(p for _, _, p in found)
    if total <= 0:
        return 0.0
    return sum(p for k, _, p in found if k % 2) / total


def sub_bass_guess(spec: Spectrum, lo_hz: float, hi_hz: float) -> float | None:
    """Harmonic-sum pitch search in [lo_hz, hi_hz] (for notes under the model's range):
    the candidate whose first eight partials hold the most (log-weighted) magnitude."""
    cands = lo_hz * 2 ** (np.arange(0, 1200 * math.log2(hi_hz / lo_hz), 10) / 1200)
    if not len(cands):
        return None
    scores = np.zeros(len(cands))
    padded = np.append(spec.mag, 0.0)  # index len(mag): outside the spectrum
    for k in range(1, MAX_PARTIAL + 1):
        i = np.rint(k * cands / spec.bin_hz).astype(np.int64)
        i[(i < 0) | (i >= len(spec.mag))] = len(spec.mag)
        scores += np.log1p(padded[i] / spec.floor) / k ** 0.5
    return float(cands[int(np.argmax(scores))])


def last_final_frame(end: int) -> float:
    """Centre time of the newest SwiftF0 frame a stream has emitted once it has ``end``
    samples: frames come in chunks of SWIFT_CHUNK, each out once SWIFT_LOOKAHEAD more
    frames of audio exist (3–11 frames before ``end``, 7 on average, where waiting a fixed
    LAG for every frame cost 11)."""
    chunks = (end // SWIFT_HOP - SWIFT_LOOKAHEAD) // SWIFT_CHUNK
    return (chunks * SWIFT_CHUNK - 1) * SWIFT_HOP / RATE


def _is_hum(hz: float) -> bool:
    return any(abs(1200 * math.log2(hz / h)) <= HUM_CENTS for h in HUM_HZ)


class Tuner:
    """Feed 16 kHz mono blocks with :meth:`push`; get :class:`TunerReading` back.

    ``target`` (a string index) makes every reading's offset relative to that string, as the
    guided mode wants; None compares with the nearest open string.

    ``shared_frames=True`` runs no pitch model of its own: each :meth:`push` then brings the
    frames a SwiftF0 stream made of that block (the practice room's engine shares its own,
    so the tuner pane costs no second model run). They must be SwiftF0's streamed frames,
    whose lag ``LAG`` the readings count on. ``chords=False`` never says "play one string":
    with several strings ringing (let-ring, an arpeggio in the practice room) it reads the
    note the model names, which is the newest one. ``step`` spaces the readings (samples;
    the practice room's pane reads half as often as ``tune``).
    """

    def __init__(self, tuning: Tuning = STANDARD, *, a4: float = 440.0,
                 backend: Any = None, pitch_model: str = "swift",
                 models_dir: Path | None = None, in_tune_cents: float = 3.0,
                 shared_frames: bool = False, start_sample: int = 0,
                 chords: bool = True, step: int = STEP) -> None:
        load_fft()
        self.tuning, self.a4 = tuning, float(a4)
        self._step, self._step_s = step, step / RATE
        self._names = tuning.string_names()
        self.chords = chords
        self.in_tune_cents = in_tune_cents
        self.target: int | None = None
        self._stream: Any = None
        if not shared_frames:
            if backend is None:
                from fretcoach_cli.audio.pitch import get_backend

                backend = get_backend(pitch_model, models_dir=models_dir)
            self._stream = backend.stream()
        # the audio kept (at least the last KEEP samples before each block) in a buffer
        # that grows and is compacted now and then, not re-concatenated for every block
        self._buf = np.zeros(2 * KEEP, dtype=np.float32)
        self._len = 0  # samples of _buf in use
        self._base = start_sample  # sample index of _buf[0]
        self._n = start_sample  # samples received (the first block starts at start_sample)
        self._next = start_sample + step  # sample index of the next reading
        # model frames (time, f0, confidence) as arrays: a reading selects from them at once
        self._ft = self._ff = self._fc = np.zeros(0)
        self._fine: deque[tuple[float, float]] = deque()  # (t, midi) of this note so far
        self._chord_votes: deque[bool] = deque(maxlen=5)
        self._peak_db = -math.inf  # loudest level since the last silence
        self._last = NO_PITCH  # state of the previous reading
        lowest = min(tuning.strings)
        highest = max(tuning.strings)
        # the compass octave checks and guesses stay inside: the tuning, a semitone or more
        # slack below (a slack string), two octaves above its top (fretted, harmonics)
        self._lo_midi, self._hi_midi = lowest - 5.0, highest + 24.0

    @property
    def position_s(self) -> float:
        return self._n / RATE

    def push(self, block: np.ndarray, frames: Any = None) -> list[TunerReading]:
        """Readings due by the end of ``block``; ``frames`` with ``shared_frames`` only."""
        block = np.asarray(block, dtype=np.float32)
        if self._stream is None:
            if frames is None:
                raise ValueError("a tuner with shared_frames needs each block's frames")
            self._take_frames(frames)
        if not len(block):
            return []
        if self._stream is not None:
            self._take_frames(self._stream.push(block))
        self._append(block)
        out = []
        while self._next <= self._n:
            out.append(self._reading(self._next))
            self._next += self._step
        return out

    def flush(self) -> list[TunerReading]:
        """Readings the model's last frames allow (none past the end of the audio)."""
        if self._stream is not None:
            self._take_frames(self._stream.flush())
        return []

    # ------------------------------------------------------------------ internals
    def _append(self, block: np.ndarray) -> None:
        """Add ``block`` after the audio kept; drop what is older than KEEP samples before
        it (a reading's window reaches at most WINDOW_MAX_S back from its instant, which
        lies in or after this block) only when the buffer is full."""
        n = len(block)
        if self._len + n > len(self._buf):
            keep = min(self._len, KEEP)
            buf = self._buf
            if keep + n > len(buf):
                buf = np.zeros(2 * (keep + n), dtype=np.float32)
            buf[:keep] = self._buf[self._len - keep:self._len]
            self._base += self._len - keep
            self._buf, self._len = buf, keep
        self._buf[self._len:self._len + n] = block
        self._len += n
        self._n += n

    def _take_frames(self, track: Any) -> None:
        if not len(track.times):
            return
        horizon = (self._n - LAG) / RATE - FRAMES_S - 1.0  # older frames are never read
        old = np.searchsorted(self._ft, horizon)  # frame times increase
        self._ft = np.concatenate([self._ft[old:], np.asarray(track.times, np.float64)])
        self._ff = np.concatenate([self._ff[old:], np.asarray(track.f0, np.float64)])
        self._fc = np.concatenate([self._fc[old:], np.asarray(track.confidence, np.float64)])

    def _window(self, end: int, seconds: float) -> np.ndarray:
        start = max(self._base, end - int(seconds * RATE))
        return self._buf[start - self._base:end - self._base]

    def _model_pitch(self, end: int) -> float | None:
        """Median f0 of the pitched model frames of the last FRAMES_S final at ``end``."""
        hi = last_final_frame(end)
        lo = hi - FRAMES_S
        a, b = np.searchsorted(self._ft, lo, "left"), np.searchsorted(self._ft, hi, "right")
        f, c = self._ff[a:b], self._fc[a:b]  # the frames with lo <= t <= hi
        f0s = f[(c >= VOICED) & (f > 0)]
        if len(f0s) < MIN_VOICED and self._last == PITCH and self._fine:
            # a held note dying away: the model grows unsure long before the note is gone,
            # so its frames still count while they stay on the note being tracked
            held = self._hz(self._fine[-1][1])
            f0s = f[(c >= HOLD_VOICED) & (f > 0)]
            f0s = f0s[np.abs(1200 * np.log2(f0s / held)) <= SAME_NOTE_CENTS]
        if len(f0s) < MIN_VOICED:
            if self._last == PITCH and self._fine and not (c > 0).any():
                # under the model's silence floor (it returns nothing at all): the note
                # being tracked is the guess, and the spectrum says whether it still sounds
                return self._hz(self._fine[-1][1])
            return None
        return math.exp(_median([math.log(f) for f in f0s.tolist()]))

    def _midi(self, hz: float) -> float:
        return notes.hz_to_midi(hz, self.a4)

    def _hz(self, midi: float) -> float:
        return notes.midi_to_hz(midi, self.a4)

    def _octave(self, spec: Spectrum, f0: float) -> float:
        """``f0`` moved an octave down or up when the spectrum says so (inside the compass).

        Only partials at the frequencies the note's own partials agree on count (so mains
        hum, 35 cents off a G1's series, is no evidence). Down: the odd partials of f0/2
        carry real power. Up: almost nothing lies on f0's odd partials.
        """
        fine = first_partial_hz(spec, f0) or f0
        down = fine / 2
        if self._midi(down) >= self._lo_midi:
            odd, total, odd_power, strongest = _odd_partials(spec, down)
            if (odd >= 2 and total > 0 and odd_power / total >= 0.12
                    and odd_power >= strongest * 10 ** (-30 / 10)):
                return down
        moved = f0
        for _ in range(2):  # a faint note under hum can be read two octaves low
            if self._midi(fine * 2) > self._hi_midi:
                break
            odd, total, odd_power, _ = _odd_partials(spec, fine)
            if total > 0 and odd_power / total >= 0.03:
                break
            moved = fine = fine * 2
        return moved

    @staticmethod
    def _keep_octave(spec: Spectrum, f0: float, held: float) -> float:
        """The held note, when ``f0`` is its octave and its own series still sounds.

        A real string's fundamental and odd partials often die sooner than its second
        partial (nylon strings, a small microphone): late in a held E2 the spectrum looks
        more and more like E3's. Two odd partials of the held note, clearly above the noise
        and within 40 dB of the strongest, mean it is still that note.
        """
        if abs(1200 * math.log2(f0 / (2 * held))) > SAME_NOTE_CENTS:
            return f0
        odd, _, _, _ = _odd_partials(spec, held, floor_db=-40.0)
        return held if odd >= 2 else f0

    def _reading(self, end: int) -> TunerReading:
        t = end / RATE
        level = self._window(end, LEVEL_S)
        rms = (math.sqrt(float(np.square(level, dtype=np.float64).sum()) / len(level))
               if len(level) else 0.0)
        level_db = 20 * math.log10(max(rms, 1e-7))
        if level_db < GATE_DB:
            self._peak_db = -math.inf
            self._last = NO_PITCH
            return self._silent(t, level_db)
        self._peak_db = max(self._peak_db, level_db)
        guess = self._model_pitch(end)
        if guess is None and self._lo_midi < self._midi(SUB_BASS_HZ):
            spec = Spectrum(self._window(end, WINDOW_MAX_S))
            guess = sub_bass_guess(spec, self._hz(self._lo_midi), SUB_BASS_HZ * 1.06)
            if guess is not None and odd_share(spec, guess) < 0.05:
                guess = None
        if guess is None:
            return self._silent(t, level_db)
        seconds = min(WINDOW_MAX_S, max(WINDOW_MIN_S, WINDOW_PERIODS / guess))
        x = self._window(end, seconds)
        spec = Spectrum(x)
        f0 = self._octave(spec, guess)
        if self._last == PITCH and self._fine:
            f0 = self._keep_octave(spec, f0, self._hz(self._fine[-1][1]))
        fine = first_partial_hz(spec, f0)
        if fine is None or abs(1200 * math.log2(fine / f0)) > 60:
            return self._silent(t, level_db)
        midi = self._midi(fine)
        if not self._lo_midi <= midi <= self._hi_midi or (
                level_db < HUM_MAX_DB and _is_hum(fine)):
            return self._silent(t, level_db)
        if not self.chords:  # several strings ringing are normal here: name the model's pitch
            if (level_db < self._peak_db - CHORD_RANGE_DB
                    and harmonic_figures(x, fine)[0] < FADED_SHARE):
                return self._silent(t, level_db)
            return self._pitched(t, level_db, midi)
        share, interval_db = harmonic_figures(x, fine)
        if level_db >= self._peak_db - CHORD_RANGE_DB:
            self._chord_votes.append(share < POLY_SHARE or interval_db > CHORD_INTERVAL_DB)
        elif share < FADED_SHARE:  # a faint note lost in the background (or a chord's tail)
            return self._chord(t, level_db) if self._last == CHORD else self._silent(t, level_db)
        else:
            self._chord_votes.append(False)
        if sum(self._chord_votes) >= CHORD_VOTES:
            return self._chord(t, level_db)
        return self._pitched(t, level_db, midi)

    def _chord(self, t: float, level_db: float) -> TunerReading:
        self._fine.clear()
        self._last = CHORD
        return TunerReading(t, CHORD, level_db)

    def _silent(self, t: float, level_db: float) -> TunerReading:
        """No pitch; a chord still sounding loud enough stays a chord."""
        if self._last == CHORD and level_db >= GATE_DB + 10:
            return self._chord(t, level_db)
        self._fine.clear()
        self._chord_votes.append(False)
        self._last = NO_PITCH
        return TunerReading(t, NO_PITCH, level_db)

    def _pitched(self, t: float, level_db: float, midi: float) -> TunerReading:
        self._last = PITCH
        if self._fine and abs(midi - self._fine[-1][1]) * 100 > SAME_NOTE_CENTS:
            self._fine.clear()  # another note: start afresh
        self._fine.append((t, midi))
        while (self._fine and self._fine[0][0]
               < t - max(STEADY_S, SMOOTH * self._step_s) - 1e-9):
            self._fine.popleft()
        recent = [m for _, m in self._fine]
        shown = _median(recent[-SMOOTH:])
        steady = None
        if self._fine[0][0] <= t - STEADY_S + self._step_s + 1e-9:
            steady = (max(recent) - min(recent)) * 100.0
        if self.target is not None and 0 <= self.target < len(self.tuning.strings):
            string = self.target
            offset = (shown - self.tuning.strings[string]) * 100.0
        else:
            string, offset = nearest_string(shown, self.tuning)
        name = notes.note_name(shown, self.tuning.prefer_flats)
        return TunerReading(t, PITCH, level_db, self._hz(shown), shown, name,
                            notes.cents_off(shown), string,
                            self._names[string], offset,
                            advice(offset, self.in_tune_cents), steady)


# --------------------------------------------------------------------------- summaries


SETTLE_S = 0.3  # a note's first readings (the pluck starts sharp) are left out of verdicts
MIN_SETTLED = 4  # settled readings (200 ms) that make a run count
WRONG_STRING_CENTS = 400.0  # further than this from the string: another string is ringing


@dataclass
class StringVerdict:
    index: int
    name: str
    target: int
    heard_cents: float | None
    verdict: str  # "in tune", "tighten", "loosen", "not played"
    readings: int

    def to_dict(self, tuning: Tuning) -> dict[str, Any]:
        return {"string": len(tuning.strings) - self.index, "name": self.name,
                "target": self.target,
                "heard_cents": None if self.heard_cents is None else round(self.heard_cents, 1),
                "verdict": self.verdict, "readings": self.readings}


class Summary:
    """Per-string verdicts from a stream of readings: the median offset of the settled
    readings (after the first SETTLE_S) of the latest run of pitched readings on each string,
    so a string tuned while it rang is judged by where it ended up. A reading further than
    WRONG_STRING_CENTS from its string (guided mode, another string ringing) is not its."""

    def __init__(self, tuning: Tuning, in_tune_cents: float = 3.0) -> None:
        self.tuning, self.in_tune_cents = tuning, in_tune_cents
        self._heard: dict[int, list[float]] = {}
        self._run: tuple[int, float] | None = None  # (string, start time)
        self._current: list[float] = []

    def add(self, r: TunerReading) -> None:
        usable = (r.pitched and r.string is not None and r.offset_cents is not None
                  and abs(r.offset_cents) <= WRONG_STRING_CENTS)
        if not usable:
            self._run = None
            return
        assert r.string is not None and r.offset_cents is not None
        if self._run is None or self._run[0] != r.string:
            self._run = (r.string, r.t)
            self._current = []
        if r.t - self._run[1] >= SETTLE_S - 1e-9:
            self._current.append(r.offset_cents)
            if len(self._current) >= MIN_SETTLED:
                self._heard[r.string] = self._current

    def verdicts(self) -> list[StringVerdict]:
        out = []
        names = self.tuning.string_names()
        for i, target in enumerate(self.tuning.strings):
            heard = self._heard.get(i, [])
            cents = float(np.median(heard)) if heard else None
            verdict = "not played" if cents is None else advice(cents, self.in_tune_cents)
            out.append(StringVerdict(i, names[i], target, cents, verdict, len(heard)))
        return out


def track_entry(r: TunerReading, tuning: Tuning) -> dict[str, Any]:
    """One entry of ``tune --json``'s track (stable field names)."""
    pitched = r.pitched
    return {
        "t": round(r.t, 3),
        "state": r.state,
        "midi": round(r.midi, 3) if pitched and r.midi is not None else None,
        "cents": round(r.cents, 1) if pitched and r.cents is not None else None,
        "note": r.note if pitched else None,
        "string": (len(tuning.strings) - r.string) if pitched and r.string is not None
        else None,
        "offset_cents": round(r.offset_cents, 1) if pitched and r.offset_cents is not None
        else None,
    }


# --------------------------------------------------------------------------- guided mode


GUIDE_HOLD_S = 1.0  # in tune and steady this long moves the guide on
GUIDE_STEADY_CENTS = 2.0  # ... "steady": the shown cents spread no wider than this


@dataclass
class GuideStep:
    """What guided mode says about the current reading."""

    index: int  # the string being tuned
    message: str  # "tighten 13¢", "loosen 4¢", "hold it… in tune", "play the 5th string (A2)"
    done: tuple[bool, ...]  # strings tuned so far
    finished: bool = False
    advanced: bool = False  # this reading completed the string and moved on


class Guide:
    """Walks the strings low to high: says tighten/loosen for the current one and moves on
    when it has stayed within ±``in_tune_cents`` and steady for ``GUIDE_HOLD_S``.

    It sets ``tuner.target``, so the tuner's offsets are relative to the string being tuned
    even when it is far out (a semitone or more).
    """

    def __init__(self, tuner: Tuner, in_tune_cents: float = 3.0) -> None:
        self.tuner = tuner
        self.tuning = tuner.tuning
        self.in_tune_cents = in_tune_cents
        self.done = [False] * len(self.tuning.strings)
        self.index = 0
        self._good_since: float | None = None
        tuner.target = 0

    @property
    def finished(self) -> bool:
        return all(self.done)

    def go(self, index: int) -> None:
        """Tune string ``index`` next (the n/p keys)."""
        self.index = max(0, min(len(self.tuning.strings) - 1, index))
        self.tuner.target = self.index
        self._good_since = None

    def next(self) -> None:
        self.go(self.index + 1)

    def previous(self) -> None:
        self.go(self.index - 1)

    def feed(self, r: TunerReading) -> GuideStep:
        label = self.tuning.label(self.index)
        if not r.pitched or r.offset_cents is None:
            self._good_since = None
            msg = "play one string at a time" if r.state == CHORD else f"play the {label}"
            return self._step(msg)
        off = r.offset_cents
        if abs(off) > WRONG_STRING_CENTS:
            self._good_since = None
            return self._step(f"play the {label} (heard {r.note})")
        steady = r.steadiness is not None and r.steadiness <= GUIDE_STEADY_CENTS
        if abs(off) <= self.in_tune_cents and steady:
            if self._good_since is None:
                self._good_since = r.t
            if r.t - self._good_since >= GUIDE_HOLD_S - 1e-9:
                self.done[self.index] = True
                finished_label = label
                if not self.finished:
                    nxt = next((i for i in range(self.index + 1, len(self.done))
                                if not self.done[i]),
                               next(i for i, d in enumerate(self.done) if not d))
                    self.go(nxt)
                return self._step(f"{finished_label} in tune", advanced=True)
            return self._step("in tune — hold it…")
        self._good_since = None
        if abs(off) <= self.in_tune_cents:
            return self._step("in tune — let it ring steady")
        word = advice(off, self.in_tune_cents)
        return self._step(f"{word} {abs(off):.0f}¢")

    def _step(self, message: str, advanced: bool = False) -> GuideStep:
        return GuideStep(self.index, message, tuple(self.done), self.finished, advanced)
