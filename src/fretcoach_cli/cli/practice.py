"""`fretcoach practice` — the live practice room (Textual) or its headless twin.

Everything a user can get wrong (scale, tempo, duration, device, file, plan) is checked
before the practice room opens, so failures are one line and an exit code, never a broken
screen. The session itself is run by ``fretcoach_cli.practice``; this module only builds it
and renders the outcome.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import (
    AudioError,
    DatabaseError,
    FretcoachError,
    NotFoundError,
    UsageError,
)

EXAMPLE = "examples/a_minor_pentatonic_clean.flac"


def register(app: typer.Typer) -> None:
    app.command("practice", rich_help_panel="Practice")(practice)


def practice(
    scale: str | None = typer.Option(None, "--scale", "-s",
                                     help='Scale to practise, e.g. "A minor pentatonic", '
                                          '"Bb dorian" (optional with --plan).'),
    bpm: float | None = typer.Option(None, "--bpm", help="Target tempo: shows a click and judges "
                                     "timing against its grid."),
    duration: str | None = typer.Option(None, "--duration", "-d",
                                        help='Stop after this much playing: "5m", "90s", "1h".'),
    strictness: float | None = typer.Option(None, "--strictness",
                                            help="0 = lenient … 1 = strict tuning tolerance."),
    sensitivity: float | None = typer.Option(None, "--sensitivity",
                                             help="0 = only loud notes … 1 = quiet ones too."),
    device: str | None = typer.Option(None, "--device", help="Input device index or name."),
    channel: int | None = typer.Option(None, "--channel", help="Input channel (1-based)."),
    input_file: Path | None = typer.Option(None, "--input", "-i",
                                           help="Practise along to a recording instead of the "
                                                "microphone (streamed at real-time speed)."),
    fast: bool = typer.Option(False, "--fast", help="With --input: as fast as possible."),
    pitch_model: str | None = typer.Option(None, "--pitch-model", help="swift (default) or crepe."),
    coach_every: str | None = typer.Option(None, "--coach-every",
                                           help='Seconds between coach replies, e.g. "30s".'),
    no_coach: bool = typer.Option(False, "--no-coach", help="No live coach."),
    plan: str | None = typer.Option(None, "--plan",
                                    help="Practise a plan: its id (or a prefix), or 'latest' "
                                         "pending one. Its scale, tempo, strictness and "
                                         "sensitivity apply unless given as flags."),
    speak: bool = typer.Option(False, "--speak", help="Read the coach's replies aloud "
                               "(espeak-ng, or OpenAI speech with 'speech = openai'): one at "
                               "a time; a newer reply replaces one still waiting."),
    no_tui: bool = typer.Option(False, "--no-tui", help="No full-screen UI: a live line on "
                                "stderr, the summary on stdout."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored session row as JSON "
                                 "(implies --no-tui)."),
    tuning: str | None = typer.Option(None, "--tuning", help='Your guitar\'s tuning: a name '
                                      '(standard, drop-d, dadgad, open-g, 7-string, bass-4 …; '
                                      "see 'fretcoach tune --help') or its strings low to high, "
                                      'e.g. "D A D G B E". The fretboard and string names '
                                      "follow it and the session stores it."),
    latency_ms: float | None = typer.Option(None, "--latency-ms", help="Input latency to "
                                            "subtract from every onset before timing is "
                                            "judged (default: the device's 'fretcoach "
                                            "calibrate' figure; none for --input)."),
    on_quality: str | None = typer.Option(None, "--on-quality", metavar="CMD",
                                          help="Run CMD (no shell: use sh -c '…' for pipes) "
                                          "when the live quality band changes: red/amber/"
                                          "green in $FRETCOACH_BAND, the live metrics in "
                                          "$FRETCOACH_OVERALL, $FRETCOACH_PITCH_ACCURACY …; "
                                          "at most one run per 2 s, each stopped after 5 s. "
                                          "Setting: on_quality."),
    ramp: str | None = typer.Option(None, "--ramp", metavar="START:TARGET:STEP",
                                    help="Speed trainer: start at START bpm, rise by STEP "
                                    "after --clean-bars clean bars (every note in the scale "
                                    "and within ±30 ms of the grid), fall back a step after "
                                    "2 sloppy bars; never below START or above TARGET. "
                                    "e.g. 80:140:+4. With --exercise the exercise loops on "
                                    "the click and each pass counts instead of a bar (clean: "
                                    "every note hit, nothing extra). The TUI's t "
                                    "holds/releases the ramp."),
    clean_bars: int | None = typer.Option(None, "--clean-bars", metavar="N",
                                          help="Speed trainer: clean bars before a rise "
                                          "(default 2); with --exercise, clean passes."),
    count_in: int | None = typer.Option(None, "--count-in", metavar="BARS",
                                        help="Speed trainer: count-in bars before beat 0 "
                                        "(default 1)."),
    click_volume: float | None = typer.Option(None, "--click-volume",
                                              help="Speed trainer click volume 0…1 "
                                              "(default 0.6)."),
    no_click: bool = typer.Option(False, "--no-click", help="Speed trainer without the "
                                  "audible click (the beat is still shown)."),
    exercise: str | None = typer.Option(None, "--exercise", "-e", metavar="NAME|FILE",
                                        help="Play an exercise: a built-in ('fretcoach "
                                        "exercises'), a tab, MusicXML or Guitar Pro file. "
                                        "Needs --bpm (or the file's tempo); every expected "
                                        "note gets a verdict. With --ramp it loops, pass by "
                                        "pass, speeding up as passes come out clean."),
    position: int | None = typer.Option(None, "--position", "-p",
                                        help="Fret where a built-in exercise's position starts."),
    shape: str | None = typer.Option(None, "--shape", metavar="C|A|G|E|D",
                                     help="Play a built-in exercise in a CAGED shape."),
    tolerance_ms: float = typer.Option(30.0, "--tolerance-ms", min=5.0, max=200.0,
                                       help="An exercise note within this many ms is a hit."),
) -> None:
    """Practise a scale with live pitch, scale and timing feedback; the session is saved."""
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.music.tempo import validate_bpm
    from fretcoach_cli.music.tunings import parse_tuning
    from fretcoach_cli.practice.options import (
        check_unit_range,
        parse_duration,
        trainer_options,
    )

    check_unit_range(strictness, "--strictness")
    check_unit_range(sensitivity, "--sensitivity")
    from fretcoach_cli.cli.calibrate import check_latency_ms, input_latency_s

    check_latency_ms(latency_ms)
    the_tuning = parse_tuning(tuning)
    settings = context.settings(strictness=strictness, sensitivity=sensitivity,
                                pitch_model=pitch_model, input_device=device,
                                input_channel=channel, on_quality=on_quality)
    hook_argv = quality_command(settings.on_quality)
    the_scale = parse_scale(scale) if scale is not None else None
    tempo = validate_bpm(bpm) if bpm is not None else None
    trainer = trainer_options(ramp=ramp, bpm=tempo, clean_bars=clean_bars, count_in=count_in,
                              click_volume=click_volume, no_click=no_click)
    duration_s = parse_duration(duration) if duration is not None else None
    coach_s = (parse_duration(coach_every, option="--coach-every") if coach_every is not None
               else float(settings.coach_every))
    if fast and input_file is None:
        raise UsageError("--fast only applies to --input FILE")
    if input_file is not None and (device is not None):
        raise UsageError("give either --input FILE or --device, not both")
    if speak and no_coach:
        raise UsageError("--speak reads the coach aloud: it cannot go with --no-coach")
    if the_scale is None and not plan and exercise is None:
        raise UsageError("which scale? give --scale",
                         hint='e.g. --scale "A minor pentatonic", or practise a plan: '
                              "--plan latest")
    interactive = not (no_tui or as_json) and sys.stdout.isatty() and sys.stdin.isatty()

    plan_id = None
    if plan:
        chosen = resolve_plan(settings, plan)
        plan_id = str(chosen.practice_id)
        the_scale, tempo, settings = apply_plan(chosen, settings, scale=the_scale, bpm=tempo,
                                                strictness=strictness, sensitivity=sensitivity)
    the_exercise = None
    if exercise is not None:
        from fretcoach_cli.cli.analyze import load_exercise

        if trainer is not None:  # the ramp gives the tempo of every pass
            tempo = trainer.ramp.start_bpm
        the_exercise, the_scale, tempo = load_exercise(exercise, the_scale, tempo, position,
                                                       shape=shape, tuning=the_tuning)
        the_tuning = exercise_tuning(the_exercise, the_tuning, given=tuning is not None)
        if trainer is not None:
            from fretcoach_cli.practice.exercise_run import loop_check

            loop_check(the_exercise)
    elif position is not None or shape is not None:
        raise UsageError("--position and --shape apply to --exercise")
    if trainer is not None:
        tempo = None  # the ramp's bars carry the tempo (and its grid judges the timing)
    check_pitch_model(settings.pitch_model)
    source, kind, label = open_source(settings, input_file, fast=fast,
                                      channel=channel if input_file is not None else None)
    latency_s = input_latency_s(settings, source, kind, latency_ms)
    warnings = WarningRelay()
    speaker = make_speaker(settings, warnings) if speak else None
    drain_s = 0.0
    try:
        try:
            session = build_session(settings, the_scale, source, kind=kind, label=label,
                                    bpm=tempo, duration_s=duration_s, plan_id=plan_id,
                                    tuning=the_tuning, trainer=trainer,
                                    exercise=the_exercise, tolerance_ms=tolerance_ms,
                                    input_latency_s=latency_s)
            session.on_warning = warnings
            if hook_argv:
                from fretcoach_cli.practice.quality_hook import QualityHook

                session.subscribe(QualityHook(hook_argv, warn=warnings))
            link = None
            if not no_coach:
                from fretcoach_cli.practice.coach_link import CoachLink

                link = CoachLink(settings)
                if speaker is not None:
                    link.on_reply(speaker)
            if interactive:
                result = run_tui(session, coach_every_s=coach_s, coach=not no_coach,
                                 link=link, warnings=warnings)
            else:
                result = run_headless(session, link=link, coach_every_s=coach_s,
                                      warnings=warnings)
                drain_s = SPEECH_DRAIN_S  # the closing words are read out after the summary
        finally:
            _close(source)
        render_result(result, as_json=as_json, interactive=interactive)
    finally:
        if speaker is not None:
            speaker.close(wait_s=drain_s)


# -- building -------------------------------------------------------------------------------
def example_path() -> str:
    """The bundled example recording, as a path the user can paste."""
    repo = Path(__file__).resolve().parents[3] / EXAMPLE
    return EXAMPLE if Path(EXAMPLE).exists() or not repo.exists() else str(repo)


def open_source(settings: Any, input_file: Path | None, *, fast: bool,
                channel: int | None) -> tuple[Any, str, str]:
    """Open (and so validate) the input now: a file, or the microphone."""
    from fretcoach_cli.audio.sources import FileSource, MicSource

    if input_file is not None:
        if input_file.is_dir():  # exit 3, as analyze and tune say it (FileSource says 5)
            raise NotFoundError(f"{input_file} is a directory, not a recording")
        src = FileSource(input_file, channel=channel, realtime=not fast)
        src.open()  # the engine opens it again on its own thread
        src.close()
        return src, "file", str(input_file)
    mic = MicSource(settings.input_device or None, channel=int(settings.input_channel))
    try:
        mic.open()
    except AudioError as err:
        raise AudioError(f"cannot listen: {err.message}",
                         hint=f"connect a microphone or audio interface, or practise along "
                              f"to a recording: --input {example_path()}") from None
    label = mic.label
    mic.close()
    return mic, "mic", label


def exercise_tuning(exercise: Any, tuning: Any, *, given: bool) -> Any:
    """The session's tuning for an exercise file written for its own tuning (the fretboard
    must show the file's strings); a different --tuning given on purpose is exit 2."""
    from fretcoach_cli.music.notes import note_name
    from fretcoach_cli.music.tunings import parse_tuning

    if tuple(exercise.tuning) == tuple(tuning.strings):
        return tuning
    written = parse_tuning(" ".join(note_name(m) for m in exercise.tuning))
    if given:
        raise UsageError(f"the exercise is written for {written.name}, not {tuning.name}",
                         hint="leave --tuning out to play it in its own tuning")
    return written


def quality_command(command: str) -> list[str]:
    """The --on-quality / on_quality command as argv ([] = none); bad quoting is exit 2."""
    from fretcoach_cli.practice.quality_hook import parse_command

    if not command.strip():
        return []
    try:
        return parse_command(command)
    except ValueError as exc:
        raise UsageError(f"--on-quality (on_quality): {exc}",
                         hint="e.g. --on-quality 'sh -c \"echo $FRETCOACH_BAND >> bands\"'"
                         ) from None


def check_pitch_model(name: str) -> None:
    """A pitch backend that cannot run here fails now, not inside the practice room."""
    from fretcoach_cli.audio.pitch import status

    state = status(name)
    if not state.usable:
        raise AudioError(f"pitch model {name!r} cannot run here: {state.detail}")


def resolve_plan(settings: Any, spec: str) -> Any:
    """The plan to practise (``latest`` = newest open plan, pending or in progress toward its
    targets; else an id or a unique prefix
    of one, as `recommend` and `plans` show them), checked before starting: a finished or
    dismissed plan is refused."""
    from fretcoach_cli.cli.plans import resolve_plan_id
    from fretcoach_cli.store import Plans, open_database

    with open_database(settings) as db, db.connect(settings.user) as conn:
        plans = Plans(conn)
        if spec.strip().lower() == "latest":
            row = plans.latest_open()
            if row is None:
                raise NotFoundError("no open practice plan (pending or in progress)",
                                    hint="create one with 'fretcoach recommend'")
        else:
            row = plans.require(resolve_plan_id(plans, spec))
    if row.status in ("completed", "dismissed"):
        raise UsageError(f"plan {str(row.practice_id)[:8]} is {row.status}",
                         hint="pick a pending one in 'fretcoach plans', or get a new one with "
                              "'fretcoach recommend --new'")
    return row


def apply_plan(row: Any, settings: Any, *, scale: Any, bpm: float | None,
               strictness: float | None, sensitivity: float | None) -> tuple[Any, Any, Any]:
    """The plan's scale, tempo, strictness and sensitivity, each unless given as a flag.
    Returns (scale, bpm, settings)."""
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.music.tempo import validate_bpm

    doc = row.practice_plan or {}
    short = str(row.practice_id)[:8]
    if scale is None:
        if not doc.get("scale"):
            raise UsageError(f"plan {short} names no scale", hint="give --scale")
        scale = parse_scale(str(doc["scale"]))
    if bpm is None and doc.get("target_tempo_bpm"):
        bpm = validate_bpm(float(doc["target_tempo_bpm"]))
    overrides = {}
    if strictness is None and doc.get("strictness") is not None:
        overrides["strictness"] = float(doc["strictness"])
    if sensitivity is None and doc.get("sensitivity") is not None:
        overrides["sensitivity"] = float(doc["sensitivity"])
    if overrides:
        settings = settings.with_overrides(**overrides)
    return scale, bpm, settings


def previous_lookup(settings: Any):
    """Finds the latest other completed session of the same scale (for the comparison)."""

    def lookup(options: Any, session_id: Any) -> Any:
        from fretcoach_cli.store import Sessions, open_database

        with open_database(settings) as db, db.connect(settings.user) as conn:
            for row in Sessions(conn).list(scale=options.scale.display_name,
                                           status="completed", limit=5):
                if str(row.session_id) != str(session_id):
                    return row
        return None

    return lookup


def build_session(settings: Any, scale: Any, source: Any, *, kind: str, label: str,
                  bpm: float | None, duration_s: float | None, plan_id: str | None,
                  tuning: Any = None, trainer: Any = None, exercise: Any = None,
                  tolerance_ms: float = 30.0, input_latency_s: float = 0.0) -> Any:
    from fretcoach_cli.practice.recorder import SessionRecorder
    from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
    from fretcoach_cli.practice.store_sink import sink_factory

    options = PracticeOptions(
        scale=scale, user=settings.user, bpm=bpm, duration_s=duration_s,
        strictness=float(settings.strictness), sensitivity=float(settings.sensitivity),
        a4=float(settings.a4_hz), pitch_model=settings.pitch_model, source_kind=kind,
        source_label=label, plan_id=plan_id, tuning=tuning, trainer=trainer,
        exercise=exercise, exercise_tolerance_ms=tolerance_ms,
        input_latency_s=input_latency_s)
    holder: dict[str, Any] = {}
    recorder = SessionRecorder(sink_factory(settings), settings.data_path,
                               on_status=lambda st: holder["s"].on_storage_status(st))
    session = PracticeSession(options, source, recorder=recorder,
                              previous_lookup=previous_lookup(settings))
    holder["s"] = session
    return session


def _close(source: Any) -> None:
    with contextlib.suppress(Exception):
        source.close()


# -- running --------------------------------------------------------------------------------
def run_tui(session: Any, *, coach_every_s: float, coach: bool, link: Any,
            warnings: WarningRelay) -> Any:
    from fretcoach_cli.tui.app import PracticeApp

    app = PracticeApp(session, coach_every_s=coach_every_s, coach=coach, coach_link=link)
    warnings.target = app.warn_from_thread  # nothing printed over the practice room
    _say_low_range(session, warnings)
    try:
        app.run()
    finally:
        warnings.target = None
    if app.error is not None:
        if isinstance(app.error, FretcoachError):
            raise app.error
        raise FretcoachError(f"practice room failed: {type(app.error).__name__}: {app.error}")
    if app.result is None and session.result is None:
        # closed before finishing (should not happen: q and Ctrl+C both save)
        return session.finish("closed")
    return app.result or session.result


class LiveLine:
    """The headless progress line on stderr (redrawn in place on a terminal)."""

    def __init__(self, session: Any, stream: Any = None) -> None:
        self.session = session
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.25 if self.tty else 5.0
        self._last = 0.0
        self._text = ""
        self.storage = ""
        self.tempo = ""  # the speed trainer's "· 84 bpm (best clean 80)"
        self.exercise = ""  # practice --exercise: "· note 7/23 late +42 ms"
        self._lock = threading.RLock()

    def __call__(self, message: Any) -> None:
        from fretcoach_cli.practice.messages import NoteJudged, StorageStatus
        from fretcoach_cli.practice.speed_trainer import TempoUpdate, describe

        if isinstance(message, TempoUpdate):
            self.tempo = f" · {describe(message)}"
            if message.change is not None:
                why = "clean" if message.change.reason == "clean" else "sloppy"
                units = "passes" if message.unit == "pass" else "bars"
                self.message(f"tempo {message.change.previous_bpm:g} → {message.bpm:g} bpm "
                             f"({why} {units})")
        from fretcoach_cli.practice.messages import ExerciseProgress

        if isinstance(message, ExerciseProgress):
            from fretcoach_cli.scoring.exercise_report import verdict_label

            last = next((v for v in reversed(message.decided) if v.index is not None), None)
            if last is not None:  # (a looped exercise's pass is in the tempo part)
                self.exercise = (f" · note {last.index + 1}/{len(message.exercise.notes)} "
                                 f"{verdict_label(last.to_dict())}")
            for done in message.closed:  # --exercise --ramp: each pass's outcome, a line
                state = {True: "clean", False: "sloppy", None: "nothing played"}[done.clean]
                self.message(f"pass {done.index + 1} at {done.bpm:g} bpm: {state}")
        if isinstance(message, StorageStatus) and not message.online:
            self.storage = " · db offline, journaling"
        elif isinstance(message, StorageStatus):
            self.storage = ""
        if not isinstance(message, NoteJudged):
            return
        v, m = message.judgement, message.session
        mark = "·" if not v.judged else ("✗" if not v.in_scale else ("✓" if v.in_tune else "~"))
        name = f"{v.name} {v.cents:+.0f}¢" if v.judged else v.kind
        pos = message.note.onset_s
        self._text = (f"{int(pos // 60):02d}:{int(pos % 60):02d} notes {message.seq:4d} "
                      f"last {name} {mark}  pitch {_n(m.pitch_accuracy)} scale "
                      f"{_n(m.scale_conformity)} timing {_n(m.timing_stability)} overall "
                      f"{_n(m.overall_score)}{self.tempo}{self.exercise}{self.storage}")
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            with self._lock:
                self.draw()

    def message(self, text: str) -> None:
        """A line of its own (a coach tip, a warning) above the live line."""
        with self._lock:
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(text + "\n")
            self.stream.flush()
            if self.tty:
                self.draw()

    def draw(self) -> None:
        if not self._text:
            return
        if self.tty:
            self.stream.write("\r\033[K" + self._text)
        else:
            self.stream.write(self._text + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.draw()
        if self.tty and self._text:
            self.stream.write("\n")
            self.stream.flush()


def closing_words(link: Any, session: Any):
    """``before_end`` hook: the coach's closing words (offline if no model answers), stored
    with the session through the link's listeners."""

    def add(result: Any) -> None:
        if not result.notes:
            return
        try:
            text = link.summary(result, session.events, session.options.scale)
        except Exception as exc:  # never lose the summary over the coach
            text = f"(coach unavailable: {exc})"
        if text:
            result.extra["tip"] = text

    return add


class WarningRelay:
    """Where one-line warnings (speech) go: stderr, or the practice room while it is open."""

    def __init__(self) -> None:
        self.target: Any = None

    def __call__(self, line: str) -> None:
        target = self.target
        if target is not None:
            target(line)
        else:
            sys.stderr.write(f"fretcoach: warning: {line}\n")
            sys.stderr.flush()


def make_speaker(settings: Any, warnings: WarningRelay) -> Any:
    """The spoken coach, or None (one warning line) when nothing can speak here."""
    from fretcoach_cli.coach.speech import speaker_from_settings

    return speaker_from_settings(settings, on_warning=warnings)


SPEECH_DRAIN_S = 30.0  # headless: how long the closing words may take to be read out


def _say_low_range(session: Any, warnings: WarningRelay) -> None:
    """One line when the tuning has strings below what the pitch model can name."""
    from fretcoach_cli.audio.low_range import low_range

    options = session.options
    if options.tuning is None:
        return
    notice = low_range(options.tuning, options.pitch_model, options.a4).notice
    if notice:
        warnings(notice)


def _n(value: float | None) -> str:
    return " —" if value is None else f"{value:3.0f}"


def run_headless(session: Any, *, link: Any = None, coach_every_s: float = 30.0,
                 warnings: WarningRelay | None = None) -> Any:
    """Run until the input ends, the duration is reached, or Ctrl+C/SIGTERM (which save).

    With a coach ``link``, live tips come every ``coach_every_s`` seconds of audio (printed
    on stderr like the live line) and its closing words go into the result and the store.
    """
    line = LiveLine(session)
    session.subscribe(line)
    session.tuner_pane = False  # no pane shows it: the tuner core's thread is not started
    if warnings is not None:
        warnings.target = lambda text: line.message(f"fretcoach: warning: {text}")
        _say_low_range(session, warnings)
    if link is not None:
        from fretcoach_cli.practice.coach_link import HeadlessCoach, store_replies

        store_replies(link, session)
        link.on_reply(lambda reply: line.message(
            f"coach ({reply.source}): {reply.text}") if reply.kind == "live" else None)
        session.subscribe(HeadlessCoach(link, session, coach_every_s))
    stop = threading.Event()
    previous = {}

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, on_signal)
    try:
        session.start()
        while not stop.is_set() and not session.wait(0.1):
            pass
        if link is not None:
            link.close()  # a tip still streaming now is dropped, not stored
        result = session.finish("stopped by user" if stop.is_set() else "finished",
                                before_end=closing_words(link, session) if link else None)
    finally:
        if link is not None:
            link.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        line.close()
        if warnings is not None:
            warnings.target = None
    if session.error is not None:
        if not result.notes:
            raise AudioError(session.error.message)
        # the input died mid-session: what was heard is saved, but say why it ended
        typer.echo(f"fretcoach: warning: {session.error.message}; the {result.notes} "
                   "notes heard before that were saved", err=True)
    return result


# -- output ---------------------------------------------------------------------------------
def render_result(result: Any, *, as_json: bool, interactive: bool) -> None:
    if as_json:
        from fretcoach_cli.store.rows import json_safe

        payload = result.row if result.row is not None else {
            "session_id": result.session_id,
            "status": "discarded" if result.discarded else "journaled",
            **json_safe(result.metrics.to_dict()), "duration_seconds": result.duration_s}
        if "exercise" in result.extra:  # the same shape as analyze --exercise --json
            from fretcoach_cli.scoring.exercise import exercise_document

            payload = {**payload, **exercise_document(result.extra["exercise"])}
        if "passes" in result.extra:  # --exercise --ramp: every pass, its tempo and verdicts
            best = result.extra.get("best_pass")
            payload = {**payload, "best_pass": None if best is None else best.index + 1,
                       "passes": [p.to_dict() for p in result.extra["passes"]]}
        typer.echo(json.dumps(json_safe(payload), indent=2))
    elif not interactive:
        from rich.console import Console

        from fretcoach_cli.tui.summary_view import (
            advice,
            degree_table,
            headline,
            metrics_table,
            worst_table,
        )

        console = Console(highlight=False)
        for part in (headline(result), metrics_table(result), advice(result),
                     degree_table(result), worst_table(result)):
            console.print(part)
            console.print()
        if "exercise" in result.extra:
            from fretcoach_cli.tui.exercise_view import result_table

            console.print(result_table(result))
            console.print()
        if "passes" in result.extra:
            from fretcoach_cli.tui.exercise_view import passes_table

            console.print(passes_table(result))
            console.print()
        if "speed" in result.extra:
            from fretcoach_cli.practice.speed_trainer import speed_summary

            console.print(speed_summary(result.extra["speed"]), markup=False, emoji=False)
    else:
        status = (f"session {result.session_id}" if result.saved else
                  "no notes heard, not saved" if result.discarded else "not saved yet")
        overall = getattr(result.metrics, "overall_score", None)
        typer.echo(f"{result.scale_name}: {result.notes} notes, overall "
                   f"{'—' if overall is None else f'{overall:.0f}'} ({status})")
    if not result.saved and not result.discarded:
        raise DatabaseError(result.save_message)
