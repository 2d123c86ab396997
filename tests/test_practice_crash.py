"""kill -9 in the middle of a headless session: nothing already played is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from fretcoach_cli.cli import main
from fretcoach_cli.store import Sessions

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
main._register_commands()


def test_kill_9_leaves_an_interrupted_session_that_recover_finishes(conn, user_id):
    proc = subprocess.Popen(
        [sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user_id, "practice",
         "--scale", "A minor pentatonic", "--input", str(EXAMPLE), "--no-tui", "--no-coach"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sessions = Sessions(conn)
    try:
        deadline = time.monotonic() + 90
        sid = None
        while time.monotonic() < deadline:
            rows = sessions.list()
            conn.commit()
            if rows:
                sid = rows[0].session_id
                if len(sessions.notes(sid)) >= 10:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        else:
            raise AssertionError("the session never reached 10 stored notes")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    # The writer is gone: its lock went with its connection, so `history` (a separate process,
    # as a guitarist would run it next) already shows the session as interrupted.
    import json

    for _ in range(50):
        out = subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user_id,
                              "history", "--json"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        listed = {s["session_id"]: s["status"] for s in json.loads(out.stdout)["sessions"]}
        if listed.get(str(sid)) == "interrupted":
            break
        time.sleep(0.2)
    assert listed.get(str(sid)) == "interrupted", listed
    conn.commit()
    for _ in range(100):
        gone = sessions.mark_interrupted()
        if gone:
            break
        time.sleep(0.1)
    assert gone in ([sid], [])  # history may have marked it already
    row = sessions.require(sid)
    saved = len(sessions.notes(sid))
    assert row.status == "interrupted" and saved >= 10

    result = CliRunner().invoke(main.app, ["--user", user_id, "sessions", "recover",
                                           "--finish", "--yes"])
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    done = sessions.require(sid)
    notes = sessions.notes(sid)
    assert done.status == "completed"
    assert len(notes) >= saved  # the journal may add the last batch the database missed
    assert [n.seq for n in notes] == list(range(1, len(notes) + 1))
    assert done.total_notes_played == sum(1 for n in notes if n.kind == "note")
