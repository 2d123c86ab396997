"""CREPE full run with onnxruntime (the model built by ``fretcoach models install crepe``).

1024-sample frames at a 10 ms hop, each normalised to zero mean and unit variance, centred
on their time; the activation over 360 bins (20 cents apart) is decoded with a weighted
average of the bins around the arg-max. Frames are batched (64 at a time) to bound memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fretcoach_cli.audio.pitch import PitchTrack
from fretcoach_cli.audio.pitch.crepe_frames import (  # noqa: F401 (re-exported)
    CENTS0,
    CENTS_PER_BIN,
    FLOOR_HZ,
    decode,
    normalise_frames,
)
from fretcoach_cli.errors import AudioError

HOP = 160
WINDOW = 1024
BATCH = 64
def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return Path(models_dir)
    from fretcoach_cli.audio.pitch import default_models_dir

    return default_models_dir()


def check(models_dir: Path | None = None) -> tuple[bool, str]:
    from fretcoach_cli.audio.pitch.crepe_build import INSTALL_COMMAND, model_path

    path = model_path(_models_dir(models_dir))
    if path.exists():
        return True, f"model at {path}"
    return False, f"not installed: run '{INSTALL_COMMAND}'"


class CrepeBackend:
    name = "crepe"
    hop = HOP

    def __init__(self, *, models_dir: Path | None = None, threads: int = 1) -> None:
        from fretcoach_cli.audio.pitch.crepe_build import INSTALL_COMMAND, model_path

        path = model_path(_models_dir(models_dir))
        if not path.exists():
            raise AudioError("pitch model 'crepe' is not installed",
                             hint=f"run '{INSTALL_COMMAND}'")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self._sess: Any = ort.InferenceSession(str(path), opts,
                                                   providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise AudioError(f"cannot load the CREPE model at {path}: {exc}",
                             hint=f"reinstall it: '{INSTALL_COMMAND}'") from None

    def frames_to_track(self, frames: np.ndarray, first: int) -> PitchTrack:
        f0s, confs = [], []
        for i in range(0, len(frames), BATCH):
            act = self._sess.run(["activation"],
                                 {"frames": normalise_frames(frames[i:i + BATCH])})[0]
            f0, conf = decode(act)
            f0s.append(f0)
            confs.append(conf)
        n = len(frames)
        times = (np.arange(n) + first) * HOP / 16000.0
        if not n:
            return PitchTrack()
        return PitchTrack(times, np.concatenate(f0s), np.concatenate(confs))

    def track(self, audio: np.ndarray) -> PitchTrack:
        s = self.stream()
        return PitchTrack.concat([s.push(audio), s.flush()])

    def stream(self) -> CrepeStream:
        return CrepeStream(self)


class CrepeStream:
    """Frame i (centred at i·HOP) is final once audio reaches i·HOP + WINDOW/2."""

    def __init__(self, backend: CrepeBackend) -> None:
        self._b = backend
        self._buf = np.zeros(WINDOW // 2, dtype=np.float32)  # zero padding before the start
        self._base = -WINDOW // 2  # absolute sample index of _buf[0]
        self._next = 0
        self._total = 0

    def _emit(self, last: int) -> PitchTrack:
        if last < self._next:
            return PitchTrack()
        idx = np.arange(self._next, last + 1)
        starts = idx * HOP - WINDOW // 2 - self._base
        frames = self._buf[starts[:, None] + np.arange(WINDOW)[None, :]]
        out = self._b.frames_to_track(frames, self._next)
        self._next = last + 1
        drop = self._next * HOP - WINDOW // 2 - self._base
        if drop > 0:
            self._buf = self._buf[drop:]
            self._base += drop
        return out

    def push(self, audio: np.ndarray) -> PitchTrack:
        self._buf = np.concatenate([self._buf, np.asarray(audio, dtype=np.float32)])
        self._total += len(audio)
        last = (self._total - WINDOW // 2) // HOP  # frames whose window is complete
        return self._emit(last)

    def flush(self) -> PitchTrack:
        n_frames = -(-self._total // HOP)
        self._buf = np.concatenate([self._buf, np.zeros(WINDOW, dtype=np.float32)])
        return self._emit(n_frames - 1)
