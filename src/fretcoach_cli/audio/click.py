"""The metronome click: pure sample generation on the audio clock, and a small output wrapper.

:func:`render_clicks` writes the clicks that fall in one block of audio time into a buffer, so
the click is generated on the same clock the input is judged on (sample index / rate), in
whatever block sizes an output stream asks for. The downbeat is higher and louder (the
accent). :class:`ClickPlayer` plays it through a sounddevice output stream (imported lazily);
a machine without an output device gets one notice and a silent click, never a failure.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

CLICK_S = 0.025  # a short tick: long enough to hear, short enough not to blur the beat
ACCENT_HZ = 1760.0
BEAT_HZ = 1320.0
BEAT_GAIN = 0.5  # an ordinary beat relative to the accented downbeat
DECAY_S = 0.006
SAMPLE_RATE = 44100

BeatSource = Callable[[float, float], Sequence[tuple[float, bool]]]


def click_wave(sample_rate: int, *, accent: bool, volume: float) -> np.ndarray:
    """One click: a decaying sine burst (float32, peak ``volume`` for the accent)."""
    n = round(CLICK_S * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    freq = ACCENT_HZ if accent else BEAT_HZ
    gain = volume * (1.0 if accent else BEAT_GAIN)
    wave = np.sin(2.0 * math.pi * freq * t) * np.exp(-t / DECAY_S) * gain
    return wave.astype(np.float32)


def render_clicks(beats: Sequence[tuple[float, bool]], start_s: float, frames: int,
                  sample_rate: int = SAMPLE_RATE, *, volume: float = 0.6) -> np.ndarray:
    """The click track for audio time [start_s, start_s + frames / rate): each beat
    ``(time, downbeat?)`` starts its click on its own sample, parts of clicks that began
    before the block included (so blocks joined end to end equal one long render)."""
    out = np.zeros(frames, dtype=np.float32)
    if volume <= 0.0:
        return out
    first = round(start_s * sample_rate)
    waves = {a: click_wave(sample_rate, accent=a, volume=volume) for a in (False, True)}
    for time_s, accent in beats:
        wave = waves[accent]
        at = round(time_s * sample_rate) - first
        lo, hi = max(at, 0), min(at + len(wave), frames)
        if lo < hi:
            out[lo:hi] += wave[lo - at:hi - at]
    return out


def block_clicks(source: BeatSource, start_s: float, frames: int,
                 sample_rate: int = SAMPLE_RATE, *, volume: float = 0.6) -> np.ndarray:
    """:func:`render_clicks` for the beats ``source(t0, t1)`` gives around this block."""
    end_s = start_s + frames / sample_rate
    beats = source(start_s - CLICK_S, end_s)
    return render_clicks(beats, start_s, frames, sample_rate, volume=volume)


def output_available() -> tuple[bool, str]:
    """Whether sounddevice has a default output device here (and why not)."""
    try:
        import sounddevice as sd

        info: Any = sd.query_devices(kind="output")
    except Exception as exc:  # no PortAudio, no device: the click stays silent
        return False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not info or int(info.get("max_output_channels", 0)) < 1:
        return False, "no output device"
    return True, str(info.get("name", "output"))


class ClickPlayer:
    """Plays a beat source through the default output device, or stays silent.

    ``clock_s`` (a callable) tells where the input's audio clock stands when the stream
    starts, so the output's sample count continues that clock. ``on_block(t)`` is told how far
    the click has been generated (the ramp locks those bars).
    """

    def __init__(self, source: BeatSource, *, volume: float, sample_rate: int = SAMPLE_RATE,
                 on_block: Callable[[float], None] | None = None) -> None:
        self.source = source
        self.volume = volume
        self.sample_rate = sample_rate
        self.on_block = on_block
        self.stream: Any = None
        self.silent_reason: str | None = None
        self._frames = 0
        self._offset_s = 0.0
        self._lock = threading.Lock()

    def start(self, clock_s: float = 0.0) -> str | None:
        """Open the output; returns a one-line notice when the click is silent, else None."""
        ok, detail = output_available()
        if not ok:
            self.silent_reason = detail
            return f"no audio output ({detail}): the click is silent, the beat is shown"
        try:
            import sounddevice as sd

            self._offset_s = clock_s
            self.stream = sd.OutputStream(samplerate=self.sample_rate, channels=1,
                                          dtype="float32", callback=self._callback)
            self.stream.start()
        except Exception as exc:
            self.stream = None
            self.silent_reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"cannot play the click ({self.silent_reason}): the beat is shown"
        return None

    def _callback(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        with self._lock:
            start = self._offset_s + self._frames / self.sample_rate
            self._frames += frames
        outdata[:, 0] = block_clicks(self.source, start, frames, self.sample_rate,
                                     volume=self.volume)
        if self.on_block is not None:
            self.on_block(start + frames / self.sample_rate)

    def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()
