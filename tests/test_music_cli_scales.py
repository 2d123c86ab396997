"""`fretcoach scales` and `fretcoach scales show` through the real Typer app."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.music.scales import SCALE_TYPES

_register_commands()
runner = CliRunner()


def test_list_shows_every_type() -> None:
    result = runner.invoke(app, ["scales"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for stype in SCALE_TYPES:
        assert stype.name in result.output
    assert "A minor pentatonic: A C D E G" in result.output
    assert "1 b3 4 5 b7" in result.output


def test_list_json() -> None:
    result = runner.invoke(app, ["scales", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    by_key = {r["key"]: r for r in rows}
    assert by_key["minor_pentatonic"]["intervals"] == [0, 3, 5, 7, 10]
    assert by_key["minor_pentatonic"]["degrees"] == ["1", "b3", "4", "5", "b7"]
    assert "min pent" in by_key["minor_pentatonic"]["aliases"]
    assert len(rows) == len(SCALE_TYPES)


def test_show_prints_notes_degrees_and_fretboard() -> None:
    result = runner.invoke(app, ["scales", "show", "a min pent"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "A minor pentatonic" in out
    lines = out.splitlines()
    high_e = next(line for line in lines if line.startswith("e "))
    # high e string: E open, G at 3, A at 5.
    assert high_e.startswith("e  E‖---|---|-G-|---|-A-|")
    assert sum(1 for line in lines if "‖" in line) == 6


def test_show_degrees_json() -> None:
    result = runner.invoke(app, ["scales", "show", "Bb dorian", "--json", "--frets", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["notes"] == ["Bb", "C", "Db", "Eb", "F", "G", "Ab"]
    assert data["root"] == "Bb"
    assert all(0 <= p["fret"] <= 5 for p in data["positions"])
    low_e = [p["fret"] for p in data["positions"] if p["string"] == 0]
    assert low_e == [1, 3, 4]  # F G Ab


def test_show_degrees_labels() -> None:
    result = runner.invoke(app, ["scales", "show", "E phrygian", "-d", "--frets", "3"])
    assert result.exit_code == 0
    assert "b2" in result.output


def test_unknown_scale_is_one_line_with_suggestion() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fretcoach_cli.cli.main", "scales", "show", "A minor pentatnic"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == ExitCode.USAGE
    assert out.stderr == ("fretcoach: error: unknown scale 'A minor pentatnic' — "
                          "did you mean: A minor pentatonic?\n")
    assert out.stdout == ""
