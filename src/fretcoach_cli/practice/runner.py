"""The practice session: wires a source through the engine to judgement, metrics and storage.

One object drives a whole session for either front end (Textual or the headless line
printer): it owns the :class:`~fretcoach_cli.audio.engine.Engine`, judges each note as it
arrives (on the analysis thread — cheap, pure functions), keeps sliding-window and session
metrics, hands note rows to the :class:`SessionRecorder` (a queue put, never I/O) and
forwards everything to its subscribers as typed messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fretcoach_cli.audio.latency import on_player_clock
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
from fretcoach_cli.music.scales import Scale
from fretcoach_cli.practice.messages import (
    NoteHeard,
    NoteJudged,
    NoteLengthened,
    NoteRetracted,
    SessionEnded,
    StateChanged,
    StorageStatus,
)
from fretcoach_cli.practice.recorder import RecorderStatus, SessionRecorder
from fretcoach_cli.practice.summary import SessionResult, build_result, note_row, session_meta
from fretcoach_cli.scoring.judge import Verdict, judge_note, make_grid, tolerance_cents
from fretcoach_cli.scoring.metrics import SlidingWindow

Subscriber = Callable[[Any], None]
WINDOW_NOTES = 20
SESSION_METRICS_EVERY_S = 0.5  # wall-clock throttle for whole-session figures in fast mode


@dataclass(frozen=True)
class PracticeOptions:
    """Everything that defines a session, validated by the CLI before anything opens."""

    scale: Scale
    user: str = "guitarist"
    bpm: float | None = None
    duration_s: float | None = None
    strictness: float = 0.5
    sensitivity: float = 0.5
    a4: float = 440.0
    pitch_model: str = "swift"
    source_kind: str = "file"  # file | mic | synthetic
    source_label: str = ""
    plan_id: Any = None
    window_notes: int = WINDOW_NOTES
    tuning: Any = None  # music.tunings.Tuning; None = standard
    #: measured input latency (``fretcoach calibrate`` / ``--latency-ms``): every note time is
    #: moved this much earlier as it enters the session (_on_engine_event), so judging, metrics,
    #: storage and every subscriber see onset − latency
    input_latency_s: float = 0.0
    exercise: Any = None  # music.exercises.Exercise (practice --exercise; needs bpm)
    exercise_tolerance_ms: float = 30.0
    trainer: Any = None  # practice.speed_trainer.TrainerOptions (--ramp); None = no ramp
    grid: Any = None  # a ready timing grid for the metrics (the speed trainer's tempo map)


class PracticeSession:
    """Run one session; thread-safe controls (pause/resume/finish) for the UI."""

    def __init__(self, options: PracticeOptions, source: Any, *,
                 recorder: SessionRecorder | None = None,
                 engine_factory: Callable[..., Any] | None = None,
                 previous_lookup: Callable[[PracticeOptions, Any], Any] | None = None) -> None:
        self.options = options
        self._source = source
        self._recorder = recorder
        self._engine_factory = engine_factory
        self._previous_lookup = previous_lookup
        #: run the tuner core for a tuner pane (False: headless, nothing shows it)
        self.tuner_pane = True
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._finish_lock = threading.Lock()
        self.engine: Any = None
        self.events: list[NoteEvent] = []
        self.verdicts: list[Verdict] = []
        self.state = "starting"
        self.position_s = 0.0
        self.end_reason: str | None = None
        self.input_done = threading.Event()
        self.error: EngineError | None = None
        self.result: SessionResult | None = None
        self.trainer: Any = None
        if options.trainer is not None:
            from fretcoach_cli.practice.speed_trainer import SpeedTrainer

            unit = None  # a bar; with an exercise, one pass of it (it loops on the click)
            if options.exercise is not None:
                from fretcoach_cli.scoring.exercise_loop import bars_per_pass

                unit = bars_per_pass(options.exercise, options.trainer.ramp.beats_per_bar)
            self.trainer = SpeedTrainer(options.trainer, pass_bars=unit)
            # timing metrics against the ramp's bars (its tempo map changes as it ramps)
            self.options = options = replace(options, grid=self.trainer.ramp.map)
        self._tolerance = tolerance_cents(options.strictness)
        self._session_metrics: Any = None
        self._window = SlidingWindow(options.scale, max_notes=options.window_notes,
                                     strictness=options.strictness, bpm=options.bpm,
                                     grid=options.grid)
        self._last_session_calc = 0.0
        self.exercise: Any = None  # practice.exercise_run.ExerciseRun with --exercise
        if options.exercise is not None and (options.bpm or self.trainer is not None):
            from fretcoach_cli.practice.exercise_run import ExerciseRun

            self.exercise = ExerciseRun(
                options.exercise, tolerance_ms=options.exercise_tolerance_ms,
                bpm=options.bpm or options.trainer.ramp.start_bpm, trainer=self.trainer)
        #: one-line warnings (a silent click) go here; the CLI points it at its relay
        self.on_warning: Callable[[str], None] | None = None

    # -- subscription --------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> None:
        """``callback`` gets every message, on whichever thread produced it."""
        self._subscribers.append(callback)

    def _emit(self, message: Any) -> None:
        for cb in list(self._subscribers):
            cb(message)

    # -- controls ------------------------------------------------------------------------
    def start(self) -> None:
        """Create the session (asynchronously, via the recorder) and start listening."""
        if self._recorder is not None:
            self._recorder.start(session_meta(self.options))
            if self.trainer is not None:  # the ramp's spec is stored from the start
                self._recorder.ramp_progress(self.trainer.outcome())
        factory = self._engine_factory or _default_engine
        # the tuner pane's PitchUpdates come from the tuner core (as `fretcoach tune`)
        self.engine = factory(self._source, pitch_model=self.options.pitch_model,
                              a4=self.options.a4, sensitivity=self.options.sensitivity,
                              tuner=self.tuner_pane, tuning=self.options.tuning)
        self.engine.subscribe(self._on_engine_event)
        if self.exercise is not None:  # the first notes to play, before any is heard
            self._emit(self.exercise.progress())
            if self.exercise.looped:
                self._emit(self.exercise.tempo)
        if self.trainer is not None:  # the click's clock starts with the input's
            self.trainer.start_click(self.on_warning)
        self.engine.start()
        self._set_state("recording")

    def pause(self) -> None:
        if self.state == "recording" and self.engine is not None:
            self.engine.pause()
            if self.trainer is not None:
                self.trainer.stop_click()
            self._set_state("paused")

    def resume(self) -> None:
        if self.state == "paused" and self.engine is not None:
            if self.trainer is not None:  # the click continues the input's clock
                self.trainer.start_click(None, clock_s=self.position_s)
            self.engine.resume()
            self._set_state("recording")

    def toggle_pause(self) -> str:
        if self.state == "paused":
            self.resume()
        else:
            self.pause()
        return self.state

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the input ends (file exhausted, duration reached or engine error)."""
        return self.input_done.wait(timeout)

    def record_reply(self, source: str, kind: str, text: str, **extra: Any) -> bool:
        """Store a coach reply shown in this session (journal first, then the database).

        Thread-safe and non-blocking (a queue put). False when it was not stored: no text, no
        recorder, or the session has ended (a late reply is dropped, not stored). ``extra``:
        ``reply_uuid``, ``prompt_version``, ``trace_id`` and, to rate it, ``rating`` (+1/-1)
        and ``comment`` (sending the same reply again with a rating stores only the rating).
        """
        from datetime import UTC, datetime

        if self._recorder is None or not text.strip() or self.result is not None:
            return False
        return self._recorder.add_reply({"at": datetime.now(UTC), "source": source or "offline",
                                         "kind": kind, "text": text.strip(), **extra})

    def finish(self, reason: str = "finished",
               before_end: Callable[[SessionResult], None] | None = None) -> SessionResult:
        """Stop listening, compute the final figures and save them; blocking (use a worker).

        ``before_end(result)`` may add to the result (e.g. the coach's closing words, which it
        may store with :meth:`record_reply`) before the summary is saved and subscribers are
        told the session ended.
        """
        with self._finish_lock:
            if self.result is not None:
                return self.result
            self._set_state("finishing")
            if self.engine is not None:
                self.engine.stop()
                self.engine.join()
            with self._lock:
                events = list(self.events)
            outcome = None
            summary_row = None
            from fretcoach_cli.practice.summary import summary_fields

            fields = summary_fields(self.options, events, self.position_s)
            looped = self.exercise is not None and self.exercise.looped
            if looped:  # the passes still open are settled before the ramp is read
                self._emit(self.exercise.flush(self.position_s))
                self._emit(self.exercise.tempo)
            if self.trainer is not None:
                fields.update(self.trainer.finish(self.position_s))
            result = build_result(self.options, events, self.position_s, row=None,
                                  outcome=None, previous=None, reason=self.end_reason or reason)
            if self.exercise is not None:  # live verdicts end; the take's own are stored
                if not looped:
                    self._emit(self.exercise.flush())
                result.extra["exercise"] = self.exercise.finish(events, fields,
                                                                self.position_s)
                if looped:
                    result.extra["passes"] = self.exercise.passes
                    result.extra["best_pass"] = self.exercise.best_pass
            if self.trainer is not None:
                result.extra["speed"] = {k: fields[k] for k in
                                         ("ramp", "max_clean_bpm", "tempo_curve")}
                result.extra["speed"]["unit"] = "pass" if looped else "bar"
            if before_end is not None:  # before saving: closing words go in with the session
                before_end(result)
            if self._recorder is not None:
                outcome = self._recorder.finish(fields)
                summary_row = outcome.row
                result.row = summary_row
                result.session_id = outcome.session_id
                result.saved = outcome.saved
                result.save_message = outcome.message
                result.discarded = bool(getattr(outcome, "discarded", False))
            if self._previous_lookup is not None:
                try:
                    result.previous = self._previous_lookup(
                        self.options, outcome.session_id if outcome else None)
                except Exception:  # a comparison is a nicety, never a failure
                    result.previous = None
            self.result = result
            self._set_state("finished")
            self._emit(SessionEnded(self.result, reason=self.end_reason or reason))
            return self.result

    def abandon(self) -> None:
        """Stop without a summary (the session stays interrupted and recoverable)."""
        if self.engine is not None:
            self.engine.stop()
            self.engine.join()
        if self.trainer is not None:
            self.trainer.stop_click()
        if self._recorder is not None:
            self._recorder.abandon()

    def start_trainer(self, trainer_options: Any) -> Any:
        """Start the speed trainer mid-session (the TUI's t in a --bpm session): its bar 0
        is the next bar line of the running click (grid origin 0), it judges from there on,
        and the metrics follow its grid. Returns the (possibly already running) trainer."""
        import math

        from fretcoach_cli.practice.speed_trainer import SpeedTrainer

        if self.trainer is not None:
            return self.trainer
        spec = trainer_options.ramp
        bar_s = spec.beats_per_bar * 60.0 / spec.start_bpm
        origin = math.ceil((self.position_s + 0.1) / bar_s) * bar_s
        trainer = SpeedTrainer(trainer_options, origin_s=origin)
        with self._lock:
            self.options = replace(self.options, trainer=trainer_options, bpm=None,
                                   grid=trainer.ramp.map)
            self._window = SlidingWindow(self.options.scale,
                                         max_notes=self.options.window_notes,
                                         strictness=self.options.strictness,
                                         grid=self.options.grid)
            self.trainer = trainer
        trainer.start_click(self.on_warning, clock_s=self.position_s)
        if self._recorder is not None:
            self._recorder.ramp_progress(trainer.outcome())
        return trainer

    def on_storage_status(self, status: RecorderStatus) -> None:
        """Recorder callback (writer thread) → subscribers."""
        self._emit(StorageStatus(status.online, status.session_id, status.saved_notes,
                                 status.spooled_batches, status.message))

    # -- engine side (analysis thread) ---------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self._emit(StateChanged(state, self.position_s))  # type: ignore[arg-type]

    def _on_engine_event(self, event: Any) -> None:
        event = on_player_clock(event, self.options.input_latency_s)  # the one latency fix
        if isinstance(event, NoteEvent):
            self._on_note(event)
        elif isinstance(event, NoteStarted):
            self._on_note_started(event)
        elif isinstance(event, NoteEnded):
            self._on_note_ended(event)
        elif isinstance(event, NoteDropped):
            if not self._past_limit(event.onset_s):
                self._emit(NoteRetracted(event.onset_s))
        elif isinstance(event, LevelUpdate | PitchUpdate):
            self.position_s = max(self.position_s, event.time_s)
            self._emit(event)
            self._check_limit()
        elif isinstance(event, EngineError):
            self.error = event
            self.end_reason = f"error: {event.message}"
            self._emit(event)
            self.input_done.set()
        elif isinstance(event, EngineFinished):
            self.position_s = max(self.position_s, event.duration_s)
            if self.end_reason is None:
                self.end_reason = event.reason
            self._emit(event)
            self.input_done.set()

    def _check_limit(self) -> None:
        limit = self.options.duration_s
        if limit and self.position_s >= limit and self.end_reason is None:
            self.end_reason = "duration reached"
            self.engine.stop()

    def _past_limit(self, onset_s: float) -> bool:
        limit = self.options.duration_s
        return limit is not None and limit > 0 and onset_s >= limit

    def _on_note_started(self, event: NoteStarted) -> None:
        """Provisional: shown, never judged, stored or counted (its NoteEvent will be)."""
        if self._past_limit(event.onset_s):
            return  # its NoteEvent will be ignored too
        scale = self.options.scale
        if event.midi is None:
            self._emit(NoteHeard(event))
            return
        pc = round(event.midi) % 12
        self._emit(NoteHeard(event, scale.note_name(event.midi), scale.contains(pc),
                             scale.degree_label(pc)))

    def _on_note(self, event: NoteEvent) -> None:
        if self._past_limit(event.onset_s):
            return
        with self._lock:
            self.events.append(event)
            seq = len(self.events)
            grid = make_grid(self.events, self.options.bpm, 2, None) if self.options.bpm else None
            verdict = judge_note(event, self.options.scale, tolerance=self._tolerance, grid=grid)
            tempo = None
            if self.trainer is not None:  # the ramp's grid (count-in origin, bar tempi)
                verdict = replace(verdict,
                                  grid_offset_ms=self.trainer.grid_offset_ms(event.onset_s))
                if self.exercise is None:  # an exercise's passes are judged below
                    tempo = self.trainer.on_note(event, verdict)
            self.verdicts.append(verdict)
            window = self._window.add(event)
            session = self._maybe_session_metrics()
        self.position_s = max(self.position_s, event.offset_s)
        if self._recorder is not None:
            self._recorder.add_note(note_row(seq, event, verdict))
        self._emit(NoteJudged(seq, event, verdict, window, session))
        if self.exercise is not None:
            self._emit(self.exercise.on_note(event))
            if self.exercise.looped:
                tempo = self.exercise.tempo
        if tempo is not None:
            self._emit(tempo)
            self._store_ramp()

    def _store_ramp(self) -> None:
        """The ramp so far to the recorder when a bar or pass has settled (a queue put)."""
        fields = self.trainer.progress() if self.trainer is not None else None
        if fields is not None and self._recorder is not None:
            self._recorder.ramp_progress(fields)

    def _on_note_ended(self, event: NoteEnded) -> None:
        """A judged note rang on: give it its true end (events, store, subscribers)."""
        limit = self.options.duration_s
        end = min(event.offset_s, limit) if limit and limit > 0 else event.offset_s
        with self._lock:
            index = with_end(self.events, NoteEnded(event.onset_s, end, event.emitted_at_s))
        if index is None:
            return  # past the session's limit (never judged here)
        seq = index + 1
        if self._recorder is not None:
            self._recorder.end_note(seq, end)
        self._emit(NoteLengthened(seq, event.onset_s, end))

    def _maybe_session_metrics(self) -> Any:
        from fretcoach_cli.practice.summary import metrics_of

        now = time.monotonic()
        if (self._session_metrics is None or len(self.events) <= 100
                or now - self._last_session_calc >= SESSION_METRICS_EVERY_S):
            self._session_metrics = metrics_of(self.options, self.events)
            self._last_session_calc = now
        return self._session_metrics


def _default_engine(source: Any, **kwargs: Any) -> Any:
    from fretcoach_cli.audio.engine import Engine

    return Engine(source, **kwargs)
