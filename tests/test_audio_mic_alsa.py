"""The microphone path on a real PortAudio capture device (ALSA plugins fed in real time).

Everything here runs in subprocesses: PortAudio lists devices once, when ``sounddevice`` is
imported, and the device only exists under the temporary ``HOME`` of :mod:`alsa_device`
(or, for a device that refuses 16 kHz, on a private JACK server). Needs ``libportaudio2``,
``jackd2`` and ``jack-tools`` (``scripts/apt-packages.txt``, installed by ``scripts/test``);
without them these tests fail. They are skipped only off Linux (ALSA and this JACK set-up are
Linux's), never on the Debian CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from alsa_device import JACK_RATE, AlsaInput, JackInput, alsa_input, jack_input
from fretcoach_cli.audio.engine import analyze_file

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="ALSA capture devices exist only on Linux")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
LISTEN_S = 7.0


@pytest.fixture
def device(tmp_path: Path) -> Iterator[AlsaInput]:
    with alsa_input(EXAMPLE, tmp_path) as dev:
        yield dev


def run(args: list[str], dev: AlsaInput | JackInput,
        timeout: float = 120) -> subprocess.CompletedProcess:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **dev.env})
    assert "Traceback" not in out.stderr, out.stderr
    return out


def fc(*args: str, dev: AlsaInput) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "fretcoach_cli.cli.main", *args], dev)


def test_devices_lists_the_capture_device(device: AlsaInput) -> None:
    out = fc("devices", "--json", dev=device)
    assert out.returncode == 0, out.stderr
    found = [d for d in json.loads(out.stdout) if d["name"] == device.device]
    assert found, out.stdout
    assert found[0]["channels"] >= 1 and found[0]["default_rate"] > 0
    assert found[0]["hostapi"] == "ALSA"


def test_devices_test_hears_a_guitar_pitch(device: AlsaInput) -> None:
    out = fc("devices", "test", device.device, "--seconds", "3", "--json", dev=device)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert device.device in report["device"]
    assert report["seconds"] >= 2.9
    assert -40 < report["rms_db"] < 0 and not report["clipped"]
    assert report["pitch_hz"] is not None and report["voiced_share"] > 0.3
    assert report["overflows"] == 0


LISTEN = textwrap.dedent("""
    import json, sys, time
    from fretcoach_cli.audio.engine import Engine
    from fretcoach_cli.audio.sources import MicSource
    from fretcoach_cli.events import NoteEvent

    mic = MicSource(sys.argv[1])
    mic.open()
    import sounddevice as sd
    try:  # would the device have taken 16 kHz, MicSource's first choice?
        sd.check_input_settings(device=mic.device["index"], channels=1, samplerate=16000,
                                dtype="float32")
        takes_16k = True
    except Exception:
        takes_16k = False
    engine = Engine(mic)
    notes = []
    engine.subscribe(lambda e: notes.append(e) if isinstance(e, NoteEvent) else None)
    t0 = time.monotonic()
    engine.start()
    while engine.position_s < float(sys.argv[2]) and engine.error is None:
        time.sleep(0.02)
    wall = time.monotonic() - t0
    engine.stop()
    engine.join(10)
    print(json.dumps({"rate": mic.source_rate, "takes_16k": takes_16k,
                      "label": mic.label, "wall_s": wall,
                      "audio_s": engine.position_s, "error": str(engine.error or ""),
                      "lost": mic.overflows + mic.dropped_blocks,
                      "notes": [[n.onset_s, n.nearest_midi] for n in notes if n.is_note]}))
""")


def _aligned(heard: list, want: list) -> tuple[float, int, int]:
    """(lag, notes matched in a row, first heard note used) for the lag that lines ``heard``
    up with ``want`` best: the capture starts wherever the device's stream was when it was
    opened, so the first note heard may be the cut tail of one (then it is skipped)."""
    best = (0.0, 0, 0)
    for first in (0, 1):
        for w0, _ in want:
            lag = heard[first][0] - w0
            run = 0
            later = [x for x in want if x[0] >= w0 - 1e-9]
            for (t, m), (w, wm) in zip(heard[first:], later, strict=False):
                if m != wm or abs(t - lag - w) > 0.03:
                    break
                run += 1
            best = max(best, (lag, run, first), key=lambda b: b[1])
    return best


def _listen(dev: AlsaInput | JackInput, *, lossless: bool = True) -> tuple[dict, list, list]:
    """Run the engine on ``dev`` in a subprocess: (its report, notes heard, the file's notes).
    ``lossless=False`` leaves the check that no block was lost to the caller."""
    out = run([sys.executable, "-c", LISTEN, dev.device, str(LISTEN_S)], dev)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert not got["error"] and (got["lost"] == 0 or not lossless), got
    assert got["wall_s"] > LISTEN_S - 1.2  # a sound card's pace, not a burst
    assert got["audio_s"] >= LISTEN_S
    want = [(n.onset_s, n.nearest_midi) for n in analyze_file(EXAMPLE).notes if n.is_note]
    heard = [(t, m) for t, m in got["notes"]]
    assert len(heard) >= 10, got
    return got, heard, want


def test_engine_on_the_device_hears_the_recordings_notes(device: AlsaInput) -> None:
    """Live capture through PortAudio (rate negotiated, callback → queue → engine thread)
    gives the file's own notes, in order and on time, none lost, paced in real time."""
    got, heard, want = _listen(device)
    assert got["rate"] == 16000 and got["takes_16k"], got
    lag, run_, first = _aligned(heard, want)
    # every note heard before the last (which may have been cut by stopping) is the file's
    assert run_ >= len(heard) - first - 1, (lag, run_, heard, want[:20])


def test_engine_on_a_device_refusing_16k_resamples_its_rate(tmp_path: Path) -> None:
    """A JACK device runs at 44.1 kHz only: MicSource falls back to the device's own rate
    and resamples it itself; the notes are still the file's, on time."""
    tries = 3
    for attempt in range(tries):
        with jack_input(EXAMPLE) as dev:
            got, heard, want = _listen(dev, lossless=False)
        if got["lost"] == 0:
            break
        # the dummy JACK server overruns (xruns) when the machine is busy: the test rig's
        # loss, not the engine's; a later run on a quieter moment must lose nothing
        assert attempt < tries - 1, got
    assert not got["takes_16k"] and got["rate"] == JACK_RATE, got
    assert f"{JACK_RATE} Hz" in got["label"]
    lag, run_, first = _aligned(heard, want)
    assert run_ >= len(heard) - first - 1, (lag, run_, heard, want[:20])


PAUSE = textwrap.dedent("""
    import json, sys, time
    from fretcoach_cli.audio.engine import Engine
    from fretcoach_cli.audio.sources import MicSource
    from fretcoach_cli.events import NoteEvent

    def until(s):
        while engine.position_s < s and engine.error is None:
            time.sleep(0.02)

    mic = MicSource(sys.argv[1])
    engine = Engine(mic)
    notes = []
    engine.subscribe(lambda e: notes.append(e) if isinstance(e, NoteEvent) else None)
    engine.start()
    until(2.5)
    engine.pause()
    time.sleep(0.3)
    paused_at = engine.position_s
    time.sleep(1.7)  # the device keeps playing the recording meanwhile
    still = engine.position_s
    engine.resume()
    until(paused_at + 2.5)
    engine.stop()
    engine.join(10)
    print(json.dumps({"paused_at": paused_at, "still": still, "error": str(engine.error or ""),
                      "notes": [[n.onset_s, n.nearest_midi] for n in notes if n.is_note]}))
""")


def test_pause_stops_audio_time_and_resumes_without_stale_audio(device: AlsaInput) -> None:
    """A pause drops what the device plays meanwhile: audio time stands still, and after
    resuming the notes are the recording's from where it has got to, not a backlog."""
    out = run([sys.executable, "-c", PAUSE, device.device], device)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert not got["error"] and got["still"] == got["paused_at"], got
    want = [(n.onset_s, n.nearest_midi) for n in analyze_file(EXAMPLE).notes if n.is_note]
    before = [(t, m) for t, m in got["notes"] if t < got["paused_at"] - 0.1]
    after = [(t, m) for t, m in got["notes"] if t > got["paused_at"] + 0.05]
    assert len(before) >= 4 and len(after) >= 4, got
    lag_before, run_before, first = _aligned(before, want)
    assert run_before >= len(before) - first - 1, (before, want[:20])
    lag_after, run_after, first = _aligned(after, want)
    assert run_after >= len(after) - first - 1, (after, want[:20])
    # the recording went on for ~2 s of wall time that audio time skipped
    assert lag_before - lag_after > 1.0, (lag_before, lag_after, before, after)


def test_practice_from_the_device_saves_a_session(device: AlsaInput) -> None:
    out = fc("practice", "--scale", "A minor pentatonic", "--device", device.device,
             "--no-tui", "--duration", "6s", "--json", dev=device)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["total_notes_played"] >= 8, row
    assert row["in_scale_ratio"] > 0.9
    history = fc("history", "--json", dev=device)
    assert history.returncode == 0, history.stderr
    assert row["session_id"] in history.stdout


def test_practice_ends_and_saves_when_the_device_goes_away() -> None:
    """The audio server dies mid-session (like an interface being unplugged): practice must
    not wait forever for audio time that never comes, nor hang in PortAudio on the dead
    stream; it ends and saves what was played."""
    with jack_input(EXAMPLE) as dev:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fretcoach_cli.cli.main", "practice", "--scale",
             "A minor pentatonic", "--device", dev.device, "--no-tui", "--duration", "60s",
             "--json"], env={**os.environ, **dev.env}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            # a practice line on stderr means the session is listening
            assert proc.stderr is not None
            first = proc.stderr.readline()
            assert "notes" in first, first
            dev.server.terminate()
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    row = json.loads(out)
    assert row["total_notes_played"] >= 1, row
    warning = [ln for ln in err.splitlines() if ln.startswith("fretcoach: warning:")]
    assert len(warning) == 1 and "were saved" in warning[0], err
