"""`fretcoach tune` — a chromatic tuner: the Textual needle and strobe, or headless.

Headless (``--json`` or ``--no-tui``, or when stdout is not a terminal) a file is read as
fast as possible and the microphone until Ctrl+C. The JSON printed with ``--json`` is a
documented, stable shape (README "tune --json"):

    {"version": 1, "tuning": {...}, "a4_hz": 440.0, "input": "...", "guided": false,
     "duration_s": 6.0, "status": "ok" | "no pitch" | "play one string",
     "track": [{"t", "state", "midi", "cents", "note", "string", "offset_cents"}, ...],
     "strings": [{"string", "name", "target", "heard_cents", "verdict", "readings"}, ...]}

``track`` holds one reading every 50 ms (20 a second); ``string`` is the guitarist's number
(1 = the highest string); ``heard_cents`` is the median offset of a string's settled
readings (its first 0.3 s left out).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import AudioError, FretcoachError, NotFoundError, UsageError

JSON_VERSION = 1
MIN_PITCHED = 6  # readings (0.3 s) of a clear pitch for a run to count as tuning anything


def register(app: typer.Typer) -> None:
    app.command("tune", rich_help_panel="Practice")(tune)


def tune(
    tuning: str = typer.Option("standard", "--tuning", "-t",
                               help='A name (standard, drop-d, half-step-down, '
                                    'whole-step-down, dadgad, open-g, open-d, open-e, '
                                    '7-string, 8-string, bass, bass-5) or the strings low to '
                                    'high: "D A D G B E", "E1 A1 D2 G2".'),
    a4: float | None = typer.Option(None, "--a4", help="Reference pitch of A4, 432–446 Hz "
                                    "(default: the configured a4_hz, 440)."),
    device: str | None = typer.Option(None, "--device", help="Input device index or name."),
    channel: int | None = typer.Option(None, "--channel", help="Input channel (1-based); of "
                                       "a file: default mix."),
    input_file: Path | None = typer.Option(None, "--input", "-i",
                                           help="Tune from a recording: real-time speed in "
                                                "the tuner, as fast as possible headless."),
    guided: bool = typer.Option(False, "--guided", help="Walk the strings low to high: "
                                "tighten/loosen, next string once in tune (±3¢) and steady "
                                "for 1 s."),
    as_json: bool = typer.Option(False, "--json", help="Headless: print the pitch track and "
                                 "per-string verdicts as JSON."),
    no_tui: bool = typer.Option(False, "--no-tui", help="Headless: a live line on stderr, "
                                "the verdicts on stdout."),
) -> None:
    """A chromatic tuner: note, cents, nearest string, tighten/loosen, steadiness."""
    from fretcoach_cli.music.tunings import parse_tuning, validate_tuner_a4

    the_tuning = parse_tuning(tuning)
    settings = context.settings(input_device=device, input_channel=channel)
    try:
        reference = validate_tuner_a4(a4 if a4 is not None else settings.a4_hz)
    except UsageError:
        if a4 is not None:
            raise
        raise UsageError(f"the configured a4_hz ({settings.a4_hz:g} Hz) is out of the "
                         "tuner's range", hint="give --a4 432–446") from None
    if input_file is not None and device is not None:
        raise UsageError("give either --input FILE or --device, not both")
    interactive = not (no_tui or as_json) and sys.stdout.isatty() and sys.stdin.isatty()
    source, label = open_source(settings, input_file, channel=channel,
                                realtime=interactive)
    check_pitch_model()
    try:
        if interactive:
            result = run_tui(source, the_tuning, reference, guided=guided)
        else:
            result = run_headless(source, the_tuning, reference, guided=guided,
                                  live=input_file is None)
    finally:
        with contextlib.suppress(Exception):
            source.close()
    if as_json:
        doc = tune_document(the_tuning, reference, label, result, guided=guided)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:  # after the tuner screen too: what each string ended up at stays on the terminal
        render_verdicts(the_tuning, reference, result)


# -- input -----------------------------------------------------------------------------
def open_source(settings: Any, input_file: Path | None, *, channel: int | None,
                realtime: bool) -> tuple[Any, str]:
    """Open (and so validate) the input now: a file (same errors as analyze) or the mic."""
    from fretcoach_cli.audio.sources import FileSource, MicSource

    if input_file is not None:
        if not input_file.exists():
            raise NotFoundError(f"no such file: {input_file}")
        if input_file.is_dir():
            raise NotFoundError(f"{input_file} is a directory, not a recording")
        src = FileSource(input_file, channel=channel, realtime=realtime)
        src.open()
        return src, str(input_file)
    mic = MicSource(settings.input_device or None, channel=int(settings.input_channel))
    try:
        mic.open()
    except AudioError as err:
        raise AudioError(f"cannot listen: {err.message}",
                         hint="connect a microphone or audio interface, or tune from a "
                              "recording: --input FILE") from None
    return mic, mic.label


def check_pitch_model() -> None:
    from fretcoach_cli.audio.pitch import status

    state = status("swift")
    if not state.usable:
        raise AudioError(f"pitch model 'swift' cannot run here: {state.detail}")


# -- running -------------------------------------------------------------------------------
class TuneResult:
    """Every reading of a run, the per-string verdicts and the audio time covered."""

    def __init__(self, readings: list[Any], summary: Any, duration_s: float) -> None:
        self.readings = readings
        self.summary = summary
        self.duration_s = duration_s

    @property
    def status(self) -> str:
        """"ok" when a string was heard; else the commonest reason nothing was."""
        from fretcoach_cli.audio.tuner import CHORD, NO_PITCH, PITCH

        states = Counter(r.state for r in self.readings)
        if states[PITCH] >= MIN_PITCHED and states[PITCH] >= states[CHORD]:
            return "ok"
        return CHORD if states[CHORD] else NO_PITCH


def make_tuner(tuning: Any, a4: float) -> Any:
    from fretcoach_cli.audio.tuner import Tuner

    return Tuner(tuning, a4=a4)


def run_headless(source: Any, tuning: Any, a4: float, *, guided: bool, live: bool,
                 stream: Any = None) -> TuneResult:
    """Feed the source through the tuner until it ends (a file) or Ctrl+C/SIGTERM (live)."""
    from fretcoach_cli.audio.tuner import Guide, Summary

    tuner = make_tuner(tuning, a4)
    guide = Guide(tuner) if guided else None
    summary = Summary(tuning)
    readings: list[Any] = []
    line = LiveLine(stream or sys.stderr) if live else None
    stop = threading.Event()
    previous = {}
    if live:
        def on_signal(signum: int, _frame: Any) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        source.open()
        while not stop.is_set():
            block = source.read(0.1)
            if block is None:
                break
            for r in tuner.push(block):
                step = guide.feed(r) if guide is not None else None
                readings.append(r)
                summary.add(r)
                if line is not None:
                    line.show(r, tuning, step)
            if guide is not None and guide.finished:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if line is not None:
            line.close()
    return TuneResult(readings, summary, tuner.position_s)


def run_tui(source: Any, tuning: Any, a4: float, *, guided: bool) -> TuneResult:
    from fretcoach_cli.tui.tuner import TunerApp

    app = TunerApp(source, make_tuner(tuning, a4), guided=guided)
    app.run()
    if app.error is not None:
        if isinstance(app.error, FretcoachError):
            raise app.error
        raise FretcoachError(f"tuner failed: {type(app.error).__name__}: {app.error}")
    return TuneResult(app.readings, app.summary, app.position_s)


def reading_line(r: Any, tuning: Any, step: Any = None) -> str:
    """One line for a reading: "E2  -3.2¢  6th string (E2) tighten 3¢  steady 0.4¢"."""
    if not r.pitched:
        text = r.state
    else:
        steady = "" if r.steadiness is None else f"  steady ±{r.steadiness / 2:.1f}¢"
        word = "in tune" if r.advice == "in tune" else f"{r.advice} {abs(r.offset_cents):.0f}¢"
        text = (f"{r.note:<4} {r.cents:+5.1f}¢  {tuning.label(r.string)} "
                f"{r.offset_cents:+.1f}¢ {word}{steady}")
    if step is not None:
        text += f"  · guided: {tuning.label(step.index)} — {step.message}"
    return text


class LiveLine:
    """The headless live line on stderr, redrawn in place on a terminal (4 a second)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = 0.25 if self.tty else 2.0
        self._last = 0.0
        self._text = ""

    def show(self, r: Any, tuning: Any, step: Any = None) -> None:
        self._text = reading_line(r, tuning, step)
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.stream.write(("\r\033[K" + self._text) if self.tty else self._text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._text:
            self.stream.write("\n")
            self.stream.flush()


# -- output --------------------------------------------------------------------------------
def tune_document(tuning: Any, a4: float, label: str, result: TuneResult, *,
                  guided: bool) -> dict[str, Any]:
    from fretcoach_cli.audio.tuner import track_entry

    return {
        "version": JSON_VERSION,
        "tuning": tuning.to_dict(),
        "a4_hz": a4,
        "input": label,
        "guided": guided,
        "duration_s": round(result.duration_s, 3),
        "status": result.status,
        "track": [track_entry(r, tuning) for r in result.readings],
        "strings": [v.to_dict(tuning) for v in result.summary.verdicts()],
    }


def render_verdicts(tuning: Any, a4: float, result: TuneResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(f"[bold]{tuning.name}[/bold] · A4 = {a4:g} Hz · "
                  f"{result.duration_s:.1f} s heard")
    if result.status != "ok":
        reason = ("a chord — play one string at a time" if result.status == "play one string"
                  else "nothing clear enough to tune (silence, noise or too quiet)")
        console.print(f"{result.status}: {reason}")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("string", "heard", "verdict"):
        table.add_column(col)
    for v in result.summary.verdicts():
        heard = "—" if v.heard_cents is None else f"{v.heard_cents:+.1f}¢"
        colour = {"in tune": "green", "not played": "dim"}.get(v.verdict, "yellow")
        table.add_row(tuning.label(v.index), heard, f"[{colour}]{v.verdict}[/{colour}]")
    console.print(table)
