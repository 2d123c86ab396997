"""`fretcoach analyze FILE --scale S`: score a recording with the same engine as practice.

The JSON shape printed with ``--json`` is a documented, stable API (README "analyze --json").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import NoNotesError, NotFoundError, UsageError

METRIC_ROWS = (
    ("pitch_accuracy", "Pitch accuracy", "in_tune_ratio", "mean_abs_cents"),
    ("scale_conformity", "Scale conformity", "in_scale_ratio", None),
    ("timing_stability", "Timing stability", "ioi_cv", "mean_abs_grid_dev_ms"),
    ("clean_playing", "Clean playing", "clean_ratio", None),
    ("scale_coverage", "Scale coverage", "coverage_ratio", None),
    ("overall_score", "Overall", None, None),
)
JSON_VERSION = 1


def _fmt(value: float | None, spec: str = ".0f", none: str = "—") -> str:
    return none if value is None else format(value, spec)


def note_dict(event: Any, verdict: Any) -> dict[str, Any]:
    """One note of the --json output (stable field names)."""
    return {
        "onset_s": round(event.onset_s, 4),
        "offset_s": round(event.offset_s, 4),
        "midi": None if event.midi is None else round(event.midi, 3),
        "cents": None if verdict.cents is None else round(verdict.cents, 1),
        "pitch_class": verdict.pitch_class,
        "note": verdict.name,
        "kind": event.kind,
        "in_scale": verdict.in_scale,
        "in_tune": verdict.in_tune,
        "degree": verdict.degree_label,
        "grid_offset_ms": None if verdict.grid_offset_ms is None
        else round(verdict.grid_offset_ms, 1),
        "confidence": round(event.confidence, 3),
    }


def analysis_document(path: Path, scale: Any, analysis: Any, metrics: Any, verdicts: list[Any],
                      *, a4: float, bpm: float | None, strictness: float, sensitivity: float,
                      session_id: str | None) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "file": str(path),
        "scale": {"name": scale.display_name, "root": scale.root_name, "type": scale.type_key,
                  "notes": list(scale.note_names())},
        "pitch_model": analysis.pitch_model,
        "duration_s": round(analysis.duration_s, 3),
        "a4_hz": a4,
        "bpm": bpm,
        "strictness": strictness,
        "sensitivity": sensitivity,
        "notes": [note_dict(e, v) for e, v in zip(analysis.notes, verdicts, strict=True)],
        "metrics": metrics.to_dict(),
        "session_id": session_id,
    }


def _save(settings: Any, scale: Any, path: Path, analysis: Any, verdicts: list[Any],
          summary: dict[str, Any], *, bpm: float | None, exercise: Any = None) -> str:
    """Store the analysis as a completed session (source = file) with its notes (and, with
    ``--exercise``, the exercise and its verdicts, as practice stores them)."""
    import uuid

    from fretcoach_cli.practice.store_sink import StoreSink
    from fretcoach_cli.practice.summary import note_row, session_fields

    meta = session_fields(scale, user=settings.user, bpm=bpm, strictness=settings.strictness,
                          sensitivity=settings.sensitivity, a4=settings.a4_hz,
                          pitch_model=analysis.pitch_model, source_kind="file",
                          source_label=str(path))
    if exercise is not None:
        from fretcoach_cli.practice.exercise_run import stored_fields

        meta["exercise"] = {"name": exercise.exercise.name, "source": exercise.exercise.source,
                            "bpm": exercise.bpm}
        summary = {**summary, **stored_fields(exercise)}
    sink = StoreSink(settings)
    try:
        sid = sink.create_session(meta, str(uuid.uuid4()))
        rows = [note_row(i, e, v) for i, (e, v) in enumerate(zip(analysis.notes, verdicts,
                                                                  strict=True))]
        for start in range(0, len(rows), 500):
            sink.add_notes(sid, rows[start:start + 500])
        sink.finish(sid, summary)
    finally:
        sink.close()
    return str(sid)


# Fewer single notes than this, among more chords, is a recording of chords: not scored
MIN_SCORED_NOTES = 4


def _chords_warning(path: Path, analysis: Any) -> str | None:
    """One line saying what was not scored, when chords/double stops sat among the notes.

    A recording is only refused when it has (almost) no single notes: a few onsets that look
    polyphonic (a double stop, strings ringing in sympathy) never cost the player the score
    of everything else they played.
    """
    poly = sum(1 for e in analysis.notes if e.kind == "polyphonic")
    clear = sum(1 for e in analysis.notes if e.is_note)
    if not poly or not clear:
        return None
    return (f"{path.name}: {poly} of {len(analysis.notes)} onsets were chords/double stops "
            f"and are not scored; the score covers the {clear} single note(s)")


def _no_notes_message(path: Path, analysis: Any) -> NoNotesError | None:
    """Why this recording cannot be scored (it has no single note), or None when it can."""
    poly = sum(1 for e in analysis.notes if e.kind == "polyphonic")
    unclear = sum(1 for e in analysis.notes if e.kind == "unclear")
    clear = sum(1 for e in analysis.notes if e.is_note)
    if clear and (clear >= MIN_SCORED_NOTES or poly <= clear):
        return None
    if clear:  # a recording of chords with a stray note guessed inside a strum or two
        return NoNotesError(
            f"{path.name} is chords: {poly} of {len(analysis.notes)} onsets were "
            f"chords/double stops and only {clear} a single note — too few to score; "
            "fretcoach scores one note at a time", hint="play the scale note by note")
    if poly:
        return NoNotesError(
            f"no single notes detected in {path.name}: {poly} chord(s)/double stop(s) "
            f"and {unclear} unclear onset(s) — fretcoach scores one note at a time",
            hint="play the scale note by note")
    if unclear:
        return NoNotesError(
            f"no clear notes detected in {path.name}: {unclear} onset(s) without a stable pitch",
            hint="check the recording level and that the guitar is audible")
    return NoNotesError(f"no notes detected in {path.name} ({analysis.duration_s:.1f} s of audio)",
                        hint="is it silent, noise, or too quiet? try --sensitivity 0.8")


def analyze(
    file: Path = typer.Argument(..., help="Recording: WAV, FLAC, OGG or MP3; any sample rate."),
    scale: str | None = typer.Option(None, "--scale", "-s",
                                     help='Scale, e.g. "A minor pentatonic" (required unless '
                                     '--exercise names a tab file).'),
    bpm: float | None = typer.Option(None, "--bpm", help="Judge timing against this tempo."),
    exercise: str | None = typer.Option(None, "--exercise", "-e", metavar="NAME|FILE",
                                        help="Judge every note against an exercise: a "
                                        "built-in ('fretcoach exercises') or a tab, "
                                        "MusicXML or Guitar Pro file."),
    position: int | None = typer.Option(None, "--position", "-p",
                                        help="Fret where a built-in exercise's position starts."),
    shape: str | None = typer.Option(None, "--shape", metavar="C|A|G|E|D",
                                     help="Play a built-in exercise in a CAGED shape."),
    tolerance_ms: float = typer.Option(30.0, "--tolerance-ms", min=5.0, max=200.0,
                                       help="An exercise note within this many ms is a hit."),
    pitch_model: str | None = typer.Option(None, "--pitch-model", "-m",
                                           help="Pitch backend: swift (default) or crepe."),
    strictness: float | None = typer.Option(None, "--strictness", help="0 lenient … 1 strict."),
    sensitivity: float | None = typer.Option(None, "--sensitivity",
                                             help="Input gate: 0 loud notes only … 1 quiet too."),
    channel: int | None = typer.Option(None, "--channel", help="Channel of a multi-channel "
                                       "file (1-based); default: mix."),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis as JSON on stdout."),
    save: bool = typer.Option(False, "--save", help="Store it as a session (source = file)."),
    show_notes: bool = typer.Option(False, "--notes", help="Also list every note."),
) -> None:
    """Score a recording: notes, pitch, scale, timing — the same engine as practice."""
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.music.tempo import validate_bpm

    settings = context.settings(strictness=strictness, sensitivity=sensitivity,
                                pitch_model=pitch_model)
    the_scale = parse_scale(scale) if scale is not None else None
    if bpm is not None:
        validate_bpm(bpm)
    the_exercise = None
    if exercise is not None:
        the_exercise, the_scale, bpm = load_exercise(exercise, the_scale, bpm, position,
                                                     shape=shape)
    if the_scale is None:
        raise UsageError("missing option '--scale'",
                         hint='e.g. --scale "A minor pentatonic" (see \'fretcoach scales\')')
    if not file.exists():
        raise NotFoundError(f"no such file: {file}")
    if file.is_dir():
        raise NotFoundError(f"{file} is a directory, not a recording")

    from fretcoach_cli.audio.engine import analyze_file
    from fretcoach_cli.scoring.judge import judge_notes
    from fretcoach_cli.scoring.metrics import compute_metrics

    with _progress(file) as progress:
        analysis = analyze_file(file, pitch_model=settings.pitch_model, a4=settings.a4_hz,
                                sensitivity=settings.sensitivity, channel=channel,
                                models_dir=settings.data_path / "models", progress=progress,
                                keep_track=False)
    problem = _no_notes_message(file, analysis)
    if problem is not None:
        raise problem
    warning = _chords_warning(file, analysis)
    if warning is not None:
        sys.stderr.write(f"fretcoach: note: {warning}\n")
    metrics = compute_metrics(analysis.notes, the_scale, strictness=settings.strictness, bpm=bpm)
    verdicts = judge_notes(analysis.notes, the_scale, strictness=settings.strictness, bpm=bpm)
    result = None
    if the_exercise is not None:
        from fretcoach_cli.scoring.exercise import judge_exercise

        assert bpm is not None
        result = judge_exercise(the_exercise, analysis.notes, bpm=bpm, tolerance_ms=tolerance_ms)

    session_id = None
    if save:
        summary = metrics.to_dict()
        summary["duration_seconds"] = round(analysis.duration_s, 3)
        session_id = _save(settings, the_scale, file, analysis, verdicts, summary, bpm=bpm,
                           exercise=result)

    if as_json:
        doc = analysis_document(file, the_scale, analysis, metrics, verdicts,
                                a4=settings.a4_hz, bpm=bpm, strictness=settings.strictness,
                                sensitivity=settings.sensitivity, session_id=session_id)
        if result is not None:
            from fretcoach_cli.scoring.exercise import exercise_document

            doc.update(exercise_document(result))
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from fretcoach_cli.cli.render_analysis import render, render_exercise

    render(file, the_scale, analysis, metrics, verdicts, show_notes=show_notes,
           session_id=session_id)
    if result is not None:
        render_exercise(result)


def load_exercise(name: str, scale: Any, bpm: float | None, position: int | None, *,
                  shape: str | None = None, tuning: Any = None) -> tuple[Any, Any, float]:
    """The exercise, the scale to score it in (a file implies its own) and the tempo
    (--bpm, else the file's own); for `analyze` and `practice` alike."""
    from fretcoach_cli.music.exercises import exercise_scale, load

    strings = {} if tuning is None else {"tuning": tuning.strings}
    ex = load(name, scale, position=position, shape=shape, **strings)
    tempo = bpm if bpm is not None else ex.bpm
    if tempo is None:
        raise UsageError("--exercise needs a tempo", hint="add --bpm N (20–400), the tempo "
                         "you played at")
    return ex, scale if scale is not None else exercise_scale(ex), tempo


class _progress:
    """A progress bar on stderr for long files when stderr is a terminal; else a no-op."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("analysing {task.description}"), BarColumn(),
                                  TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                                  console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.path.name, total=1.0)
        return self._update

    def _update(self, done_s: float, total_s: float) -> None:
        if total_s > 0:
            self._progress.update(self._task, completed=min(1.0, done_s / total_s))

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def register(app: typer.Typer) -> None:
    app.command("analyze", rich_help_panel="Practice")(analyze)
