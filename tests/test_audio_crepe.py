"""The CREPE backend end to end: install from PyPI (once, cached under /tmp), then analyse.

This needs PyPI. Without it the test fails loudly with pip's reason: it never skips.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audio_fixtures import NoteSpec, render_clip
from fretcoach_cli.audio.engine import analyze_file
from fretcoach_cli.audio.pitch import crepe_build, status

CACHE = Path(os.environ.get("FRETCOACH_MODEL_CACHE", "/tmp/fretcoach-test-models"))
FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))


@pytest.fixture(scope="module")
def models_dir() -> Path:
    """`fretcoach models install crepe` into a data dir kept under /tmp between runs."""
    env = {**os.environ, "FRETCOACH_DATA_DIR": str(CACHE)}
    proc = subprocess.run([FRETCOACH, "models", "install", "crepe"], capture_output=True,
                          text=True, env=env, timeout=900)
    assert proc.returncode == 0, f"models install crepe failed: {proc.stderr.strip()}"
    assert "crepe" in proc.stdout and "installed" in proc.stdout
    return CACHE / "models"


def test_install_produces_a_verified_model(models_dir: Path):
    path = crepe_build.model_path(models_dir)
    assert path.stat().st_size > 80_000_000  # the full model, not tiny
    st = status("crepe", models_dir=models_dir)
    assert st.usable and str(path) in st.detail
    meta = path.with_suffix(".json").read_text()
    assert crepe_build.WEIGHTS_SHA256 in meta
    assert crepe_build.verify(path.read_bytes()) < 5.0


def test_crepe_analyses_low_and_high_notes(models_dir: Path):
    path, truth = render_clip([NoteSpec(0.3, 0.7, 40), NoteSpec(1.1, 0.5, 64)], total_s=1.8)
    a = analyze_file(path, pitch_model="crepe", models_dir=models_dir)
    assert a.pitch_model == "crepe"
    notes = [n for n in a.notes if n.is_note]
    assert [n.nearest_midi for n in notes] == [40, 64]
    for n, ref in zip(notes, truth["notes"], strict=True):
        assert abs(n.onset_s - ref["onset_s"]) < 0.05
        assert abs(n.midi - ref["midi"]) * 100 < 10
    assert abs(a.times[1] - a.times[0] - 0.01) < 1e-9  # CREPE's 10 ms hop


def test_weights_reader_refuses_code_in_pickles():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        crepe_build.read_state_dict(buf.getvalue())
