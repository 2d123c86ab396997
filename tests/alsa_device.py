"""A real ALSA capture device that "hears" an example recording, for PortAudio tests.

No sound card exists here, so the tests make one out of alsa-lib's own plugins, declared in
a ``.asoundrc`` under a throw-away ``HOME`` (alsa-lib reads ``$HOME/.asoundrc``; PortAudio
lists a PCM that has a ``hint``):

* ``fretcoach_file``: a ``file`` PCM whose capture data is read from ``infile`` (its
  ``null`` slave makes the silence it replaces);
* ``fretcoach_mic``: a ``plug`` over it, the device the tests open.

The ``file`` PCM reads raw bytes in whatever format and rate the stream was opened with (the
``null`` slave accepts anything, so alsa-lib converts nothing): MicSource asks for float32
mono at 16 kHz first, so that is what the pipe carries. (Asking for another rate would make
the same bytes play at that rate; the tests do not.)

The ``infile`` is a named pipe fed by a thread in real time, which paces the device like a
sound card would (a plain file would be read as fast as the CPU allows). The thread writes
4096-byte chunks: a pipe write that size is atomic, and alsa-lib's reader takes whatever one
read returns, so smaller writes would hand it torn frames. Every time the device is opened
(PortAudio also opens it briefly to learn its capabilities) the recording starts over; the
pipe's own buffer (64 kB, 1 s) is the device's buffer, so a late reader gets at most that
in a burst.

``jack_input`` is the other kind of device: one that refuses 16 kHz. A JACK server with its
``dummy`` driver (real-time paced, no hardware) runs at 44.1 kHz only, and ``jack-play``
plays the example into it; PortAudio's JACK host API lists each JACK client with output
ports as an input device and connects to those ports when a stream opens. (alsa-lib cannot
make such a device: its ``file`` PCM only reads its ``infile`` correctly when nothing
converts rate or format above it, and no plugin constrains rate without converting.)
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

RATE = 16000  # what MicSource asks for first, and gets: the pipe carries float32 at 16 kHz
CHUNK_FRAMES = 1024  # 4096 bytes of float32 mono: one atomic pipe write
DEVICE = "fretcoach_mic"

ASOUNDRC = """\
pcm.fretcoach_file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{fifo}"
    format "raw"
}}
pcm.{device} {{
    type plug
    slave.pcm "fretcoach_file"
    hint {{
        show on
        description "fretcoach test input"
    }}
}}
"""


@dataclass
class AlsaInput:
    env: dict[str, str]  # merge into a subprocess's environment
    device: str
    samples: np.ndarray  # what the device plays, float32 at RATE


def _samples(path: Path) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    if sr != RATE:
        g = np.gcd(int(sr), RATE)
        mono = resample_poly(mono, RATE // g, int(sr) // g)
    return np.clip(mono, -1.0, 1.0).astype("<f4")


def _feed(fifo: Path, samples: np.ndarray, stop: threading.Event) -> None:
    """Play ``samples`` (then silence) into the pipe in real time, once per reader."""
    silence = bytes(4 * CHUNK_FRAMES)
    while not stop.is_set():
        try:
            with open(fifo, "wb", buffering=0) as pipe:  # blocks until a reader opens it
                t0 = time.monotonic()
                i = 0
                while not stop.is_set():
                    chunk = samples[i:i + CHUNK_FRAMES].tobytes()
                    before = time.monotonic()
                    pipe.write(chunk.ljust(len(silence), b"\0"))
                    if time.monotonic() - before > 0.05:  # nobody was reading: keep the
                        t0 = time.monotonic() - i / RATE  # clock from running ahead
                    i += CHUNK_FRAMES
                    delay = t0 + i / RATE - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except BrokenPipeError:
            continue  # the reader closed the device: start over for the next one
        except OSError as exc:  # pragma: no cover - only if the pipe vanished at teardown
            if exc.errno != errno.ENOENT:
                raise
            return


@contextlib.contextmanager
def alsa_input(recording: Path, tmp: Path) -> Iterator[AlsaInput]:
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    fifo = tmp / "capture.pipe"
    os.mkfifo(fifo)
    (home / ".asoundrc").write_text(ASOUNDRC.format(fifo=fifo, device=DEVICE))
    samples = _samples(recording)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(fifo, samples, stop), daemon=True)
    feeder.start()
    try:
        yield AlsaInput({"HOME": str(home)}, DEVICE, samples)
    finally:
        stop.set()
        # a feeder blocked in open() waits for a reader: be that reader once
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        feeder.join(5)


JACK_RATE = 44100
_servers = itertools.count()


@dataclass
class JackInput:
    env: dict[str, str]  # merge into a subprocess's environment
    device: str  # the player's JACK client name, which PortAudio lists as a device
    server: subprocess.Popen  # jackd: kill it to "unplug" the device


def _jack_ports(env: dict[str, str]) -> list[str]:
    out = subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env, timeout=10)
    return out.stdout.split() if out.returncode == 0 else []


def _until(what: str, ok, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise RuntimeError(f"JACK test device: {what} did not happen in {seconds:.0f} s")
        time.sleep(0.05)


@contextlib.contextmanager
def jack_input(recording: Path) -> Iterator[JackInput]:
    """A private JACK server (dummy driver, 44.1 kHz) with ``recording`` playing into it."""
    # jackd logs to a file: an undrained pipe would stall it once xrun messages filled it
    with tempfile.TemporaryFile("w+") as log:
        yield from _jack_session(recording, log)


def _jack_session(recording: Path, log: IO[str]) -> Iterator[JackInput]:
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"fretcoach-test-{os.getpid()}-{next(_servers)}",
           "JACK_NO_AUDIO_RESERVATION": "1"}
    server = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", str(JACK_RATE),
                               "-p", "1024"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    player = None
    try:
        _until("jackd start", lambda: server.poll() is not None or bool(_jack_ports(env)))
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"jackd exited: {log.read()[-2000:]}")
        player = subprocess.Popen(["jack-play", str(recording)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        name = f"jack-play-{player.pid}"
        _until("jack-play start", lambda: f"{name}:out_1" in _jack_ports(env))
        yield JackInput({"JACK_DEFAULT_SERVER": env["JACK_DEFAULT_SERVER"]}, name, server)
    finally:
        for proc in (player, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        # clients that outlived their server leave their semaphores behind
        for left in Path("/dev/shm").glob(f"jack*_{env['JACK_DEFAULT_SERVER']}_*"):
            with contextlib.suppress(OSError):
                left.unlink()
