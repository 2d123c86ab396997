"""CREPE's frame maths, shared by the backend and the model builder's self-check.

Frames are normalised to zero mean and unit variance; the activation over 360 bins (20 cents
apart) is decoded with a weighted average of the bins around the arg-max.
"""

from __future__ import annotations

import numpy as np

CENTS0 = 1997.3794084376191  # cents (re 10 Hz) of bin 0
CENTS_PER_BIN = 20.0
FLOOR_HZ = 10.0 * 2.0 ** (CENTS0 / 1200.0)  # bin 0, ≈31.7 Hz: the lowest pitch it can name


def normalise_frames(frames: np.ndarray) -> np.ndarray:
    frames = frames.astype(np.float32) - frames.mean(axis=1, keepdims=True, dtype=np.float32)
    std = frames.std(axis=1, keepdims=True)
    return (frames / np.maximum(std, 1e-10)).astype(np.float32)


def decode(act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average of ±4 bins around the arg-max → (f0 Hz, confidence)."""
    n = act.shape[0]
    center = act.argmax(axis=1)
    conf = act[np.arange(n), center]
    idx = center[:, None] + np.arange(-4, 5)[None, :]
    valid = (idx >= 0) & (idx < act.shape[1])
    idx_c = np.clip(idx, 0, act.shape[1] - 1)
    w = np.where(valid, act[np.arange(n)[:, None], idx_c], 0.0)
    cents = CENTS0 + CENTS_PER_BIN * (w * idx_c).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-9)
    return 10.0 * 2.0 ** (cents / 1200.0), conf.astype(np.float64)
