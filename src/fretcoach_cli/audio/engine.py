"""The engine: one analysis thread pulls blocks, tracks pitch, segments notes, emits events.

``Engine`` serves live practice (a microphone or a paced file) and, through
:func:`analyze_file`, offline analysis: both feed the *same* streaming pitch tracker and
note segmenter, so a recording gives the same notes whichever way it is played. Callbacks
run on the analysis thread; an exception inside it becomes an ``EngineError`` event.

Live, the engine also announces notes early (``NoteStarted``, then the note's ``NoteEvent`` or
a ``NoteDropped``), so the player sees a note ~55 ms after plucking it rather than when
it ends; offline analysis has no use for them and never computes them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fretcoach_cli.audio.pitch import PitchBackend, PitchTrack, get_backend
from fretcoach_cli.audio.refine import follow_notes, refine_frames
from fretcoach_cli.audio.resample import MODEL_RATE
from fretcoach_cli.audio.segment import NoteTracker
from fretcoach_cli.errors import ExitCode, FretcoachError
from fretcoach_cli.events import (
    EngineError,
    EngineFinished,
    LevelUpdate,
    NoteDropped,
    NoteEnded,
    NoteEvent,
    NoteStarted,
    PitchUpdate,
    with_end,
)

Callback = Callable[[Any], None]


class Pipeline:
    """Pitch stream + note tracker over 16 kHz blocks; no threads, no wall clock.

    ``min_hz`` (from the tuning, :mod:`fretcoach_cli.audio.low_range`): model frames under
    it count as unpitched; None keeps the model's whole range (``analyze``: no tuning).
    """

    def __init__(self, backend: PitchBackend, *, a4: float = 440.0, sensitivity: float = 0.5,
                 keep_track: bool = False, provisional: bool = False,
                 min_hz: float | None = None) -> None:
        self.backend = backend
        self.stream = backend.stream()
        self.min_hz = min_hz
        probe = getattr(backend, "probe", None)
        if probe is not None and min_hz is not None:
            probe = _floored(probe, min_hz)
        self.tracker = NoteTracker(frame_period=backend.hop / MODEL_RATE, a4=a4,
                                   sensitivity=sensitivity, provisional=provisional,
                                   probe=probe, probe_hop=backend.hop)
        self.samples = 0
        self.keep_track = keep_track
        self.a4 = a4
        self.track_parts: list[PitchTrack] = []
        self.audio_parts: list[np.ndarray] = []  # with keep_track: all audio, for track()
        self.notes: list[NoteEvent] = []  # every note so far, with its true end once known

    @property
    def position_s(self) -> float:
        return self.samples / MODEL_RATE

    def push(self, block: np.ndarray) -> tuple[list[NoteEvent], PitchTrack]:
        """New notes (as first reported) and the pitch frames of one block."""
        frames = self.stream.push(block)
        self.samples += len(block)
        if self.keep_track:
            self.audio_parts.append(np.array(block, dtype=np.float32))
        new = self._collect(self.tracker.push(block, self._floor(frames)))
        self._keep(frames)
        return new, frames

    def finish(self) -> tuple[list[NoteEvent], PitchTrack]:
        frames = self.stream.flush()
        new = self._collect(self.tracker.flush(self._floor(frames)))
        self._keep(frames)
        return new, frames

    def _floor(self, frames: PitchTrack) -> PitchTrack:
        """Frames under ``min_hz`` unpitched (confidence 0) for the note tracker."""
        if self.min_hz is None or not len(frames):
            return frames
        under = frames.f0 < self.min_hz
        if not under.any():
            return frames
        return PitchTrack(frames.times, frames.f0, np.where(under, 0.0, frames.confidence))

    def _keep(self, frames: PitchTrack) -> None:
        """Keep the frame track, each pitched frame refined on the audio around it (the
        tracker holds that audio: frames arrive 64–176 ms after it)."""
        if self.keep_track and len(frames):
            f0 = refine_frames(frames.times, frames.f0, frames.confidence,
                               self.tracker.samples)
            self.track_parts.append(PitchTrack(frames.times, f0, frames.confidence))

    def _collect(self, new: list[NoteEvent]) -> list[NoteEvent]:
        """Keep :attr:`notes` whole: add the new ones, then give rung-out notes their ends."""
        self.notes.extend(new)
        for ended in self.tracker.take_ended():
            with_end(self.notes, ended)
        return new

    def track(self) -> PitchTrack:
        """The refined frame track, following each detected note to its end
        (:func:`~fretcoach_cli.audio.refine.follow_notes`: the model loses a decaying string
        that the audio still shows)."""
        tr = PitchTrack.concat(self.track_parts)
        if not self.keep_track or not len(tr):
            return tr
        notes = [(n.onset_s, n.offset_s, self.a4 * 2.0 ** ((n.midi - 69.0) / 12.0))
                 for n in self.notes if n.is_note and n.midi is not None]
        if not notes:
            return tr
        audio = np.concatenate(self.audio_parts)

        def samples(a: int, b: int) -> np.ndarray:
            return audio[max(a, 0):max(a, b, 0)]

        return PitchTrack(tr.times, follow_notes(tr.times, tr.f0, tr.confidence, notes, samples),
                          tr.confidence)

    def take_events(self) -> list[NoteStarted | NoteEvent | NoteDropped | NoteEnded]:
        """With ``provisional=True``: NoteStarted/NoteEvent/NoteDropped/NoteEnded in emission
        order."""
        return self.tracker.take_events()


def _floored(probe: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], min_hz: float
             ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The backend's early-naming probe with frames under ``min_hz`` unpitched."""
    def floored(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f0, conf = probe(audio)
        return f0, np.where(f0 < min_hz, 0.0, conf)
    return floored


def level_of(block: np.ndarray, t: float) -> LevelUpdate:
    """RMS and peak level of one block (the same figures as ``np.mean``/``np.abs``, without
    their Python-level wrappers: this runs for every ~10 ms microphone block)."""
    n = len(block)
    peak = max(float(block.max()), -float(block.min())) if n else 0.0
    rms = math.sqrt(float(np.square(block, dtype=np.float64).sum()) / n) if n else 0.0
    return LevelUpdate(t, 20 * np.log10(max(rms, 1e-7)), 20 * np.log10(max(peak, 1e-7)),
                       clipped=peak >= 0.999)


class Engine:
    """Run a source through the pitch model and segmenter on a background thread.

    ``tuning`` (``practice --tuning``) sets the lowest pitch a note may have
    (:attr:`low_range`, whose ``notice`` says when the tuning goes under the pitch model's
    floor); None keeps the model's whole range. ``tuner=True`` makes the ``PitchUpdate``
    events the tuner core's readings (for the practice room's tuner pane), 10 a second from
    the engine's blocks and SwiftF0 frames, read on this thread after each block's note
    events are out (:mod:`~fretcoach_cli.audio.tuner_feed`); otherwise (or with another
    pitch model) they are the note tracker's latest frame.
    """

    def __init__(self, source: Any, *, pitch_model: str = "swift", a4: float = 440.0,
                 sensitivity: float = 0.5, models_dir: Path | None = None,
                 backend: PitchBackend | None = None, tuner: bool = False,
                 tuning: Any = None) -> None:
        self.source = source
        self.pitch_model = pitch_model
        self.a4, self.sensitivity = a4, sensitivity
        self.tuner, self.tuning = tuner, tuning
        self.tuner_feed: Any = None
        self.low_range: Any = None
        if tuning is not None:
            from fretcoach_cli.audio.low_range import low_range

            self.low_range = low_range(tuning, pitch_model, a4)
        self._models_dir = models_dir
        self._backend = backend
        self._subs: list[Callback] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._samples = 0
        self.notes: list[NoteEvent] = []
        self.error: EngineError | None = None

    # -- public API ---------------------------------------------------------------------
    def subscribe(self, callback: Callback) -> None:
        self._subs.append(callback)

    @property
    def position_s(self) -> float:
        """Audio time consumed so far (stops during a pause)."""
        return self._samples / MODEL_RATE

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("engine already started")
        self._thread = threading.Thread(target=self._run, name="fretcoach-engine", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self._running.is_set():
            self._running.clear()
            _call(self.source, "pause")

    def resume(self) -> None:
        if not self._running.is_set():
            _call(self.source, "resume")
            self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run_sync(self) -> list[NoteEvent]:
        """Run on the calling thread until the source ends; errors are raised, not sent."""
        self._loop(raise_errors=True)
        return self.notes

    # -- the analysis thread --------------------------------------------------------------
    def _emit(self, event: Any) -> None:
        for cb in list(self._subs):
            cb(event)

    def _run(self) -> None:
        self._loop(raise_errors=False)

    def _loop(self, *, raise_errors: bool) -> None:
        reason = "end of input"
        try:
            backend = self._backend or get_backend(self.pitch_model,
                                                   models_dir=self._models_dir)
            pipe = Pipeline(backend, a4=self.a4, sensitivity=self.sensitivity,
                            provisional=True,
                            min_hz=None if self.low_range is None else self.low_range.floor_hz)
            self.pipeline = pipe
            feed = self._start_tuner(backend)  # (its FFT import) before the audio starts
            self.source.open()
            try:
                while True:
                    if self._stop.is_set():
                        reason = "stopped"
                        break
                    if not self._running.is_set():
                        self._running.wait(0.1)
                        continue
                    block = self.source.read(0.1)
                    if block is None:
                        break
                    if not self._running.is_set() and not hasattr(self.source, "realtime"):
                        continue  # a live block that arrived as we paused: discard
                    if len(block) == 0:
                        continue
                    start, t_end = self._samples, (self._samples + len(block)) / MODEL_RATE
                    _, frames = pipe.push(block)
                    self._samples += len(block)
                    self._emit(level_of(block, t_end))
                    if len(frames) and feed is None:
                        self._emit_pitch(pipe)
                    self._emit_notes(pipe)
                    if feed is not None:  # after the notes: the pane never delays them
                        feed.put(start, block, frames)
                pipe.finish()
                self._emit_notes(pipe)
            finally:
                if feed is not None:
                    feed.close()
                _call(self.source, "close")
        except FretcoachError as err:
            if raise_errors:
                raise
            self.error = EngineError(err.one_line(), int(err.exit_code))
            self._emit(self.error)
            return
        except Exception as exc:  # a bug or a device failure: report, never crash the UI
            if raise_errors:
                raise
            self.error = EngineError(f"audio engine failed: {type(exc).__name__}: {exc}",
                                     int(ExitCode.ERROR))
            self._emit(self.error)
            return
        stats = {"notes": len(self.notes), **_source_stats(self.source)}
        if self.low_range is not None and self.low_range.notice:
            stats["low_range"] = self.low_range.notice
        if self.tuner_feed is not None and self.tuner_feed.error is not None:
            stats["tuner_error"] = f"{type(self.tuner_feed.error).__name__}: " \
                f"{self.tuner_feed.error}"
        self._emit(EngineFinished(self.position_s, reason, stats))

    def _start_tuner(self, backend: PitchBackend) -> Any:
        """The tuner pane's feed (SwiftF0 only: the tuner counts on its frames' lag)."""
        if not self.tuner or backend.name != "swift":
            return None
        from fretcoach_cli.audio.tuner_feed import TunerFeed

        self.tuner_feed = TunerFeed(self._emit, tuning=self.tuning, a4=self.a4)
        return self.tuner_feed

    def _emit_notes(self, pipe: Pipeline) -> None:
        for event in pipe.take_events():
            if isinstance(event, NoteEvent):
                self.notes.append(event)
            elif isinstance(event, NoteEnded):
                with_end(self.notes, event)
            self._emit(event)

    def _emit_pitch(self, pipe: Pipeline) -> None:
        last = pipe.tracker.last_pitch
        if last is not None:
            t, midi, conf = last
            self._emit(PitchUpdate(t, midi, conf))


def _call(obj: Any, name: str) -> None:
    fn = getattr(obj, name, None)
    if callable(fn):
        fn()


def _source_stats(source: Any) -> dict[str, Any]:
    out = {}
    for key in ("overflows", "dropped_blocks"):
        if hasattr(source, key):
            out[key] = getattr(source, key)
    return out


# --------------------------------------------------------------------------- offline


@dataclass
class Analysis:
    """Notes of a file plus the frame track that produced them (for frame-level benchmarks)."""

    notes: list[NoteEvent]
    duration_s: float
    sample_rate: int  # of the file
    pitch_model: str
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    f0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def clean_notes(self) -> list[NoteEvent]:
        return [n for n in self.notes if n.is_note]


def analyze_source(source: Any, *, pitch_model: str = "swift", a4: float = 440.0,
                   sensitivity: float = 0.5, models_dir: Path | None = None,
                   backend: PitchBackend | None = None, block: int | None = None,
                   progress: Callable[[float, float], None] | None = None,
                   tuning: Any = None, keep_track: bool = True) -> Analysis:
    """Feed a finite source through the live pipeline as fast as possible.

    ``progress(done_s, total_s)`` is called about once per second of audio; ``tuning``
    sets the lowest pitch as live practice does (None: the model's whole range).
    ``keep_track=False`` leaves the refined frame track out (empty ``times``/``f0``): the
    notes are the same, and ``analyze`` has no use for the track (refining every frame
    costs ≈ 8 % of the engine).
    """
    backend = backend or get_backend(pitch_model, models_dir=models_dir)
    min_hz = None
    if tuning is not None:
        from fretcoach_cli.audio.low_range import low_range

        min_hz = low_range(tuning, backend.name, a4).floor_hz
    pipe = Pipeline(backend, a4=a4, sensitivity=sensitivity, keep_track=keep_track,
                    min_hz=min_hz)
    source.open()
    total = float(getattr(source, "duration_s", 0.0) or 0.0)
    next_report = 1.0
    try:
        while True:
            chunk = source.read(0.1)
            if chunk is None:
                break
            if progress is not None and pipe.position_s >= next_report:
                progress(pipe.position_s, total)
                next_report = pipe.position_s + 1.0
            if block:  # re-split (tests: block size must not matter)
                for i in range(0, len(chunk), block):
                    pipe.push(chunk[i:i + block])
            elif len(chunk):
                pipe.push(chunk)
        pipe.finish()
    finally:
        _call(source, "close")
    tr = pipe.track()
    return Analysis(pipe.notes, pipe.position_s, int(getattr(source, "source_rate", MODEL_RATE)),
                    backend.name, tr.times, tr.f0, tr.confidence)


def analyze_file(path: str | Path, *, pitch_model: str = "swift", a4: float = 440.0,
                 sensitivity: float = 0.5, channel: int | None = None,
                 models_dir: Path | None = None,
                 progress: Callable[[float, float], None] | None = None,
                 tuning: Any = None, keep_track: bool = True) -> Analysis:
    """All notes of an audio file (for `fretcoach analyze` and the accuracy benchmark)."""
    from fretcoach_cli.audio.sources import FileSource

    return analyze_source(FileSource(path, channel=channel),
                          pitch_model=pitch_model, a4=a4, sensitivity=sensitivity,
                          models_dir=models_dir, progress=progress, tuning=tuning,
                          keep_track=keep_track)
