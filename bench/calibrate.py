"""Measure the soundfont's own tuning and attack latency, so the rendered truth is true.

Renders every key E2–E6 (MIDI 40–88) of each GM guitar program as an isolated sustained note
*without* any correction, then measures:

- latency: MIDI note-on → audible onset (1 ms RMS envelope reaching −20 dB of the early peak);
- tuning: the settled pitch by a long-window YIN period (what pitch trackers and ears follow)
  against equal temperament at A4 = 440 Hz, in cents — this is what the renderer corrects;
  for reference also the first partial (FFT peak: differs by 1–10 cents where the tone is
  inharmonic or distorted);
- attack: the pitch over 0.05–0.35 s after the onset minus the settled pitch (plucks start
  sharp; a short note never reaches its settled pitch).

Writes ``bench/soundfont_calibration.json`` (used by ``render.py`` to pre-compensate) and
prints a summary. ``--verify`` re-renders *with* the correction and prints the residuals.

    python bench/calibrate.py            # measure and write the table (≈1 min)
    python bench/calibrate.py --verify   # check the corrected renderer
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import f0ref
import render

KEYS = list(range(40, 89))
PROGRAMS = sorted(render.PROGRAM_NAMES)
SPACING_S = 4.0
HOLD_S = 1.6
LEAD_S = 0.5


def _keys(program: int) -> list[int]:
    top = render.MAX_KEY.get(program, 127)
    return [k for k in KEYS if k <= top]


def _layout(program: int, cents: float = 0.0) -> list[render.NoteSpec]:
    return [
        render.NoteSpec(LEAD_S + i * SPACING_S, HOLD_S, k, cents=cents, velocity=96,
                        program=program)
        for i, k in enumerate(_keys(program))
    ]  # fmt: skip


def measure_note(audio: np.ndarray, onset: float, midi: float) -> dict:
    sr = render.SAMPLE_RATE
    nominal = render.midi_to_hz(midi)
    audible = f0ref.audible_onset_s(audio, sr, onset - 0.02)
    env, hop = f0ref.envelope_db(audio[int(audible * sr) : int((audible + HOLD_S) * sr)], sr, 0.01)
    peak = env.max()
    below = np.nonzero(env < peak - 30)[0]
    end = min(HOLD_S - 0.05, (below[0] * hop) if len(below) else HOLD_S)
    start = 0.3 if end >= 0.75 else 0.08
    end = max(end, start + 0.15)
    seg = audio[int((audible + start) * sr) : int((audible + end) * sr)]
    early = audio[int((audible + 0.05) * sr) : int((audible + 0.35) * sr)]
    f_fft = f0ref.fundamental_hz(seg, sr, nominal)
    f_yin = f0ref.yin_hz(seg, sr, nominal)
    f_early = f0ref.yin_hz(early, sr, nominal, search_cents=120)
    return {
        "latency_ms": (audible - onset) * 1000,
        "cents_partial": f0ref.cents_between(f_fft, nominal),
        "cents_yin": f0ref.cents_between(f_yin, nominal),
        "cents_early_yin": f0ref.cents_between(f_early, nominal),
        "window_s": [round(start, 3), round(end, 3)],
    }


def measure_program(program: int, *, calibrated: bool, cents: float = 0.0) -> list[dict]:
    notes = _layout(program, cents)
    audio = render.render_notes(notes, calibrated=calibrated, peak_dbfs=None)
    return [{"key": n.midi, **measure_note(audio, n.onset, n.midi + n.cents / 100)} for n in notes]


def release_ms(program: int, *, damped: bool, key: int = 47) -> float:
    """Time from note-off until the 5 ms RMS envelope is 40 dB below its note-off level."""
    note = render.NoteSpec(0.5, 0.3, key, velocity=90, program=program)
    smf = render.midi_file_bytes([note], damped=damped)
    audio = render.render_midi_bytes(smf)
    env, hop = f0ref.envelope_db(audio, render.SAMPLE_RATE, 0.005)
    i0 = int(note.offset / hop) + 1
    below = np.nonzero(env[i0:] < env[i0] - 40)[0]
    return float(below[0] * hop * 1000) if len(below) else float("inf")


def _summary(rows: list[dict], field: str) -> str:
    xs = [r[field] for r in rows]
    return (
        f"mean {statistics.fmean(xs):+6.2f}  median {statistics.median(xs):+6.2f}  "
        f"min {min(xs):+6.2f}  max {max(xs):+6.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Measure FluidR3 guitar tuning and latency.")
    p.add_argument("--verify", action="store_true", help="measure the corrected renderer")
    p.add_argument("--release", action="store_true", help="measure note-off release times")
    p.add_argument("--out", type=Path, default=render.CALIBRATION_PATH)
    args = p.parse_args(argv)

    if args.release:
        for prog in PROGRAMS:
            print(f"{render.PROGRAM_NAMES[prog]:15s} ms from note-off to -40 dB: "
                  f"{release_ms(prog, damped=False):5.0f} undamped, "
                  f"{release_ms(prog, damped=True):5.0f} damped")  # fmt: skip
        return 0
    if args.verify:
        worst = 0.0
        cal = render.default_calibration()
        detune = 17.0
        for prog in PROGRAMS:
            rows = measure_program(prog, calibrated=True, cents=detune)
            for r in rows:
                # measure_note reports cents against key + request; the truth says what sounds
                sounding = render.sounding_cents(
                    render.NoteSpec(0, 1, r["key"], cents=detune, program=prog), cal
                )
                r["err"] = r["cents_yin"] + detune - sounding
                r["lat"] = r["latency_ms"]
            worst = max(worst, max(abs(r["err"]) for r in rows))
            print(f"{render.PROGRAM_NAMES[prog]:15s} pitch residual cents: {_summary(rows, 'err')}")
            print(f"{'':15s} onset residual ms:    {_summary(rows, 'lat')}")
        print(f"worst |residual| = {worst:.2f} cents")
        return 0

    doc: dict = {
        "soundfont": str(render.SOUNDFONT),
        "method": "uncorrected render of keys 40-88, velocity 96; latency = note-on to 1 ms RMS "
        "envelope at -20 dB of early peak; tuning = settled YIN period vs 12-TET, A4=440 "
        "(partial_cents = first partial by FFT, for reference); attack_minus_settled_cents = YIN "
        "pitch over 0.05-0.35 s after the onset minus the settled pitch",
        "latency_s": {},
        "latency_ms_by_key": {},
        "tuning_cents": {},
        "partial_cents": {},
        "attack_minus_settled_cents": {},
    }
    for prog in PROGRAMS:
        rows = measure_program(prog, calibrated=False)
        name = render.PROGRAM_NAMES[prog]
        doc["latency_s"][str(prog)] = round(
            statistics.median(r["latency_ms"] for r in rows) / 1e3, 5
        )
        doc["latency_ms_by_key"][str(prog)] = {
            str(r["key"]): round(r["latency_ms"], 2) for r in rows
        }
        doc["tuning_cents"][str(prog)] = {str(r["key"]): round(r["cents_yin"], 2) for r in rows}
        doc["partial_cents"][str(prog)] = {
            str(r["key"]): round(r["cents_partial"], 2) for r in rows
        }
        doc["attack_minus_settled_cents"][str(prog)] = {
            str(r["key"]): round(r["cents_early_yin"] - r["cents_yin"], 2) for r in rows
        }
        print(f"{name:15s} latency ms:     {_summary(rows, 'latency_ms')}")
        print(f"{'':15s} tuning (YIN):     {_summary(rows, 'cents_yin')}")
        print(f"{'':15s} first partial:    {_summary(rows, 'cents_partial')}")
        rows_attack = [{"d": r["cents_early_yin"] - r["cents_yin"]} for r in rows]
        print(f"{'':15s} attack - settled: {_summary(rows_attack, 'd')}")
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
