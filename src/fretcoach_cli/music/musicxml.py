"""MusicXML exercise files (.musicxml, .xml, and compressed .mxl), read with the stdlib.

Why no library: music21 (the well-kept MusicXML reader) pulls in matplotlib, numpy, requests
and more, and its import alone costs seconds (measured, see docs/exercises.md); partitura is
as heavy; the small dedicated parsers on PyPI are unmaintained (musicxml-parser 0.1, 2018).
An exercise needs a handful of documented elements of ``score-partwise``, so this module reads
them with :mod:`xml.parsers.expat` (no external entities or DTDs are fetched), which also
gives every element its line and column for error messages:

- the first ``<part>``; its first staff and the voice of its first note;
- ``<attributes><divisions>`` (duration units per quarter note) and
  ``<staff-details><staff-tuning line=N>`` (the tuning, line 1 = the lowest string);
- ``<sound tempo=…>`` (the first one) as the exercise's tempo;
- ``<note>``: ``<pitch><step>/<alter>/<octave>``, ``<duration>``, ``<rest/>``, ``<grace/>``
  (skipped: no time), ``<tie type="stop"/>`` (lengthens the previous note), ``<chord/>``
  (refused: one note at a time), ``<notations><technical><string>/<fret>`` (string 1 = the
  highest, as in tab); ``<backup>`` and ``<forward>`` move the time.

A note without ``<technical>`` is placed where the hand most likely is (``likely_position``,
as the live fretboard does). Every problem is a UsageError "FILE:LINE:COL: what" (exit 2).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.music.exercises import Exercise, ExpectedNote, check_range
from fretcoach_cli.music.fretboard import MAX_FRET, STANDARD_TUNING, likely_position

_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class MusicXMLError(UsageError):
    """A MusicXML problem at a line and column (1-based)."""

    def __init__(self, source: str, line: int, col: int, message: str, hint: str = "") -> None:
        super().__init__(f"{source}:{line}:{col}: {message}", hint=hint)
        self.line = line
        self.col = col


@dataclass
class Node:
    """An element with where it starts in the file."""

    tag: str
    attrs: dict[str, str]
    line: int
    col: int
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> Iterator[Node]:
        return (c for c in self.children if c.tag == tag)

    def path(self, *tags: str) -> Node | None:
        node: Node | None = self
        for tag in tags:
            node = node.find(tag) if node is not None else None
        return node


def parse_tree(data: bytes, source: str) -> Node:
    """The document as Nodes; a syntax error is a MusicXMLError with its position."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    root: list[Node] = []
    stack: list[Node] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        node = Node(tag, attrs, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        node = stack.pop()
        node.text = node.text.strip()

    def text(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise MusicXMLError(source, exc.lineno, exc.offset + 1,
                            f"not well-formed XML: {expat.ErrorString(exc.code)}") from None
    if not root:
        raise MusicXMLError(source, 1, 1, "no XML element in the file")
    return root[0]


def read_musicxml(path: Path) -> Exercise:
    """The first part of a MusicXML file (plain or .mxl) as an Exercise."""
    if not path.is_file():
        raise NotFoundError(f"no such exercise file: {path}",
                            hint="run 'fretcoach exercises' for the built-ins")
    source = str(path)
    try:
        data = path.read_bytes()
        if path.suffix.lower() == ".mxl" or data[:2] == b"PK":
            data, inner = _unzip(data, source)
            source = f"{source}:{inner}"
    except OSError as exc:
        raise UsageError(f"cannot read exercise file {path}: {exc}") from None
    return parse_musicxml(data, source=source, default_name=path.stem)


def _unzip(data: bytes, source: str) -> tuple[bytes, str]:
    """The score inside a compressed .mxl (META-INF/container.xml names it)."""
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            inner = None
            if "META-INF/container.xml" in names:
                container = parse_tree(z.read("META-INF/container.xml"),
                                       f"{source}:META-INF/container.xml")
                rootfiles = container.path("rootfiles")
                first = rootfiles.find("rootfile") if rootfiles is not None else None
                inner = first.attrs.get("full-path") if first is not None else None
            if inner is None:
                inner = next((n for n in names if n.endswith((".xml", ".musicxml"))
                              and not n.startswith("META-INF/")), None)
            if inner is None or inner not in names:
                raise UsageError(f"{source}: no MusicXML score inside the .mxl archive")
            return z.read(inner), inner
    except zipfile.BadZipFile:
        raise UsageError(f"{source}: not a valid .mxl (zip) archive") from None


def parse_musicxml(data: bytes, *, source: str = "<musicxml>",
                   default_name: str = "musicxml") -> Exercise:
    root = parse_tree(data, source)
    if root.tag == "score-timewise":
        raise MusicXMLError(source, root.line, root.col, "score-timewise is not supported",
                            hint="export as partwise MusicXML (what MuseScore and Guitar Pro "
                            "write)")
    if root.tag != "score-partwise":
        raise MusicXMLError(source, root.line, root.col,
                            f"<{root.tag}> is not a MusicXML score (expected <score-partwise>)")
    part = root.find("part")
    if part is None:
        raise MusicXMLError(source, root.line, root.col, "the score has no <part>")
    reader = _PartReader(source)
    reader.read(part)
    if not reader.notes:
        raise MusicXMLError(source, part.line, part.col, "no notes in the first part")
    title = (root.path("work", "work-title") or root.path("movement-title") or
             Node("", {}, 0, 0)).text
    ex = Exercise(title or default_name, "", tuple(reader.notes), reader.tuning, reader.bpm,
                  source=source)
    check_range(ex)
    return ex


class _PartReader:
    """Walks one part's measures, keeping time in divisions."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.divisions = 1
        self.tuning: tuple[int, ...] = STANDARD_TUNING
        self._tuning_set = False
        self.bpm: float | None = None
        self.notes: list[ExpectedNote] = []
        self._time = 0.0  # quarter notes from the start
        self._voice: str | None = None
        self._staff: str | None = None
        self._last_onset: float | None = None
        self._previous: tuple[int, int] | None = None

    def error(self, node: Node, message: str, hint: str = "") -> MusicXMLError:
        return MusicXMLError(self.source, node.line, node.col, message, hint=hint)

    def read(self, part: Node) -> None:
        for measure in part.findall("measure"):
            for item in measure.children:
                if item.tag == "attributes":
                    self._attributes(item)
                elif item.tag == "direction":
                    for sound in item.findall("sound"):
                        self._sound(sound)
                elif item.tag == "sound":
                    self._sound(item)
                elif item.tag == "backup":
                    self._time -= self._duration(item)
                elif item.tag == "forward":
                    self._time += self._duration(item)
                elif item.tag == "note":
                    self._note(item)

    def _sound(self, node: Node) -> None:
        raw = node.attrs.get("tempo")
        if raw is None or self.bpm is not None:
            return
        try:
            from fretcoach_cli.music.tempo import validate_bpm

            self.bpm = validate_bpm(float(raw))
        except (ValueError, UsageError):
            raise self.error(node, f"tempo {raw!r} is not a tempo from 20 to 400") from None

    def _attributes(self, node: Node) -> None:
        div = node.find("divisions")
        if div is not None:
            self.divisions = self._positive_int(div, "divisions")
        details = node.find("staff-details")
        tunings = list(details.findall("staff-tuning")) if details is not None else []
        if tunings and not self._tuning_set:
            strings: dict[int, int] = {}
            for t in tunings:
                line = self._positive_int_attr(t, "line")
                strings[line] = self._pitch(t, "tuning-")
            self.tuning = tuple(strings[k] for k in sorted(strings))
            self._tuning_set = True

    def _positive_int(self, node: Node, what: str) -> int:
        if not node.text.isdigit() or int(node.text) <= 0:
            raise self.error(node, f"<{what}> {node.text!r} is not a positive whole number")
        return int(node.text)

    def _positive_int_attr(self, node: Node, attr: str) -> int:
        raw = node.attrs.get(attr, "")
        if not raw.isdigit() or int(raw) <= 0:
            raise self.error(node, f"<{node.tag} {attr}=…> {raw!r} is not a positive number")
        return int(raw)

    def _duration(self, node: Node) -> float:
        dur = node.find("duration")
        if dur is None:
            raise self.error(node, f"<{node.tag}> has no <duration>")
        try:
            value = float(dur.text)
        except ValueError:
            raise self.error(dur, f"<duration> {dur.text!r} is not a number") from None
        if value < 0:
            raise self.error(dur, f"<duration> {dur.text!r} is negative")
        return value / self.divisions

    def _pitch(self, node: Node, prefix: str = "") -> int:
        step = node.find(prefix + "step")
        octave = node.find(prefix + "octave")
        if step is None or octave is None:
            raise self.error(node, f"<{node.tag}> needs <{prefix}step> and <{prefix}octave>")
        if step.text.upper() not in _STEPS:
            raise self.error(step, f"<{prefix}step> {step.text!r} is not a note letter A–G")
        if not octave.text.lstrip("-").isdigit():
            raise self.error(octave, f"<{prefix}octave> {octave.text!r} is not a number")
        alter = node.find(prefix + "alter")
        shift = 0
        if alter is not None:
            try:
                shift = round(float(alter.text))
            except ValueError:
                raise self.error(alter, f"<{prefix}alter> {alter.text!r} is not a number") \
                    from None
        return 12 * (int(octave.text) + 1) + _STEPS[step.text.upper()] + shift

    def _note(self, node: Node) -> None:
        if node.find("grace") is not None or node.find("cue") is not None:
            return  # no time of their own
        voice = (node.find("voice") or Node("", {}, 0, 0)).text or "1"
        staff = (node.find("staff") or Node("", {}, 0, 0)).text or "1"
        if self._voice is None:
            self._voice, self._staff = voice, staff
        dur = self._duration(node)
        if voice != self._voice or staff != self._staff:
            if node.find("chord") is None:
                self._time += dur
            return
        if node.find("chord") is not None:
            raise self.error(node, "a chord (chords are not supported: an exercise is one "
                             "note at a time)")
        start = self._time
        self._time += dur
        if node.find("rest") is not None:
            return
        pitch = node.find("pitch")
        if pitch is None:
            if node.find("unpitched") is not None:
                return  # a percussive/dead note: silence for the exercise
            raise self.error(node, "<note> has neither <pitch> nor <rest>")
        midi = self._pitch(pitch)
        ties = [t.attrs.get("type") for t in node.findall("tie")]
        if "stop" in ties and self.notes and self.notes[-1].midi == midi:
            last = self.notes[-1]  # a tie continues the note before
            self.notes[-1] = ExpectedNote(last.midi, last.string, last.fret, last.beat,
                                          last.beats + dur)
            return
        string, fret = self._place(node, midi)
        self.notes.append(ExpectedNote(midi, string, fret, start, dur))

    def _place(self, node: Node, midi: int) -> tuple[int, int]:
        technical = node.path("notations", "technical")
        s_node = technical.find("string") if technical is not None else None
        f_node = technical.find("fret") if technical is not None else None
        if s_node is not None and f_node is not None:
            if not s_node.text.isdigit() or not 1 <= int(s_node.text) <= len(self.tuning):
                raise self.error(s_node, f"<string> {s_node.text!r} is not a string of the "
                                 f"tuning (1–{len(self.tuning)}, 1 = the highest)")
            if not f_node.text.isdigit() or int(f_node.text) > MAX_FRET:
                raise self.error(f_node, f"<fret> {f_node.text!r} is outside the instrument's "
                                 f"range (0–{MAX_FRET})")
            string = len(self.tuning) - int(s_node.text)
            fret = int(f_node.text)
            if self.tuning[string] + fret != midi:
                raise self.error(technical or node, f"string {s_node.text} fret {fret} does "
                                 f"not sound the written pitch (MIDI {midi})",
                                 hint="check the part's <staff-tuning>")
        else:
            place = likely_position(midi, self._previous, tuning=self.tuning)
            if place is None:
                raise self.error(node, f"MIDI note {midi} is outside the instrument's range")
            string, fret = place
        self._previous = (string, fret)
        return string, fret
