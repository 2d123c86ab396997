"""`fretcoach practice` validation and `fretcoach sessions recover`, through the real CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fretcoach_cli import config
from fretcoach_cli.cli import main
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.recorder import SessionRecorder
from fretcoach_cli.practice.runner import PracticeOptions
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.practice.summary import note_row, session_meta
from fretcoach_cli.scoring.judge import judge_note, tolerance_cents
from fretcoach_cli.store import Sessions

main._register_commands()
runner = CliRunner()



def _run(*args: str) -> tuple[int, str, str]:
    """The installed entry point in a subprocess: one stderr line and an exit code on error."""
    proc = subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(main.app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_no_microphone_is_reported_before_anything_opens():
    code, out, err = _run("practice", "--scale", "A minor pentatonic")
    assert code == ExitCode.AUDIO
    assert err.count("\n") == 1 and "no audio input device" in err
    assert "--input examples/a_minor_pentatonic_clean.flac" in err
    assert out == ""


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--scale", "H mixolydian"], ExitCode.USAGE, "unknown root"),
    (["--scale", "A minor pentatonic", "--duration", "soon"], ExitCode.USAGE, "--duration"),
    (["--scale", "A minor pentatonic", "--bpm", "900"], ExitCode.USAGE, "bpm"),
    (["--scale", "A minor pentatonic", "--strictness", "2"], ExitCode.USAGE, "--strictness"),
    (["--scale", "A minor pentatonic", "--fast"], ExitCode.USAGE, "--fast"),
    (["--scale", "A minor pentatonic", "--input", "missing.flac"], ExitCode.NOT_FOUND,
     "not found"),
])
def test_bad_options_fail_in_one_line(args, code, words):
    rc, _, err = _run("practice", *args)
    assert rc == code, err
    assert words in err and err.count("\n") == 1


def _dead_session(user: str, tmp_path, n: int = 7) -> str:
    """A session whose writer went away mid-session (connection closed, no summary)."""
    scale = parse_scale("A minor pentatonic")
    options = PracticeOptions(scale=scale, user=user, source_kind="file", source_label="x")
    settings = config.load().with_overrides(user=user)
    rec = SessionRecorder(sink_factory(settings), tmp_path / "journal-owner")
    rec.start(session_meta(options), replay=False)
    tol = tolerance_cents(0.5)
    for i in range(n):
        ev = NoteEvent(0.5 * i, 0.5 * i + 0.4, (57.0, 60.0, 62.0, 64.0, 67.0, 69.0, 61.0)[i % 7],
                       0.9)
        rec.add_note(note_row(i + 1, ev, judge_note(ev, scale, tolerance=tol)))
    rec.abandon()
    return rec.session_id


def test_recover_finishes_an_interrupted_session_from_its_notes(conn, user_id, tmp_path):
    sid = _dead_session(user_id, tmp_path)
    assert Sessions(conn).require(sid).status == "active"
    code, out = _cli("--user", user_id, "sessions", "recover", "--finish", "--yes")
    assert code == 0, out
    assert "1 interrupted session" in out and "finished" in out
    row = Sessions(conn).require(sid)
    assert row.status == "completed"
    assert row.total_notes_played == 7 and row.bad_notes_played == 1  # C#4 is not in the scale
    assert row.metrics.get("recovered") is True
    code, out = _cli("--user", user_id, "sessions", "recover", "--finish", "--yes")
    assert code == 0 and "No interrupted sessions" in out


def test_recover_discards_and_refuses_to_guess(conn, user_id, tmp_path):
    sid = _dead_session(user_id, tmp_path, n=3)
    code, _, err = _run("--user", user_id, "sessions", "recover")  # no TTY, no choice given
    assert code == ExitCode.USAGE and "--finish or --discard" in err
    code, out = _cli("--user", user_id, "sessions", "recover", "--discard", "--yes")
    assert code == 0, out
    assert "discarded" in out
    assert Sessions(conn).get(sid) is None
