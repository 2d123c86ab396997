"""The text tab format of user exercise files (docs/exercises.md), its parser and its writer.

A file is optional ``key: value`` headers, then staves of ASCII tab, highest string on top::

    title: box 1 lick
    bpm: 90
    columns-per-beat: 4

    e|----------------|
    B|----------------|
    G|---------5-7----|
    D|-----5-7--------|
    A|-5-7------------|
    E|----------------|

Time is read from columns, so it is exact: every character after the string label's ``|`` is
``1 / columns-per-beat`` of a beat (default 4: "-5-7" is two eighth notes), except bar lines
``|``, which take no time. A fret number starts where its first digit is. Staves follow each
other in time. Technique marks ``h p / \\ ~ s x`` are allowed and ignored. Every problem is
a UsageError "FILE:LINE:COL: what" (exit 2), so an editor can jump to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.music import notes as notes_mod
from fretcoach_cli.music.exercises import Exercise, ExpectedNote, check_range
from fretcoach_cli.music.fretboard import MAX_FRET, STANDARD_TUNING

DEFAULT_COLUMNS_PER_BEAT = 4
HEADERS = ("title", "description", "bpm", "tuning", "columns-per-beat")
_LABEL_RE = re.compile(r"^\s*([A-Ga-g][#b]?)\d?\s*\|")
_IGNORED = set("hp/\\~sx")


class TabError(UsageError):
    """A tab file problem at a line and column (1-based)."""

    def __init__(self, source: str, line: int, col: int, message: str, hint: str = "") -> None:
        super().__init__(f"{source}:{line}:{col}: {message}", hint=hint)
        self.line = line
        self.col = col


def read_tab(path: Path) -> Exercise:
    if not path.exists():
        raise NotFoundError(f"no such exercise file: {path}",
                            hint="run 'fretcoach exercises' for the built-ins")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read exercise file {path}: {exc}") from None
    return parse_tab(text, source=str(path), default_name=path.stem)


def parse_tab(text: str, *, source: str = "<tab>", default_name: str = "tab") -> Exercise:
    """Parse the tab format into an Exercise (see the module docstring)."""
    headers: dict[str, str] = {}
    staves: list[list[tuple[int, str]]] = []  # each: [(line number, text)]
    current: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if _LABEL_RE.match(line):
            current.append((lineno, line))
            continue
        if current:
            staves.append(current)
            current = []
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if ":" in stripped and not staves:
            key, value = (p.strip() for p in stripped.split(":", 1))
            if key.lower() not in HEADERS:
                raise TabError(source, lineno, 1, f"unknown header {key!r}",
                               hint=f"headers: {', '.join(HEADERS)}")
            headers[key.lower()] = value
            continue
        col = len(line) - len(line.lstrip()) + 1
        raise TabError(source, lineno, col, "expected a tab line such as 'e|--5--|'",
                       hint="a string label (e, B, G, D, A, E) then '|'")
    if current:
        staves.append(current)
    tuning = _tuning(headers, source, text)
    cpb = _columns_per_beat(headers, source, text)
    bpm = _bpm(headers, source, text)
    found: list[ExpectedNote] = []
    start_col = 0
    for staff in staves:
        start_col += _read_staff(staff, tuning, cpb, start_col, found, source)
    if not found:
        raise TabError(source, max(1, len(text.splitlines())), 1, "no notes in the tab")
    found.sort(key=lambda n: n.beat)
    ex = Exercise(headers.get("title") or default_name, headers.get("description", ""),
                  tuple(found), tuning, bpm, source=source)
    check_range(ex)
    return ex


def _header_line(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip().lower().startswith(key):
            return i
    return 1


def _tuning(headers: dict[str, str], source: str, text: str) -> tuple[int, ...]:
    if "tuning" not in headers:
        return STANDARD_TUNING
    from fretcoach_cli.music.tunings import parse_tuning

    try:
        return parse_tuning(headers["tuning"]).strings
    except UsageError as err:
        raise TabError(source, _header_line(text, "tuning"), 1, err.message,
                       hint=err.hint or "") from None


def _columns_per_beat(headers: dict[str, str], source: str, text: str) -> int:
    raw = headers.get("columns-per-beat")
    if raw is None:
        return DEFAULT_COLUMNS_PER_BEAT
    if not raw.isdigit() or not 1 <= int(raw) <= 48:
        raise TabError(source, _header_line(text, "columns-per-beat"), 1,
                       f"columns-per-beat {raw!r} is not a whole number from 1 to 48")
    return int(raw)


def _bpm(headers: dict[str, str], source: str, text: str) -> float | None:
    raw = headers.get("bpm")
    if raw is None:
        return None
    from fretcoach_cli.music.tempo import validate_bpm

    try:
        return validate_bpm(float(raw))
    except (ValueError, UsageError):
        raise TabError(source, _header_line(text, "bpm"), 1,
                       f"bpm {raw!r} is not a tempo from 20 to 400") from None


def _read_staff(staff: list[tuple[int, str]], tuning: Sequence[int], cpb: int, start_col: int,
                found: list[ExpectedNote], source: str) -> int:
    """Add the staff's notes to ``found``; return its length in time columns."""
    first_line = staff[0][0]
    if len(staff) != len(tuning):
        raise TabError(source, first_line, 1, f"a staff has {len(staff)} lines, the tuning "
                       f"{len(tuning)} strings", hint="one line per string, highest on top")
    lengths: set[int] = set()
    onsets: dict[int, tuple[int, int]] = {}  # time column → (line, col) of a note starting there
    for row, (lineno, line) in enumerate(staff):
        string = len(tuning) - 1 - row
        m = _LABEL_RE.match(line)
        assert m is not None
        label = notes_mod.fold_accidentals(m.group(1))
        if notes_mod.parse_pitch_class(label.capitalize()) != tuning[string] % 12:
            expected = notes_mod.pc_name(tuning[string] % 12)
            raise TabError(source, lineno, m.start(1) + 1, f"string label {m.group(1)!r} does not "
                           f"match the tuning here (expected {expected})",
                           hint="list the strings from the highest (top) to the lowest")
        body_start = m.end()
        t = 0  # time column
        i = body_start
        while i < len(line):
            ch = line[i]
            if ch == "|":
                i += 1
                continue
            if ch.isdigit():
                j = i
                while j < len(line) and line[j].isdigit():
                    j += 1
                fret = int(line[i:j])
                if j - i > 2 or fret > MAX_FRET:
                    raise TabError(source, lineno, i + 1, f"fret {line[i:j]} is outside the "
                                   f"instrument's range (0–{MAX_FRET})")
                if t in onsets:
                    raise TabError(source, lineno, i + 1, "two notes at the same time (chords "
                                   "are not supported: an exercise is one note at a time)")
                onsets[t] = (lineno, i + 1)
                found.append(ExpectedNote(tuning[string] + fret, string, fret,
                                          (start_col + t) / cpb))
                t += j - i
                i = j
                continue
            if ch != "-" and ch not in _IGNORED:
                raise TabError(source, lineno, i + 1, f"unexpected character {ch!r}",
                               hint="use digits for frets, '-' for time, '|' for bar lines")
            t += 1
            i += 1
        lengths.add(t)
    if len(lengths) > 1:
        raise TabError(source, first_line, 1, "the lines of this staff have different lengths "
                       f"({min(lengths)} and {max(lengths)} columns)",
                       hint="pad the shorter lines with '-'")
    _fix_lengths(found, cpb)
    return lengths.pop()


def _fix_lengths(found: list[ExpectedNote], cpb: int) -> None:
    """Each note lasts until the next one starts (its written length)."""
    found.sort(key=lambda n: n.beat)
    for k in range(len(found) - 1):
        n = found[k]
        gap = found[k + 1].beat - n.beat
        if gap > 0 and gap != n.beats:
            found[k] = ExpectedNote(n.midi, n.string, n.fret, n.beat, gap)


def write_tab(ex: Exercise, *, bars_per_staff: int = 2, beats_per_bar: int = 4) -> str:
    """The exercise in the tab format; :func:`parse_tab` reads it back to the same notes."""
    wide = any(n.fret >= 10 for n in ex.notes)
    steps = {n.beat for n in ex.notes}
    cpb = 6 if wide else 4
    if any(abs(b * cpb - round(b * cpb)) > 1e-9 for b in steps):
        cpb = 12
    total_cols = round(ex.length_beats * cpb)
    bar_cols = beats_per_bar * cpb
    total_cols = -(-total_cols // bar_cols) * bar_cols
    grid = [["-"] * total_cols for _ in ex.tuning]
    for n in ex.notes:
        col = round(n.beat * cpb)
        for k, ch in enumerate(str(n.fret)):
            grid[n.string][col + k] = ch
    labels = [notes_mod.pc_name(m % 12) for m in ex.tuning]
    labels[-1] = labels[-1].lower() if labels[-1] == labels[0] else labels[-1]
    out = [f"title: {ex.name}"]
    if ex.description:
        out.append(f"description: {ex.description}")
    if ex.bpm:
        out.append(f"bpm: {ex.bpm:g}")
    if tuple(ex.tuning) != STANDARD_TUNING:
        from fretcoach_cli.music.tunings import Tuning

        out.append("tuning: " + Tuning("custom", "", tuple(ex.tuning)).spec)
    out.append(f"columns-per-beat: {cpb}")
    staff_cols = bar_cols * bars_per_staff
    width = max(len(x) for x in labels)
    for start in range(0, total_cols, staff_cols):
        out.append("")
        for s in reversed(range(len(ex.tuning))):
            cells = grid[s][start:start + staff_cols]
            bars = ["".join(cells[b:b + bar_cols]) for b in range(0, len(cells), bar_cols)]
            out.append(f"{labels[s]:<{width}}|" + "|".join(bars) + "|")
    return "\n".join(out) + "\n"
