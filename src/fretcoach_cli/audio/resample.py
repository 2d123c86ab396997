"""Streaming polyphase resampling to the model rate.

Devices and files come at 8–192 kHz; every pitch model here wants 16 kHz. A stateful
polyphase FIR (Kaiser-windowed sinc) resamples block by block so long files and live input
never need to be held whole, and so the output does not depend on how the input was split
into blocks (live and file analysis must give identical notes). The filter's group delay is
compensated: output sample ``n`` is the input at time ``n / rate_out``.
"""

from __future__ import annotations

from math import gcd

import numpy as np

MODEL_RATE = 16000


class StreamResampler:
    """Resample float32 mono blocks from ``rate_in`` to ``rate_out`` (default 16 kHz)."""

    def __init__(self, rate_in: int, rate_out: int = MODEL_RATE, *, half_width: int = 12,
                 beta: float = 8.6) -> None:
        from scipy.signal import firwin

        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        g = gcd(self.rate_in, self.rate_out)
        self.up, self.down = self.rate_out // g, self.rate_in // g
        self.passthrough = self.up == self.down
        if self.passthrough:
            return
        # Cut off a little below the lower Nyquist so aliasing stays ~80 dB down.
        cutoff = 0.45 * min(self.rate_in, self.rate_out)
        span = half_width * max(1, self.down // self.up + (self.down % self.up > 0))  # in inputs
        n_taps = 2 * span * self.up + 1
        h = firwin(n_taps, cutoff, window=("kaiser", beta), fs=self.rate_in * self.up)
        h = h * self.up
        self._delay = (n_taps - 1) // 2  # group delay in upsampled samples
        self._taps = -(-n_taps // self.up)  # taps per phase
        phases = np.zeros((self.up, self._taps))
        for p in range(self.up):
            sub = h[p::self.up]
            phases[p, : len(sub)] = sub
        self._phases = phases.astype(np.float32)
        self._buf = np.zeros(self._taps, dtype=np.float32)  # zero history before the start
        self._buf_start = -self._taps  # absolute input index of _buf[0]
        self._n_in = 0  # input samples received
        self._n_out = 0  # output samples produced

    def _produce(self, last_input: int) -> np.ndarray:
        """All outputs whose newest needed input index is ≤ ``last_input``."""
        # Output n needs input index i0(n) = (n*down + delay) // up.
        # Largest n with i0(n) <= last_input:
        n_end = ((last_input + 1) * self.up - self._delay - 1) // self.down + 1
        if n_end <= self._n_out:
            return np.zeros(0, dtype=np.float32)
        n = np.arange(self._n_out, n_end, dtype=np.int64)
        c = n * self.down + self._delay
        phase, i0 = c % self.up, c // self.up
        idx = i0[:, None] - np.arange(self._taps)[None, :] - self._buf_start
        out = np.einsum("ij,ij->i", self._buf[idx], self._phases[phase])
        self._n_out = n_end
        # keep only the history the next output can still need
        keep_from = (self._n_out * self.down + self._delay) // self.up - self._taps + 1
        drop = max(0, keep_from - self._buf_start)
        if drop:
            self._buf = self._buf[drop:]
            self._buf_start += drop
        return out.astype(np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed one block; returns whatever output is now complete."""
        block = np.asarray(block, dtype=np.float32)
        if self.passthrough:
            return block
        self._buf = np.concatenate([self._buf, block])
        self._n_in += len(block)
        return self._produce(self._n_in - 1)

    def flush(self) -> np.ndarray:
        """The tail: outputs up to the input's duration, using zeros past its end."""
        if self.passthrough:
            return np.zeros(0, dtype=np.float32)
        total = -(-self._n_in * self.up // self.down)  # ceil: output length for the input
        pad = self._taps + self._delay // self.up + 2
        self._buf = np.concatenate([self._buf, np.zeros(pad, dtype=np.float32)])
        out = self._produce(self._n_in - 1 + pad)
        keep = max(0, total - (self._n_out - len(out)))
        return out[:keep]


def resample(audio: np.ndarray, rate_in: int, rate_out: int = MODEL_RATE) -> np.ndarray:
    """Whole-array convenience wrapper around :class:`StreamResampler`."""
    r = StreamResampler(rate_in, rate_out)
    return np.concatenate([r.process(audio), r.flush()])
