"""Input latency: how much later the audio clock hears a pluck than the click it answers.

What is measured is the delay to subtract from an onset (audio clock of the input) to put it
on the click's grid: the click's output latency + the input latency (the player hears the
click late, plucks on it, and the pluck reaches us late again). Two ways:

* **Loopback** (an output wired to an input: a cable, or a JACK/ALSA loopback): a train of
  short chirps is played and recorded by one duplex stream, so output and input share a
  frame clock; each chirp's delay is the peak of the cross-correlation of the recording with
  the chirp, refined below a sample by a parabola through the peak and its neighbours.
* **Play-along** (no loopback): the player plucks on each of N clicks after a count-in; the
  engine's note onsets minus the click times are the latency. Each onset is first refined on
  the raw audio (the engine's onsets sit on its 8 ms hop grid, a few ms off the attack), so
  both methods measure the same physical delay. Hits more than ``OUTLIER_MS`` from the
  median are rejected; at least ``MIN_HITS`` must remain, spread no more than
  ``MAX_SPREAD_MS``, or the take is refused as too scattered.

Either way the result is the median of the repeated measurements, with their spread
(standard deviation) reported beside it. A recorded take (``calibrate --input FILE --bpm N``)
has its click grid at t = 0: the file starts on the first click after the count-in.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fretcoach_cli.errors import ExitCode, FretcoachError, NoNotesError
from fretcoach_cli.events import NoteDropped, NoteEnded, NoteEvent, NoteStarted

MIN_HITS = 6
OUTLIER_MS = 25.0  # a hit this far from the median is a miss, not a measurement
MAX_SPREAD_MS = 12.0  # standard deviation of the kept hits above this: refused
MAX_LATENCY_MS = 500.0
REFINE_BEFORE_S = 0.03  # the attack is searched this far before the engine's onset …
REFINE_AFTER_S = 0.02  # … and this far after it
CHIRP_S = 0.04
CHIRP_GAP_S = 0.45  # chirp to chirp: a delay up to ~0.4 s is unambiguous
LEAD_S = 0.5  # silence before the first chirp (a JACK connection made at stream start)


class CalibrationError(FretcoachError):
    """A take or loopback that gives no trustworthy latency (scattered, silent, ambiguous)."""

    exit_code = ExitCode.ERROR


@dataclass(frozen=True)
class LatencyEstimate:
    """One calibration: the latency (median), its spread and how many measurements it rests on."""

    latency_ms: float
    spread_ms: float
    hits: int  # measurements kept
    attempts: int  # clicks or chirps
    method: str  # loopback | play-along
    deltas_ms: tuple[float, ...] = ()  # every kept measurement, in order

    @property
    def rejected(self) -> int:
        return self.attempts - self.hits

    def to_dict(self) -> dict[str, Any]:
        return {"latency_ms": round(self.latency_ms, 2), "spread_ms": round(self.spread_ms, 2),
                "hits": self.hits, "attempts": self.attempts, "method": self.method,
                "deltas_ms": [round(d, 2) for d in self.deltas_ms]}


def summarise(deltas_s: Sequence[float], attempts: int, method: str) -> LatencyEstimate:
    """Median of the measurements after rejecting outliers; refuses a scattered set."""
    what = "hits" if method == "play-along" else "chirps"
    if not deltas_s:
        raise NoNotesError(f"no {what} were heard",
                           hint="pluck one note on each click" if method == "play-along"
                           else "connect the output to the input (cable or JACK/ALSA loopback)")
    ms = [d * 1000.0 for d in deltas_s]
    med = statistics.median(ms)
    kept = [d for d in ms if abs(d - med) <= OUTLIER_MS]
    need = max(MIN_HITS, (attempts + 1) // 2) if method == "play-along" else max(3, attempts // 2)
    if len(kept) < need:
        raise CalibrationError(
            f"too scattered: only {len(kept)} of {attempts} {what} within {OUTLIER_MS:.0f} ms "
            f"of each other (need {need})",
            hint="pluck right on each click, one note per click, and try again")
    spread = statistics.pstdev(kept)
    if spread > MAX_SPREAD_MS:
        raise CalibrationError(
            f"too scattered: the {what} spread {spread:.1f} ms (at most {MAX_SPREAD_MS:.0f})",
            hint="pluck right on each click, one note per click, and try again")
    latency = statistics.median(kept)
    if not -MAX_LATENCY_MS < latency < MAX_LATENCY_MS:
        raise CalibrationError(f"implausible latency {latency:.0f} ms",
                               hint="check the tempo and that the take starts on the first "
                                    "click")
    return LatencyEstimate(latency, spread, len(kept), attempts, method, tuple(kept))


# --------------------------------------------------------------------------- play-along


def click_times(bpm: float, count: int, start_s: float = 0.0) -> np.ndarray:
    """The play-along clicks' times (seconds): every beat from ``start_s``."""
    return start_s + np.arange(count) * (60.0 / bpm)


def refine_onset(audio: np.ndarray, rate: int, onset_s: float) -> float:
    """The attack near the engine's ``onset_s``, to the sample.

    The envelope is the RMS (0.5 ms) of the first difference, which favours the pick's
    broadband burst over a previous note still ringing; the attack is where it first rises a
    quarter of the way from the level before it to its peak. Returns ``onset_s`` unchanged
    when no clear rise is found.
    """
    a = max(0, int((onset_s - REFINE_BEFORE_S) * rate))
    b = min(len(audio), int((onset_s + REFINE_AFTER_S) * rate))
    if b - a < int(0.02 * rate):
        return onset_s
    seg = np.diff(audio[a:b].astype(np.float64), prepend=float(audio[a]))
    k = max(1, int(0.0005 * rate))
    env = np.sqrt(np.convolve(seg * seg, np.ones(k) / k, mode="same"))
    head = env[: int(0.008 * rate)]
    base, peak = float(np.median(head)), float(env.max())
    if peak < 4.0 * max(base, 1e-9):
        return onset_s
    above = np.nonzero(env >= base + 0.25 * (peak - base))[0]
    return (a + int(above[0]) - k // 2) / rate


def take_deltas(onsets_s: Sequence[float], clicks_s: np.ndarray,
                period_s: float) -> list[float]:
    """For each click, the first onset within half a beat of it, minus the click's time."""
    out: dict[int, float] = {}
    for t in sorted(onsets_s):
        k = int(np.argmin(np.abs(clicks_s - t)))
        d = t - float(clicks_s[k])
        if abs(d) < period_s / 2 and k not in out:
            out[k] = d
    return [out[k] for k in sorted(out)]


def analyze_take(audio: np.ndarray, rate: int, *, bpm: float, clicks: int | None = None,
                 grid_start_s: float = 0.0, pitch_model: str = "swift",
                 sensitivity: float = 0.5, backend: Any = None) -> LatencyEstimate:
    """Latency from a play-along take: ``audio`` (mono) whose clicks are every beat from
    ``grid_start_s``; ``clicks`` = how many (default: up to the take's last pluck). The
    latency must be under half a beat (375 ms at 80 bpm) to pair each pluck with its click."""
    from fretcoach_cli.audio.engine import analyze_source
    from fretcoach_cli.audio.sources import ArraySource

    period = 60.0 / bpm
    analysis = analyze_source(ArraySource(audio, rate), pitch_model=pitch_model,
                              sensitivity=sensitivity, backend=backend)
    onsets = [refine_onset(audio, rate, n.onset_s) for n in analysis.notes if n.is_note]
    if clicks is None and not onsets:
        return summarise([], 0, "play-along")  # raises: no hits were heard
    if clicks is None:  # a recorded take: the clicks up to its last pluck
        last = max(onsets, default=grid_start_s)
        clicks = max(0, int((last - grid_start_s + period / 2) / period) + 1)
    if clicks < MIN_HITS:
        raise CalibrationError(f"the take holds {clicks} clicks at {bpm:g} bpm "
                               f"(need at least {MIN_HITS})",
                               hint="record longer, or check --bpm")
    deltas = take_deltas(onsets, click_times(bpm, clicks, grid_start_s), period)
    return summarise(deltas, clicks, "play-along")


def click_track(rate: int, bpm: float, *, count_in: int, clicks: int,
                volume: float = 0.5) -> tuple[np.ndarray, float]:
    """Count-in then ``clicks`` clicks (a higher, louder tick on each bar's first count-in
    beat); returns the track and the time of the first play-along click."""
    period = 60.0 / bpm
    n = int((count_in + clicks + 1) * period * rate)
    out = np.zeros(n, dtype=np.float32)
    t = np.arange(int(0.03 * rate)) / rate
    for i in range(count_in + clicks):
        hz = 1760.0 if i % 4 == 0 and i < count_in else 1320.0
        tick = np.sin(2 * np.pi * hz * t) * np.exp(-t / 0.006) * volume
        s = round(i * period * rate)
        out[s:s + len(tick)] += tick[: n - s].astype(np.float32)
    return out, count_in * period


# --------------------------------------------------------------------------- loopback


def chirp(rate: int, seconds: float = CHIRP_S, f0: float = 300.0, f1: float = 6000.0
          ) -> np.ndarray:
    """A Hann-windowed linear chirp: one sharp cross-correlation peak, no pitch ambiguity."""
    f1 = min(f1, 0.45 * rate)
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    return (0.5 * np.sin(phase) * np.hanning(len(t))).astype(np.float32)


def chirp_train(rate: int, repeats: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The loopback signal: silence, then ``repeats`` chirps ``CHIRP_GAP_S`` apart.
    Returns (signal, chirp, start sample of each chirp)."""
    probe = chirp(rate)
    gap = int(CHIRP_GAP_S * rate)
    lead = int(LEAD_S * rate)
    starts = [lead + i * gap for i in range(repeats)]
    out = np.zeros(lead + repeats * gap + gap, dtype=np.float32)
    for s in starts:
        out[s:s + len(probe)] += probe
    return out, probe, starts


def parabolic_peak(y: np.ndarray, i: int) -> float:
    """Sub-sample position of the peak at ``i`` (a parabola through it and its neighbours)."""
    if i <= 0 or i >= len(y) - 1:
        return float(i)
    a, b, c = float(y[i - 1]), float(y[i]), float(y[i + 1])
    den = a - 2 * b + c
    return float(i) if den == 0 else i + 0.5 * (a - c) / den


def loopback_deltas(recorded: np.ndarray, probe: np.ndarray, starts: Sequence[int],
                    rate: int, *, min_corr: float = 0.3) -> list[float]:
    """Each chirp's delay (s) in ``recorded``; chirps with no clear echo are left out."""
    max_lag = int((CHIRP_GAP_S - CHIRP_S - 0.01) * rate)
    norm_p = float(np.linalg.norm(probe)) or 1.0
    out = []
    for s in starts:
        seg = recorded[s:s + max_lag + len(probe)].astype(np.float64)
        if len(seg) < len(probe) + 1:
            continue
        corr = np.abs(np.correlate(seg, probe.astype(np.float64), mode="valid"))
        i = int(np.argmax(corr))
        energy = float(np.linalg.norm(seg[i:i + len(probe)])) or 1e-12
        if corr[i] / (norm_p * energy) < min_corr:
            continue
        out.append(parabolic_peak(corr, i) / rate)
    return out


def measure_loopback(input_index: int, output_index: int, *, rate: int,
                     repeats: int = 8, sd: Any = None) -> LatencyEstimate:
    """Play the chirp train on ``output_index`` and record ``input_index`` in one duplex
    stream (one frame clock), then measure each chirp's delay."""
    from fretcoach_cli.audio.sources import import_sounddevice

    sd = sd or import_sounddevice()
    signal, probe, starts = chirp_train(rate, repeats)
    recorded = _playrec(sd, signal, rate, input_index, output_index)
    return summarise(loopback_deltas(recorded, probe, starts, rate), repeats, "loopback")


def record_play_along(input_index: int, output_index: int, *, rate: int, bpm: float,
                      count_in: int, clicks: int, volume: float = 0.5,
                      sd: Any = None) -> tuple[np.ndarray, float]:
    """Play the count-in and clicks while recording; returns (mono take, first click s)."""
    from fretcoach_cli.audio.sources import import_sounddevice

    sd = sd or import_sounddevice()
    track, first = click_track(rate, bpm, count_in=count_in, clicks=clicks, volume=volume)
    return _playrec(sd, track, rate, input_index, output_index), first


def _playrec(sd: Any, signal: np.ndarray, rate: int, input_index: int,
             output_index: int) -> np.ndarray:
    from fretcoach_cli.errors import AudioError

    try:
        rec = sd.playrec(signal, samplerate=rate, channels=1, dtype="float32",
                         device=(input_index, output_index), blocking=True)
    except Exception as exc:  # PortAudioError: busy, refused rate, no duplex
        raise AudioError(f"cannot play and record at {rate} Hz: {exc}",
                         hint="pick another --device / --output-device") from None
    return np.asarray(rec, dtype=np.float32)[:, 0]


# --------------------------------------------------------------------------- applying it


def device_key(device: dict[str, Any]) -> str:
    """The key a device's calibration is stored under: host API and name, lower case
    (an index changes when devices come and go; the name does not)."""
    text = f"{device.get('hostapi', '')}/{device.get('name', '')}"
    return " ".join(text.lower().split())



def on_player_clock(event: Any, latency_s: float) -> Any:
    """``event`` with its note times moved ``latency_s`` earlier (onset − latency); other
    events unchanged. The same shift for every kind keeps ``onset_s`` an identity key."""
    if not latency_s or not isinstance(event, NoteEvent | NoteStarted | NoteDropped | NoteEnded):
        return event
    if isinstance(event, NoteEvent | NoteEnded):
        return replace(event, onset_s=event.onset_s - latency_s,
                       offset_s=event.offset_s - latency_s)
    return replace(event, onset_s=event.onset_s - latency_s)


def output_device(sd: Any, spec: str | None) -> dict[str, Any]:
    """The output device for clicks/chirps: by index or name part, else the default output."""
    from fretcoach_cli.errors import AudioError

    try:
        devices = [d for d in sd.query_devices() if d.get("max_output_channels", 0) > 0]
        default_out = sd.default.device[1] if sd.default.device else -1
    except Exception as exc:  # PortAudioError
        raise AudioError(f"cannot list audio devices: {exc}") from None
    if not devices:
        raise AudioError("no audio output device found",
                         hint="calibrate from a recorded take: --input FILE --bpm N")
    if spec is None or not str(spec).strip():
        return next((d for d in devices if d["index"] == default_out), devices[0])
    text = str(spec).strip()
    if text.isdigit():
        hits = [d for d in devices if d["index"] == int(text)]
    else:
        hits = [d for d in devices if text.lower() in d["name"].lower()]
        exact = [d for d in hits if d["name"].lower() == text.lower()]
        hits = exact or hits
    if len(hits) != 1:
        raise AudioError(f"{'no' if not hits else 'more than one'} output device "
                         f"matches {text!r}", hint="run 'fretcoach devices' and give its index")
    return dict(hits[0])


def duplex_rate(sd: Any, input_index: int, output_index: int, preferred: float) -> int:
    """A sample rate both devices accept (the input's own rate first)."""
    from fretcoach_cli.errors import AudioError

    for rate in dict.fromkeys([int(preferred), 48000, 44100]):
        try:
            sd.check_input_settings(device=input_index, channels=1, samplerate=rate,
                                    dtype="float32")
            sd.check_output_settings(device=output_index, channels=1, samplerate=rate,
                                     dtype="float32")
            return rate
        except Exception:
            continue
    raise AudioError("the input and output devices share no sample rate (48000, 44100 Hz)",
                     hint="pick devices of one interface with --device/--output-device")
