"""Early announcing: name a note within ~50 ms of its pluck, before it is judged.

The note tracker (:mod:`fretcoach_cli.audio.segment`) decides *which* notes there are and
their settled pitch; this module only tells the player sooner. A ``NoteStarted`` goes out as
soon as a probe (an extra pitch-model call on the first 48–80 ms after a pluck or a weak
onset, confirmed by the new sound's harmonics) or the note's first frames agree on a pitch
(or a deadline passes); a ``NoteDropped`` withdraws it if the note turns out not to be one.
Announcements never change which notes are found or their numbers (live use only:
``provisional=True``).
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from fretcoach_cli.audio.refine import harmonic_share, new_energy
from fretcoach_cli.audio.thresholds import (
    ANNOUNCE_DEADLINE_S,
    ANNOUNCE_FRAMES,
    ANNOUNCE_SKIP_S,
    ANNOUNCE_SPREAD,
    CHANGE_SEMITONES,
    FRESH_ENERGY,
    MIN_NOTE_S,
    PROBE_FRAMES,
    PROBE_MIN_FRAMES,
    PROBE_S,
    PROBE_SHARE,
    PROBE_VOICED,
    RATE,
    TAIL_CHANGE_S,
    WEAK_ATTEMPTS,
    WEAK_WAIT_S,
)
from fretcoach_cli.events import NoteDropped, NoteStarted
from fretcoach_cli.music.notes import midi_to_hz

if TYPE_CHECKING:
    from fretcoach_cli.audio.segment import NoteTracker, _Note

Probe = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Announcer:
    """The announcing half of a :class:`NoteTracker` (which owns it and its outbox)."""

    def __init__(self, tracker: NoteTracker, probe: Probe | None, probe_hop: int) -> None:
        self.tr = tracker
        self._probe = probe
        self._probe_hop = probe_hop
        self._probe_due: list[tuple[float, float, int]] = []  # (due at, onset, attempt)
        self._probed: set[float] = set()  # onsets already announced by a probe
        self._weak_due: list[tuple[float, float, int]] = []  # weak onsets' probes
        # ... announced (onset → NoteStarted), waiting for the pitch change the frames find
        self._weak_named: dict[float, NoteStarted] = {}
        self._named: dict[float, float] = {}  # recent plucks' pitches as their probes named them
        self._evidence: dict[float, bool] = {}  # recent onsets: is a new note starting there?

    def schedule(self, onsets: list[float], weak: list[float]) -> None:
        """New onsets and weak onsets of a block: probe them when their audio is in."""
        if self._probe is None:
            return
        if len(self._evidence) > 64:
            self._evidence = {o: v for o, v in self._evidence.items()
                              if o > self.tr._n / RATE - 1.0}
        for onset in onsets:
            insort(self._probe_due, (onset + PROBE_S[0], onset, 0))
        for onset in weak:
            insort(self._weak_due, (onset + PROBE_S[0], onset, 0))
        self.run_probes()
        self.run_weak_probes()

    def end_of_input(self) -> None:
        """Too close to the end for probes: those notes are named the regular way."""
        self._probe_due, self._weak_due = [], []

    def onset_decided(self, onset: float, accepted: bool) -> bool:
        """The tracker accepted or rejected an energy onset; whether a probe announced it
        (a rejected one that was announced is withdrawn)."""
        probed = onset in self._probed
        self._probed.discard(onset)
        if probed and not accepted:
            self.tr._outbox.append(NoteDropped(onset, self.tr._n / RATE))
        return probed and accepted

    def expire_weak(self, t: float) -> None:
        """Withdraw weak-onset announcements no note took up in time."""
        if self._weak_named:
            self.drop_weak(t - WEAK_WAIT_S)

    def change_found(self, cur: _Note, midi: float) -> None:
        """The frames found a pitch change (a new note ``cur``): a weak onset may have named it."""
        if self._weak_named:
            self.take_announcement(cur, midi)

    def take_announcement(self, cur: _Note, midi: float) -> None:
        """A weak-onset probe may have announced this pitch change already: the note takes
        that announcement over (re-keyed to its own onset, in the same breath, when the
        frames timed the change differently) instead of being announced a second time."""
        near = [w for w, e in self._weak_named.items()
                if cur.onset_s - 0.12 <= w <= cur.onset_s + 0.06
                and e.midi is not None and abs(e.midi - midi) <= 0.5]
        if not near:
            return
        w = min(near, key=lambda o: abs(o - cur.onset_s))
        early = self._weak_named.pop(w)
        cur.announced = True
        if w != cur.onset_s:
            self.tr._outbox.append(NoteDropped(w, self.tr._n / RATE))
            self.tr._outbox.append(NoteStarted(cur.onset_s, early.midi, early.confidence,
                                            self.tr._n / RATE))

    def run_probes(self) -> None:
        """Name plucks soon after their onset, before the regular frames reach them."""
        now = self.tr._n / RATE
        while self._probe_due and self._probe_due[0][0] <= now:
            _, onset, attempt = self._probe_due.pop(0)
            named = self._probe_once(onset, PROBE_S[attempt])
            if named is None:
                if attempt + 1 < len(PROBE_S):  # not sure yet: look again with more audio
                    insort(self._probe_due, (onset + PROBE_S[attempt + 1], onset, attempt + 1))
                continue
            self._named = {o: m for o, m in self._named.items() if o > onset - 2.0}
            self._named[onset] = named[0]
            cur = self.tr._cur
            if onset in self.tr._pending:  # the regular frames have not reached it yet
                self._probed.add(onset)
            elif cur is not None and cur.onset_s == onset and not cur.announced:
                cur.announced = True  # they have, and started it; announce it now
            else:
                continue  # already announced, or not a note at all
            self.tr._outbox.append(NoteStarted(onset, named[0], named[1], now))

    def run_weak_probes(self) -> None:
        """Name a pitch change at a weak onset (a soft pluck in noise, a hammer-on) early.

        Such an onset starts no note by itself: the pitch change the frames find later does,
        timed by it. A probe there announces that note once it hears a *new* pitch, fresh
        sound on its harmonics; if the change never comes, a ``NoteDropped`` follows.
        """
        now = self.tr._n / RATE
        while self._weak_due and self._weak_due[0][0] <= now:
            _, onset, attempt = self._weak_due.pop(0)
            ref = self._pitch_before(onset)
            last = self.tr.last_pitch
            if (ref is None or last is None or last[0] >= onset - self.tr.fp
                    or any(abs(o - onset) < MIN_NOTE_S for o in self.tr._pending)):
                continue  # no known pitch to change from, frames already there, or a pluck
            named = self._probe_once(onset, PROBE_S[attempt], change_from=ref)
            if named is None:
                if attempt + 1 < WEAK_ATTEMPTS:
                    insort(self._weak_due, (onset + PROBE_S[attempt + 1], onset, attempt + 1))
                continue
            if any(abs(w - onset) <= WEAK_WAIT_S and e.midi is not None
                   and abs(e.midi - named[0]) <= 0.5 for w, e in self._weak_named.items()):
                continue  # that change is announced already (noise makes several weak peaks)
            event = NoteStarted(onset, named[0], named[1], now)
            self._weak_named[onset] = event
            self.tr._outbox.append(event)

    def _pitch_before(self, onset: float) -> float | None:
        """The pitch sounding just before ``onset``: that of the last pluck before it the
        frames have not reached yet (as its probe named it), else the current note's."""
        earlier = [o for o in self.tr._pending if o < onset]
        if earlier:
            return self._named.get(earlier[-1])
        cur = self.tr._cur
        if cur is None:
            return None
        return cur.ref if cur.ref is not None else self._named.get(cur.onset_s)

    def drop_weak(self, before: float) -> None:
        """Withdraw weak-onset announcements older than ``before`` that no note took up."""
        for onset in sorted(o for o in self._weak_named if o < before):
            del self._weak_named[onset]
            self.tr._outbox.append(NoteDropped(onset, self.tr._n / RATE))

    def _probe_once(self, onset: float, after_s: float, *,
                    change_from: float | None = None) -> tuple[float, float] | None:
        """(midi, confidence) of a pluck from the audio up to ``after_s`` past its onset, or
        None when that audio does not name it with confidence. With ``change_from`` (a weak
        onset inside a note of that pitch) the pitch must differ from it and be fresh sound.
        """
        assert self._probe is not None
        if self.tr.onsets.level_at(onset, onset + after_s) < self.tr.gate:
            return None
        quiet_before = self.tr.onsets.level_at(onset - 0.035, onset - 0.012) < self.tr.gate
        if change_from is None and not quiet_before:
            if onset not in self._evidence:  # (the same for each of its probes)
                self._evidence[onset] = self.tr._new_note_evidence(onset,
                                                                self._pitch_before(onset))[0]
            if not self._evidence[onset]:
                return None  # most likely a wiggle inside a note: the frames will decide
        span = round(after_s * RATE)
        new = self.tr._segment_audio(onset, onset + after_s)
        old = self.tr._segment_audio(onset - after_s - 0.005, onset - 0.005)
        if len(new) < span:
            return None
        if change_from is not None and new_energy(new, old) < FRESH_ENERGY:
            return None  # nothing new came at that weak onset (most of them): skip the model
        end = round((onset + after_s) * RATE)
        start = end - PROBE_FRAMES * self._probe_hop
        audio = self.tr._samples(max(0, start), end)
        if start < 0:
            audio = np.concatenate([np.zeros(-start, dtype=np.float32), audio])
        if len(audio) != end - start:
            return None  # (the audio kept always covers it; never guess)
        f0, conf = self._probe(audio)
        times = start / RATE + np.arange(len(f0)) * self._probe_hop / RATE
        ok = (times >= onset) & (conf >= PROBE_VOICED) & (f0 > 0)
        if ok.sum() < PROBE_MIN_FRAMES:
            return None
        midis = 69.0 + 12.0 * np.log2(f0[ok][-PROBE_MIN_FRAMES:] / self.tr.a4)
        if float(midis.max() - midis.min()) > ANNOUNCE_SPREAD:
            return None
        midi = float(np.median(midis))
        if change_from is not None and abs(midi - change_from) <= CHANGE_SEMITONES:
            return None
        # the new sound must be that note's harmonics: catches the model still hearing the
        # previous note, or naming an octave off, on so little audio
        if harmonic_share(new, midi_to_hz(midi, self.tr.a4), before=old) < PROBE_SHARE:
            return None
        return midi, round(float(np.median(conf[ok])), 4)

    def maybe_announce(self, cur: _Note, t: float) -> None:
        """Announce the note once its first voiced frames agree on a pitch (or at a deadline).

        The estimate is rough (plucks start sharp); only the note name is meant to be shown.
        """
        settled = cur.voiced(cur.onset_s + ANNOUNCE_SKIP_S)
        if len(settled) >= ANNOUNCE_FRAMES:
            last = settled[-ANNOUNCE_FRAMES:]
            midi = float(np.median(last))
            # under a louder tail the first frames often still show the previous note (the
            # segmenter drops them as the model catching up): wait for the new pitch
            catching_up = (cur.quiet_attack and self.tr._prev_ref is not None
                           and t - cur.onset_s < TAIL_CHANGE_S
                           and abs(midi - self.tr._prev_ref) <= CHANGE_SEMITONES)
            if float(last.max() - last.min()) <= ANNOUNCE_SPREAD and not catching_up:
                self.announce(cur, midi)
                return
        if t - cur.onset_s >= ANNOUNCE_DEADLINE_S:
            allv = cur.voiced(cur.onset_s)
            self.announce(cur, float(np.median(allv[-5:])) if len(allv) else None)

    def announce(self, cur: _Note, midi: float | None) -> None:
        cur.announced = True
        confs = [c for c, m in zip(cur.confs, cur.midis, strict=True) if not math.isnan(m)]
        conf = float(np.median(confs[-5:])) if confs else 0.0
        self.tr._outbox.append(NoteStarted(cur.onset_s, midi, round(conf, 4), self.tr._n / RATE))
