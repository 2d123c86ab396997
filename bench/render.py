"""Render note lists to realistic guitar audio with exact ground truth.

Why this exists: the engine and the accuracy benchmark need recordings whose every note is
known to the cent and the millisecond. A sampled General-MIDI guitar (FluidR3_GM through the
``fluidsynth`` CLI) sounds like a real instrument (pluck transient, string decay, body), while
the score we feed it *is* the ground truth.

Pipeline: ``NoteSpec`` list → standard MIDI file (tiny writer below, no dependency) →
``fluidsynth`` fast render (float WAV, chorus/reverb off) → mono 44.1 kHz → FLAC/WAV, plus a
``truth`` dict (see :func:`truth_dict`).

Exactness: the soundfont's own sample tuning and attack latency were measured
(``python bench/calibrate.py`` writes ``bench/soundfont_calibration.json``); by default the
renderer pre-compensates both (pitch bend for the cents offset, an earlier MIDI note-on for the
latency) so the *audible* onset and settled pitch match the truth. Detuned notes use pitch
bend with a ±2-semitone range set by RPN 0; each note gets its own channel (round-robin over the
15 melodic channels) so one note's bend never bends another's release tail.

Runnable: ``python bench/render.py --demo out.flac`` renders a short A minor pentatonic run.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SOUNDFONT = Path(os.environ.get("FRETCOACH_SF2", "/usr/share/sounds/sf2/FluidR3_GM.sf2"))
SAMPLE_RATE = 44100
BEND_RANGE_SEMITONES = 2
CALIBRATION_PATH = Path(__file__).with_name("soundfont_calibration.json")

# General MIDI guitar programs (0-based program numbers).
NYLON, STEEL, JAZZ, CLEAN, MUTED, OVERDRIVE, DISTORTION = 24, 25, 26, 27, 28, 29, 30
PROGRAM_NAMES = {
    NYLON: "nylon",
    STEEL: "steel",
    JAZZ: "jazz",
    CLEAN: "clean electric",
    MUTED: "muted",
    OVERDRIVE: "overdrive",
    DISTORTION: "distortion",
}

# ----------------------------------------------------------------------------------------
# Release-time offsets (SoundFont NRPN 120/38, in NRPN units) that make a note-off sound like
# a fretting hand damping the string: ~0.1 s to -40 dB. FluidR3's steel string otherwise rings
# for seconds after note-off (it would smear every scale run into chords) and its nylon and
# clean electric for ~0.3-0.5 s. Measured by bench/calibrate.py --release.
RELEASE_NRPN = {NYLON: -1500, STEEL: -3200, CLEAN: -800}

# The highest key each program really sounds (FluidR3's muted guitar is silent above 84).
MAX_KEY = {MUTED: 84}

# ----------------------------------------------------------------------------------------
# Scales (deliberately independent of fretcoach_cli.music: the truth must not share bugs
# with the code it judges).
# ----------------------------------------------------------------------------------------

SCALE_INTERVALS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
_NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def key_pc(key: str) -> int:
    """Pitch class of a key name such as ``"A"``, ``"F#"`` or ``"Bb"``."""
    base = _NOTE_PC[key[0].upper()]
    for ch in key[1:]:
        base += {"#": 1, "b": -1}[ch]
    return base % 12


def scale_pcs(key: str, scale: str) -> frozenset[int]:
    """The set of pitch classes of ``key`` + ``scale`` (e.g. ``"A"``, ``"minor pentatonic"``)."""
    root = key_pc(key)
    return frozenset((root + i) % 12 for i in SCALE_INTERVALS[scale])


def scale_midis(key: str, scale: str, low: int, high: int) -> list[int]:
    """All MIDI numbers in ``[low, high]`` whose pitch class belongs to the scale."""
    pcs = scale_pcs(key, scale)
    return [m for m in range(low, high + 1) if m % 12 in pcs]


def midi_to_hz(midi: float, a4: float = 440.0) -> float:
    return a4 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: float, a4: float = 440.0) -> float:
    return 69.0 + 12.0 * math.log2(hz / a4)


# ----------------------------------------------------------------------------------------
# Note specs and ground truth
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSpec:
    """One note to play: times in seconds of the *audible* result, ``midi`` an integer key,
    ``cents`` the deliberate detune (pitch bend), ``velocity`` 1–127, GM ``program``."""

    onset: float
    duration: float
    midi: int
    cents: float = 0.0
    velocity: int = 90
    program: int = CLEAN

    @property
    def offset(self) -> float:
        return self.onset + self.duration


def ioi_cv(onsets: Sequence[float]) -> float | None:
    """Coefficient of variation (population std / mean) of inter-onset intervals."""
    xs = sorted(onsets)
    iois = [b - a for a, b in itertools.pairwise(xs)]
    if len(iois) < 2:
        return None
    mean = statistics.fmean(iois)
    if mean <= 0:
        return None
    return statistics.pstdev(iois) / mean


def truth_dict(
    notes: Sequence[NoteSpec],
    *,
    key: str | None = None,
    scale: str | None = None,
    duration_s: float,
    description: str = "",
    chords: Sequence[Sequence[int]] | None = None,
    extra: dict | None = None,
    calibrated: bool = True,
) -> dict:
    """The ground-truth document written next to each clip (``<name>.truth.json``).

    ``notes`` are sorted by onset; ``midi`` is fractional (``key + cents/100`` at A4 = 440)
    where ``cents`` is what really sounds (the request, corrected for the soundfont's measured
    tuning and fluidsynth's whole-cent pitch steps; within ±0.5 cent of ``cents_requested``);
    ``in_scale`` is judged on the intended key number. ``attack_cents`` is the pitch heard
    during the first 0.05–0.35 s (sharper by the pluck transient, measured per program and
    key). ``chords`` groups note indices that are struck together (polyphonic events); such
    clips have ``polyphonic: true``.
    """
    ordered = sorted(notes, key=lambda n: (n.onset, n.midi))
    pcs = scale_pcs(key, scale) if key and scale else None
    cal = default_calibration() if calibrated else None
    out_notes = []
    for n in ordered:
        cents = sounding_cents(n, cal)
        item = {
            "onset_s": round(n.onset, 6),
            "offset_s": round(n.offset, 6),
            "midi": round(n.midi + cents / 100.0, 6),
            "key": n.midi,
            "cents": round(cents, 3),
            "cents_requested": round(n.cents, 3),
            "hz": round(midi_to_hz(n.midi + cents / 100.0), 4),
            # the pitch actually heard in the first 0.05-0.35 s (the pluck is sharp): what a
            # short note sounds like, since it never settles
            "attack_cents": round(cents + (cal.attack_cents(n.program, n.midi) if cal else 0.0), 3),
            "velocity": n.velocity,
            "program": n.program,
        }
        if pcs is not None:
            item["in_scale"] = (n.midi % 12) in pcs
        out_notes.append(item)
    in_ratio = None
    if pcs is not None and out_notes:
        in_ratio = sum(1 for x in out_notes if x["in_scale"]) / len(out_notes)
    onsets = [x["onset_s"] for x in out_notes]
    if chords:
        # One timing event per chord: its earliest string.
        starts = sorted(min(out_notes[i]["onset_s"] for i in c) for c in chords)
        cv = ioi_cv(starts)
    else:
        cv = ioi_cv(onsets)
    doc = {
        "format": "fretcoach-truth/1",
        "description": description,
        "sample_rate": SAMPLE_RATE,
        "duration_s": round(duration_s, 6),
        "a4_hz": 440.0,
        "key": key,
        "scale": scale,
        "polyphonic": bool(chords),
        "notes": out_notes,
        "figures": {
            "note_count": len(out_notes),
            "in_scale_ratio": None if in_ratio is None else round(in_ratio, 6),
            "ioi_cv": None if cv is None else round(cv, 6),
            "wrong_notes": None if pcs is None else sum(1 for x in out_notes if not x["in_scale"]),
            "mean_abs_cents": round(statistics.fmean(abs(x["cents"]) for x in out_notes), 3)
            if out_notes
            else None,
        },
        "timing_reference": "onset_s = audible onset (1 ms RMS envelope at -20 dB of the "
        "note's early peak; soundfont attack latency compensated, +-2 ms); offset_s = note-off, "
        "after which the string is damped to -40 dB within ~0.1 s.",
    }
    if chords:
        doc["chords"] = [sorted(c) for c in chords]
    if extra:
        doc.update(extra)
    return doc


# ----------------------------------------------------------------------------------------
# Standard MIDI file writer (format 0, one track)
# ----------------------------------------------------------------------------------------

_DIVISION = 25000  # ticks per quarter note
_TEMPO_US = 500000  # µs per quarter → 20 µs per tick (finer than one sample at 44.1 kHz)


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    if value < 0:
        raise ValueError("negative delta time")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _seconds_to_ticks(t: float) -> int:
    return max(0, round(t * 1e6 / _TEMPO_US * _DIVISION))


def _encode_smf(events: list[tuple[float, int, bytes]]) -> bytes:
    """``events``: (time_s, order, raw MIDI message) — order breaks ties at the same tick."""
    track = bytearray()
    track += _vlq(0) + b"\xff\x51\x03" + _TEMPO_US.to_bytes(3, "big")
    last = 0
    for t, _order, msg in sorted(events, key=lambda e: (_seconds_to_ticks(e[0]), e[1])):
        tick = _seconds_to_ticks(t)
        track += _vlq(tick - last) + msg
        last = tick
    track += _vlq(0) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, _DIVISION)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


_MELODIC_CHANNELS = [c for c in range(16) if c != 9]


def _bend_value(cents: float) -> int:
    value = 8192 + round(cents / (BEND_RANGE_SEMITONES * 100.0) * 8192)
    return min(16383, max(0, value))


def midi_file_bytes(
    notes: Sequence[NoteSpec],
    *,
    calibration: Calibration | None = None,
    release_guard_s: float = 2.0,
    damped: bool = True,
) -> bytes:
    """Encode notes as an SMF. With ``calibration``, each note-on is moved earlier by the
    measured attack latency of its program and key, and its bend compensates the measured
    tuning (see :func:`sounding_cents`); note-offs stay at the spec's offset and, when
    ``damped``, release within ~0.1 s (:data:`RELEASE_NRPN`)."""
    events: list[tuple[float, int, bytes]] = []
    order = 0

    def add(t: float, msg: bytes) -> None:
        nonlocal order
        events.append((t, order, msg))
        order += 1

    for ch in _MELODIC_CHANNELS:  # bend range via RPN 0, then null the RPN
        for cc, val in (
            (101, 0),
            (100, 0),
            (6, BEND_RANGE_SEMITONES),
            (38, 0),
            (101, 127),
            (100, 127),
            (7, 127),
            (11, 127),
        ):
            add(0.0, bytes([0xB0 | ch, cc, val]))
    free_at = dict.fromkeys(_MELODIC_CHANNELS, -1e9)
    last_used = dict.fromkeys(_MELODIC_CHANNELS, -1e9)
    program_of: dict[int, int] = {}
    for n in sorted(notes, key=lambda n: (n.onset, n.midi)):
        lat = calibration.latency_s(n.program, n.midi) if calibration else 0.0
        t_on = max(0.0, n.onset - lat)
        free = [c for c in _MELODIC_CHANNELS if free_at[c] <= t_on]
        pool = free or _MELODIC_CHANNELS
        ch = min(pool, key=lambda c: (last_used[c], free_at[c]))
        last_used[ch] = t_on
        free_at[ch] = n.offset + release_guard_s
        if program_of.get(ch) != n.program:
            add(t_on, bytes([0xC0 | ch, n.program]))
            program_of[ch] = n.program
            rel = 8192 + (RELEASE_NRPN.get(n.program, 0) if damped else 0)
            for cc, val in ((99, 120), (98, 38), (6, rel >> 7), (38, rel & 0x7F)):
                add(t_on, bytes([0xB0 | ch, cc, val]))
        bend = _bend_value(bend_cents(n, calibration) if calibration else n.cents)
        add(t_on, bytes([0xE0 | ch, bend & 0x7F, bend >> 7]))
        add(t_on, bytes([0x90 | ch, n.midi, max(1, min(127, n.velocity))]))
        add(max(n.offset, t_on + 0.001), bytes([0x80 | ch, n.midi, 0]))
    return _encode_smf(events)


# ----------------------------------------------------------------------------------------
# Calibration (measured by bench/calibrate.py)
# ----------------------------------------------------------------------------------------


class Calibration:
    """Measured soundfont tuning (cents per program and key) and attack latency (s)."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self._offsets = self._tables(data.get("tuning_cents", {}))
        self._latency = self._tables(data.get("latency_ms_by_key", {}), scale=1e-3)
        self._attack = self._tables(data.get("attack_minus_settled_cents", {}))

    @staticmethod
    def _tables(raw: dict, scale: float = 1.0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for prog, table in raw.items():
            keys = np.array(sorted(int(k) for k in table), dtype=float)
            vals = np.array([table[str(int(k))] * scale for k in keys], dtype=float)
            out[int(prog)] = (keys, vals)
        return out

    @staticmethod
    def _nearest(tables: dict, program: int, midi: int, default: float) -> float:
        # Nearest measured key: samples are shared by neighbouring keys, so interpolating
        # across a sample boundary would be wrong.
        if program not in tables:
            return default
        keys, vals = tables[program]
        return float(vals[int(np.argmin(np.abs(keys - midi)))])

    @classmethod
    def load(cls, path: Path = CALIBRATION_PATH) -> Calibration | None:
        if not path.exists():
            return None
        return cls(json.loads(path.read_text()))

    def latency_s(self, program: int, midi: int) -> float:
        """MIDI note-on → audible onset for this program and key."""
        fallback = float(self.data.get("latency_s", {}).get(str(program), 0.0))
        return self._nearest(self._latency, program, midi, fallback)

    def attack_cents(self, program: int, midi: int) -> float:
        """How much sharper than its settled pitch a note sounds over its first 0.05–0.35 s."""
        return self._nearest(self._attack, program, midi, 0.0)

    def offset_cents(self, program: int, midi: int) -> float:
        """Measured settled-pitch offset of the soundfont at ``midi``, in cents."""
        return self._nearest(self._offsets, program, midi, 0.0)


def _realize(note: NoteSpec, cal: Calibration) -> tuple[float, float]:
    """(bend to send, cents that will really sound) for a requested detune.

    fluidsynth 2.3 quantises a voice's pitch to whole cents (it truncates), so the sounding
    pitch is ``floor(bend) + e`` with ``e`` the sample's measured offset. Choosing
    ``bend = k + 0.5`` with ``k = round(cents - e)`` lands within ±0.5 cent of the request and,
    more importantly, makes the sounding pitch known exactly: ``k + e``.
    """
    e = cal.offset_cents(note.program, note.midi)
    k = round(note.cents - e)
    return k + 0.5, k + e


def bend_cents(note: NoteSpec, cal: Calibration) -> float:
    return _realize(note, cal)[0]


def sounding_cents(note: NoteSpec, cal: Calibration | None) -> float:
    """The detune the listener (and the engine) will really hear; the truth records this."""
    return note.cents if cal is None else _realize(note, cal)[1]


_DEFAULT_CAL: Calibration | None = None
_CAL_LOADED = False


def default_calibration() -> Calibration | None:
    global _DEFAULT_CAL, _CAL_LOADED
    if not _CAL_LOADED:
        _DEFAULT_CAL = Calibration.load()
        _CAL_LOADED = True
    return _DEFAULT_CAL


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


class RenderError(RuntimeError):
    pass


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None and SOUNDFONT.exists()


def render_midi_bytes(
    smf: bytes, *, sample_rate: int = SAMPLE_RATE, gain: float = 0.5
) -> np.ndarray:
    """Run the fluidsynth CLI on an SMF and return mono float32 audio (chorus/reverb off)."""
    if not fluidsynth_available():
        raise RenderError(
            f"fluidsynth or the soundfont {SOUNDFONT} is missing "
            "(apt-get install fluidsynth fluid-soundfont-gm)"
        )
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="fc-render-") as tmp:
        mid = Path(tmp) / "in.mid"
        wav = Path(tmp) / "out.wav"
        mid.write_bytes(smf)
        cmd = [
            "fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(gain),
            "-r", str(sample_rate), "-T", "wav", "-O", "float", "-F", str(wav),
            "-o", "synth.sample-rate=" + str(float(sample_rate)),
            str(SOUNDFONT), str(mid),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not wav.exists():
            raise RenderError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.strip()}")
        audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise RenderError(f"fluidsynth rendered at {sr} Hz, expected {sample_rate}")
    return audio.mean(axis=1).astype(np.float32)


def render_notes(
    notes: Sequence[NoteSpec],
    *,
    total_s: float | None = None,
    calibrated: bool = True,
    peak_dbfs: float | None = -3.0,
) -> np.ndarray:
    """Render notes to mono float32 at 44.1 kHz, trimmed/padded to ``total_s`` (default: the
    last offset + 1 s) and peak-normalised to ``peak_dbfs`` (None keeps fluidsynth's level)."""
    cal = default_calibration() if calibrated else None
    audio = render_midi_bytes(midi_file_bytes(notes, calibration=cal))
    end = total_s if total_s is not None else max((n.offset for n in notes), default=0.0) + 1.0
    n_samples = round(end * SAMPLE_RATE)
    if len(audio) < n_samples:
        audio = np.concatenate([audio, np.zeros(n_samples - len(audio), np.float32)])
    audio = audio[:n_samples]
    if peak_dbfs is not None:
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        if peak > 0:
            audio = audio * (10 ** (peak_dbfs / 20) / peak)
    return audio.astype(np.float32)


def write_audio(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono audio; FLAC/WAV chosen by the extension (16-bit PCM)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    clipped = np.clip(audio, -1.0, 1.0)
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    sf.write(str(path), clipped, sample_rate, format=fmt, subtype="PCM_16")


def write_clip(
    path: Path,
    notes: Sequence[NoteSpec],
    *,
    key: str | None = None,
    scale: str | None = None,
    description: str = "",
    total_s: float | None = None,
    augment: Iterable | None = None,
    chords: Sequence[Sequence[int]] | None = None,
    extra: dict | None = None,
) -> dict:
    """Render, optionally augment (callables audio→audio), write ``path`` and
    ``<stem>.truth.json`` beside it; returns the truth dict."""
    audio = render_notes(notes, total_s=total_s)
    for fn in augment or ():
        audio = fn(audio)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.99:  # added noise can push peaks past full scale: scale, never clip by accident
        audio = (audio * (0.98 / peak)).astype(np.float32)
    write_audio(path, audio)
    truth = truth_dict(
        notes,
        key=key,
        scale=scale,
        duration_s=len(audio) / SAMPLE_RATE,
        description=description,
        chords=chords,
        extra=extra,
    )
    truth_path(path).write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def truth_path(audio_path: Path) -> Path:
    return audio_path.with_name(audio_path.name.rsplit(".", 1)[0] + ".truth.json")


def specs_from_truth(doc: dict) -> list[NoteSpec]:
    """Rebuild the NoteSpecs of a truth document (used by tests and re-rendering)."""
    return [
        NoteSpec(
            onset=x["onset_s"],
            duration=x["offset_s"] - x["onset_s"],
            midi=x["key"],
            cents=x.get("cents_requested", x["cents"]),
            velocity=x["velocity"],
            program=x["program"],
        )
        for x in doc["notes"]
    ]


def spec_dicts(notes: Sequence[NoteSpec]) -> list[dict]:
    return [asdict(n) for n in notes]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", type=Path, required=True, help="output .flac/.wav")
    args = p.parse_args(argv)
    run = scale_midis("A", "minor pentatonic", 57, 72)
    notes = [NoteSpec(0.5 + i * 0.4, 0.35, m) for i, m in enumerate(run)]
    truth = write_clip(args.demo, notes, key="A", scale="minor pentatonic", description="demo run")
    print(json.dumps(truth["figures"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
