"""Sources and resampling on real files: formats, rates, channels and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fretcoach_cli.audio.resample import StreamResampler, resample
from fretcoach_cli.audio.sources import ArraySource, FileSource, iter_blocks, resolve_device
from fretcoach_cli.errors import AudioError, NotFoundError, UsageError


def _read_all(src) -> np.ndarray:
    out = list(iter_blocks(src))
    src.close()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _tone(rate: int, seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(x: np.ndarray, rate: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), 1 << 18))
    return float(np.argmax(spec) * rate / (1 << 18))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 192000])
def test_file_resampled_to_16k_keeps_pitch_and_length(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"tone{rate}.wav"
    sf.write(path, _tone(rate, 1.0, 330.0), rate)
    src = FileSource(path)
    x = _read_all(src)
    assert src.source_rate == rate
    assert abs(len(x) - 16000) <= 1
    assert abs(_peak_hz(x) - 330.0) < 0.5
    mid = x[2000:-2000]
    assert 0.3 < np.abs(mid).max() < 0.55  # passband gain ≈ 1


def test_resampler_output_does_not_depend_on_block_sizes() -> None:
    x = np.random.default_rng(1).standard_normal(44100).astype(np.float32) * 0.1
    whole = resample(x, 44100)
    r = StreamResampler(44100)
    parts, i = [], 0
    for k in [1, 7, 1000, 33, 5000, 2, 40000]:
        parts.append(r.process(x[i:i + k]))
        i += k
    parts.append(r.process(x[i:]))
    parts.append(r.flush())
    assert np.array_equal(np.concatenate(parts), whole)


def test_stereo_channel_choice_and_mix(tmp_path: Path) -> None:
    left, right = _tone(44100, 0.5, 220.0), _tone(44100, 0.5, 440.0)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 44100)
    assert abs(_peak_hz(_read_all(FileSource(path, channel=1))) - 220) < 1
    assert abs(_peak_hz(_read_all(FileSource(path, channel=2))) - 440) < 1
    mix = _read_all(FileSource(path))
    spec = np.abs(np.fft.rfft(mix))
    hz = np.fft.rfftfreq(len(mix), 1 / 16000)
    assert spec[np.argmin(abs(hz - 220))] > 0.3 * spec.max()
    assert spec[np.argmin(abs(hz - 440))] > 0.3 * spec.max()
    with pytest.raises(UsageError, match="channel 3"):
        FileSource(path, channel=3).open()


def test_mp3_and_ogg_are_read(tmp_path: Path) -> None:
    for ext, fmt in (("ogg", "OGG"), ("mp3", "MP3")):
        path = tmp_path / f"tone.{ext}"
        sf.write(path, _tone(44100, 1.0, 196.0), 44100, format=fmt)
        x = _read_all(FileSource(path))
        assert abs(len(x) - 16000) < 1600  # codecs pad a little
        assert abs(_peak_hz(x) - 196.0) < 1.0


# ------------------------------------------------------------------ bad inputs


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        FileSource(tmp_path / "nope.wav").open()


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        FileSource(p).open()


def test_non_audio_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match=r"cannot read notes\.wav"):
        FileSource(p).open()


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="directory"):
        FileSource(tmp_path).open()


def test_zero_length_audio(tmp_path: Path) -> None:
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        FileSource(p).open()


def test_one_sample_audio(tmp_path: Path) -> None:
    p = tmp_path / "one.wav"
    sf.write(p, np.zeros(1, np.float32), 16000)
    with pytest.raises(AudioError, match=r"too short .*1 sample,"):
        FileSource(p).open()


def test_truncated_wav_reads_what_is_there(tmp_path: Path) -> None:
    p = tmp_path / "cut.wav"
    sf.write(p, _tone(16000, 2.0), 16000, subtype="PCM_16")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])  # header still claims 2 s
    x = _read_all(FileSource(p))
    assert 0.9 * 16000 < len(x) < 1.1 * 16000


def test_corrupt_flac(tmp_path: Path) -> None:
    p = tmp_path / "bad.flac"
    sf.write(p, _tone(16000, 1.0), 16000)
    data = bytearray(p.read_bytes())
    data[100:400] = b"\x00" * 300  # wipe the stream header area
    p.write_bytes(bytes(data))
    with pytest.raises(AudioError):
        _read_all(FileSource(p))


def test_unsupported_rate(tmp_path: Path) -> None:
    p = tmp_path / "low.wav"
    sf.write(p, np.zeros(4000, np.float32), 4000)
    with pytest.raises(AudioError, match="unsupported sample rate 4000"):
        FileSource(p).open()


def test_nan_samples_do_not_poison_the_stream(tmp_path: Path) -> None:
    x = _tone(16000, 0.5)
    x[100:200] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    assert np.isfinite(_read_all(FileSource(p))).all()


def test_array_source_rejects_stereo_arrays() -> None:
    with pytest.raises(AudioError, match="mono"):
        ArraySource(np.zeros((100, 2), np.float32))


def test_device_resolution_rules() -> None:
    devs = [{"index": 0, "name": "HDA Intel: ALC (hw:0,0)", "channels": 2, "default": False},
            {"index": 3, "name": "Scarlett 2i2 USB", "channels": 2, "default": True},
            {"index": 4, "name": "Scarlett Solo USB", "channels": 1, "default": False}]
    assert resolve_device(None, devs)["index"] == 3
    assert resolve_device("4", devs)["index"] == 4
    assert resolve_device("2i2", devs)["index"] == 3
    with pytest.raises(AudioError, match="several"):
        resolve_device("scarlett", devs)
    with pytest.raises(AudioError, match="index 9"):
        resolve_device(9, devs)
    with pytest.raises(AudioError, match="no audio input device found"):
        resolve_device(None, [])
