"""The live practice room (Textual).

Thin by design: a :class:`~fretcoach_cli.practice.runner.PracticeSession` does the work; this
app subscribes through a :class:`~fretcoach_cli.tui.bridge.Bridge`, renders, and sends the
player's intents back. Starting, finishing (saving) and coach calls run in thread workers, so
the UI never waits on audio, the database or a language model.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer

from fretcoach_cli.events import EngineError, EngineFinished
from fretcoach_cli.practice.coach_link import (
    MIN_NOTES_FOR_COACH,
    CoachLink,
    CoachSchedule,
    exercise_context,
    store_replies,
)
from fretcoach_cli.practice.messages import (
    ExerciseProgress,
    NoteHeard,
    NoteJudged,
    NoteRetracted,
    SessionEnded,
    StateChanged,
    StorageStatus,
)
from fretcoach_cli.practice.runner import PracticeSession
from fretcoach_cli.practice.speed_trainer import TempoUpdate
from fretcoach_cli.scoring.judge import tolerance_cents
from fretcoach_cli.tui.bridge import Bridge, SessionMessage, Tick
from fretcoach_cli.tui.layout import SIZE_CLASSES, size_classes
from fretcoach_cli.tui.live_view import (
    LiveNeedle,
    MarkTrail,
    feed_row,
    heard_row,
    metric_rows,
    reading_from_verdict,
)
from fretcoach_cli.tui.screens.help import HelpScreen
from fretcoach_cli.tui.screens.summary import SummaryScreen
from fretcoach_cli.tui.widgets import (
    CoachPane,
    Fretboard,
    MetricBars,
    Metronome,
    NoteFeed,
    SessionHeader,
    Tuner,
)
from fretcoach_cli.tui.widgets.size_guard import SizeGuard
from fretcoach_cli.tui.widgets.speed import SpeedMeter

__all__ = ["MIN_NOTES_FOR_COACH", "PracticeApp"]



def fretboard_tuning(options: Any) -> dict[str, Any]:
    """The Fretboard's strings and their names for ``practice --tuning`` (standard: none)."""
    t = getattr(options, "tuning", None)
    if t is None:
        return {}
    names = list(t.note_names())
    if names[-1] in names[:-1]:
        names[-1] = names[-1].lower()  # the high e (or d), as guitarists write it
    return {"tuning": t.strings, "names": tuple(names)}

class Warned(Message):
    """A one-line warning from a background thread (speech), for a notification."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class PracticeApp(App[Any]):
    """Returns the :class:`SessionResult` (or None if the session never started)."""

    CSS_PATH = "practice.tcss"
    TITLE = "fretcoach practice"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause"),
        Binding("q", "finish", "Finish & save"),
        Binding("ctrl+c", "finish", "Finish", show=False, priority=True),
        Binding("c", "toggle_coach", "Coach"),
        Binding("t", "toggle_ramp", "Ramp"),
        Binding("m", "toggle_metronome", "Metronome"),
        Binding("m", "no_tempo", "Metronome", show=False),
        # one key, three meanings: the footer shows the one that applies at this size
        Binding("f", "show_fretboard", "Fretboard"),
        Binding("f", "show_notes", "Notes"),
        Binding("f", "hide_fretboard", "Hide neck"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("plus,equals_sign", "rate(1)", "Good tip", show=False),
        Binding("minus", "rate(-1)", "Bad tip", show=False),
    ]

    def __init__(self, session: PracticeSession, *, coach_every_s: float = 30.0,
                 coach: bool = True, finish_on_end: bool = True,
                 coach_link: CoachLink | None = None) -> None:
        super().__init__()
        self.session = session
        self.options = session.options
        self.coach_every_s = coach_every_s
        self.coach_enabled = coach
        self.finish_on_end = finish_on_end
        self.coach_link = coach_link or CoachLink()
        store_replies(self.coach_link, session)  # what the pane shows in full is stored
        self.bridge = Bridge(self)
        self.trail = MarkTrail(**({} if self.options.tuning is None
                                   else {"tuning": self.options.tuning.strings}))
        self.tolerance = tolerance_cents(self.options.strictness)
        self.error: BaseException | None = None
        self.result: Any = None
        self.frames = 0  # refreshes of the live view, for bench/bench_tui.py
        self.exercise_verdicts: list[Any] = []  # practice --exercise: live verdicts shown
        self._started = threading.Event()
        self._finishing = False
        self._exit_after_finish = False
        self._schedule = CoachSchedule(coach_every_s)
        self._early_warnings: list[str] = []
        self.warnings: list[str] = []  # every warning notified, in order
        self._window: Any = None
        self._last_verdict: Any = None
        self._needle = LiveNeedle()  # the tuner pane, from the tuner core's readings
        self._live_pitch = False  # the pane is showing a ringing note
        session.subscribe(self.bridge)

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """One widget tree for every size: ``practice.tcss`` arranges it by the classes
        :func:`~fretcoach_cli.tui.layout.size_classes` sets on the app, so a resize never
        rebuilds a widget (the feed and the coach keep what they show)."""
        yield SizeGuard(id="too-small")
        yield SessionHeader(id="header")
        with Horizontal(id="top"):
            with Vertical(id="tuner-panel", classes="panel"):
                yield Tuner(id="tuner")
                yield Metronome(id="metronome")
                if self.session.trainer is not None:  # the speed trainer's beat and tempo
                    yield SpeedMeter(id="speed")
            with Vertical(id="metrics-panel", classes="panel"):
                yield MetricBars(id="metrics")
        with Container(id="body"):
            with Vertical(id="fretboard-panel", classes="panel"):
                yield Fretboard(id="fretboard", **fretboard_tuning(self.options))
            with Vertical(id="feed-panel", classes="panel"):
                yield NoteFeed(id="feed")
            with Vertical(id="coach-panel", classes="panel"):
                yield CoachPane(id="coach")
        yield Footer(show_command_palette=False)

    # -- size ----------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """Switch layout classes for this size; the engine never hears of it."""
        wanted = size_classes(width, height)
        if ("-short" in wanted) != self.has_class("-short"):
            self.remove_class("-swap")  # the player's f applied to the other layout
        for name in SIZE_CLASSES:
            self.set_class(name in wanted, name)
        self.refresh_bindings()
        for guard in self.query(SizeGuard):
            guard.refresh()

    def on_mount(self) -> None:
        o = self.options
        header = self.query_one(SessionHeader)
        header.scale_name = o.scale.display_name
        header.key_name = " ".join(o.scale.note_names())
        header.bpm = o.bpm
        header.limit_s = o.duration_s
        header.source_label = o.source_label
        self.query_one("#tuner-panel").border_title = "Tuner"
        self.query_one("#metrics-panel").border_title = "Metrics"
        self.query_one("#fretboard-panel").border_title = (
            "Fretboard · standard tuning" if o.tuning is None else f"Fretboard · {o.tuning.name}")
        self.query_one("#feed-panel").border_title = "Notes"
        self.query_one("#coach-panel").border_title = "Coach"
        self.query_one(Fretboard).set_scale(frozenset(o.scale.pitch_classes), o.scale.root_pc)
        self.query_one(Metronome).bpm = o.bpm
        if self.session.trainer is not None:
            self.query_one(Metronome).display = False
            speed = self.query_one(SpeedMeter)
            spec = self.session.trainer.spec
            speed.start_bpm, speed.target_bpm = spec.start_bpm, spec.target_bpm
            self._show_tempo(self.session.trainer.state())
        self.query_one(MetricBars).rows = metric_rows(None, None)
        self.query_one(MetricBars).window_label = f"last {o.window_notes} notes"
        self.set_class(not self.coach_enabled, "-no-coach")
        self._fit(self.size.width, self.size.height)
        for line in self._early_warnings:
            self.warnings.append(line)
            self.notify(line, severity="warning", timeout=8)
        self._early_warnings.clear()
        self._catch_hangup()
        self.run_worker(self._start_session, thread=True, group="session", name="start")

    def _catch_hangup(self) -> None:
        """Closing the terminal (SIGHUP) or SIGTERM saves the session like `q`, then exits.

        Without this the process dies mid-loop and the embedded database server it started
        stays up until the next fretcoach run notices the dead handle.
        """
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._hang_up)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                return

    def _hang_up(self) -> None:
        if isinstance(self.screen, SummaryScreen) or self.error is not None:
            self.exit()
            return
        self._exit_after_finish = True
        self.action_finish()

    # -- workers -------------------------------------------------------------------------
    def _start_session(self) -> None:
        try:
            self.session.start()
        except BaseException as exc:  # surfaced by the CLI as one line
            self.error = exc
            self.call_from_thread(self.exit, None, 1)
        finally:
            self._started.set()

    def _finish_session(self) -> None:
        self._started.wait()
        self.coach_link.close()
        try:
            self.result = self.session.finish(before_end=self._add_coach_summary)
        except BaseException as exc:
            self.error = exc
            self.call_from_thread(self.exit, None, 1)
            return
        if self._exit_after_finish:
            # The terminal is gone: the session is saved and there is nothing to show or
            # restore. Textual's shutdown would block writing to the dead tty, so run the
            # exit hooks (they release the embedded database server) and leave now.
            import atexit
            import os

            atexit._run_exitfuncs()
            os._exit(129)

    def _add_coach_summary(self, result: Any) -> None:
        """The coach's closing words for the summary screen (offline if no model answers)."""
        if not self.coach_enabled or not result.notes:
            return
        try:
            text = self.coach_link.summary(result, self.session.events, self.options.scale)
        except Exception as exc:  # the summary must appear even if the coach cannot
            text = f"(coach unavailable: {exc})"
        if text:
            result.extra["tip"] = text

    def _coach_reply(self, metrics: Any, context: dict[str, Any]) -> None:
        pane = self.query_one(CoachPane)
        try:
            reply = self.coach_link(metrics, context)
        except Exception as exc:  # the coach is optional: show why it is quiet
            self.call_from_thread(pane.say, f"(coach unavailable: {exc})")
            return
        if reply is None:  # the previous reply is still streaming: skip this tick
            return
        source, tokens = reply
        self.call_from_thread(setattr, pane, "source", source)
        self.call_from_thread(pane.begin)
        try:
            for token in tokens:
                self.call_from_thread(pane.feed, token)
        except Exception as exc:
            self.call_from_thread(pane.feed, f" (coach stopped: {exc})")
        finally:
            self.call_from_thread(pane.end)

    def warn_from_thread(self, line: str) -> None:
        """A one-line warning from any thread (e.g. speech), shown as a notification: nothing
        is ever printed over the practice room. Never blocks (a posted message)."""
        if not self.post_message(Warned(line)):
            self._early_warnings.append(line)

    @on(Warned)
    def _on_warned(self, message: Warned) -> None:
        self.warnings.append(message.line)
        self.notify(message.line, severity="warning", timeout=8)

    # -- session messages ----------------------------------------------------------------
    @on(Tick)
    def _on_tick(self) -> None:
        level, pitch = self.bridge.take()
        headers = self.query(SessionHeader)
        if not headers:  # the room is closing (readings of the tuner thread still come in)
            return
        header = headers.first()
        if level is not None:
            header.rms_db = level.rms_db
            header.clipped = level.clipped
        header.elapsed_s = self.session.position_s
        self.query_one(Metronome).time_s = self.session.position_s
        trainer = self.session.trainer
        run = self.session.exercise
        for speed in self.query(SpeedMeter):  # (mounted by t in a --bpm session)
            speed.beat = None if trainer is None else trainer.beat_at(self.session.position_s)
            at = None if run is None else run.pass_at(self.session.position_s)
            if at is not None and at > (speed.pass_number or 0):  # a new pass: no verdicts
                speed.pass_number, speed.verdicts = at, ()
        if pitch is not None and pitch.midi is not None:
            self.query_one(Tuner).reading = self._needle.reading(
                pitch.time_s, pitch.midi, self.options.scale, self.tolerance)
            self._live_pitch = True
        elif pitch is not None and self._live_pitch:  # the string stopped sounding
            self._needle.silence()
            self._live_pitch = False
            if self._last_verdict is not None:  # the needle rests on the last settled note
                self.query_one(Tuner).reading = reading_from_verdict(self._last_verdict)
        self.frames += 1

    @on(SessionMessage)
    def _on_session_message(self, message: SessionMessage) -> None:
        payload = message.payload
        if isinstance(payload, NoteJudged):
            self._on_note(payload)
        elif isinstance(payload, NoteHeard):
            self._on_heard(payload)
        elif isinstance(payload, NoteRetracted):
            self.query_one(NoteFeed).retract(payload.onset_s)
            self.trail.retract(payload.onset_s)
            self.query_one(Fretboard).marks = self.trail.marks()
        elif isinstance(payload, StateChanged):
            self.query_one(SessionHeader).state = payload.state
            self.query_one(SessionHeader).elapsed_s = self.session.position_s
        elif isinstance(payload, StorageStatus):
            self.query_one(SessionHeader).set_storage(
                payload.online, payload.saved_notes, payload.message)
        elif isinstance(payload, EngineFinished):
            header = self.query_one(SessionHeader)
            header.elapsed_s = self.session.position_s
            if self._last_verdict is not None:  # the needle rests on the last settled note
                self.query_one(Tuner).reading = reading_from_verdict(self._last_verdict)
            if self.finish_on_end:
                self.action_finish()
            elif not self._finishing:
                header.state = "input ended · q saves"
        elif isinstance(payload, EngineError):
            self.notify(payload.message, severity="error", timeout=10)
            self.action_finish()
        elif isinstance(payload, SessionEnded):
            self.push_screen(SummaryScreen(payload.result))
        elif isinstance(payload, TempoUpdate):
            self._show_tempo(payload)
        elif isinstance(payload, ExerciseProgress):  # practice --exercise
            from fretcoach_cli.tui.exercise_live import show_progress

            show_progress(self, payload)
            if payload.pass_number is not None:  # --ramp: the pass's verdicts by its tempo
                for speed in self.query(SpeedMeter):
                    if payload.pass_number >= (speed.pass_number or 0):
                        speed.pass_number, speed.verdicts = (payload.pass_number,
                                                             payload.pass_verdicts)

    def _show_tempo(self, update: TempoUpdate) -> None:
        self.query_one(SessionHeader).bpm = update.bpm  # the ramp's tempo, not "free"
        for speed in self.query(SpeedMeter):
            speed.bpm, speed.best_clean_bpm, speed.active = (update.bpm, update.best_clean_bpm,
                                                             update.active)
            speed.curve = tuple((p.bpm, p.clean) for p in update.curve)
            if update.pass_number is not None:
                speed.pass_number = max(update.pass_number, speed.pass_number or 0)

    def _on_heard(self, msg: NoteHeard) -> None:
        """Shown at once, dimmed; its NoteJudged rewrites it in place (same onset)."""
        self.query_one(NoteFeed).add_provisional(msg.onset_s, heard_row(msg))
        self.trail.add_pending(msg.onset_s, msg.note.midi)
        self.query_one(Fretboard).marks = self.trail.marks()

    def _on_note(self, msg: NoteJudged) -> None:
        verdict = msg.judgement
        self.query_one(NoteFeed).settle(msg.note.onset_s, feed_row(verdict))
        self.trail.settle(msg.note.onset_s, verdict)
        self.query_one(Fretboard).marks = self.trail.marks()
        self.query_one(MetricBars).rows = metric_rows(msg.window, msg.session)
        if verdict.judged:
            if not self._live_pitch:  # while a note rings the tuner core's readings show it
                self.query_one(Tuner).reading = reading_from_verdict(verdict)
            self._last_verdict = verdict
        header = self.query_one(SessionHeader)
        header.elapsed_s = self.session.position_s
        self._window = msg.window
        self.frames += 1
        self._maybe_coach(msg)

    def _maybe_coach(self, msg: NoteJudged) -> None:
        if not self.coach_enabled:
            return
        now = msg.note.onset_s
        if not self._schedule.due(msg.seq, now):
            return
        first = max(0, msg.seq - self.options.window_notes)
        context = {"scale": self.options.scale, "position_s": now,
                   "notes": list(self.session.events[first:msg.seq]),
                   "session": msg.session, **exercise_context(self.session)}
        self.run_worker(lambda: self._coach_reply(msg.window, context), thread=True,
                        group="coach", exclusive=True, name="coach")

    # -- actions -------------------------------------------------------------------------
    LIVE_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"toggle_pause", "finish", "toggle_coach", "toggle_metronome", "help", "toggle_ramp",
         "show_fretboard", "show_notes", "hide_fretboard", "no_tempo", "rate"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The live keys belong to the live view: hidden and inert on the summary. Of the
        three meanings of ``f`` only the one that applies at this size is active."""
        if action in self.LIVE_ACTIONS and isinstance(self.screen, SummaryScreen):
            return False
        if action == "show_fretboard":
            return not self.fretboard_shown and not self.has_class("-no-neck")
        if action == "show_notes":
            return self.fretboard_shown and self._neck_replaces_notes
        if action == "hide_fretboard":
            return self.fretboard_shown and not self._neck_replaces_notes
        if action == "toggle_ramp":  # a session with --ramp, or one with a --bpm to start from
            return self.session.trainer is not None or (
                bool(self.options.bpm) and self.session.exercise is None)  # not yet with one
        if action in {"toggle_metronome", "no_tempo"}:  # the hint only when there is a click
            return bool(self.options.bpm) == (action == "toggle_metronome")
        return True

    @property
    def _neck_replaces_notes(self) -> bool:
        """Short and not wide: the neck, when shown, takes the note feed's place."""
        return self.has_class("-short") and not self.has_class("-wide")

    @property
    def fretboard_shown(self) -> bool:
        """Whether the neck is on screen at this size (``-swap`` is the player's ``f``)."""
        if self.has_class("-tiny") or self.has_class("-no-neck"):
            return False
        return self.has_class("-swap") == self._neck_replaces_notes

    def _swap(self) -> None:
        self.toggle_class("-swap")
        self.refresh_bindings()

    def action_show_fretboard(self) -> None:
        self._swap()

    def action_show_notes(self) -> None:
        self._swap()

    def action_hide_fretboard(self) -> None:
        self._swap()

    def action_toggle_pause(self) -> None:
        if self._finishing:
            return
        state = self.session.toggle_pause()
        self.query_one(SessionHeader).state = state

    def action_finish(self) -> None:
        if self._finishing:
            return
        self._finishing = True
        self.query_one(SessionHeader).state = "saving"
        self.run_worker(self._finish_session, thread=True, group="session", name="finish")

    def action_rate(self, rating: int) -> None:
        """Rate the coach's latest tip (+ / -); stored with the session like the tip."""
        from fretcoach_cli.practice.coach_link import rate_latest

        reply = rate_latest(self.coach_link, self.session, rating)
        if reply is None:
            self.notify("no coach tip to rate yet", timeout=2)
        else:
            self.notify(f"rated the coach's tip {'+' if rating > 0 else '-'}", timeout=2)

    def action_toggle_coach(self) -> None:
        self.coach_enabled = not self.coach_enabled
        self.set_class(not self.coach_enabled, "-no-coach")

    def action_toggle_metronome(self) -> None:
        metronome = self.query_one(Metronome)
        if not metronome.bpm:
            self.action_no_tempo()
            return
        metronome.enabled = not metronome.enabled

    def action_toggle_ramp(self) -> None:
        """Hold the speed trainer's tempo where it is, or let it ramp again."""
        trainer = self.session.trainer
        if trainer is None:  # --bpm without --ramp: start one from that tempo
            if not self.options.bpm or self._finishing or self.session.exercise is not None:
                return  # an exercise is judged at its one tempo (a ramp with it: not yet)
            from fretcoach_cli.practice.speed_trainer import default_options

            options = default_options(float(self.options.bpm))
            speed = SpeedMeter(id="speed")
            speed.start_bpm, speed.target_bpm = options.ramp.start_bpm, options.ramp.target_bpm
            self.query_one("#tuner-panel").mount(speed)
            self.query_one(Metronome).display = False
            trainer = self.session.start_trainer(options)
            self._show_tempo(trainer.state())
            self.notify(f"speed trainer: {options.ramp.text} from the next bar", timeout=3)
            return
        active = trainer.toggle()
        self._show_tempo(trainer.state())
        self.notify("speed trainer: ramping" if active else "speed trainer: tempo held",
                    timeout=2)

    def action_no_tempo(self) -> None:
        self.notify("No tempo set: start with --bpm N for a click.", timeout=3)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
