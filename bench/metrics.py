"""Note- and frame-level accuracy of detected notes against rendered ground truth.

Pure functions on plain data (truth dicts from ``render.truth_dict``; detected events with
``onset_s``, ``midi`` and optionally ``kind``, as ``fretcoach_cli.events.NoteEvent`` has),
so they are unit-tested on synthetic lists and reused by any benchmark.

Definitions (the same as mir_eval's transcription metrics where they overlap):

- **onset F1**: one-to-one matching of detected onsets (every event kind) to true onsets
  within ±``onset_tol`` (50 ms), maximising the number of matches (then minimising the total
  time error) with the Hungarian algorithm.
- **note F1**: the same matching where a pair also needs a pitched detection within
  ``pitch_tol_cents`` (50) of the true fractional MIDI pitch.
- **RPA** (raw pitch accuracy): share of truly voiced frames (inside a true note, after the
  first 30 ms of attack and before the last 20 ms) whose estimated f0 is within 50 cents;
  an unvoiced estimate (f0 ≤ 0 or NaN) counts as a miss. **RCA** ignores octaves.
- **cents error**: mean |detected − true| in cents over note-F1 matches, against the settled
  pitch (``midi``); its signed median is ``cents_bias``. ``attack_cents_bias`` is the same
  against the pitch heard in the first 0.05–0.35 s (truth ``attack_cents``: plucks start a
  few cents sharp and short notes never settle), so a tracker's own bias can be told apart
  from the instrument's.
- **octave errors**: onset-matched pairs whose pitch differs by a whole number (≠ 0) of
  octaves within 50 cents.
- **in-scale ratio / IOI CV errors**: |figure(detected) − figure(truth)|, with in-scale
  judged on the nearest semitone of pitched detections and IOI CV over all detected onsets.
- **offset F1** (mir_eval ``transcription.match_notes``): a pair needs the onset within 50 ms,
  the pitch within 50 cents *and* the offset within max(20 % of the true note's duration,
  50 ms) — mir_eval's "note with offset" F1 over the same reference and detections as note F1.
- **double stops** (truth notes of ``kind`` "double_stop", grouped in ``double_stops``): one
  reference event per group that only a ``polyphonic`` detection matches (onset ±50 ms; for
  offset F1 also its end); they count in onset/note/offset F1 like a note, never in the
  cents figures.
- **held notes** (true single notes lasting ≥ 1.5 s): over the whole sustain (onset + 50 ms
  to offset − 50 ms) the share of frames within 50 cents (**hRPA**; unvoiced = miss) and the
  median |cents| of voiced frames (**hMed¢**); **lowOct**: held notes on the E2/A2 strings
  (truth ``string`` 0/1, or MIDI < 50) whose onset-matched detection is whole octaves off
  or with ≥ 1 % of their frames whole octaves off; **xtra/h**: detections that match no true
  onset and start inside a held note (after its first 50 ms), per held note; **tunRPA**: the
  same share as hRPA but of the live tuner stream (the engine's ``PitchUpdate`` events, what
  the practice room's tuner pane shows; a silent update = miss).
- **refused**: files `fretcoach analyze` would refuse (exit 8, e.g. "mostly chords").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ONSET_TOL_S = 0.05
PITCH_TOL_CENTS = 50.0
OFFSET_RATIO = 0.2
OFFSET_MIN_S = 0.05
HELD_MIN_S = 1.5
HELD_EDGE_S = 0.05
POLY_MIDI = -1000.0  # matching "pitch" shared by true double stops and polyphonic detections
_POLY_HZ, _UNCLEAR_HZ = 1.0, 0.5  # their stand-ins for mir_eval (1200 cents apart)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def event_midi(ev: Any) -> float | None:
    """The pitch of a detected event, or None for polyphonic/unclear/unpitched ones."""
    kind = _get(ev, "kind", "note")
    midi = _get(ev, "midi")
    if kind != "note" or midi is None or not math.isfinite(midi):
        return None
    return float(midi)


def match(
    ref_onsets: Sequence[float],
    est_onsets: Sequence[float],
    *,
    onset_tol: float = ONSET_TOL_S,
    ref_midi: Sequence[float | None] | None = None,
    est_midi: Sequence[float | None] | None = None,
    pitch_tol_cents: float | None = None,
) -> list[tuple[int, int]]:
    """Maximum one-to-one matching (ref index, est index), sorted by ref index.

    A pair is admissible when |Δonset| ≤ ``onset_tol`` and, if ``pitch_tol_cents`` is given,
    both pitches are known and within that many cents."""
    n, m = len(ref_onsets), len(est_onsets)
    if n == 0 or m == 0:
        return []
    r = np.asarray(ref_onsets, dtype=float)[:, None]
    e = np.asarray(est_onsets, dtype=float)[None, :]
    dt = np.abs(r - e)
    ok = dt <= onset_tol + 1e-9
    if pitch_tol_cents is not None:
        if ref_midi is None or est_midi is None:
            raise ValueError("pitch matching needs ref_midi and est_midi")
        rm = np.array([np.nan if x is None else x for x in ref_midi], dtype=float)[:, None]
        em = np.array([np.nan if x is None else x for x in est_midi], dtype=float)[None, :]
        with np.errstate(invalid="ignore"):
            ok &= np.abs(rm - em) * 100.0 <= pitch_tol_cents + 1e-9
    if not ok.any():
        return []
    from scipy.optimize import linear_sum_assignment

    # An inadmissible pair costs more than all admissible ones together, so the solver first
    # maximises the number of admissible pairs, then minimises their total time error.
    big = 1.0 + onset_tol * (min(n, m) + 1)
    cost = np.where(ok, dt, big)
    rows, cols = linear_sum_assignment(cost)
    return sorted((int(i), int(j)) for i, j in zip(rows, cols, strict=True) if ok[i, j])


def prf(matches: int, n_ref: int, n_est: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (1.0 when both lists are empty; 0.0 when one is)."""
    if n_ref == 0 and n_est == 0:
        return 1.0, 1.0, 1.0
    p = matches / n_est if n_est else 0.0
    r = matches / n_ref if n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def ioi_cv(onsets: Iterable[float]) -> float | None:
    xs = np.sort(np.asarray(list(onsets), dtype=float))
    if len(xs) < 3:
        return None
    iois = np.diff(xs)
    mean = float(iois.mean())
    return float(iois.std() / mean) if mean > 0 else None


def in_scale_ratio(midis: Iterable[float | None], pcs: frozenset[int] | set[int]) -> float | None:
    pitched = [m for m in midis if m is not None]
    if not pitched:
        return None
    return sum(1 for m in pitched if round(m) % 12 in pcs) / len(pitched)


def truth_voiced_midi(
    truth_notes: Sequence[dict], times: np.ndarray, *, attack_s: float = 0.03,
    release_s: float = 0.02,
) -> np.ndarray:  # fmt: skip
    """The true MIDI pitch at each frame time, NaN where no note is settled-sounding."""
    out = np.full(len(times), np.nan)
    for n in truth_notes:
        lo, hi = n["onset_s"] + attack_s, n["offset_s"] - release_s
        if hi <= lo:
            continue
        sel = (times >= lo) & (times <= hi)
        # overlapping notes (chords) are not a single pitch: leave those frames out
        clash = sel & ~np.isnan(out)
        out[sel] = n["midi"]
        out[clash] = np.inf
    out[np.isinf(out)] = np.nan
    return out


def frame_accuracy(
    truth_notes: Sequence[dict], times: np.ndarray, f0_hz: np.ndarray, *, a4: float = 440.0,
    cents_tol: float = PITCH_TOL_CENTS,
) -> tuple[int, int, int]:  # fmt: skip
    """(voiced truth frames, pitch-correct frames, chroma-correct frames)."""
    times = np.asarray(times, dtype=float)
    f0 = np.asarray(f0_hz, dtype=float)
    ref = truth_voiced_midi(truth_notes, times)
    voiced = ~np.isnan(ref)
    est_ok = voiced & np.isfinite(f0) & (f0 > 0)
    est = np.full(len(f0), np.nan)
    est[est_ok] = 69.0 + 12.0 * np.log2(f0[est_ok] / a4)
    diff = (est - ref) * 100.0
    with np.errstate(invalid="ignore"):
        raw = est_ok & (np.abs(diff) <= cents_tol)
        chroma_diff = np.abs(((diff + 600.0) % 1200.0) - 600.0)
        chroma = est_ok & (chroma_diff <= cents_tol)
    return int(voiced.sum()), int(raw.sum()), int(chroma.sum())


def reference_events(truth: dict) -> list[dict]:
    """The events to find: single notes as they are, each double stop as one event
    (``kind`` "polyphonic", ``midi`` None) spanning its notes."""
    out: list[dict] = []
    groups: dict[Any, list[dict]] = {}
    for n in truth["notes"]:
        if n.get("kind", "note") == "note":
            out.append(n)
        else:
            groups.setdefault(n.get("group"), []).append(n)
    for members in groups.values():
        out.append({"onset_s": min(m["onset_s"] for m in members),
                    "offset_s": max(m["offset_s"] for m in members),
                    "midi": None, "kind": "polyphonic"})  # fmt: skip
    return sorted(out, key=lambda n: n["onset_s"])


def _match_midi(ev: Any) -> float | None:
    if _get(ev, "kind", "note") == "polyphonic":
        return POLY_MIDI
    return event_midi(ev)


def offset_matches(ref: Sequence[dict], est: Sequence[Any]) -> int:
    """mir_eval's note-with-offset matches (onset ±50 ms, pitch ±50 cents, offset within
    max(20 % of the true duration, 50 ms))."""
    if not ref or not est:
        return 0
    import mir_eval.transcription

    def hz(m: float | None, kind: str) -> float:
        if kind == "polyphonic":
            return _POLY_HZ
        return _UNCLEAR_HZ if m is None else 440.0 * 2 ** ((m - 69.0) / 12.0)

    ri = np.array([[n["onset_s"], max(n["offset_s"], n["onset_s"] + 1e-3)] for n in ref])
    rp = np.array([hz(n["midi"], n.get("kind", "note")) for n in ref])
    ei = np.array([[float(_get(e, "onset_s")),
                    max(float(_get(e, "offset_s", _get(e, "onset_s"))),
                        float(_get(e, "onset_s")) + 1e-3)] for e in est])  # fmt: skip
    ep = np.array([hz(event_midi(e), _get(e, "kind", "note")) for e in est])
    pairs = mir_eval.transcription.match_notes(
        ri, rp, ei, ep, onset_tolerance=ONSET_TOL_S, pitch_tolerance=PITCH_TOL_CENTS,
        offset_ratio=OFFSET_RATIO, offset_min_tolerance=OFFSET_MIN_S)  # fmt: skip
    return len(pairs)


def _is_low_string(n: dict) -> bool:
    s = n.get("string")
    return s in (0, 1) if s is not None else n["midi"] < 50


def held_note_figures(ref: Sequence[dict], est: Sequence[Any], on_pairs: Sequence[tuple],
                      frames: tuple[np.ndarray, np.ndarray] | None, a4: float = 440.0,
                      tuner: Sequence[tuple[float, float | None]] | None = None,
                      ) -> dict[str, Any]:  # fmt: skip
    """Frame accuracy over the whole sustain of each held note, low-string octave errors
    and extra detections inside held notes (see the module docstring)."""
    held = [i for i, n in enumerate(ref) if n.get("kind", "note") == "note"
            and n["offset_s"] - n["onset_s"] >= HELD_MIN_S]  # fmt: skip
    out: dict[str, Any] = {"held": len(held), "frames": 0, "ok": 0, "cents": [],
                           "low_octave": 0, "extra": 0, "tuner": 0, "tuner_ok": 0}  # fmt: skip
    matched_est = {j for _, j in on_pairs}
    est_of = dict(on_pairs)
    for i in held:
        n = ref[i]
        lo, hi = n["onset_s"] + HELD_EDGE_S, n["offset_s"] - HELD_EDGE_S
        octave_frames = 0
        n_frames = 0
        if frames is not None:
            times = np.asarray(frames[0], dtype=float)
            f0 = np.asarray(frames[1], dtype=float)
            sel = (times >= lo) & (times <= hi)
            n_frames = int(sel.sum())
            f = f0[sel]
            voiced = np.isfinite(f) & (f > 0)
            cents = (69.0 + 12.0 * np.log2(f[voiced] / a4) - n["midi"]) * 100.0
            out["frames"] += n_frames
            out["ok"] += int(np.sum(np.abs(cents) <= PITCH_TOL_CENTS))
            out["cents"].extend(np.abs(cents).tolist())
            k = np.round(cents / 1200.0)
            octave_frames = int(np.sum((k != 0) & (np.abs(cents - 1200.0 * k) <= PITCH_TOL_CENTS)))
        for t, m in tuner or ():
            if lo <= t <= hi:
                out["tuner"] += 1
                out["tuner_ok"] += int(m is not None and abs(m - n["midi"]) * 100.0
                                       <= PITCH_TOL_CENTS)  # fmt: skip
        if _is_low_string(n):
            m = event_midi(est[est_of[i]]) if i in est_of else None
            off = m is not None and round((m - n["midi"]) / 12.0) != 0 and abs(
                (m - n["midi"]) - 12.0 * round((m - n["midi"]) / 12.0)) * 100 <= PITCH_TOL_CENTS
            if off or (n_frames and octave_frames >= 0.01 * n_frames):
                out["low_octave"] += 1
        for j, e in enumerate(est):
            t = float(_get(e, "onset_s"))
            if j not in matched_est and n["onset_s"] + ONSET_TOL_S < t <= n["offset_s"]:
                out["extra"] += 1
    return out


@dataclass
class ClipScore:
    """Counts and per-clip figures; :func:`aggregate` sums counts (micro-average)."""

    name: str
    category: str
    n_ref: int = 0
    n_est: int = 0
    n_est_pitched: int = 0
    onset_matches: int = 0
    note_matches: int = 0
    voiced_frames: int = 0
    rpa_frames: int = 0
    rca_frames: int = 0
    octave_errors: int = 0
    cents_errors: list[float] = field(default_factory=list)
    cents_signed: list[float] = field(default_factory=list)
    attack_signed: list[float] = field(default_factory=list)
    onset_errors_ms: list[float] = field(default_factory=list)
    in_scale_true: float | None = None
    in_scale_est: float | None = None
    ioi_cv_true: float | None = None  # plain std / mean of all IOIs (the truth file's figure)
    ioi_cv_est: float | None = None
    # the figure `analyze` reports: scoring's IOI CV (pitched notes, phrase breaks dropped,
    # double/half IOIs folded onto the pulse), on the true onsets and on the engine's
    report_cv_true: float | None = None
    report_cv_est: float | None = None
    seconds: float = 0.0
    cpu_s: float = 0.0
    offset_matches: int | None = None  # None: mir_eval missing
    held_notes: int = 0
    held_frames: int = 0
    held_ok_frames: int = 0
    held_cents: list[float] = field(default_factory=list)
    low_octave_errors: int = 0
    held_extra: int = 0
    tuner_updates: int = 0
    tuner_ok: int = 0
    refused: bool | None = None

    @property
    def offset_f1(self) -> float | None:
        if self.offset_matches is None:
            return None
        return prf(self.offset_matches, self.n_ref, self.n_est)[2]

    @property
    def onset_f1(self) -> float:
        return prf(self.onset_matches, self.n_ref, self.n_est)[2]

    @property
    def note_f1(self) -> float:
        return prf(self.note_matches, self.n_ref, self.n_est)[2]

    @property
    def in_scale_err(self) -> float | None:
        if self.in_scale_true is None:
            return None
        est = 0.0 if self.in_scale_est is None else self.in_scale_est
        return abs(est - self.in_scale_true)

    @property
    def ioi_cv_err(self) -> float | None:
        if self.ioi_cv_true is None or self.ioi_cv_est is None:
            return None
        return abs(self.ioi_cv_est - self.ioi_cv_true)

    @property
    def report_cv_err(self) -> float | None:
        if self.report_cv_true is None or self.report_cv_est is None:
            return None
        return abs(self.report_cv_est - self.report_cv_true)


def score_clip(
    truth: dict,
    events: Sequence[Any],
    *,
    name: str = "",
    category: str = "",
    frames: tuple[np.ndarray, np.ndarray] | None = None,
    onset_tol: float = ONSET_TOL_S,
    pitch_tol_cents: float = PITCH_TOL_CENTS,
    tuner: Sequence[tuple[float, float | None]] | None = None,
) -> ClipScore:
    """Score one clip. ``frames`` = (times_s, f0_hz) of the engine's pitch track;
    ``tuner`` = (time_s, midi or None) of its live tuner updates."""
    ref = reference_events(truth)
    ref_on = [n["onset_s"] for n in ref]
    ref_midi = [POLY_MIDI if n.get("kind") == "polyphonic" else n["midi"] for n in ref]
    single = [n.get("kind", "note") == "note" for n in ref]
    est = sorted(events, key=lambda e: _get(e, "onset_s"))
    est_on = [float(_get(e, "onset_s")) for e in est]
    est_midi = [event_midi(e) for e in est]
    s = ClipScore(name=name, category=category, n_ref=len(ref), n_est=len(est))
    s.n_est_pitched = sum(1 for m in est_midi if m is not None)
    s.seconds = float(truth.get("duration_s", 0.0))
    on_pairs = match(ref_on, est_on, onset_tol=onset_tol)
    s.onset_matches = len(on_pairs)
    s.onset_errors_ms = [(est_on[j] - ref_on[i]) * 1000.0 for i, j in on_pairs]
    note_pairs = match(ref_on, est_on, onset_tol=onset_tol, ref_midi=ref_midi,
                       est_midi=[_match_midi(e) for e in est],
                       pitch_tol_cents=pitch_tol_cents)  # fmt: skip
    s.note_matches = len(note_pairs)
    note_pairs = [(i, j) for i, j in note_pairs if single[i]]
    s.cents_signed = [(est_midi[j] - ref_midi[i]) * 100.0 for i, j in note_pairs]  # type: ignore[operator]
    s.cents_errors = [abs(c) for c in s.cents_signed]
    # against the pitch heard in the pluck's first 0.05-0.35 s (truth "attack_cents")
    s.attack_signed = [
        (est_midi[j] - ref[i]["key"] - ref[i]["attack_cents"] / 100.0) * 100.0  # type: ignore[operator]
        for i, j in note_pairs
        if "attack_cents" in ref[i] and "key" in ref[i]
    ]
    for i, j in on_pairs:
        m = est_midi[j]
        if m is None or not single[i]:
            continue
        d = m - ref_midi[i]
        octaves = round(d / 12.0)
        if octaves != 0 and abs(d - 12.0 * octaves) * 100.0 <= pitch_tol_cents:
            s.octave_errors += 1
    a4 = float(truth.get("a4_hz", 440.0))
    if frames is not None:
        s.voiced_frames, s.rpa_frames, s.rca_frames = frame_accuracy(
            truth["notes"], frames[0], frames[1], a4=a4
        )
    try:
        s.offset_matches = offset_matches(ref, est)
    except ImportError:
        s.offset_matches = None  # the caller says so (accuracy.py warns once)
    held = held_note_figures(ref, est, on_pairs, frames, a4, tuner)
    s.tuner_updates, s.tuner_ok = held["tuner"], held["tuner_ok"]
    s.held_notes, s.held_frames, s.held_ok_frames = held["held"], held["frames"], held["ok"]
    s.held_cents, s.low_octave_errors, s.held_extra = held["cents"], held["low_octave"], \
        held["extra"]
    key, scale = truth.get("key"), truth.get("scale")
    figures = truth.get("figures", {})
    if key and scale and figures.get("in_scale_ratio") is not None:
        from render import scale_pcs

        s.in_scale_true = figures["in_scale_ratio"]
        s.in_scale_est = in_scale_ratio(est_midi, scale_pcs(key, scale))
    s.ioi_cv_true = figures.get("ioi_cv")
    s.ioi_cv_est = ioi_cv(est_on)
    s.report_cv_true = report_ioi_cv(ref_on)
    s.report_cv_est = report_ioi_cv(o for o, m in zip(est_on, est_midi, strict=True)
                                    if m is not None)
    return s


def report_ioi_cv(onsets: Iterable[float]) -> float | None:
    """The IOI CV `fretcoach analyze` reports (fretcoach_cli.scoring.metrics.ioi_cv)."""
    from fretcoach_cli.scoring.metrics import ioi_cv as scoring_ioi_cv

    return scoring_ioi_cv(onsets)[0]


def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return float(np.mean(vals)) if vals else None


def aggregate(scores: Sequence[ClipScore]) -> dict[str, Any]:
    """Micro-averaged F1s and frame accuracy (sums of counts), pooled error means."""
    n_ref = sum(s.n_ref for s in scores)
    n_est = sum(s.n_est for s in scores)
    on = prf(sum(s.onset_matches for s in scores), n_ref, n_est)
    nt = prf(sum(s.note_matches for s in scores), n_ref, n_est)
    voiced = sum(s.voiced_frames for s in scores)
    cents = [c for s in scores for c in s.cents_errors]
    onset_err = [c for s in scores for c in s.onset_errors_ms]
    seconds = sum(s.seconds for s in scores)
    cpu = sum(s.cpu_s for s in scores)
    offs = [s.offset_matches for s in scores]
    off = prf(sum(offs), n_ref, n_est) if offs and None not in offs else (None, None, None)  # type: ignore[arg-type]
    held = sum(s.held_notes for s in scores)
    held_frames = sum(s.held_frames for s in scores)
    held_cents = [c for s in scores for c in s.held_cents]
    judged = [s.refused for s in scores if s.refused is not None]
    return {
        "clips": len(scores),
        "offset_p": off[0],
        "offset_r": off[1],
        "offset_f1": off[2],
        "held_notes": held,
        "held_rpa": sum(s.held_ok_frames for s in scores) / held_frames if held_frames else None,
        "held_median_cents": float(np.median(held_cents)) if held_cents else None,
        "low_octave_errors": sum(s.low_octave_errors for s in scores),
        "extra_per_held": sum(s.held_extra for s in scores) / held if held else None,
        "tuner_rpa": sum(s.tuner_ok for s in scores) / sum(s.tuner_updates for s in scores)
        if any(s.tuner_updates for s in scores) else None,
        "files_refused": sum(judged) if judged else None,
        "ref_notes": n_ref,
        "est_events": n_est,
        "onset_p": on[0],
        "onset_r": on[1],
        "onset_f1": on[2],
        "note_p": nt[0],
        "note_r": nt[1],
        "note_f1": nt[2],
        "rpa": sum(s.rpa_frames for s in scores) / voiced if voiced else None,
        "rca": sum(s.rca_frames for s in scores) / voiced if voiced else None,
        "mean_abs_cents": float(np.mean(cents)) if cents else None,
        "p95_abs_cents": float(np.percentile(cents, 95)) if cents else None,
        "cents_bias": float(np.median([c for s in scores for c in s.cents_signed]))
        if any(s.cents_signed for s in scores)
        else None,
        "attack_cents_bias": float(np.median([c for s in scores for c in s.attack_signed]))
        if any(s.attack_signed for s in scores)
        else None,
        "onset_bias_ms": float(np.median(onset_err)) if onset_err else None,
        "onset_mad_ms": float(np.median(np.abs(np.asarray(onset_err) - np.median(onset_err))))
        if onset_err
        else None,
        "octave_errors": sum(s.octave_errors for s in scores),
        "in_scale_err": _mean(s.in_scale_err for s in scores),
        "ioi_cv_err": _mean(s.ioi_cv_err for s in scores),
        "report_cv_err": _mean(s.report_cv_err for s in scores),
        "audio_s": seconds,
        "cpu_s": cpu,
        "realtime_factor": cpu / seconds if seconds else None,
    }
