"""Where audio comes from: a file, a microphone, or a deterministic synthetic demo.

Every source yields float32 mono blocks at the model rate (16 kHz) through one small
interface, so the engine never cares which it has. ``read`` returns a block, an empty array
(nothing yet, try again) or ``None`` (end of input). Times are counted in samples by the
engine, never by the wall clock.
"""

from __future__ import annotations

import queue
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fretcoach_cli.audio.resample import MODEL_RATE, StreamResampler
from fretcoach_cli.errors import AudioError, NotFoundError, UsageError

BLOCK = 1024  # 64 ms at 16 kHz
READ_S = 1.0  # audio per libsndfile read of a file (handed out BLOCK by BLOCK)
MIN_RATE, MAX_RATE = 8000, 384000
MIN_SECONDS = 0.05  # shorter than this cannot hold a note onset and a pitch
STALL_S = 3.0  # a live input silent this long (not paused) has gone: unplugged, server quit

PORTAUDIO_HINT = "install the PortAudio library (Debian/Ubuntu: sudo apt-get install libportaudio2)"
NO_DEVICE_HINT = ("connect a microphone or audio interface, or work from a recording: "
                  "fretcoach analyze FILE --scale S, or practice --input FILE")


class Source(Protocol):
    rate: int
    label: str

    def open(self) -> None: ...
    def read(self, timeout: float = 0.1) -> np.ndarray | None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def close(self) -> None: ...


def _pick_channel(data: np.ndarray, channel: int | None, channels: int, what: str) -> np.ndarray:
    """Mono from a (frames, channels) array: 1-based ``channel`` or the mix when None."""
    if channel is None:
        return data.mean(axis=1) if channels > 1 else data[:, 0]
    return data[:, channel - 1]


def _check_channel(channel: int | None, channels: int, what: str) -> None:
    if channel is not None and not 1 <= channel <= channels:
        raise UsageError(f"channel {channel} does not exist in {what}",
                         hint=f"it has {channels} channel(s): 1–{channels}")


class _Pacer:
    """Releases blocks no faster than real time, re-anchoring after pauses (no catch-up burst)."""

    def __init__(self) -> None:
        self._t0: float | None = None
        self._samples = 0

    def wait(self, n: int, rate: int) -> None:
        now = time.monotonic()
        if self._t0 is None:
            self._t0, self._samples = now, 0
        due = self._t0 + self._samples / rate
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.25:  # we fell behind (pause, slow consumer): start afresh
            self._t0, self._samples = now, 0
        self._samples += n

    def reset(self) -> None:
        self._t0 = None


class FileSource:
    """Stream a sound file (WAV/FLAC/OGG/MP3… as libsndfile reads them) as 16 kHz mono blocks.

    ``channel`` is 1-based; None mixes all channels. ``realtime`` paces blocks at the audio's
    own speed (practising along to a recording); otherwise blocks come as fast as asked for.
    The file is read :data:`READ_S` at a time and handed out in the same 64 ms blocks as
    before: every libsndfile read of a FLAC seeks back to where it was (≈ 80 µs, a frame
    decoded again), 5× the decoding itself at 64 ms per read.
    """

    def __init__(self, path: str | Path, *, channel: int | None = None, realtime: bool = False,
                 block: int = BLOCK) -> None:
        self.path = Path(path)
        self.channel = channel
        self.realtime = realtime
        self.rate = MODEL_RATE
        self.label = str(self.path)
        self._block_in = block
        self._sf: Any = None
        self._ahead = np.zeros((0, 1), dtype=np.float32)  # read from the file, not yet out
        self._eof = False  # the file has no more frames to read
        self._res: StreamResampler | None = None
        self._pacer = _Pacer()
        self._done = False
        self._flushed = False
        self.source_rate = 0
        self.channels = 0
        self.frames = 0

    @property
    def duration_s(self) -> float:
        return self.frames / self.source_rate if self.source_rate else 0.0

    def open(self) -> None:
        """Open and validate the file (idempotent: the CLI opens early to fail fast)."""
        import soundfile as sf

        if self._sf is not None or self._done:
            return
        p = self.path
        if not p.exists():
            raise NotFoundError(f"audio file not found: {p}")
        if p.is_dir():
            raise AudioError(f"{p} is a directory, not an audio file")
        if not stat.S_ISREG(p.stat().st_mode):  # a FIFO or a device has size 0 but is not empty
            raise AudioError(f"{p} is not a regular file (a pipe, socket or device)",
                             hint="give a recording saved as a file")
        if p.stat().st_size == 0:
            raise AudioError(f"{p} is empty (0 bytes)")
        try:
            f = sf.SoundFile(str(p))
        except sf.LibsndfileError as exc:
            reason = _sf_reason(exc)
            if "not a regular file" in reason:  # libsndfile's words for bytes it cannot place
                reason = "format not recognised"
            raise AudioError(f"cannot read {p.name}: {reason}",
                             hint="use WAV, FLAC, OGG or MP3") from None
        except (RuntimeError, OSError, TypeError) as exc:
            raise AudioError(f"cannot read {p.name}: {exc}",
                             hint="use WAV, FLAC, OGG or MP3") from None
        self._check(f)
        self._sf = f
        self.source_rate, self.channels, self.frames = f.samplerate, f.channels, f.frames
        self._res = StreamResampler(f.samplerate, MODEL_RATE)
        # read at least one block of 64 ms of *source* audio at a time
        self._block_in = max(self._block_in, round(f.samplerate * BLOCK / MODEL_RATE))

    def _check(self, f: Any) -> None:
        name = self.path.name
        if not MIN_RATE <= f.samplerate <= MAX_RATE:
            f.close()
            raise AudioError(f"{name}: unsupported sample rate {f.samplerate} Hz",
                             hint=f"use {MIN_RATE // 1000}–{MAX_RATE // 1000} kHz")
        if f.frames <= 0:
            f.close()
            raise AudioError(f"{name} contains no audio samples")
        if f.frames < MIN_SECONDS * f.samplerate:
            f.close()
            raise AudioError(f"{name} is too short to analyse "
                             f"({f.frames} sample{'s' if f.frames != 1 else ''}, "
                             f"{1000 * f.frames / f.samplerate:.1f} ms)",
                             hint=f"need at least {MIN_SECONDS * 1000:.0f} ms")
        try:
            _check_channel(self.channel, f.channels, name)
        except UsageError:
            f.close()
            raise

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        import soundfile as sf

        if self._sf is None:
            self.open()
        assert self._res is not None
        if self._done:
            if not self._flushed:
                self._flushed = True
                tail = self._res.flush()
                if len(tail):
                    return tail
            return None
        if len(self._ahead) < self._block_in and not self._eof:
            want = max(self._block_in, round(READ_S * self.source_rate))
            try:
                more = self._sf.read(want, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(f"{self.path.name}: read failed part-way "
                                 f"({_sf_reason(exc)}); the file may be truncated") from None
            self._eof = len(more) < want
            self._ahead = more if not len(self._ahead) else np.concatenate([self._ahead, more])
        data, self._ahead = self._ahead[:self._block_in], self._ahead[self._block_in:]
        if len(data) < self._block_in:
            self._done = True
        if len(data) == 0:
            return self.read(timeout)
        mono = _pick_channel(data, self.channel, data.shape[1], self.path.name)
        if not np.isfinite(mono).all():  # (cheaper than nan_to_num on every clean block)
            mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
        out = self._res.process(mono)
        if self.realtime:
            self._pacer.wait(len(data), self.source_rate)
        return out

    def pause(self) -> None:
        self._pacer.reset()

    def resume(self) -> None:
        self._pacer.reset()

    def close(self) -> None:
        if self._sf is not None:
            self._sf.close()
            self._sf = None


def _sf_reason(exc: Exception) -> str:
    text = str(exc)
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    return text.strip().rstrip(".") or type(exc).__name__


class ArraySource:
    """Blocks from an in-memory array (already mono); resampled if ``rate`` is not 16 kHz."""

    def __init__(self, audio: np.ndarray, rate: int = MODEL_RATE, *, label: str = "array",
                 realtime: bool = False, block: int = BLOCK) -> None:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise AudioError("array source needs mono audio (1-D)")
        if not MIN_RATE <= rate <= MAX_RATE:
            raise AudioError(f"unsupported sample rate {rate} Hz")
        self.audio, self.source_rate = audio, int(rate)
        self.rate, self.label, self.realtime = MODEL_RATE, label, realtime
        self._block = max(block, round(rate * block / MODEL_RATE))
        self._pos = 0
        self._res = StreamResampler(rate, MODEL_RATE)
        self._pacer = _Pacer()
        self._flushed = False

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.source_rate

    def open(self) -> None:
        pass

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        if self._pos >= len(self.audio):
            if not self._flushed:
                self._flushed = True
                return self._res.flush()
            return None
        chunk = self.audio[self._pos:self._pos + self._block]
        self._pos += len(chunk)
        if self.realtime:
            self._pacer.wait(len(chunk), self.source_rate)
        return self._res.process(chunk)

    def pause(self) -> None:
        self._pacer.reset()

    def resume(self) -> None:
        self._pacer.reset()

    def close(self) -> None:
        pass


class SyntheticSource(ArraySource):
    """A deterministic plucked-string scale run (A minor pentatonic), for the demo and tests."""

    def __init__(self, seed: int = 0, *, bpm: float = 100.0, realtime: bool = False,
                 noise_db: float | None = -70.0) -> None:
        from fretcoach_cli.audio import synth

        self.truth = synth.demo_run(seed, bpm=bpm)
        audio = synth.render(self.truth, noise_db=noise_db, seed=seed)
        super().__init__(audio, MODEL_RATE, label=f"synthetic demo (seed {seed})",
                         realtime=realtime)


# --------------------------------------------------------------------------- microphone


def import_sounddevice() -> Any:
    """sounddevice, or an AudioError naming the missing system library."""
    try:
        import sounddevice as sd
    except OSError as exc:  # "PortAudio library not found"
        raise AudioError(f"audio input unavailable: {exc}", hint=PORTAUDIO_HINT) from None
    except ImportError as exc:
        raise AudioError(f"audio input unavailable: {exc}",
                         hint="pip install sounddevice") from None
    return sd


def input_devices(sd: Any | None = None) -> list[dict[str, Any]]:
    """Input-capable devices: index, name, channels, default rate, default flag, host API."""
    sd = sd or import_sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0] if sd.default.device else -1
        apis = sd.query_hostapis()
    except Exception as exc:  # PortAudioError and friends
        raise AudioError(f"cannot list audio devices: {exc}", hint=PORTAUDIO_HINT) from None
    out = []
    for d in devices:
        if d.get("max_input_channels", 0) > 0:
            api = apis[d["hostapi"]]["name"] if d.get("hostapi", -1) >= 0 else ""
            out.append({"index": d["index"], "name": d["name"],
                        "channels": d["max_input_channels"],
                        "default_rate": float(d["default_samplerate"]),
                        "default": d["index"] == default_in, "hostapi": api})
    return out


def resolve_device(spec: str | int | None, devices: list[dict[str, Any]]) -> dict[str, Any]:
    """Pick an input device by index, name substring (case-insensitive) or the default."""
    if not devices:
        raise AudioError("no audio input device found", hint=NO_DEVICE_HINT)
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        for d in devices:
            if d["default"]:
                return d
        return devices[0]
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        idx = int(text)
        for d in devices:
            if d["index"] == idx:
                return d
        raise AudioError(f"no input device with index {idx}",
                         hint="run 'fretcoach devices' to list them")
    hits = [d for d in devices if text.lower() in d["name"].lower()]
    if not hits:
        raise AudioError(f"no input device matches {text!r}",
                         hint="run 'fretcoach devices' to list them")
    if len(hits) > 1:
        exact = [d for d in hits if d["name"].lower() == text.lower()]
        if len(exact) == 1:
            return exact[0]
        names = ", ".join(f"{d['index']}: {d['name']}" for d in hits[:4])
        raise AudioError(f"{text!r} matches several input devices ({names})",
                         hint="give the index instead")
    return hits[0]


class MicSource:
    """Live input through PortAudio. The callback only copies blocks into a bounded queue.

    Anything more in the callback (resampling, analysis) would hold the GIL in the audio
    thread and cause dropouts; overflows are counted, never raised. During a pause the
    callback drops blocks so audio time stops and nothing stale is analysed on resume.
    A device that stops delivering (unplugged, its audio server quit) raises AudioError from
    ``read`` instead of leaving the caller waiting forever for audio time to pass.
    """

    def __init__(self, device: str | int | None = None, *, channel: int = 1,
                 rate: int | None = None, block: int = 512, max_queue_s: float = 4.0) -> None:
        self.device_spec = device
        self.channel = channel
        self.requested_rate = rate
        self.rate = MODEL_RATE
        self.label = "microphone"
        self.overflows = 0
        self.dropped_blocks = 0
        self.source_rate = 0
        self._block = block
        self._max_queue_s = max_queue_s
        self._q: queue.Queue[np.ndarray] | None = None
        self._stream: Any = None
        self._res: StreamResampler | None = None
        self._paused = threading.Event()
        self._last_block = 0.0
        self._dead = False
        self.device: dict[str, Any] = {}

    def open(self) -> None:
        """Find the device and start capturing (idempotent)."""
        if self._stream is not None:
            return
        sd = import_sounddevice()
        dev = resolve_device(self.device_spec, input_devices(sd))
        _check_channel(self.channel, dev["channels"], f"device {dev['name']!r}")
        rate = self._negotiate(sd, dev)
        self.device, self.source_rate = dev, rate
        self.label = f"{dev['name']} (#{dev['index']}, ch {self.channel}, {rate} Hz)"
        blocks = max(4, int(self._max_queue_s * rate / self._block))
        self._q = queue.Queue(maxsize=blocks)
        self._res = StreamResampler(rate, MODEL_RATE)
        ch = self.channel - 1
        q, paused = self._q, self._paused

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status and getattr(status, "input_overflow", False):
                self.overflows += 1
            if paused.is_set():
                return
            try:
                q.put_nowait(indata[:, ch].copy())
            except queue.Full:
                self.dropped_blocks += 1

        try:
            self._stream = sd.InputStream(device=dev["index"], channels=self.channel,
                                          samplerate=rate, blocksize=self._block,
                                          dtype="float32", callback=callback)
            self._stream.start()
            self._last_block = time.monotonic()
        except Exception as exc:  # PortAudioError: busy, vanished, refused
            self._stream = None
            raise AudioError(f"cannot open input device {dev['name']!r}: {exc}",
                             hint="is another program using it? try another --device") from None

    def _negotiate(self, sd: Any, dev: dict[str, Any]) -> int:
        tried = []
        candidates = ([self.requested_rate] if self.requested_rate else
                      [MODEL_RATE, int(dev["default_rate"]), 48000, 44100])
        for rate in dict.fromkeys(candidates):
            try:
                sd.check_input_settings(device=dev["index"], channels=self.channel,
                                        samplerate=rate, dtype="float32")
                return int(rate)
            except Exception:
                tried.append(str(rate))
        raise AudioError(f"device {dev['name']!r} accepts none of the sample rates "
                         f"{', '.join(tried)} Hz", hint="pick another device or rate")

    def read(self, timeout: float = 0.1) -> np.ndarray | None:
        if self._stream is None:
            self.open()
        assert self._q is not None and self._res is not None
        try:
            block = self._q.get(timeout=timeout)
        except queue.Empty:
            self._check_alive()
            return np.zeros(0, dtype=np.float32)
        self._last_block = time.monotonic()
        return self._res.process(block)

    def _check_alive(self) -> None:
        """Raise if the stream has died or gone silent (no callbacks) while not paused."""
        if self._paused.is_set():
            self._last_block = time.monotonic()
            return
        name = self.device.get("name", "?")
        try:
            active = bool(self._stream.active)
        except Exception:  # PortAudioError on a stream whose host API went away
            active = False
        silent = time.monotonic() - self._last_block
        if not active or silent > STALL_S:
            self._dead = True
            why = "stopped" if not active else f"delivered no audio for {silent:.0f} s"
            raise AudioError(f"input device {name!r} {why} (unplugged, or its audio server quit?)",
                             hint="reconnect it and start again; 'fretcoach devices' lists inputs")

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        if self._q is not None:  # discard anything captured around the pause
            while True:
                try:
                    self._q.get_nowait()
                except queue.Empty:
                    break
        self._last_block = time.monotonic()
        self._paused.clear()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if not self._dead:
            stream.stop()
            stream.close()
            return
        # A dead stream's stop can block forever in PortAudio (JACK waits for a server that
        # has quit): try it on a daemon thread, and give up on the stream if it does not return.
        def stop() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # already gone: nothing left to stop
                pass

        t = threading.Thread(target=stop, name="mic-close", daemon=True)
        t.start()
        t.join(1.0)
        if t.is_alive():  # PortAudio is stuck on it: its exit-time Pa_Terminate would be too
            import atexit
            import sys

            handler = getattr(sys.modules.get("sounddevice"), "_exit_handler", None)
            if handler is not None:
                atexit.unregister(handler)


def iter_blocks(source: Source) -> Iterator[np.ndarray]:
    """Every block of a finite source (opens it; caller closes)."""
    source.open()
    while True:
        block = source.read()
        if block is None:
            return
        if len(block):
            yield block
