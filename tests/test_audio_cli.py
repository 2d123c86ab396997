"""`fretcoach devices|models` and the audio-error paths of the CLI, on this sound-card-less box."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app

_register_commands()
runner = CliRunner()
FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))


def test_devices_without_a_sound_card_exits_5():
    proc = subprocess.run([FRETCOACH, "devices"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 5
    assert proc.stderr.strip().startswith("fretcoach: error: no audio input device found")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_devices_test_without_a_sound_card_exits_5():
    proc = subprocess.run([FRETCOACH, "devices", "test", "--seconds", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 5
    assert "no audio input device found" in proc.stderr


def test_missing_portaudio_names_the_package(tmp_path: Path):
    # the real sounddevice raises exactly this OSError when libportaudio is absent
    (tmp_path / "sounddevice.py").write_text(
        "raise OSError('PortAudio library not found')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([FRETCOACH, "devices"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 5
    assert "PortAudio library not found" in proc.stderr
    assert "libportaudio2" in proc.stderr


def test_models_list_shows_both_backends(tmp_path: Path):
    env = {**os.environ, "FRETCOACH_DATA_DIR": str(tmp_path)}
    result = runner.invoke(app, ["models", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["swift"]["usable"] and rows["swift"]["selected"]
    assert not rows["crepe"]["usable"]
    assert "fretcoach models install crepe" in rows["crepe"]["detail"]


def test_uninstalled_crepe_is_a_one_line_error(tmp_path: Path):
    from audio_fixtures import notes_clip

    path, _ = notes_clip([57], spacing_s=0.5)
    env = {**os.environ, "FRETCOACH_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([FRETCOACH, "analyze", str(path), "--scale", "A minor",
                           "--pitch-model", "crepe"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 5, proc.stderr
    assert "fretcoach models install crepe" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_models_install_unknown_name():
    result = runner.invoke(app, ["models", "install", "pesto"])
    assert result.exit_code != 0
