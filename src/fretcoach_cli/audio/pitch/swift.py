"""SwiftF0 driven directly through its ONNX session, with a short streaming lookahead.

The package's own ``PitchStream`` waits for 10 later frames (≈176 ms) before a frame is
final. Measured on the example recordings, 3 frames of lookahead and 4 of left context give
the same note F1 and frame accuracy as the full 10/11 (RPA 99.5 %), so we run the session
ourselves on fixed chunks of ``CHUNK`` frames: the chunking
never depends on the caller's block sizes, which keeps live and file analysis identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fretcoach_cli.audio.pitch import PitchTrack
from fretcoach_cli.errors import AudioError

HOP = 256
LEFT = 3  # frames of left context (11 = full receptive field; 3 measured as accurate, cheaper)
CHUNK = 8  # frames computed per model call (128 ms)
LOOKAHEAD = 3  # frames of future audio each call sees past its chunk
SILENCE_PEAK = 1e-3
# The model's pitch range (swift_f0.core.FMIN/FMAX): 46.875 Hz (just above F#1) to 2093.75
# Hz (C7). Under FLOOR_HZ it names nothing: a bass's E1 (41.2 Hz) or B0 comes out unpitched.
FLOOR_HZ = 46.875
CEILING_HZ = 2093.75


def check(models_dir: Path | None = None) -> tuple[bool, str]:
    try:
        import swift_f0  # noqa: F401
    except ImportError as exc:
        return False, f"swift-f0 is not installed ({exc}); pip install swift-f0"
    return True, "model bundled with the swift-f0 package"


def _session(threads: int) -> Any:
    """The package's model in an ONNX Runtime session set up as ``SwiftF0(threads,
    spin=False)`` sets it up, without importing the ``swift_f0`` package (its version lookup
    reads the installed distributions' metadata: a few ms of every ``analyze``)."""
    from importlib.util import find_spec

    spec = find_spec("swift_f0")
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    model = next((Path(p) / "model.onnx" for p in places if (Path(p) / "model.onnx").is_file()),
                 None)
    if model is None:
        raise AudioError("pitch model 'swift' unavailable: the swift-f0 package (and its "
                         "model.onnx) is not installed", hint="pip install swift-f0")
    try:
        import onnxruntime
    except ImportError as exc:
        raise AudioError(f"pitch model 'swift' unavailable: {exc}",
                         hint="pip install onnxruntime") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model), options,
                                        providers=["CPUExecutionProvider"])


class SwiftBackend:
    name = "swift"
    hop = HOP

    def __init__(self, *, models_dir: Path | None = None, threads: int = 1) -> None:
        self.session: Any = _session(threads)
        self._fmin_a = np.asarray(FLOOR_HZ, dtype=np.float32)
        self._fmax_a = np.asarray(CEILING_HZ, dtype=np.float32)

    def _run(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One session call (the package's loudness output is skipped: we have our own)."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        pitch, conf = self.session.run(
            ["pitch", "confidence"], {"audio": audio[None, :], "fmin": self._fmin_a,
                                      "fmax": self._fmax_a})
        pitch, conf = pitch[0].astype(np.float64), conf[0].astype(np.float64)
        n = len(conf)
        if len(audio) >= HOP * n and n:
            # digital silence makes the model invent voiced frames (as swift_f0 itself guards)
            peaks = np.abs(audio[:n * HOP].reshape(n, HOP)).max(axis=1)
            conf[peaks < SILENCE_PEAK] = 0.0
        return pitch, conf

    def probe(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f0, confidence) of each ``HOP`` frame of a short excerpt, the first centred on
        its first sample: one call, for naming a note before its regular frames arrive."""
        return self._run(audio)

    def track(self, audio: np.ndarray) -> PitchTrack:
        """Whole-signal batch result (the package's exact offline answer)."""
        from swift_f0 import SwiftF0

        r = SwiftF0(threads=1, spin=False).detect(np.asarray(audio, dtype=np.float32), 16000)
        return PitchTrack(r.timestamps, r.pitch_hz, r.confidence)

    def stream(self) -> SwiftStream:
        return SwiftStream(self)


class SwiftStream:
    """Fixed-chunk streaming: frame ``i`` is emitted once audio up to frame i+LOOKAHEAD exists.

    The audio waits in a buffer that is appended to in place and compacted only when full
    (a ~10 ms microphone block used to re-concatenate the whole buffer).
    """

    def __init__(self, backend: SwiftBackend) -> None:
        self._b = backend
        self._buf = np.zeros(4 * (LEFT + CHUNK + LOOKAHEAD) * HOP, dtype=np.float32)
        self._len = 0  # samples of _buf in use
        self._base = 0  # frame index of _buf[0]
        self._next = 0  # next frame to emit
        self._total = 0  # samples received

    def _compute(self, start: int, end: int, avail_end: int) -> PitchTrack:
        times = np.arange(start, end) * HOP / 16000.0
        own = self._buf[(start - self._base) * HOP:(end - self._base) * HOP]
        if len(own) and max(float(own.max()), -float(own.min())) < SILENCE_PEAK:
            # every frame here would get confidence 0 anyway: skip the model (pauses are free)
            zeros = np.zeros(end - start)
            return PitchTrack(times, zeros, zeros.copy())
        left = max(0, start - LEFT)
        lo = (left - self._base) * HOP
        hi = (avail_end - self._base) * HOP
        pitch, conf = self._b._run(self._buf[lo:hi])
        sl = slice(start - left, end - left)
        return PitchTrack(times, pitch[sl], conf[sl])

    def _append(self, audio: np.ndarray) -> None:
        """Add samples after the buffered ones; when the buffer is full, first drop what no
        chunk needs any more (before LEFT frames ahead of the next one) and grow if need be."""
        n = len(audio)
        if self._len + n > len(self._buf):
            drop = max(0, self._next - LEFT - self._base)
            keep = self._len - drop * HOP
            buf = self._buf
            if keep + n > len(buf):
                buf = np.empty(2 * (keep + n), dtype=np.float32)
            buf[:keep] = self._buf[drop * HOP:self._len]
            self._buf, self._len, self._base = buf, keep, self._base + drop
        self._buf[self._len:self._len + n] = audio
        self._len += n

    def push(self, audio: np.ndarray) -> PitchTrack:
        audio = np.asarray(audio, dtype=np.float32)
        self._append(audio)
        self._total += len(audio)
        have = self._total // HOP  # complete frames of audio
        if self._next + CHUNK + LOOKAHEAD > have:
            return PitchTrack()
        parts = []
        while self._next + CHUNK + LOOKAHEAD <= have:
            s, e = self._next, self._next + CHUNK
            parts.append(self._compute(s, e, e + LOOKAHEAD))
            self._next = e
        return PitchTrack.concat(parts)

    def flush(self) -> PitchTrack:
        """Remaining frames, with zeros standing in for the missing future."""
        n_frames = -(-self._total // HOP)
        pad = (n_frames + LOOKAHEAD - self._base) * HOP - self._len
        if pad > 0:
            self._append(np.zeros(pad, dtype=np.float32))
        parts = []
        while self._next < n_frames:
            s, e = self._next, min(self._next + CHUNK, n_frames)
            parts.append(self._compute(s, e, e + LOOKAHEAD))
            self._next = e
        return PitchTrack.concat(parts)
