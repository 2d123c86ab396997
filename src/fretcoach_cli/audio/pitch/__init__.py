"""Pitch backends behind one small interface, chosen by name and imported lazily.

A backend turns 16 kHz mono audio into a frame track (times, f0 in Hz, confidence 0–1),
either all at once (``track``) or block by block (``stream``). Streams emit only *final*
frames, computed from a fixed internal chunking, so the frames never depend on how the
input happened to be split into blocks: live and file analysis see the same pitch track.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from fretcoach_cli.errors import UsageError

# name → (module, class, one-line description)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "swift": ("fretcoach_cli.audio.pitch.swift", "SwiftBackend",
              "SwiftF0 (ONNX, 16 ms hop): the fast live default"),
    "crepe": ("fretcoach_cli.audio.pitch.crepe", "CrepeBackend",
              "CREPE full (ONNX, 10 ms hop): slower, for post-session analysis"),
}
DEFAULT_BACKEND = "swift"


@dataclass
class PitchTrack:
    """Frames: centre times (s), f0 (Hz, 0 when the model has no candidate), confidence."""

    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    f0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.times)

    @staticmethod
    def concat(parts: list[PitchTrack]) -> PitchTrack:
        parts = [p for p in parts if len(p)]
        if not parts:
            return PitchTrack()
        return PitchTrack(np.concatenate([p.times for p in parts]),
                          np.concatenate([p.f0 for p in parts]),
                          np.concatenate([p.confidence for p in parts]))


class PitchStream(Protocol):
    def push(self, audio: np.ndarray) -> PitchTrack: ...
    def flush(self) -> PitchTrack: ...


class PitchBackend(Protocol):
    name: str
    hop: int  # samples per frame at 16 kHz

    def track(self, audio: np.ndarray) -> PitchTrack: ...
    def stream(self) -> PitchStream: ...


@dataclass(frozen=True)
class BackendStatus:
    name: str
    usable: bool
    detail: str
    description: str


def _check_name(name: str) -> tuple[str, str, str]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise UsageError(f"unknown pitch model {name!r}",
                         hint=f"choose one of: {', '.join(BACKENDS)}") from None


def get_backend(name: str = DEFAULT_BACKEND, *, models_dir: Path | None = None,
                threads: int = 1) -> PitchBackend:
    """Instantiate a backend; raises AudioError with the install command when unusable."""
    module, cls, _ = _check_name(name)
    mod = importlib.import_module(module)
    return getattr(mod, cls)(models_dir=models_dir, threads=threads)


def floor_hz(name: str = DEFAULT_BACKEND) -> float:
    """The lowest pitch (Hz) a backend can name, without loading its model."""
    module, _, _ = _check_name(name)
    return float(importlib.import_module(module).FLOOR_HZ)


def status(name: str, *, models_dir: Path | None = None) -> BackendStatus:
    """Whether a backend can run here, and why not (without loading a model)."""
    module, _, desc = _check_name(name)
    mod = importlib.import_module(module)
    usable, detail = mod.check(models_dir=models_dir)
    return BackendStatus(name, usable, detail, desc)


def default_models_dir() -> Path:
    from fretcoach_cli import config

    return config.load().data_path / "models"
