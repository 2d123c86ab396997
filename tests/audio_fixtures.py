"""Realistic guitar clips for tests, rendered with fluidsynth and cached under /tmp.

Import from any test module (``tests/`` is on ``sys.path`` under pytest)::

    from audio_fixtures import NoteSpec, render_clip, sustained, scale_clip, example_path

    path, truth = sustained(40, seconds=2.0)               # low E, exact truth
    path, truth = scale_clip("A", "minor pentatonic", bpm=90, wrong=[3], detune={5: 30})
    path, truth = render_clip([NoteSpec(0.5, 0.4, 57, cents=-20)], augment=[("noise", 20,
                              "white", 1)])

Every clip is a mono 44.1 kHz 16-bit FLAC plus a truth dict (``bench/render.py``
``truth_dict``: notes with onset_s/offset_s/midi/cents/in_scale, figures in_scale_ratio and
ioi_cv). Clips are cached by content hash in ``$FRETCOACH_AUDIO_CACHE`` (default
``/tmp/fretcoach-audio-cache``), so a second test run renders nothing. If fluidsynth or the
soundfont is missing the calling test *fails* with the install command — never a silent skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
EXAMPLES = REPO / "examples"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import augment as _augment  # noqa: E402
import compose as _compose  # noqa: E402
import f0ref  # noqa: E402, F401  (bench's reference f0/onset estimators, re-exported)
import render as _render  # noqa: E402
from render import (  # noqa: E402, F401  (re-exported for tests)
    CLEAN,
    DISTORTION,
    JAZZ,
    MUTED,
    NYLON,
    OVERDRIVE,
    STEEL,
    NoteSpec,
    midi_to_hz,
    scale_midis,
)

# The bench modules, for tests that need more than the helpers below (imported through this
# module because ``bench/`` is only importable after the path insertion above).
render = _render
augment = _augment
compose = _compose


def bench_module(name: str):
    """Import a module from ``bench/`` (e.g. ``bench_module("metrics")``)."""
    import importlib

    return importlib.import_module(name)


CACHE = Path(os.environ.get("FRETCOACH_AUDIO_CACHE", "/tmp/fretcoach-audio-cache"))
_VERSION = 3  # bump when rendering changes in a way the hash cannot see


def require_fluidsynth() -> None:
    if not _render.fluidsynth_available():
        pytest.fail(
            "fluidsynth and /usr/share/sounds/sf2/FluidR3_GM.sf2 are needed to render test "
            "audio: apt-get install fluidsynth fluid-soundfont-gm",
            pytrace=False,
        )


def _digest(payload: dict) -> str:
    cal = _render.CALIBRATION_PATH
    payload = {
        **payload,
        "v": _VERSION,
        "cal": hashlib.sha1(cal.read_bytes()).hexdigest() if cal.exists() else None,
        "render": hashlib.sha1(Path(_render.__file__).read_bytes()).hexdigest(),
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def render_clip(
    notes: Sequence[NoteSpec],
    *,
    key: str | None = None,
    scale: str | None = None,
    augment: Sequence[Sequence] = (),
    total_s: float | None = None,
    description: str = "",
) -> tuple[Path, dict]:
    """Render ``notes`` (times of the *audible* result) to a cached FLAC; returns
    ``(path, truth)``. ``augment`` is a list of ``bench/augment.py`` ``apply_spec`` tuples,
    applied in order: ``("noise", snr_db, "white"|"pink", seed)``, ``("reverb", rt60, wet,
    seed)``, ``("gain", db)``, ``("clip", drive_db)``, ``("softclip", drive_db)``."""
    require_fluidsynth()
    specs = [list(_render.spec_dicts([n])[0].values()) for n in notes]
    aug = [list(a) for a in augment]
    digest = _digest({"notes": specs, "key": key, "scale": scale, "aug": aug, "total": total_s})
    path = CACHE / f"{digest}.flac"
    tpath = _render.truth_path(path)
    if path.exists() and tpath.exists():
        return path, json.loads(tpath.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / f"{digest}.{os.getpid()}.tmp.flac"
    fx = [lambda x, a=a: _augment.apply_spec(x, a) for a in aug]
    truth = _render.write_clip(
        tmp, notes, key=key, scale=scale, total_s=total_s, augment=fx, description=description,
        extra={"augment": [_augment.describe(a) for a in aug]} if aug else None,
    )  # fmt: skip
    _render.truth_path(tmp).replace(tpath)  # truth first: a clip never lacks its truth
    tmp.replace(path)
    return path, truth


def sustained(
    midi: int,
    *,
    seconds: float = 2.0,
    cents: float = 0.0,
    program: int = CLEAN,
    velocity: int = 90,
    lead_s: float = 0.3,
    augment: Sequence[Sequence] = (),
) -> tuple[Path, dict]:
    """One held note after ``lead_s`` of silence (plus 0.5 s of tail)."""
    note = NoteSpec(lead_s, seconds, midi, cents=cents, velocity=velocity, program=program)
    return render_clip([note], total_s=lead_s + seconds + 0.5, augment=augment)


def notes_clip(
    midis: Sequence[int],
    *,
    spacing_s: float = 0.5,
    duration_s: float = 0.4,
    cents: Sequence[float] | None = None,
    program: int = CLEAN,
    key: str | None = None,
    scale: str | None = None,
    augment: Sequence[Sequence] = (),
) -> tuple[Path, dict]:
    """Evenly spaced notes (robot timing: use :func:`scale_clip` for a human feel)."""
    cs = list(cents) if cents is not None else [0.0] * len(midis)
    notes = [
        NoteSpec(0.4 + i * spacing_s, duration_s, m, cents=c, program=program)
        for i, (m, c) in enumerate(zip(midis, cs, strict=True))
    ]
    return render_clip(notes, key=key, scale=scale, augment=augment)


def scale_clip(
    key: str = "A",
    scale: str = "minor pentatonic",
    *,
    low: int = 57,
    high: int = 69,
    bpm: float = 90.0,
    beats: float = 0.5,
    program: int = CLEAN,
    jitter_ms: float = 8.0,
    articulation: float = 0.85,
    wrong: Sequence[int] = (),
    detune: dict[int, float] | None = None,
    seed: int = 0,
    augment: Sequence[Sequence] = (),
) -> tuple[Path, dict]:
    """A humanised scale run up and down. ``wrong`` lists note indices raised by a semitone
    (out of the scale when the scale has no semitone there: check ``truth['notes'][i]
    ['in_scale']``); ``detune`` maps note index → cents."""
    hits = _compose.run(key, scale, low, high, beats=beats)
    detune = detune or {}
    hits = [
        _compose.Hit(h.beat, h.beats, h.midi + (1 if i in wrong else 0), detune.get(i, 0.0))
        for i, h in enumerate(hits)
    ]
    notes = _compose.humanize(
        hits, bpm=bpm, program=program, jitter_ms=jitter_ms, articulation=articulation, seed=seed
    )
    return render_clip(notes, key=key, scale=scale, augment=augment)


def silence_clip(seconds: float = 2.0, *, augment: Sequence[Sequence] = ()) -> tuple[Path, dict]:
    """Digital silence (or, with ``augment=[("noise", ...)]``, noise only: hum-free room)."""
    import numpy as np

    digest = _digest({"silence": seconds, "aug": [list(a) for a in augment]})
    path = CACHE / f"{digest}.flac"
    truth = _render.truth_dict([], duration_s=seconds, description="silence")
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        x = np.zeros(int(seconds * _render.SAMPLE_RATE), np.float32)
        for a in augment:
            kind, *args = a
            if kind == "noise":  # SNR is undefined without signal: args[0] is dBFS here
                x = x + _augment.white_noise(len(x), int(args[2])).astype(np.float32) * (
                    10 ** (float(args[0]) / 20)
                )
        tmp = CACHE / f"{digest}.{os.getpid()}.tmp.flac"
        _render.write_audio(tmp, x)
        tmp.replace(path)
    return path, truth


def example_path(name: str) -> Path:
    """A committed example recording (``examples/<name>.flac``)."""
    path = EXAMPLES / f"{name}.flac"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run python examples/generate.py")
    return path


def example_truth(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.truth.json").read_text())


def load(path: Path) -> tuple:
    """(mono float32 samples, sample rate)."""
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), sr
