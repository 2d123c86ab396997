"""`practice --tuning`: the session stores the tuning it was played in; bad ones are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.music.tunings import parse_tuning
from fretcoach_cli.store import Sessions

_register_commands()
CLIP = Path(__file__).resolve().parent / "data" / "real_guitar" / "e4_ring.flac"


@pytest.mark.parametrize(("given", "stored"), [
    ("drop D", "drop-d"),
    ("D A D G B E", "drop-d"),  # a custom list equal to a named tuning is that name
    ("C G C F A D", "C2 G2 C3 F3 A3 D4"),
    ("standard", None),
])
def test_the_session_stores_its_tuning(conn, user_id, given, stored):
    played = CliRunner().invoke(app, ["--user", user_id, "practice", "--input", str(CLIP),
                                      "--fast", "--no-tui", "--json", "--no-coach",
                                      "--scale", "E minor", "--tuning", given])
    assert played.exit_code == 0, played.output
    row = json.loads(played.stdout)
    assert row["tuning"] == stored
    assert Sessions(conn).require(row["session_id"]).tuning == stored
    if stored is not None:  # it reads back as the same strings
        assert parse_tuning(stored).strings == parse_tuning(given).strings


def test_a_bad_tuning_is_one_line_before_anything_opens():
    out = subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "practice",
                          "--scale", "E minor", "--input", str(CLIP), "--tuning", "H A D"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == ExitCode.USAGE
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stdout == ""


async def test_the_practice_room_fretboard_follows_the_tuning(tmp_path):
    """Drop D: the neck's low string is labelled D and the notes are placed on its strings
    (D2 is the open 6th string, not unplayable); the panel title names the tuning."""
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.live_view import MarkTrail
    from fretcoach_cli.tui.widgets.fretboard import Fretboard

    drop_d = parse_tuning("drop D")
    options = PracticeOptions(scale=parse_scale("D major"), user="tuning-test",
                              source_kind="file", source_label=CLIP.name, tuning=drop_d)
    session = PracticeSession(options, FileSource(CLIP, realtime=False), recorder=None)
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        board = app.query_one(Fretboard)
        assert board.tuning == drop_d.strings and board.names[0] == "D"
        text = board.render().plain.splitlines()
        assert text[6].startswith(" D ") and text[1].startswith(" E ")  # low D at the bottom
        assert app.query_one("#fretboard-panel").border_title == f"Fretboard · {drop_d.name}"
    trail = MarkTrail(tuning=drop_d.strings)
    from fretcoach_cli.tui.live_view import _place
    assert _place(38.0, None, trail.tuning) == (0, 0)  # D2: the open low string
    assert _place(38.0, None) is None  # not on a standard-tuned guitar
