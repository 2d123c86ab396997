"""The practice room's tuner pane: the tuner core fed by the engine, on the engine's thread.

The engine hands each block and the SwiftF0 frames it already computed for that block to
:meth:`TunerFeed.put`; the feed turns them into tuner readings
(:class:`~fretcoach_cli.audio.tuner.Tuner`, the same core as ``fretcoach tune``) and sends
each as a ``PitchUpdate`` — the precise cents, held for as long as the string rings, rather
than the note tracker's raw model frames. No second pitch model runs. Unlike ``tune`` it
never asks for one string: let-ring and arpeggios are normal practice, and it reads the note
the model names among the strings still ringing.

Why on the engine's thread, and in batches: a reading is due every ``PANE_STEP`` samples
(10 a second) and costs a fraction of a millisecond, while a thread of its own cost more
than the readings themselves (a queue hand-over, a wake-up and a GIL hand-over per 10.7 ms
microphone block, two threads contending for the GIL). So :meth:`put` only gathers blocks
until their audio reaches the instant of the tuner's next reading, then reads them in one
push (the tuner's readings do not depend on how its input is split); the engine calls it
after it has sent the block's note events, so no note is announced later for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fretcoach_cli.events import PitchUpdate

# Samples between the pane's readings: 10 a second, where ``tune``'s 20 cost the practice
# room a fifth of its CPU. Each reading is the tuner core's own at its instant (held notes
# read as closely: bench/README); the needle moves 10 times a second.
PANE_STEP = 1600


class TunerFeed:
    """Readings of the blocks :meth:`put` receives, sent to ``emit`` as they fall due."""

    def __init__(self, emit: Callable[[Any], None], *, tuning: Any = None,
                 a4: float = 440.0) -> None:
        from fretcoach_cli.audio.tuner import load_fft
        from fretcoach_cli.music.tunings import STANDARD

        load_fft()  # before the audio starts: no reading waits for the import
        self._emit = emit
        self._tuning = tuning or STANDARD
        self._a4 = a4
        self._step = PANE_STEP
        self._tuner: Any = None
        # the blocks gathered (no gap among them), the sample index after them, and the
        # instant of the tuner's next reading (the tuner's clock starts at its first block)
        self._batch: list[tuple[np.ndarray, Any]] = []
        self._start = 0
        self._end: int | None = None
        self._due = 0
        self.error: BaseException | None = None

    def put(self, start: int, block: np.ndarray, frames: Any) -> None:
        """Block ``block`` (its first sample is ``start``) and the model frames of it."""
        if start != self._end:  # the first block, or a gap (paused input): start afresh
            self._batch, self._tuner = [], None
            self._start, self._due = start, start + self._step
        self._batch.append((block, frames))
        self._end = start + len(block)
        if self._end >= self._due:
            self._due += self._step * ((self._end - self._due) // self._step + 1)
            self._read()

    def close(self) -> None:
        """Nothing is left to read: blocks still gathered hold no reading's instant."""
        self._batch = []

    def _read(self) -> None:
        from fretcoach_cli.audio.pitch import PitchTrack
        from fretcoach_cli.audio.tuner import Tuner

        batch, self._batch = self._batch, []
        start, self._start = self._start, self._end or 0
        if self.error is not None:
            return  # a failed tuner leaves the pane still; notes go on regardless
        try:
            if self._tuner is None:
                self._tuner = Tuner(self._tuning, a4=self._a4, shared_frames=True,
                                    start_sample=start, chords=False, step=self._step)
            block = batch[0][0] if len(batch) == 1 else np.concatenate([b for b, _ in batch])
            for r in self._tuner.push(block, PitchTrack.concat([f for _, f in batch])):
                self._emit(PitchUpdate(r.t, r.midi if r.pitched else None,
                                       1.0 if r.pitched else 0.0))
        except Exception as exc:  # never take the engine down with it
            self.error = exc
