"""The threaded engine: events, pause/resume on the audio clock, errors as events."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio_fixtures import notes_clip
from fretcoach_cli.audio.engine import Engine, analyze_file
from fretcoach_cli.audio.sources import FileSource, SyntheticSource
from fretcoach_cli.errors import AudioError, UsageError
from fretcoach_cli.events import EngineError, EngineFinished, LevelUpdate, NoteEvent, PitchUpdate


def _collect(engine: Engine) -> list:
    events: list = []
    engine.subscribe(events.append)
    return events


def test_engine_thread_gives_the_same_notes_as_analyze_file():
    path, truth = notes_clip([52, 55, 57, 59, 62], spacing_s=0.4)
    engine = Engine(FileSource(path))
    events = _collect(engine)
    engine.start()
    assert engine.join(60)
    notes = [e for e in events if isinstance(e, NoteEvent)]
    assert notes == analyze_file(path).notes
    assert [n.nearest_midi for n in notes] == [52, 55, 57, 59, 62]
    assert any(isinstance(e, LevelUpdate) for e in events)
    assert any(isinstance(e, PitchUpdate) and e.midi is not None for e in events)
    fin = events[-1]
    assert isinstance(fin, EngineFinished) and fin.reason == "end of input"
    assert fin.duration_s == pytest.approx(truth["duration_s"], abs=0.01)
    assert engine.position_s == pytest.approx(fin.duration_s)


def _until_still(engine: Engine, timeout: float = 10.0) -> None:
    """Wait until the engine's audio clock stops moving (three equal readings 50 ms apart)."""
    deadline = time.monotonic() + timeout
    last, same = engine.position_s, 0
    while same < 3:
        assert time.monotonic() < deadline, "the audio clock kept moving while paused"
        time.sleep(0.05)
        now = engine.position_s
        same = same + 1 if now == last else 0
        last = now


def test_pause_stops_the_audio_clock_and_resume_continues():
    path, _ = notes_clip([57, 60, 62, 64, 67, 69], spacing_s=0.5)
    engine = Engine(FileSource(path, realtime=True))
    events = _collect(engine)
    started = threading.Event()
    engine.subscribe(lambda e: started.set() if isinstance(e, LevelUpdate) else None)
    engine.start()
    assert started.wait(30)
    engine.pause()
    assert engine.paused
    _until_still(engine)  # a block in flight when pause() came may still be counted
    frozen = engine.position_s
    n_events = len(events)
    time.sleep(0.6)
    assert engine.position_s == frozen  # no audio consumed while paused
    assert len(events) == n_events
    engine.resume()
    assert not engine.paused
    assert engine.join(60)
    fin = events[-1]
    assert isinstance(fin, EngineFinished)
    total = FileSource(path)
    total.open()
    assert fin.duration_s == pytest.approx(total.duration_s, abs=0.01)  # pause not counted
    total.close()
    notes = [e for e in events if isinstance(e, NoteEvent)]
    assert notes == analyze_file(path).notes


def test_stop_ends_the_engine_early():
    engine = Engine(SyntheticSource(seed=1, realtime=True))
    events = _collect(engine)
    engine.start()
    time.sleep(0.3)
    engine.stop()
    assert engine.join(30)
    assert isinstance(events[-1], EngineFinished) and events[-1].reason == "stopped"
    assert engine.position_s < 5.0


def test_bad_file_becomes_an_engine_error_event(tmp_path: Path):
    bad = tmp_path / "x.wav"
    bad.write_text("not audio at all" * 20)
    engine = Engine(FileSource(bad))
    events = _collect(engine)
    engine.start()
    assert engine.join(30)
    assert len(events) == 1 and isinstance(events[0], EngineError)
    assert "cannot read x.wav" in events[0].message and events[0].exit_code == 5
    with pytest.raises(AudioError):
        Engine(FileSource(bad)).run_sync()


def test_unknown_pitch_model_is_a_usage_error_event(tmp_path: Path):
    path, _ = notes_clip([57], spacing_s=0.5)
    engine = Engine(FileSource(path), pitch_model="yin9000")
    events = _collect(engine)
    engine.start()
    engine.join(30)
    assert isinstance(events[0], EngineError) and "unknown pitch model" in events[0].message
    with pytest.raises(UsageError):
        analyze_file(path, pitch_model="yin9000")


def test_crashing_subscriber_is_reported_not_raised():
    path, _ = notes_clip([57, 60], spacing_s=0.5)
    engine = Engine(FileSource(path))
    events: list = []

    def bad(e):
        if isinstance(e, NoteEvent):
            raise RuntimeError("boom")
        events.append(e)

    engine.subscribe(bad)
    engine.start()
    assert engine.join(30)
    assert isinstance(events[-1], EngineError) and "boom" in events[-1].message


def test_synthetic_demo_source_is_deterministic_and_tracked():
    a = SyntheticSource(seed=7)
    notes = Engine(a).run_sync()
    again = Engine(SyntheticSource(seed=7)).run_sync()
    assert notes == again
    truth = [round(p.midi) for p in a.truth]
    assert [n.nearest_midi for n in notes if n.is_note] == truth
    onsets = np.array([n.onset_s for n in notes])
    assert np.abs(onsets - np.array([p.onset_s for p in a.truth])).max() < 0.05
