"""A practice session in which nothing was played is not saved, and that is not an error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.store import Sessions

_register_commands()


def test_silent_practice_exits_0_saying_nothing_was_saved(conn, user_id, tmp_path: Path):
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000 * 2, dtype=np.float32), 16000)
    runner = CliRunner()
    out = runner.invoke(app, ["--user", user_id, "practice", "--input", str(silence), "--fast",
                              "--no-tui", "--no-coach", "--scale", "A minor pentatonic"])
    assert out.exit_code == 0, out.output
    assert "no notes heard" in out.output
    js = runner.invoke(app, ["--user", user_id, "practice", "--input", str(silence), "--fast",
                             "--json", "--no-coach", "--scale", "A minor pentatonic"])
    assert js.exit_code == 0, js.output
    assert json.loads(js.stdout)["status"] == "discarded"
    assert Sessions(conn).list(limit=10) == []  # nothing kept, nothing counted
