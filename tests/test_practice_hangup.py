"""Closing the terminal of a running practice room saves the session and stops the server.

Driven as a person would: the app runs in a real terminal (tmux), the terminal is closed
(SIGHUP), and nothing may be left behind — no lost session, no orphaned embedded PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "a_minor_pentatonic_clean.flac"


def _tmux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)


def _fretcoach(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_closing_the_terminal_saves_and_stops_the_server() -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed (apt-get install tmux; see scripts/apt-packages.txt)")
    data = Path(tempfile.mkdtemp(prefix="fretcoach-hup-", dir="/tmp"))
    user = f"hup-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "FRETCOACH_DATA_DIR": str(data), "FRETCOACH_USER": user}
    env.pop("FRETCOACH_DATABASE_URL", None)
    name = f"fc-hup-{uuid.uuid4().hex[:6]}"
    cmd = (f"{sys.executable} -m fretcoach_cli.cli.main practice --scale 'A minor pentatonic' "
           f"--input {EXAMPLE} --no-coach")
    env_args = [arg for k in ("FRETCOACH_DATA_DIR", "FRETCOACH_USER", "FRETCOACH_CONFIG",
                              "FRETCOACH_DB_IDLE_MINUTES")
                if k in env for arg in ("-e", f"{k}={env[k]}")]
    started = _tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", *env_args, cmd)
    assert started.returncode == 0, started.stderr
    pgdata = data / "pg"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            screen = _tmux("capture-pane", "-t", name, "-p").stdout
            saved = re.search(r"db ✓ (\d+) (?:notes )?saved", screen)
            if saved and int(saved.group(1)) >= 3:  # the header says notes are in the db
                break
            assert "Session complete" not in screen, "the recording ended first"
            time.sleep(0.3)
        else:
            raise AssertionError(f"the practice room never saved notes:\n{screen}")
    finally:
        _tmux("kill-session", "-t", name)  # the terminal goes away: SIGHUP

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (pgdata / "postmaster.pid").exists():
        time.sleep(0.2)
    assert not (pgdata / "postmaster.pid").exists(), "the embedded server was left running"
    assert not any((data / "pg-run" / "clients").iterdir()), "a process still counts as a user"

    out = _fretcoach(env, "history", "--json")
    try:
        assert out.returncode == 0, out.stderr
        sessions = json.loads(out.stdout)["sessions"]
        assert len(sessions) == 1
        assert sessions[0]["status"] == "completed"
        assert sessions[0]["total_notes_played"] > 0
    finally:
        from fretcoach_cli.store.server import release_server

        release_server(data)  # harmless if the CLI already stopped it
        shutil.rmtree(data, ignore_errors=True)
