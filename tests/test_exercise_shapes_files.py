"""CAGED shapes (any key; G major against its known fingerings) and MusicXML exercise files
(parsed with <technical> string/fret where present; a bad file names its line and column)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.music.exercises import CAGED_SHAPES, builtin, caged_notes, load
from fretcoach_cli.music.musicxml import MusicXMLError, parse_musicxml, read_musicxml
from fretcoach_cli.music.notes import pc_name
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.music.tunings import parse_tuning

G_MAJOR = parse_scale("G major")

#: The five CAGED shapes of G major as guitar method books finger them: frets per string,
#: low E first.
G_MAJOR_SHAPES = {
    "G": [[0, 2, 3], [0, 2, 3], [0, 2, 4], [0, 2], [0, 1, 3], [0, 2, 3]],  # open position
    "E": [[2, 3, 5], [2, 3, 5], [2, 4, 5], [2, 4, 5], [3, 5], [2, 3, 5]],
    "D": [[5, 7, 8], [5, 7], [4, 5, 7], [4, 5, 7], [5, 7, 8], [5, 7, 8]],
    "C": [[7, 8, 10], [7, 9, 10], [7, 9, 10], [7, 9], [7, 8, 10], [7, 8, 10]],
    "A": [[10, 12], [9, 10, 12], [9, 10, 12], [9, 11, 12], [10, 12, 13], [10, 12]],
}


def fc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ})


# ---------------------------------------------------------------------------------- CAGED


@pytest.mark.parametrize("shape", list(G_MAJOR_SHAPES))
def test_g_major_shapes_match_the_known_fingerings(shape: str) -> None:
    pool = caged_notes(G_MAJOR, shape)
    by_string = [[f for _, s, f in pool if s == string] for string in range(6)]
    assert by_string == G_MAJOR_SHAPES[shape]
    assert all(G_MAJOR.contains(m % 12) for m, _, _ in pool)
    frets = [f for _, _, f in pool]
    assert max(frets) - min(frets) <= 4  # one position: a four-fret stretch at most
    assert [m for m, _, _ in pool] == sorted({m for m, _, _ in pool})  # ascending, no repeat
    assert {m % 12 for m, _, _ in pool} == set(G_MAJOR.pitch_classes)  # every degree


@pytest.mark.parametrize("key", ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb",
                                 "B"])
@pytest.mark.parametrize("shape", list(CAGED_SHAPES))
def test_every_key_every_shape_is_one_playable_position(key: str, shape: str) -> None:
    scale = parse_scale(f"{key} major")
    pool = caged_notes(scale, shape)
    frets = [f for _, _, f in pool]
    assert max(frets) - min(frets) <= 4 and min(frets) >= 0 and max(frets) <= 22
    assert all(scale.contains(m % 12) for m, _, _ in pool)
    assert all(40 + (0, 5, 10, 15, 19, 24)[s] + f == m for m, s, f in pool)
    assert {m % 12 for m, _, _ in pool} == set(scale.pitch_classes)
    # the same shape a semitone up is the same fingering one fret higher (or 11 lower)
    up = parse_scale(f"{pc_name((scale.root_pc + 1) % 12)} major")
    shifted = caged_notes(up, shape)
    deltas = {f2 - f1 for (_, s1, f1), (_, s2, f2) in zip(pool, shifted, strict=True)
              if s1 == s2}
    assert deltas in ({1}, {-11})


def test_caged_names_and_the_shape_option() -> None:
    amp = parse_scale("A minor pentatonic")
    run = builtin("caged-E", amp)
    assert run.name == "caged-E" and run.meta["shape"] == "E"
    assert [(n.string, n.fret) for n in run.notes[:4]] == [(0, 5), (0, 8), (1, 5), (1, 7)]
    thirds = load("thirds", G_MAJOR, shape="C")
    assert thirds.name == "thirds caged-C" and min(n.fret for n in thirds.notes) == 7
    with pytest.raises(UsageError, match="unknown CAGED shape"):
        builtin("scale-run", G_MAJOR, shape="H")
    with pytest.raises(UsageError, match="not both"):
        builtin("scale-run", G_MAJOR, shape="E", position=3)
    with pytest.raises(UsageError, match="standard tuning"):
        builtin("caged-E", G_MAJOR, tuning=parse_tuning("drop-d").strings)
    out = fc("exercises", "show", "caged-A", "--scale", "G major", "--json")
    assert out.returncode == 0, out.stderr
    frets = [n["fret"] for n in json.loads(out.stdout)["notes"]]
    assert min(frets) == 9 and max(frets) == 13
    listed = [r["name"] for r in json.loads(fc("exercises", "--json").stdout)]
    assert {f"caged-{k}" for k in "CAGED"} <= set(listed)


# ------------------------------------------------------------------------------- MusicXML

TUNING_XML = "".join(
    f'<staff-tuning line="{i}"><tuning-step>{s}</tuning-step>'
    f"<tuning-octave>{o}</tuning-octave></staff-tuning>"
    for i, (s, o) in enumerate([("E", 2), ("A", 2), ("D", 3), ("G", 3), ("B", 3), ("E", 4)], 1))


def note(step: str, octave: int, duration: int = 1, *, string: int | None = None,
         fret: int | None = None, extra: str = "", alter: int | None = None) -> str:
    tech = ("" if string is None else
            f"<notations><technical><string>{string}</string><fret>{fret}</fret>"
            "</technical></notations>")
    alt = "" if alter is None else f"<alter>{alter}</alter>"
    return (f"<note><pitch><step>{step}</step>{alt}<octave>{octave}</octave></pitch>"
            f"<duration>{duration}</duration><voice>1</voice>{extra}{tech}</note>")


def score(*measures: str, tempo: int | None = 96, title: str = "lick") -> str:
    sound = "" if tempo is None else f'<direction><sound tempo="{tempo}"/></direction>'
    body = "".join(f'<measure number="{i}">{m}</measure>' for i, m in enumerate(measures, 1))
    body = body.replace('<measure number="1">',
                        '<measure number="1"><attributes><divisions>2</divisions>'
                        f"<staff-details>{TUNING_XML}</staff-details></attributes>{sound}", 1)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
            '"http://www.musicxml.org/dtds/partwise.dtd">\n'
            f'<score-partwise version="4.0"><work><work-title>{title}</work-title></work>'
            '<part-list><score-part id="P1"><part-name>Guitar</part-name></score-part>'
            f'</part-list><part id="P1">{body}</part></score-partwise>\n')


def test_musicxml_notes_strings_frets_tempo_ties_and_rests(tmp_path: Path) -> None:
    xml = score(
        note("A", 2, string=6, fret=5) + note("C", 3, string=6, fret=8)
        + "<note><rest/><duration>2</duration><voice>1</voice></note>"
        + note("D", 3, 2, string=5, fret=5) + note("E", 3, 2, extra='<tie type="start"/>',
                                                   string=5, fret=7),
        note("E", 3, 2, extra='<tie type="stop"/>', string=5, fret=7)
        + note("F", 3, 2, alter=1, string=4, fret=4)
        + "<note><grace/><pitch><step>G</step><octave>3</octave></pitch><voice>1</voice></note>"
        + note("G", 3, 4))  # no <technical>: placed where the hand is (open G)
    path = tmp_path / "lick.musicxml"
    path.write_text(xml, encoding="utf-8")
    ex = read_musicxml(path)
    assert ex.name == "lick" and ex.bpm == 96
    got = [(n.midi, n.string, n.fret, n.beat, n.beats) for n in ex.notes]
    assert got == [(45, 0, 5, 0.0, 0.5), (48, 0, 8, 0.5, 0.5), (50, 1, 5, 2.0, 1.0),
                   (52, 1, 7, 3.0, 2.0), (54, 2, 4, 5.0, 1.0), (55, 3, 0, 6.0, 2.0)]
    # compressed .mxl: the container names the score
    mxl = tmp_path / "lick.mxl"
    with zipfile.ZipFile(mxl, "w") as z:
        z.writestr("META-INF/container.xml", '<container><rootfiles><rootfile '
                   'full-path="score/lick.xml"/></rootfiles></container>')
        z.writestr("score/lick.xml", xml)
    assert read_musicxml(mxl).notes == ex.notes
    # through the CLI, as any exercise file
    out = fc("exercises", "show", str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert [n["fret"] for n in json.loads(out.stdout)["notes"]] == [5, 8, 5, 7, 4, 0]


def test_musicxml_without_technical_gets_a_fingering() -> None:
    ex = parse_musicxml(score(note("A", 2) + note("B", 2) + note("C", 3) + note("D", 3),
                              tempo=None).encode())
    assert ex.bpm is None
    for n in ex.notes:
        assert ex.tuning[n.string] + n.fret == n.midi and 0 <= n.fret <= 5


@pytest.mark.parametrize(("xml", "line", "col", "words"), [
    ("<score-partwise>\n  <part>\n    <measure>\n  </part>\n", 4, 5,
     "not well-formed XML: mismatched tag"),
    ("<score-partwise>\n<part><measure>\n<note><pitch><step>H</step><octave>3</octave>"
     "</pitch><duration>1</duration></note></measure></part></score-partwise>", 3, 14,
     "<step> 'H' is not a note letter A–G"),
    ("<score-partwise>\n<part><measure>\n<note><pitch><step>A</step><octave>2</octave>"
     "</pitch><duration>1</duration><notations><technical><string>6</string>"
     "<fret>7</fret></technical></notations></note></measure></part></score-partwise>",
     3, 87, "string 6 fret 7 does not sound the written pitch"),
    ("<score-partwise>\n<part><measure>\n<note><chord/><pitch><step>A</step><octave>2</octave>"
     "</pitch><duration>1</duration></note></measure></part></score-partwise>", 3, 1,
     "a chord"),
    ("<score-timewise/>", 1, 1, "score-timewise is not supported"),
    ("<opus/>", 1, 1, "not a MusicXML score"),
])
def test_bad_musicxml_names_line_and_column(tmp_path: Path, xml: str, line: int, col: int,
                                            words: str) -> None:
    with pytest.raises(MusicXMLError) as err:
        parse_musicxml(xml.encode(), source="bad.musicxml")
    assert (err.value.line, err.value.col) == (line, col)
    assert err.value.message.startswith(f"bad.musicxml:{line}:{col}: ")
    assert words in err.value.message
    path = tmp_path / "bad.musicxml"
    path.write_text(xml, encoding="utf-8")
    out = fc("exercises", "show", str(path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert f"{path}:{line}:{col}: " in out.stderr


def test_missing_and_broken_musicxml_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_musicxml(tmp_path / "nope.musicxml")
    broken = tmp_path / "broken.mxl"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(UsageError, match=r"not a valid \.mxl"):
        read_musicxml(broken)
