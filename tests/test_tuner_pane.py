"""The practice room's tuner pane as the engine runs it (issue 15's speed work): the readings
of a held note keep their accuracy, and the cheaper spectrum and the batched feed change them
by no more than a small fraction of a cent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fretcoach_cli.audio import tuner as tuner_mod
from fretcoach_cli.audio.engine import Engine
from fretcoach_cli.audio.pitch import get_backend
from fretcoach_cli.audio.sources import ArraySource, FileSource, iter_blocks
from fretcoach_cli.audio.tuner import RATE, STEP, Tuner
from fretcoach_cli.audio.tuner_feed import PANE_STEP
from fretcoach_cli.events import PitchUpdate
from fretcoach_cli.music.tunings import STANDARD

DATA = Path(__file__).resolve().parent / "data" / "real_guitar"
MIC_BLOCK = 171  # 10.7 ms: what a 48 kHz microphone's 512-frame blocks become at 16 kHz
SUSTAIN_FROM_S = 0.3


@pytest.fixture(scope="module")
def backend():
    return get_backend("swift")


def _clip(name: str) -> tuple[np.ndarray, dict]:
    path = DATA / f"{name}.flac"
    source = FileSource(path)
    audio = np.concatenate(list(iter_blocks(source)))
    source.close()
    truth = json.loads((DATA / f"{name}.truth.json").read_text())
    return audio, truth["notes"][0]


def _pane(backend, audio: np.ndarray) -> list[PitchUpdate]:
    """Every PitchUpdate of ``Engine(tuner=True)`` (as ``practice`` runs it) in mic blocks."""
    got: list[PitchUpdate] = []
    engine = Engine(ArraySource(audio, block=MIC_BLOCK), backend=backend, tuner=True)
    engine.subscribe(lambda e: got.append(e) if isinstance(e, PitchUpdate) else None)
    engine.run_sync()
    assert engine.tuner_feed is not None and engine.tuner_feed.error is None
    return got


def _core(backend, audio: np.ndarray, step: int = PANE_STEP
          ) -> list[tuple[float, float | None]]:
    """The tuner core's readings fed block by block with the same model frames."""
    stream = backend.stream()
    tuner = Tuner(STANDARD, shared_frames=True, chords=False, step=step)
    out = []
    for i in range(0, len(audio), MIC_BLOCK):
        block = audio[i:i + MIC_BLOCK]
        out += [(r.t, r.midi) for r in tuner.push(block, stream.push(block))]
    return out


@pytest.mark.parametrize("name", ["e2_held", "g3_ring_beating_sympathy"])
def test_the_pane_holds_a_held_note_within_a_cent_for_as_long_as_it_rings(backend, name):
    """A held low E and a beating G3 with sympathetic strings: a reading every 100 ms, each
    the tuner core's own (batching the blocks changes nothing), pitched over the whole
    sustain and within a cent at the median."""
    audio, note = _clip(name)
    pane = _pane(backend, audio)
    assert PANE_STEP == 1600
    assert [u.time_s for u in pane] == pytest.approx(
        [PANE_STEP / RATE * (k + 1) for k in range(len(audio) // PANE_STEP)])
    assert [(u.time_s, u.midi) for u in pane] == _core(backend, audio)
    span = [u for u in pane if note["onset_s"] + SUSTAIN_FROM_S <= u.time_s <= note["offset_s"]]
    pitched = [u for u in span if u.midi is not None]
    assert len(pitched) >= 0.97 * len(span)
    errors = np.array([(u.midi - note["midi"]) * 100 for u in pitched])
    assert abs(float(np.median(errors))) <= 1.0
    assert np.all(np.abs(errors) < 50)


def test_twice_the_zero_padding_reads_held_notes_as_four_times_did(backend, monkeypatch):
    """The spectrum's zero-padding went from 4x to 2x (half the FFT): on held notes every
    reading has the same state and lies within 0.1 cent of the 4x reading."""
    for name in ("e2_held", "e4_ring"):
        audio = _clip(name)[0][:6 * 16000]
        now = _core(backend, audio, step=STEP)
        monkeypatch.setattr(tuner_mod, "PAD", 4)
        before = _core(backend, audio, step=STEP)
        monkeypatch.undo()
        assert [t for t, _ in now] == [t for t, _ in before]
        assert [m is None for _, m in now] == [m is None for _, m in before]
        diffs = [abs(a - b) * 100 for (_, a), (_, b) in zip(now, before, strict=True)
                 if a is not None and b is not None]
        assert len(diffs) > 80 and max(diffs) <= 0.1, (name, max(diffs))


@pytest.mark.parametrize("name", ["e2_held", "g3_ring_beating_sympathy", "e4_ring"])
def test_the_pane_reads_held_notes_as_closely_at_half_tunes_rate(backend, name):
    """The pane reads 10 times a second where ``tune`` reads 20 (issue 15: half the CPU):
    its instants are every other one of ``tune``'s, and over the sustain it is pitched as
    often and as close to the note (median and 90th percentile of |cents|)."""
    audio, note = _clip(name)

    def sustain(readings):
        span = [(t, m) for t, m in readings
                if note["onset_s"] + SUSTAIN_FROM_S <= t <= note["offset_s"]]
        cents = np.array([abs(m - note["midi"]) * 100 for _, m in span if m is not None])
        return [t for t, _ in span], len(cents) / len(span), cents

    pane_t, pane_share, pane = sustain(_core(backend, audio))
    full_t, full_share, full = sustain(_core(backend, audio, step=STEP))
    assert len(pane_t) > 40 and set(pane_t) <= set(full_t)
    assert len(full_t) >= 2 * len(pane_t) - 1
    assert pane_share >= full_share
    assert np.median(pane) <= np.median(full) + 0.05
    assert np.percentile(pane, 90) <= np.percentile(full, 90) + 0.1
