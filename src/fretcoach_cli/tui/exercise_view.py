"""The per-note table of an exercise (summary screen, headless summary, `sessions show`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from fretcoach_cli.music.fretboard import STANDARD_TUNING
from fretcoach_cli.music.notes import note_name
from fretcoach_cli.scoring.exercise_report import (
    describe_stat,
    string_name,
    verdict_label,
    weakest_notes,
)
from fretcoach_cli.tui.palette import BAD, DIM, GOOD, WARN

_STYLE = {"hit": GOOD, "early": WARN, "late": WARN, "wrong_pitch": BAD, "missed": BAD,
          "extra": WARN}


def verdict_text(v: Mapping[str, Any]) -> Text:
    return Text(verdict_label(v), style=_STYLE.get(str(v["verdict"]), ""))


def exercise_table(verdicts: Sequence[Mapping[str, Any]], *, title: str = "",
                   summary: Mapping[str, Any] | None = None,
                   tuning: Sequence[int] = STANDARD_TUNING) -> Group:
    """Every expected note (and extra note) with its verdict, then the notes to work on."""
    table = Table(box=None, pad_edge=False, header_style="bold", title=title or None,
                  title_justify="left")
    for col in ("#", "note", "string", "fret", "verdict"):
        table.add_column(col, justify="right" if col in ("#", "fret") else "left")
    for v in verdicts:
        if v.get("index") is None:
            table.add_row("", Text("—", style=DIM), "", "", verdict_text(v))
            continue
        string = v.get("string")
        table.add_row(str(int(v["index"]) + 1), note_name(float(v["expected_midi"])),
                      "" if string is None else string_name(int(string), tuning),
                      "" if v.get("fret") is None else str(v["fret"]), verdict_text(v))
    parts: list[Any] = [table]
    if summary:
        parts.append(Text(
            f"{summary.get('hit', 0)} of {summary.get('expected_notes', 0)} hit · "
            f"{summary.get('wrong_pitch', 0)} wrong pitch · {summary.get('missed', 0)} missed · "
            f"{summary.get('extra', 0)} extra · {summary.get('early', 0)} early · "
            f"{summary.get('late', 0)} late", style=DIM))
    for stat in weakest_notes(verdicts):
        parts.append(Text("• " + describe_stat(stat, tuning)))
    return Group(*parts)


def result_table(result: Any) -> Group | None:
    """The table for a finished session's ``extra['exercise']`` (an ExerciseResult); for a
    looped exercise (``--ramp``) that is the stored pass, and the title says which."""
    ex_result = result.extra.get("exercise") if result is not None else None
    if ex_result is None:
        return None
    ex = ex_result.exercise
    title = f"{ex.name} at {ex_result.bpm:g} bpm: every note"
    best = result.extra.get("best_pass")
    if best is not None:
        why = "fastest clean pass" if best.clean else "no clean pass: the last one"
        title = (f"{ex.name} pass {best.index + 1} at {ex_result.bpm:g} bpm ({why}, the "
                 "one stored): every note")
    return exercise_table([v.to_dict() for v in ex_result.verdicts], title=title,
                          summary=ex_result.summary(), tuning=ex.tuning)


def passes_table(result: Any) -> Table:
    """`practice --exercise --ramp`: one row a pass — its tempo, hits, mistakes, clean."""
    passes = result.extra.get("passes") or []
    best = result.extra.get("best_pass")
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left",
                  title=f"{len(passes)} passes, {sum(p.clean for p in passes)} clean")
    for col in ("pass", "bpm", "hit", "wrong", "missed", "extra", "early/late", ""):
        table.add_column(col, justify="left" if col == "" else "right")
    for p in passes:
        c = p.result.counts()
        mark = (Text("clean", style=GOOD) if p.clean else
                Text("cut off" if not p.complete else "sloppy", style=WARN))
        if best is not None and p.index == best.index:
            mark.append(" · stored", style=DIM)
        table.add_row(str(p.index + 1), f"{p.bpm:g}", f"{c['hit']}/{len(p.result.exercise.notes)}",
                      str(c["wrong_pitch"]), str(c["missed"]), str(c["extra"]),
                      str(c["early"] + c["late"]), mark)
    return table
