"""Rich rendering of an analysis: metrics with raw figures, weakest area, per-degree table,
worst notes with time stamps, and optionally every note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

LABELS = {
    "pitch_accuracy": "Pitch accuracy",
    "scale_conformity": "Scale conformity",
    "timing_stability": "Timing stability",
    "clean_playing": "Clean playing",
    "scale_coverage": "Scale coverage",
    "overall_score": "Overall",
}


def _bar(score: float | None, width: int = 20) -> Text:
    if score is None:
        return Text("—", style="dim")
    filled = round(score / 100 * width)
    style = "green" if score >= 80 else "yellow" if score >= 60 else "red"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def _clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:05.2f}"


def _raw(m: Any, key: str) -> str:
    if key == "pitch_accuracy":
        if m.in_tune_ratio is None:
            return ""
        return (f"{m.in_tune_ratio:.0%} in tune (±{m.tolerance_cents:.0f}¢), "
                f"mean |{m.mean_abs_cents:.1f}|¢")
    if key == "scale_conformity" and m.in_scale_ratio is not None:
        return f"{m.total_notes_played - m.bad_notes_played}/{m.total_notes_played} in scale"
    if key == "timing_stability":
        if m.mean_abs_grid_dev_ms is not None:
            return f"mean |{m.mean_abs_grid_dev_ms:.0f}| ms off the {m.bpm:g} BPM grid"
        if m.ioi_cv is not None:
            return f"IOI CV {m.ioi_cv:.3f}"
    if key == "clean_playing" and m.clean_ratio is not None:
        return f"{m.total_notes_played}/{m.total_onsets} onsets gave a clear single note"
    if key == "scale_coverage" and m.coverage_ratio is not None:
        missing = ", ".join(m.degrees_missing)
        return f"{len(m.degrees_played)} degrees played" + (f"; missing {missing}"
                                                            if missing else "")
    return ""


def render(path: Path, scale: Any, analysis: Any, metrics: Any, verdicts: list[Any], *,
           show_notes: bool = False, session_id: str | None = None,
           console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    m = metrics
    console.print(Text.assemble(
        (f"{path.name}", "bold"), "  ", (scale.display_name, "cyan"),
        f"  ({' '.join(scale.note_names())})  ",
        (f"{analysis.duration_s:.1f} s · {m.total_notes_played} notes · "
         f"{analysis.pitch_model}", "dim")))

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("metric")
    table.add_column("score", justify="right")
    table.add_column("")
    table.add_column("raw figures", style="dim")
    for key, label in LABELS.items():
        score = getattr(m, key)
        name = Text(label, style="bold" if key == "overall_score" else "")
        if key == m.weakest_area:
            name.append("  ◀ weakest", style="bold red")
        reason = m.unavailable.get(key, "")
        table.add_row(name, "—" if score is None else f"{score:.0f}", _bar(score),
                      escape(_raw(m, key) or reason))
    console.print(table)

    if m.per_degree:
        deg = Table(title="per scale degree", title_justify="left", box=None,
                    header_style="bold")
        for col in ("degree", "note", "played", "mean ¢", "in tune"):
            deg.add_column(col, justify="right" if col != "note" else "left")
        for d in m.per_degree:
            deg.add_row(d.label, d.name, str(d.count),
                        "—" if d.mean_cents is None else f"{d.mean_cents:+.0f}",
                        "—" if d.in_tune_share is None else f"{d.in_tune_share:.0%}")
        console.print(deg)

    if m.worst_notes:
        worst = Table(title="notes to look at", title_justify="left", box=None,
                      header_style="bold")
        for col in ("time", "note", "cents", "why"):
            worst.add_column(col)
        for w in m.worst_notes:
            worst.add_row(_clock(w.onset_s), w.name, f"{w.cents:+.0f}", escape(w.reason))
        console.print(worst)

    if m.out_of_scale_notes:
        outs = ", ".join(f"{o.name} ({o.interval}) ×{o.count}" for o in m.out_of_scale_notes)
        console.print(Text.assemble(("outside the scale: ", "bold"), outs))
    if m.polyphonic_notes or m.unclear_notes:
        console.print(Text(f"{m.polyphonic_notes} chord(s)/double stop(s) and {m.unclear_notes} "
                           "unclear onset(s) were not judged as notes (they lower clean playing)",
                           style="dim"))

    if show_notes:
        notes = Table(title="notes", title_justify="left", box=None, header_style="bold")
        for col in ("time", "note", "cents", "scale", "tune", "grid ms"):
            notes.add_column(col)
        for v in verdicts:
            if not v.judged:
                notes.add_row(_clock(v.onset_s), f"({v.kind})", "", "", "", "")
                continue
            notes.add_row(
                _clock(v.onset_s), v.name or "", f"{v.cents:+.0f}",
                Text("in", "green") if v.in_scale else Text("OUT", "bold red"),
                Text("ok", "green") if v.in_tune else Text("off", "yellow"),
                "" if v.grid_offset_ms is None else f"{v.grid_offset_ms:+.0f}")
        console.print(notes)
    if session_id:
        console.print(Text(f"saved as session {session_id}", style="dim"))


_VERDICT_STYLE = {"hit": "green", "early": "yellow", "late": "yellow", "wrong_pitch": "bold red",
                  "missed": "red", "extra": "magenta"}


def render_exercise(result: Any, console: Console | None = None) -> None:
    """The per-note verdict table of an exercise, then a one-line summary."""
    from fretcoach_cli.music.notes import note_name

    console = console or Console(highlight=False)
    ex = result.exercise
    strings = len(ex.tuning)
    table = Table(title=f"exercise {ex.name} at {result.bpm:g} bpm", title_justify="left",
                  box=None, header_style="bold")
    for col in ("#", "beat", "string", "fret", "expected", "played", "time", "verdict",
                "offset ms"):
        table.add_column(col, justify="left" if col in ("expected", "played", "verdict")
                         else "right")
    for v in result.verdicts:
        played = "" if v.played_midi is None else note_name(v.played_midi)
        table.add_row(
            "" if v.index is None else str(v.index + 1),
            "" if v.beat is None else f"{v.beat:g}",
            "" if v.string is None else str(strings - v.string),
            "" if v.fret is None else str(v.fret),
            "" if v.expected_midi is None else note_name(v.expected_midi),
            played,
            _clock(v.onset_s if v.onset_s is not None else v.expected_s or 0.0),
            Text(v.verdict.replace("_", " "), style=_VERDICT_STYLE[v.verdict]),
            "" if v.offset_ms is None else f"{round(v.offset_ms) + 0:+d}")
    console.print(table)
    s = result.summary()
    mean = s["mean_abs_offset_ms"]
    console.print(Text.assemble(
        ("exercise: ", "bold"),
        f"{s['hit']}/{s['expected_notes']} hit · {s['wrong_pitch']} wrong pitch · "
        f"{s['missed']} missed · {s['extra']} extra · {s['early']} early · {s['late']} late "
        f"(±{result.tolerance_ms:g} ms)",
        ("" if mean is None else f"; mean |offset| {mean:.0f} ms", "dim")))
