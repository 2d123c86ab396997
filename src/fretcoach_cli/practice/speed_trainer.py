"""The speed trainer inside a practice session: the ramp, its click, and what it reports.

The session hands every judged note to :meth:`SpeedTrainer.on_note` (analysis thread); the
ramp (``scoring.ramp``) decides on the audio clock, the click (``audio.click``) plays the same
tempo map, and a :class:`TempoUpdate` goes to the subscribers whenever a bar closes. The ramp's
outcome (:func:`ramp_fields`: spec, tempo curve, best clean tempo) is stored as it grows
(:meth:`SpeedTrainer.progress`, journal-first like the notes, so a crash keeps it) and once more
in the session's summary at the end.

With ``--exercise`` the ramp's unit is a pass of the looped exercise (``unit_bars`` = the bars
one pass takes): ``practice.exercise_run`` judges the passes (``scoring.exercise_loop``) on
this trainer's ramp, under its lock (:meth:`SpeedTrainer.holding`), and the click is the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.scoring.ramp import CurvePoint, RampChange, RampSpec, TempoRamp


@dataclass(frozen=True, slots=True)
class TempoUpdate:
    """The ramp after a note: current tempo, best clean tempo, the curve so far, and the
    change (if any) this note's bar closing scheduled."""

    bpm: float
    best_clean_bpm: float | None
    target_bpm: float
    curve: tuple[CurvePoint, ...]
    change: RampChange | None = None
    active: bool = True
    unit: str = "bar"  # what is judged clean or sloppy: "bar", or "pass" (--exercise)
    pass_number: int | None = None  # --exercise: the pass being played (1-based)


@dataclass(frozen=True, slots=True)
class TrainerOptions:
    """The speed trainer's settings, validated by the CLI."""

    ramp: RampSpec
    click: bool = True
    click_volume: float = 0.6


def ramp_fields(spec: RampSpec, ramp: TempoRamp,
                best_clean_bpm: float | None = None) -> dict[str, Any]:
    """The ramp's outcome as the session row stores it (ddl/060) — the one place, for the
    updates while it runs and for the summary at the end. ``best_clean_bpm``: one judged
    otherwise (a looped exercise's fastest clean pass) instead of the ramp's own."""
    best = ramp.best_clean_bpm if best_clean_bpm is None else best_clean_bpm
    return {
        "ramp": spec.text,
        "max_clean_bpm": best,
        "tempo_curve": [p.to_dict() for p in ramp.curve],
    }


DEFAULT_RISE_BPM = 40.0  # the TUI's t in a --bpm session: a ramp to 40 bpm above
DEFAULT_STEP_BPM = 4.0


def default_options(bpm: float) -> TrainerOptions:
    """The ramp the TUI's t starts in a session with --bpm and no --ramp: from that tempo
    up 40 bpm (at most 400) by 4, no count-in (the click is already running)."""
    from fretcoach_cli.music.tempo import BPM_MAX

    target = min(bpm + DEFAULT_RISE_BPM, BPM_MAX)
    if target <= bpm:
        target = bpm
    return TrainerOptions(RampSpec(bpm, target, DEFAULT_STEP_BPM, count_in_bars=0))


def pitch_ok(verdict: Any) -> bool:
    """A note is right for the ramp when it is a judged note in the scale (an unclear onset
    is not held against the bar: it is counted by clean playing already)."""
    return bool(verdict.judged and verdict.in_scale)


class SpeedTrainer:
    """One per session with ``--ramp``; thread-safe (notes on the analysis thread, the click
    on the audio output thread, the toggle on the UI thread)."""

    def __init__(self, options: TrainerOptions, *, origin_s: float | None = None,
                 pass_bars: int | None = None) -> None:
        """``pass_bars``: the ramp judges passes of a looped exercise of that many bars."""
        self.options = options
        self.ramp = TempoRamp(options.ramp, origin_s=origin_s,
                              unit="bar" if pass_bars is None else "pass",
                              unit_bars=pass_bars or 1)
        self.player: Any = None
        self.notice: str | None = None
        self._lock = threading.Lock()
        self._shown: dict[str, Any] = {}  # what an exercise adds to every TempoUpdate
        self._stored_points = 0  # curve points already handed out by progress()

    @property
    def spec(self) -> RampSpec:
        return self.options.ramp

    # -- the click -----------------------------------------------------------------------
    def beats(self, t0: float, t1: float) -> list[tuple[float, bool]]:
        with self._lock:
            return self.ramp.map.beats(t0, t1)

    def start_click(self, warn: Callable[[str], None] | None = None, *,
                    clock_s: float = 0.0) -> None:
        """Start the audible click (unless ``--no-click``) at audio time ``clock_s``; a
        silent one says so once (a resume after a pause says nothing again)."""
        if not self.options.click or self.notice is not None:
            return
        from fretcoach_cli.audio.click import ClickPlayer

        self.player = ClickPlayer(self.beats, volume=self.options.click_volume,
                                  on_block=self._played_until)
        self.notice = self.player.start(clock_s)
        if self.notice and warn is not None:
            warn(self.notice)

    def _played_until(self, t: float) -> None:
        with self._lock:
            self.ramp.lock_until(t)

    def stop_click(self) -> None:
        player, self.player = self.player, None
        if player is not None:
            player.close()

    # -- the ramp ------------------------------------------------------------------------
    def on_note(self, event: NoteEvent, verdict: Any) -> TempoUpdate:
        with self._lock:
            changes = self.ramp.feed(event.onset_s, pitch_ok(verdict))
            return self._update(changes[-1] if changes else None)

    @contextmanager
    def holding(self) -> Iterator[TempoRamp]:
        """The ramp, with the click and the UI kept out (an exercise's pass settling)."""
        with self._lock:
            yield self.ramp

    def update(self, change: RampChange | None = None, **fields: Any) -> TempoUpdate:
        """The state now, with ``change``; ``fields`` (an exercise's pass number and fastest
        clean pass) are kept for every later update too."""
        with self._lock:
            self._shown.update(fields)
            return self._update(change)

    def grid_offset_ms(self, onset_s: float) -> float:
        with self._lock:
            return self.ramp.map.offset_ms(onset_s)

    def toggle(self) -> bool:
        """Hold the tempo (no rises or falls) or let the ramp run again; the new state."""
        with self._lock:
            self.ramp.active = not self.ramp.active
            return self.ramp.active

    def bpm_at(self, t: float) -> float:
        with self._lock:
            return self.ramp.bpm_at(t)

    def beat_at(self, t: float) -> int | None:
        """Zero-based beat of the bar at audio time ``t`` (None before the first click)."""
        with self._lock:
            m = self.ramp.map
            if t < 0:
                return None
            bar = m.bar_at(t)
            beat = int((t - m.bar_start(bar)) * m.bpm_of_bar(bar) / 60.0)
            return min(max(beat, 0), m.beats_per_bar - 1)

    def state(self) -> TempoUpdate:
        with self._lock:
            return self._update(None)

    def outcome(self) -> dict[str, Any]:
        """The ramp's fields to store now (at the start: the spec and an empty curve)."""
        with self._lock:
            return self._fields()

    def progress(self) -> dict[str, Any] | None:
        """The fields to store when the curve has gained a point (a bar or pass settled)
        since the last ones handed out, else None: a killed session keeps its ramp."""
        with self._lock:
            points = len(self.ramp.curve)
            if points == self._stored_points:
                return None
            self._stored_points = points
            return self._fields()

    def finish(self, end_s: float) -> dict[str, Any]:
        """Close the bars played before ``end_s``; the summary fields to store."""
        self.stop_click()
        with self._lock:
            self.ramp.close(end_s)
            return self._fields()

    def _fields(self) -> dict[str, Any]:
        """ramp_fields with the best clean tempo the player is shown (an exercise's own)."""
        return ramp_fields(self.spec, self.ramp, self._shown.get("best_clean_bpm"))

    def _update(self, change: RampChange | None) -> TempoUpdate:
        from dataclasses import replace

        r = self.ramp
        update = TempoUpdate(r.current_bpm, r.best_clean_bpm, self.spec.target_bpm,
                             tuple(r.curve), change, r.active)
        return replace(update, **self._shown) if self._shown else update


def describe(update: TempoUpdate) -> str:
    """"84 bpm → 140 (best clean 80)" for the live line ("pass 3 · 84 bpm → …" looped)."""
    best = "—" if update.best_clean_bpm is None else f"{update.best_clean_bpm:g}"
    held = "" if update.active else ", held"
    where = "" if update.pass_number is None else f"pass {update.pass_number} · "
    return f"{where}{update.bpm:g} bpm → {update.target_bpm:g} (best clean {best}{held})"


def stored_pass(row: Any) -> str:
    """Which pass of a looped exercise session (``--exercise --ramp``) the stored verdicts
    are (ddl/065 holds one pass): "pass 10, the fastest clean one" or "the last pass played
    through", from its ``tempo_curve`` and ``exercise_bpm``; "" for any other session."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k, None)
    curve = get("tempo_curve") or []
    if not (get("ramp") and get("exercise_name") and curve):
        return ""
    best = get("max_clean_bpm")
    for k, p in enumerate(curve):
        if p.get("clean") and best is not None and p.get("bpm") == best:
            return f"pass {k + 1}, the fastest clean one"
    return "no clean pass: the last one played through"


def speed_summary(speed: dict[str, Any]) -> str:
    """One line for the summary: the ramp, how far it got, and the best clean tempo. A
    looped exercise's curve has one point a pass (``exercise_name`` set, or ``unit``)."""
    curve = speed.get("tempo_curve") or []
    top = max((p["bpm"] for p in curve), default=None)
    best = speed.get("max_clean_bpm")
    clean = sum(1 for p in curve if p.get("clean"))
    unit = speed.get("unit") or ("pass" if speed.get("exercise_name") else "bar")
    units = "passes" if unit == "pass" else "bars"
    return (f"speed trainer {speed.get('ramp')}: best clean tempo "
            f"{'—' if best is None else f'{best:g} bpm'}, reached "
            f"{'—' if top is None else f'{top:g}'} bpm, "
            f"{clean} of {len(curve)} {units} clean")
