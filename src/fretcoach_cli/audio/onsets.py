"""A streaming onset detector: log-compressed spectral flux, weighted towards high frequencies.

A pluck is a broadband burst, so the rise of (log) spectral energy — strongest in the upper
bins, as in the high-frequency-content detector — marks it even when the same note is
repeated. Hop 128 / frame 512 at 16 kHz; an adaptive threshold (median of the recent
onset function plus a floor) and a short peak-picking window keep it causal with 1 hop of
lookahead. Costs ~2 ms of CPU per second of audio. Frames are computed on a fixed hop
grid from sample 0, so results never depend on how the audio was split into blocks.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

import numpy as np

RATE = 16000
FRAME = 512
HOP = 128
HISTORY = 40  # hops of onset function kept for the adaptive threshold (~0.3 s)
# Hops computed together at the least (24 ms): ~10 ms live blocks would otherwise pay numpy's
# call overhead every time. An onset is then known 40 ms after it at the latest, still 16 ms
# before the pitch frames reach it, so notes never depend on how the audio was blocked.
BATCH_HOPS = 3
MIN_GAP_S = 0.06  # a second onset closer than this is the same pluck
FLOOR_RISE = 0.004  # log-magnitude units per hop the noise floor may rise (~0.5 per second)
FLOOR_MARGIN = 0.7  # flicker of noise above its floor that is not a pluck
LATENCY_FIX_S = 0.004  # flux peaks this far before the audible onset (measured on examples)
# A flux peak above this share of the thresholds is kept as a *weak* onset: too faint to
# start a note on its own (a soft pluck in noise, a hammer-on), but the segmenter times a
# pitch change by it and names it early when a probe hears a new pitch there.
WEAK_SHARE = 0.5
# The level above this frequency is kept per hop too: a damped note's end shows there. Under a
# room's tail the broadband level falls only 3-7 dB when the hand damps the string (the room
# keeps ringing, low-passed), but the string's own upper partials stop: that band falls 7-10 dB
# within ~40 ms, where a free decay loses under 1 dB per two hops.
HIGH_HZ = 1500.0


def gate_db(sensitivity: float) -> float:
    """Input gate in dBFS: sensitivity 0 → −30 dB (only loud notes), 1 → −70 dB."""
    s = min(1.0, max(0.0, float(sensitivity)))
    return -30.0 - 40.0 * s


def _median(xs: list[float]) -> float:
    """Median of an already sorted list (0 when empty), as ``np.median`` would give."""
    n = len(xs)
    if n == 0:
        return 0.0
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


class OnsetDetector:
    """Feed 16 kHz blocks; get onset times (s) and per-hop RMS levels (dBFS)."""

    def __init__(self, sensitivity: float = 0.5, *, threshold: float = 0.25,
                 ratio: float = 1.1) -> None:
        self.gate = gate_db(sensitivity)
        self.threshold = threshold
        self.ratio = ratio
        self._win = np.hanning(FRAME).astype(np.float32)
        k = np.arange(FRAME // 2 + 1, dtype=np.float32)
        self._weight = np.sqrt(np.maximum(k, 1.0)) / np.sqrt(FRAME / 2)
        self._flux_weight = (self._weight / len(k)).astype(np.float64)  # weighted mean as a dot
        self._high_bin = int(np.ceil(HIGH_HZ * FRAME / RATE))
        # |X|^2 summed over the band -> mean square of the band's signal (Hann, one-sided)
        self._high_norm = 2.0 / (FRAME * float(self._win.astype(np.float64) @ self._win))
        # zero history so the first frame is centred on sample 0
        self._buf = np.zeros(FRAME // 2, dtype=np.float32)
        self._base = -FRAME // 2  # absolute sample index of _buf[0]
        self._n = 0  # samples received
        # next hop to compute (frame centred at hop*HOP); the first is the first whole frame,
        # so the file's start is not mistaken for a pluck
        self._next = FRAME // 2 // HOP
        self._prev_mag: np.ndarray | None = None
        self._floor: np.ndarray | None = None
        self._od: deque[float] = deque(maxlen=HISTORY)
        self._od_sorted: list[float] = []  # the same values kept sorted: a cheap running median
        self._pending: list[tuple[int, float, float]] = []  # (hop, od, db) awaiting lookahead
        self._last_onset = -1e9
        self.levels_db: list[float] = []  # per hop, for the segmenter's level queries
        self.high_db: list[float] = []  # ... and the level above HIGH_HZ (dB)
        self._weak: list[float] = []  # weak onsets found since the last take_weak()

    def _frames(self, last_hop: int) -> list[tuple[int, float, float]]:
        if last_hop < self._next:
            return []
        hops = np.arange(self._next, last_hop + 1)
        first = self._next * HOP - FRAME // 2 - self._base
        # frames as strided views of the buffer (no gather), one row per hop
        frames = np.lib.stride_tricks.sliding_window_view(self._buf, FRAME)[first::HOP][:len(hops)]
        f64 = frames.astype(np.float64)
        rms = np.sqrt(np.einsum("ij,ij->i", f64, f64) / FRAME)
        db = 20 * np.log10(np.maximum(rms, 1e-7))
        spec = np.abs(np.fft.rfft(frames * self._win, axis=1))
        hi = spec[:, self._high_bin:]
        high = 10 * np.log10(np.maximum(np.einsum("ij,ij->i", hi, hi) * self._high_norm, 1e-14))
        mag = np.log1p(1000.0 * spec)
        mag = self._whiten(mag)
        prev = np.empty_like(mag)
        prev[0] = self._prev_mag if self._prev_mag is not None else mag[0]
        prev[1:] = mag[:-1]
        flux = np.maximum(mag - prev, 0.0) @ self._flux_weight
        self._prev_mag = mag[-1]
        self._next = last_hop + 1
        drop = self._next * HOP - FRAME // 2 - self._base
        if drop > 0:
            self._buf = self._buf[drop:]
            self._base += drop
        self.levels_db.extend(db.tolist())
        self.high_db.extend(high.tolist())
        return list(zip(hops.tolist(), flux.tolist(), db.tolist(), strict=True))

    def _whiten(self, mag: np.ndarray) -> np.ndarray:
        """Subtract a per-bin noise floor (minimum statistics) so steady noise makes no flux.

        The floor follows a bin down at once and creeps up slowly, so it settles on the noise
        between notes; a pluck rises far above it while noise only flickers around it.
        """
        out = np.empty_like(mag)
        floor = self._floor
        for i, row in enumerate(mag):
            floor = row.copy() if floor is None else np.minimum(row, floor + FLOOR_RISE)
            out[i] = np.maximum(row - floor - FLOOR_MARGIN, 0.0)
        self._floor = floor
        return out

    def _pick(self, frames: list[tuple[int, float, float]]) -> list[float]:
        """Peak-pick with one hop of lookahead: a local max above an adaptive threshold."""
        onsets = []
        for item in frames:
            self._pending.append(item)
            if len(self._pending) < 3:
                continue
            (_h0, od0, _), (h1, od1, db1), (_, od2, db2) = self._pending[-3:]
            self._pending = self._pending[-2:]
            base = _median(self._od_sorted)
            if len(self._od) == HISTORY:
                del self._od_sorted[bisect_left(self._od_sorted, self._od[0])]
            self._od.append(od1)
            insort(self._od_sorted, od1)
            if not (od1 >= od0 and od1 > od2) or max(db1, db2) < self.gate:
                continue
            need = max(self.threshold, self.ratio * base + 0.1)
            if od1 < WEAK_SHARE * need:
                continue
            t = h1 * HOP / RATE + LATENCY_FIX_S
            if t - self._last_onset < MIN_GAP_S:
                continue
            if od1 < need:
                self._weak.append(max(0.0, t))
                continue
            self._last_onset = t
            onsets.append(max(0.0, t))
        return onsets

    def take_weak(self) -> list[float]:
        """Weak onsets (see ``WEAK_SHARE``) found since the last call, in time order."""
        out, self._weak = self._weak, []
        return out

    def push(self, audio: np.ndarray) -> list[float]:
        self._buf = np.concatenate([self._buf, np.asarray(audio, dtype=np.float32)])
        self._n += len(audio)
        last = (self._n - FRAME // 2) // HOP  # frames whose window is complete
        if last - self._next + 1 < BATCH_HOPS:
            return []  # wait for BATCH_HOPS
        return self._pick(self._frames(last))

    def flush(self) -> list[float]:
        n_hops = -(-self._n // HOP)
        self._buf = np.concatenate([self._buf, np.zeros(FRAME, dtype=np.float32)])
        out = self._pick(self._frames(n_hops))
        return out

    def _levels(self, t0: float, t1: float) -> list[float]:
        """Per-hop levels (dBFS) between two times, from what has been computed."""
        first = FRAME // 2 // HOP  # levels_db[0] is hop `first`
        a = max(0, int(t0 * RATE / HOP) - first)
        b = min(len(self.levels_db), int(np.ceil(t1 * RATE / HOP)) + 1 - first)
        return self.levels_db[a:b] if b > a else [-140.0]

    def hop_levels(self, t0: float, t1: float, *, high: bool = False
                   ) -> tuple[float, list[float]]:
        """(centre time of the first, per-hop levels dBFS) of the hops centred in
        ``t0..t1`` that have been computed (each a 32 ms window, 8 ms apart); with ``high``
        the level above HIGH_HZ."""
        levels = self.high_db if high else self.levels_db
        first = FRAME // 2 // HOP  # levels_db[0] is hop `first`
        a = max(0, int(np.ceil(t0 * RATE / HOP)) - first)
        b = min(len(levels), int(t1 * RATE / HOP) + 1 - first)
        return (a + first) * HOP / RATE, levels[a:b] if b > a else []

    def level_at(self, t0: float, t1: float) -> float:
        """Max per-hop level (dBFS) between two times."""
        return float(max(self._levels(t0, t1)))

    def min_level_at(self, t0: float, t1: float) -> float:
        """Min per-hop level (dBFS) between two times."""
        return float(min(self._levels(t0, t1)))
