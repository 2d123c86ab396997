"""Guitar Pro 3–5 files (.gp3 .gp4 .gp5) as exercises, read with PyGuitarPro.

PyGuitarPro (``pip install pyguitarpro``; pure Python, maintained) gives each note its string
and fret directly, which is exactly what an exercise needs; MusicXML readers (music21,
partitura) were considered, but tab in MusicXML depends on ``<technical>`` string/fret
elements that many exports lack. The first track is read, voice 1 only; tied notes continue
the previous note, dead notes and rests are silence, a chord is refused (one note at a time).
Guitar Pro 6/7 (.gpx, .gp) are not readable by PyGuitarPro: export to GP5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fretcoach_cli.errors import UsageError
from fretcoach_cli.music.exercises import Exercise, ExpectedNote, check_range

SUFFIXES = (".gp3", ".gp4", ".gp5")
_QUARTER_TICKS = 960


def read_gp(path: Path) -> Exercise:
    """The first track of a Guitar Pro 3–5 file as an Exercise (tempo from the file)."""
    try:
        import guitarpro
    except ImportError:
        raise UsageError("reading Guitar Pro files needs PyGuitarPro",
                         hint="pip install pyguitarpro (or export the tab as text: "
                         "docs/exercises.md)") from None
    try:
        song = guitarpro.parse(str(path))
    except Exception as exc:  # the parser raises anything from struct.error to GPException
        raise UsageError(f"cannot read Guitar Pro file {path}: {type(exc).__name__}: {exc}",
                         hint="is it a .gp3/.gp4/.gp5 file?") from None
    if not song.tracks:
        raise UsageError(f"{path}: no tracks")
    track = song.tracks[0]
    strings = sorted(track.strings, key=lambda s: s.number)  # number 1 = highest string
    tuning = tuple(s.value for s in reversed(strings))
    found = _notes(track, tuning, path)
    if not found:
        raise UsageError(f"{path}: no notes in the first track")
    ex = Exercise(song.title or path.stem, song.subtitle or "", tuple(found), tuning,
                  float(song.tempo) if song.tempo else None, source=str(path))
    check_range(ex)
    return ex


def _notes(track: Any, tuning: tuple[int, ...], path: Path) -> list[ExpectedNote]:
    from guitarpro import NoteType

    out: list[ExpectedNote] = []
    origin = track.measures[0].start if track.measures else _QUARTER_TICKS
    for m_no, measure in enumerate(track.measures, start=1):
        if not measure.voices:
            continue
        for b_no, beat in enumerate(measure.voices[0].beats, start=1):
            played = [n for n in beat.notes if n.type == NoteType.normal]
            beats = beat.duration.time / _QUARTER_TICKS
            if not played:
                if out and any(n.type == NoteType.tie for n in beat.notes):
                    last = out[-1]  # a tie lengthens the note it continues
                    out[-1] = ExpectedNote(last.midi, last.string, last.fret, last.beat,
                                           last.beats + beats)
                continue
            if len(played) > 1:
                raise UsageError(f"{path}: measure {m_no}, beat {b_no}: a chord (chords are "
                                 "not supported: an exercise is one note at a time)")
            note = played[0]
            string = len(tuning) - note.string
            out.append(ExpectedNote(tuning[string] + note.value, string, note.value,
                                    (beat.start - origin) / _QUARTER_TICKS, beats))
    return out
