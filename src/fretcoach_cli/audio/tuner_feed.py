"""The practice room's tuner pane: the tuner core on a thread of its own, fed by the engine.

The engine hands each block and the SwiftF0 frames it already computed for that block to a
queue (a put, never a wait on live input); this thread turns them into tuner readings
(:class:`~fretcoach_cli.audio.tuner.Tuner`, the same core as ``fretcoach tune``) and sends
each as a ``PitchUpdate`` — the precise cents, held for as long as the string rings, rather
than the note tracker's raw model frames. No second pitch model runs. Unlike ``tune`` it
never asks for one string: let-ring and arpeggios are normal practice, and it reads the note
the model names among the strings still ringing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from fretcoach_cli.events import PitchUpdate

QUEUE_BLOCKS = 1024  # ≥ 10 s of 10.7 ms live blocks: a live block is dropped only past this
FAST_QUEUE_BLOCKS = 32  # a file read at full speed waits for the tuner this close behind
_STOP = object()


class TunerFeed:
    """Readings of the blocks :meth:`put` receives, sent to ``emit`` from this feed's thread.

    ``wait=True`` (input read faster than real time, e.g. ``practice --fast``) makes
    :meth:`put` wait for room, so every block is read; live input never waits: a block
    that finds the queue full is dropped (``dropped``) and the tuner starts afresh after
    the gap.
    """

    def __init__(self, emit: Callable[[Any], None], *, tuning: Any = None, a4: float = 440.0,
                 wait: bool = False) -> None:
        from fretcoach_cli.music.tunings import STANDARD

        self._emit = emit
        self._tuning = tuning or STANDARD
        self._a4 = a4
        self._wait = wait
        self._queue: queue.Queue[Any] = queue.Queue(
            maxsize=FAST_QUEUE_BLOCKS if wait else QUEUE_BLOCKS)
        self._tuner: Any = None
        self._expected = 0  # sample index the next block should start at
        self.dropped = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fretcoach-tuner", daemon=True)
        self._thread.start()

    def put(self, start: int, block: np.ndarray, frames: Any) -> None:
        """Block ``block`` (its first sample is ``start``) and the model frames of it."""
        if self._wait:
            self._queue.put((start, block, frames))
            return
        try:
            self._queue.put_nowait((start, block, frames))
        except queue.Full:
            self.dropped += 1

    def close(self, *, drain: bool = True) -> None:
        """Read what is queued (``drain=False``: drop it), then stop; the last readings go
        out before this returns."""
        if not drain:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        from fretcoach_cli.audio.tuner import Tuner

        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self.error is not None:
                continue  # a failed tuner leaves the pane still; notes go on regardless
            start, block, frames = item
            try:
                if self._tuner is None or start != self._expected:
                    self._tuner = Tuner(self._tuning, a4=self._a4, shared_frames=True,
                                        start_sample=start, chords=False)
                self._expected = start + len(block)
                for r in self._tuner.push(block, frames):
                    self._emit(PitchUpdate(r.t, r.midi if r.pitched else None,
                                           1.0 if r.pitched else 0.0))
            except Exception as exc:  # never take the engine down with it
                self.error = exc
