"""The soxr-backed resampler: pitch kept, length exact, streaming equal to one-shot."""

from __future__ import annotations

import numpy as np
import pytest

from fretcoach_cli.audio.resample import MODEL_RATE, StreamResampler, resample


def _tone(rate: int, seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(x: np.ndarray, rate: int = MODEL_RATE) -> float:
    """Peak of a zero-padded spectrum, refined by a parabola through the top three bins."""
    n = 1 << 20
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1: k + 2])
    return float((k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / n)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("hz", [82.41, 440.0, 1318.5])
def test_pure_tone_keeps_its_frequency_and_level(rate: int, hz: float) -> None:
    y = resample(_tone(rate, 2.0, hz), rate)
    assert len(y) == 2 * MODEL_RATE
    assert abs(_peak_hz(y[1000:-1000]) - hz) < 0.02  # a wrong ratio would be off by Hz
    assert np.abs(y[1000:-1000]).max() == pytest.approx(0.5, abs=0.01)  # passband gain ≈ 1


def test_no_delay_an_impulse_stays_at_its_time() -> None:
    x = np.zeros(44100, np.float32)
    x[22050] = 1.0  # t = 0.5 s
    assert int(np.argmax(resample(x, 44100))) == 8000


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_blockwise_streaming_equals_one_shot(rate: int) -> None:
    x = np.random.default_rng(rate).standard_normal(3 * rate).astype(np.float32) * 0.1
    whole = resample(x, rate)
    r = StreamResampler(rate)
    rng = np.random.default_rng(7)
    parts, i = [], 0
    while i < len(x):
        k = int(rng.choice([0, 1, 3, 64, 471, 1024, 4096, 30000]))
        parts.append(r.process(x[i:i + k]))
        i += k
    parts.append(r.flush())
    streamed = np.concatenate(parts)
    assert len(streamed) == len(whole) == 3 * MODEL_RATE
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 441, 44099, 44101])
def test_length_is_the_input_duration_rounded_up(n: int) -> None:
    x = np.ones(n, np.float32)
    assert len(resample(x, 44100)) == -(-n * 160 // 441)


def test_16k_input_passes_through_untouched() -> None:
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    r = StreamResampler(MODEL_RATE)
    assert np.array_equal(r.process(x), x)
    assert len(r.flush()) == 0
