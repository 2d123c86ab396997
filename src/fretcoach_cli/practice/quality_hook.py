"""An ambient hook: run a user command when the live quality band changes (a smart bulb).

The band is red / amber / green from the live (sliding-window, last 20 notes) overall score:
green at :data:`GREEN_AT` and up, amber at :data:`AMBER_AT` and up, red below; no band until
the window has a score. The window, not the whole-session average, because a bulb should
show how you are playing *now*.

The hook is a session subscriber. The analysis thread only computes the band and hands it
to a worker thread (a lock and a notify, never I/O), which runs the command without a shell
(``shlex.split``; use ``sh -c '…'`` for pipes or ``$VAR``) with ``FRETCOACH_BAND`` and the
live metrics added to its environment. At most one run per :data:`MIN_INTERVAL_S` and one at
a time: while a run is going or the interval has not passed, later changes wait and only the
latest band is run — and not at all if it is the band last run. A run over
:data:`TIMEOUT_S` is killed (its whole process group). The first failure (missing program,
non-zero exit, timeout) gives one warning line; later failures are silent. Nothing here
ever stops the session.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Band = Literal["red", "amber", "green"]

GREEN_AT = 85.0
AMBER_AT = 65.0
MIN_INTERVAL_S = 2.0
TIMEOUT_S = 5.0
EXIT_GRACE_S = 1.0

#: metric attribute → environment variable (scores 0–100, rounded; empty when unknown)
METRIC_VARS = (
    ("overall_score", "FRETCOACH_OVERALL"),
    ("pitch_accuracy", "FRETCOACH_PITCH_ACCURACY"),
    ("scale_conformity", "FRETCOACH_SCALE_CONFORMITY"),
    ("timing_stability", "FRETCOACH_TIMING_STABILITY"),
    ("clean_playing", "FRETCOACH_CLEAN_PLAYING"),
    ("scale_coverage", "FRETCOACH_SCALE_COVERAGE"),
)


def band_of(overall: float | None) -> Band | None:
    """The quality band of an overall score (None: no score yet, so no band)."""
    if overall is None:
        return None
    if overall >= GREEN_AT:
        return "green"
    if overall >= AMBER_AT:
        return "amber"
    return "red"


def parse_command(command: str) -> list[str]:
    """The hook's argv (no shell). ValueError for unbalanced quotes or an empty command."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    return argv


def hook_env(band: Band, window: Any, session: Any, *, scale: str, notes: int) -> dict[str, str]:
    """The variables a run gets: the band, the live (window) metrics, the session's overall."""
    env = {"FRETCOACH_BAND": band, "FRETCOACH_SCALE": scale, "FRETCOACH_NOTES": str(notes),
           "FRETCOACH_WEAKEST_AREA": str(getattr(window, "weakest_area", None) or ""),
           "FRETCOACH_SESSION_OVERALL": _score(getattr(session, "overall_score", None))}
    for attr, name in METRIC_VARS:
        env[name] = _score(getattr(window, attr, None))
    return env


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


@dataclass
class Pending:
    band: Band
    env: dict[str, str]


class BandGate:
    """The pure rate-limit logic (no threads, no clock of its own: ``now`` is passed in).

    ``offer`` records the latest band; ``take(now)`` returns what to run now, if anything;
    ``done()`` says the run ended. Not thread-safe by itself (the hook holds a lock).
    """

    def __init__(self, min_interval_s: float = MIN_INTERVAL_S) -> None:
        self.min_interval_s = min_interval_s
        self.pending: Pending | None = None
        self.last_band: Band | None = None
        self.running = False
        self._next_at = float("-inf")

    def offer(self, band: Band, env: Mapping[str, str]) -> None:
        self.pending = Pending(band, dict(env))

    def take(self, now: float) -> Pending | None:
        """The run due at ``now``: the latest band if it differs from the last one run, no
        run is going and the interval has passed. Marks it running."""
        if self.running or self.pending is None:
            return None
        if self.pending.band == self.last_band:
            self.pending = None  # back to the band already shown: nothing to do
            return None
        if now < self._next_at:
            return None
        chosen, self.pending = self.pending, None
        self.running = True
        self.last_band = chosen.band
        self._next_at = now + self.min_interval_s
        return chosen

    def done(self) -> None:
        self.running = False

    def wait_s(self, now: float) -> float | None:
        """Seconds until ``take`` could return something (None: only a new offer or
        ``done`` can change that)."""
        if self.running or self.pending is None:
            return None
        return max(0.0, self._next_at - now)


class QualityHook:
    """A :class:`~fretcoach_cli.practice.runner.PracticeSession` subscriber that runs
    ``argv`` on band changes from a worker thread; ``warn`` gets one line on the first
    failure. Stops on ``SessionEnded``; a run still going is killed at its timeout or, at the
    latest, :data:`EXIT_GRACE_S` after the program starts to exit."""

    def __init__(self, argv: list[str], *, warn: Callable[[str], None],
                 min_interval_s: float = MIN_INTERVAL_S, timeout_s: float = TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.argv = list(argv)
        self.warn = warn
        self.timeout_s = timeout_s
        self.runs = 0
        self.failures = 0
        self._clock = clock
        self._gate = BandGate(min_interval_s)
        self._cond = threading.Condition()
        self._closed = False
        self._disabled = False
        self._warned = False
        self._warn_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._work, name="quality-hook", daemon=True)
        self._thread.start()
        atexit.register(self._kill_at_exit)

    @property
    def name(self) -> str:
        return os.path.basename(self.argv[0])

    # -- analysis thread -------------------------------------------------------------------
    def __call__(self, message: Any) -> None:
        from fretcoach_cli.practice.messages import NoteJudged, SessionEnded

        if isinstance(message, NoteJudged):
            band = band_of(getattr(message.window, "overall_score", None))
            if band is None:
                return
            scale = str(getattr(message.window, "scale", "") or "")
            env = hook_env(band, message.window, message.session, scale=scale,
                           notes=message.seq)
            self.offer(band, env)
        elif isinstance(message, SessionEnded):
            self.close()

    def offer(self, band: Band, env: Mapping[str, str]) -> None:
        """The latest band (cheap: a lock and a notify)."""
        with self._cond:
            if self._closed:
                return
            self._gate.offer(band, env)
            self._cond.notify()

    def close(self) -> None:
        """No more runs (a pending band is dropped; a running one keeps its timeout)."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to finish (after ``close``); True when it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- worker thread ---------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                chosen = None
                while not self._closed:
                    chosen = self._gate.take(self._clock())
                    if chosen is not None:
                        break
                    self._cond.wait(self._gate.wait_s(self._clock()))
                if chosen is None:
                    return
            try:
                self._run(chosen)
            finally:
                with self._cond:
                    self._gate.done()

    def _run(self, chosen: Pending) -> None:
        if self._disabled:
            return
        self.runs += 1
        try:
            proc = subprocess.Popen(self.argv, env={**os.environ, **chosen.env},
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:  # missing program, not executable: no point trying again
            self._disabled = True
            self._fail(f"quality hook {self.name!r} cannot run: "
                       f"{exc.strerror or exc}; it is off for this session")
            return
        self._proc = proc
        try:
            _, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            with contextlib.suppress(Exception):
                proc.communicate(timeout=2.0)
            self._fail(f"quality hook {self.name!r} took over {self.timeout_s:g} s and was "
                       "stopped")
            return
        finally:
            self._proc = None
        if proc.returncode != 0:
            detail = _last_line(err)
            self._fail(f"quality hook {self.name!r} failed (exit {proc.returncode})"
                       + (f": {detail}" if detail else ""))

    def _fail(self, line: str, *, more: bool = True) -> None:
        with self._warn_lock:  # the worker and the exit handler may both fail a run
            self.failures += 1
            if self._warned:
                return
            self._warned = True
        with contextlib.suppress(Exception):  # a warning never stops the session
            self.warn(line + ("; later failures are not reported"
                              if more and not self._disabled else ""))

    def _kill_at_exit(self) -> None:
        """A hook still running when fretcoach exits gets :data:`EXIT_GRACE_S` more, then is
        stopped (never left behind, never holding the exit up for its whole timeout)."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(EXIT_GRACE_S)
        if proc.poll() is None:
            _kill_group(proc)
            self._fail(f"quality hook {self.name!r} was still running when the session "
                       "ended and was stopped", more=False)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: children too
        else:  # pragma: no cover - not POSIX
            proc.kill()


def _last_line(err: bytes | None) -> str:
    lines = (err or b"").decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip()[:120] if lines else ""
