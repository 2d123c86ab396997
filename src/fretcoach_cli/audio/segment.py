"""Notes from frames: one streaming segmenter shared by live input and file analysis.

Inputs, all on the audio clock: the 16 kHz audio (for levels, onsets and the cents
refinement) and the pitch frames of a backend. A note starts at an energy onset (a pluck,
repeated same notes included, or one masked by a louder tail but bringing mostly new sound,
new sound off the ringing note's harmonics, or a rise above 1.5 kHz: the pick's attack over
a room's low-passed tail), at a pitch change that holds for a few
frames and brings a fresh harmonic series (legato, slides, hammer-ons, a new note over
reverb; timed by a faint flux peak just before it when there is one) or when voiced sound
rises clearly above the background heard between notes. It ends when its string stops
sounding: at the next start, when it is damped (a fast level drop), or when the model no
longer hears its pitch and its level is far under its own peak or down in the background;
a string swelling back after a dip with no pluck (beating, sympathetic strings) continues
it. Its pitch is the median of its *settled* frames (skipping the pluck transient: plucked
strings start sharp), refined by a narrow cross-correlation search, in fractional MIDI
against the configured A4. Every threshold lives in :mod:`fretcoach_cli.audio.thresholds`.

A note is reported (one ``NoteEvent``) when it ends, or ``report_after_s`` after its onset
if it is still ringing, so the live view stays responsive; ``offset_s`` is then the report
point, and a ``NoteEnded`` follows with the true end once the string stops sounding. With
``provisional=True`` (live use) the tracker's :class:`~fretcoach_cli.audio.announce.Announcer`
also names each note early (``NoteStarted``, or ``NoteDropped`` to withdraw it); all these
go, in order, to an outbox read with :meth:`NoteTracker.take_events`. Announcing never
changes which notes are found or their numbers.

Frames are processed in time order and the onset detector always runs ahead of the pitch
frames, so results depend only on the audio, never on block sizes or wall-clock time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fretcoach_cli.audio.announce import Announcer
from fretcoach_cli.audio.onsets import HOP as ONSET_HOP
from fretcoach_cli.audio.onsets import OnsetDetector
from fretcoach_cli.audio.pitch import PitchTrack
from fretcoach_cli.audio.refine import (
    fit_series,
    harmonic_figures,
    harmonic_share,
    low_harmonics_share,
    new_energy,
    new_series,
    refine_f0,
    series_share,
)
from fretcoach_cli.audio.thresholds import (
    ATTACK_S,
    BACKGROUND_DB,
    BACKGROUND_S,
    CHANGE_FRAMES_S,
    CHANGE_SEMITONES,
    CHORD_INTERVAL_DB,
    DAMP_DROP_DB,
    DAMP_KNEE_DB,
    DAMP_S,
    DAMPED_UNDER_DB,
    DIP_HOLD_S,
    EARLY_CHANGE_S,
    END_RANGE_DB,
    END_SNR_DB,
    FADE_DROP_DB,
    FADE_MARGIN_DB,
    FADE_RELEASE_S,
    FRESH_ENERGY,
    FRESH_S,
    GAP_FALL_DB,
    GAP_LOOK_S,
    GAP_PRE_S,
    HEARD_BEFORE_S,
    HEARD_GAP_S,
    HEARD_RECENTLY_S,
    HIGH_BROAD_DB,
    HIGH_FLAT_DB,
    HIGH_FLAT_S,
    HIGH_MIN_S,
    HIGH_RISE_DB,
    HOLD_VOICED,
    KEEP,
    LOWEST_OWN_MIDI,
    MAINS_CENTS,
    MAINS_HZ,
    MIN_NOTE_S,
    MOVED_FRAMES,
    NEAR_S,
    OTHER_NOTE_NEW,
    OTHER_NOTE_SHARE,
    PLUCK_NEW,
    PLUCK_S,
    PLUCK_SERIES_SHARE,
    POLY_SHARE,
    RATE,
    RELEASE_S,
    REPLUCK_DB,
    RESUME_S,
    RESUME_SEMITONES,
    RINGING_S,
    RISE_DB,
    ROOM_BEFORE_HOPS,
    ROOM_DAMP_DB,
    ROOM_DAMP_S,
    ROOM_FALL_DB,
    ROOM_LOOK_S,
    ROOM_RATE_DB,
    ROOM_TAIL_GAP_S,
    SAME_LOW_SHARE,
    SAME_NOTE_NEW,
    SETTLE_FRACTION,
    SETTLE_MAX_S,
    SKIP_S,
    START_FRAMES_S,
    SUBHARMONIC_CENTS,
    SUBHARMONIC_MAX,
    SWELL_DB,
    TAIL_CHANGE_S,
    TAIL_NEW_SHARE,
    TAIL_RISE_DB,
    TAIL_VOICING_S,
    VIBRATO_CENTS,
    VOICED,
)
from fretcoach_cli.events import NoteDropped, NoteEnded, NoteEvent, NoteStarted
from fretcoach_cli.music.notes import hz_to_midi, midi_to_hz


def _mains(midis: np.ndarray, a4: float) -> bool:
    """Whether a pitch track sits on a mains-hum frequency (the median, within MAINS_CENTS)."""
    if len(midis) == 0:
        return False
    hz = midi_to_hz(float(np.median(midis)), a4)
    return any(abs(1200 * math.log2(hz / m)) <= MAINS_CENTS for m in MAINS_HZ)


@dataclass
class _Note:
    onset_s: float
    cause: str  # "onset" | "change" | "voicing"
    times: list[float] = field(default_factory=list)
    midis: list[float] = field(default_factory=list)  # nan when unvoiced
    confs: list[float] = field(default_factory=list)
    levels: list[float] = field(default_factory=list)
    reported: bool = False
    judged: bool = False  # its NoteEvent went out (a NoteEnded must follow when it was early)
    reported_at: float = 0.0  # the offset_s its NoteEvent gave
    peak: float = -math.inf  # loudest frame level (dBFS)
    heard_at: float = -math.inf  # last frame the model heard its own pitch
    ended_under: bool = False  # it ended 40 dB under its peak (a swell may bring it back)
    pitch: float | None = None  # judged midi, once its NoteEvent went out
    announced: bool = False  # a NoteStarted went out (provisional mode)
    masked: bool = False  # plucked under a louder sound (its onset barely raised the level)
    at_pluck: bool = False  # a pitch change timed by a faint or rejected pluck just before it
    quiet_attack: bool = False  # plucked without raising the level (masked, or only its highs)
    dev: list[int] = field(default_factory=list)  # indices of frames deviating from ref
    tail_from: float = math.inf  # from here its frames hear an earlier string ringing again
    ref: float | None = None
    heard_before: list[float] = field(default_factory=list)  # model pitches just before it
    heard: list[float] = field(default_factory=list)  # its frames' pitches, however unsure
    # its own sound carries on in a room's tail to here, past an end its upper band's fall
    # gave (the hand damped the string, the room rings on at its pitch): judged up to there
    sounding_until: float = -math.inf

    def voiced(self, since: float, until: float = math.inf) -> np.ndarray:
        m = np.asarray(self.midis)
        t = np.asarray(self.times)
        return m[(t >= since) & (t < until) & ~np.isnan(m)] if len(m) else m


class NoteTracker:
    """Feed audio blocks and their pitch frames; get NoteEvents in onset order."""

    def __init__(self, *, frame_period: float, a4: float = 440.0, sensitivity: float = 0.5,
                 report_after_s: float = 1.0, refine: bool = True,
                 provisional: bool = False,
                 probe: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
                 probe_hop: int = 256) -> None:
        self.fp = frame_period
        self.a4 = float(a4)
        self.onsets = OnsetDetector(sensitivity)
        self.gate = self.onsets.gate
        self.report_after_s = report_after_s
        self.refine = refine
        self.provisional = provisional
        self._outbox: list[NoteStarted | NoteEvent | NoteDropped | NoteEnded] = []
        self._ended: list[NoteEnded] = []  # true ends of notes judged while ringing
        self.announcer = Announcer(self, probe if provisional else None, probe_hop)
        self._pending: list[float] = []
        self._rejected: list[float] = []  # energy onsets inside a note without a level rise
        self._weak: list[float] = []  # recent flux peaks too faint to be onsets on their own
        self._cur: _Note | None = None
        self._quiet = 0  # frames in a row it was down in the background
        self._under = 0  # ... 40 dB under its peak
        self._damped = 0  # ... damped
        self._faded = 0  # ... faded into the background
        self._prev_ref: float | None = None  # settled pitch of the note before the current one
        self._last: _Note | None = None  # the latest note closed (it may swell back: resume)
        self._last_end = -math.inf
        self._room_closed: tuple[float, float] | None = None  # (pitch, end) damped in a room
        # (pitch, end) of the last judged notes: a tail heard again is at one of them
        self._ended_pitches: list[tuple[float, float]] = []
        self._between: deque[float] = deque(maxlen=max(16, round(BACKGROUND_S / frame_period)))
        self._bg, self._bg_new = -math.inf, 0  # cached background and frames added since
        self._run: list[tuple[float, float]] = []  # voiced frames out of silence
        # (time, midi or nan) of the last frames, whatever the level: what the model heard
        # just before a pluck
        self._heard: deque[tuple[float, float]] = deque(maxlen=max(8, round(0.2 / frame_period)))
        self._audio = np.zeros(0, dtype=np.float32)
        self._audio_base = 0
        self._n = 0
        self.frames_seen = 0
        self.last_pitch: tuple[float, float | None, float] | None = None

    # ------------------------------------------------------------------ input
    def take_events(self) -> list[NoteStarted | NoteEvent | NoteDropped | NoteEnded]:
        """Provisional mode: every event since the last call, in the order they happened."""
        out, self._outbox = self._outbox, []
        return out

    def take_ended(self) -> list[NoteEnded]:
        """True ends of notes that were reported while still ringing, since the last call
        (both modes; in provisional mode they are in :meth:`take_events` too)."""
        out, self._ended = self._ended, []
        return out

    def push(self, audio: np.ndarray, frames: PitchTrack) -> list[NoteEvent]:
        self._keep_audio(audio)
        onsets = self.onsets.push(audio)
        self._pending.extend(onsets)
        weak = self._take_weak()
        self.announcer.schedule(onsets, weak)
        return self._frames(frames)

    def flush(self, frames: PitchTrack) -> list[NoteEvent]:
        """End of input: the last onsets and frames, then close whatever still sounds."""
        self.announcer.end_of_input()
        self._pending.extend(self.onsets.flush())
        self._take_weak()
        out = self._frames(frames)
        end = self._n / RATE
        if self._cur is not None:
            out.extend(self._close(end))
        self.announcer.drop_weak(math.inf)
        return out

    def _take_weak(self) -> list[float]:
        """The detector's new weak onsets (kept: a pitch change near one is timed by it)."""
        new = self.onsets.take_weak()
        if new:
            self._weak = [*self._weak[-8:], *new]
        return new

    def _keep_audio(self, audio: np.ndarray) -> None:
        """Append to a buffer twice the kept span, moving the tail down only when it fills
        (a concatenation per ~10 ms live block used to copy all 3 s every time)."""
        audio = np.asarray(audio, dtype=np.float32)
        used = self._n - self._audio_base
        if used + len(audio) > len(self._audio):
            keep = min(used, KEEP)
            size = max(2 * KEEP, keep + len(audio))
            buf = np.empty(size, dtype=np.float32)
            buf[:keep] = self._audio[used - keep:used]
            self._audio, self._audio_base, used = buf, self._audio_base + used - keep, keep
        self._audio[used:used + len(audio)] = audio
        self._n += len(audio)

    def _segment_audio(self, t0: float, t1: float) -> np.ndarray:
        """Audio between two times, clipped to the last KEEP_S seconds received."""
        return self._samples(int(t0 * RATE), int(t1 * RATE))

    def samples(self, a: int, b: int) -> np.ndarray:
        """Audio samples ``a:b`` (absolute 16 kHz indices), clipped to the last KEEP_S
        seconds received (the pipeline refines its frame track on them)."""
        return self._samples(a, b)

    def _samples(self, a: int, b: int) -> np.ndarray:
        """Audio samples ``a:b`` (absolute indices), clipped to the last KEEP samples."""
        lo = max(0, self._n - KEEP)
        a = max(a, lo)
        b = min(max(b, lo), self._n)
        return self._audio[a - self._audio_base:max(a, b) - self._audio_base]

    def _floor(self, t: float) -> float:
        """Background level: 10th percentile of the hop levels of the 3 s up to ``t``."""
        lv = self.onsets.levels_db
        a = max(0, int((t - 3.0) * RATE / ONSET_HOP) - 2)  # levels_db starts at hop 2
        window = lv[a:] if len(lv) > a else lv[-1:]
        return float(np.percentile(window, 10)) if window else -140.0

    def _level(self, t: float) -> float:
        return self.onsets.level_at(t - self.fp / 2, t + self.fp / 2)

    # ------------------------------------------------------------------ frames
    def _frames(self, frames: PitchTrack) -> list[NoteEvent]:
        out: list[NoteEvent] = []
        for t, f0, c in zip(frames.times, frames.f0, frames.confidence, strict=True):
            out.extend(self._frame(float(t), float(f0), float(c)))
        return out

    def _midi(self, f0: float) -> float:
        return hz_to_midi(f0, self.a4)

    def _frame(self, t: float, f0: float, conf: float) -> list[NoteEvent]:
        out: list[NoteEvent] = []
        self.frames_seen += 1
        level = self._level(t)
        heard = conf >= VOICED and f0 > 0
        # what may start a note: above the input gate and clearly above the background heard
        # between notes (not a dying string's last flickers in hum or noise)
        voiced = heard and level >= max(self.gate, self._background() + END_SNR_DB)
        midi = self._midi(f0) if voiced else math.nan
        self.last_pitch = (t, None if not voiced else midi, conf)
        self._heard.append((t, self._midi(f0) if conf >= HOLD_VOICED and f0 > 0 else math.nan))
        # energy onsets that are due by this frame
        while self._pending and self._pending[0] <= t + self.fp / 2:
            onset = self._pending.pop(0)
            accepted, masked = self._accept_onset(onset)
            if accepted:
                out.extend(self._start(onset, "onset"))
                assert self._cur is not None  # _start opened it
                self._cur.masked = masked
                self._cur.quiet_attack = masked or self._level_rise(onset) < RISE_DB
            else:
                self._rejected = [*self._rejected[-4:], onset]
            announced = self.announcer.onset_decided(onset, accepted)
            if accepted:
                assert self._cur is not None
                self._cur.announced = announced
        self.announcer.expire_weak(t)
        cur = self._cur
        if cur is None and self._swells_back(t, f0, conf, level):
            cur = self._cur
        if cur is None:
            self._between.append(level)
            self._bg_new += 1
            if voiced:
                self._run.append((t, midi))
                need = max(2, round(START_FRAMES_S / self.fp))
                mids = [m for _, m in self._run[-need:]]
                if len(self._run) >= need and max(mids) - min(mids) < CHANGE_SEMITONES:
                    if (self._room_tail(self._run[-need][0], float(np.median(mids)))
                            or self._resume(self._run[-need][0], float(np.median(mids)))):
                        self._run = []
                        return out
                    out.extend(self._start(self._run[-need][0] - self.fp / 2, "voicing"))
                    for tt, mm in self._run[-need:]:
                        self._add(tt, mm, VOICED, self._level(tt))
                    self._run = []
                    return out
            else:
                self._run = []
            return out
        if heard and not voiced and level >= self._background() + END_SNR_DB:
            # a ringing string decays below the gate and still sounds: keep following it
            voiced, midi = True, self._midi(f0)
            self.last_pitch = (t, midi, conf)
        self._add(t, midi, conf, level)
        if conf >= HOLD_VOICED and f0 > 0:
            cur.heard.append(self._midi(f0))
        # release: the level stayed under the gate, or the note faded into the background
        own = (cur.ref is not None and conf >= HOLD_VOICED and f0 > 0
               and abs(self._midi(f0) - cur.ref) <= CHANGE_SEMITONES)
        if own:
            cur.heard_at = t
            if self.last_pitch is not None and self.last_pitch[1] is None:
                # the tuner pane follows a held note while the model still hears it, unsure
                self.last_pitch = (t, self._midi(f0), conf)
        self._quiet = self._quiet + 1 if self._buried(level, own) else 0
        self._under = self._under + 1 if level < cur.peak - END_RANGE_DB else 0
        self._damped = self._damped + 1 if self._was_damped(cur, t, level) else 0
        faded = (not voiced and not own and level < self._floor(t) + FADE_MARGIN_DB
                 and level < cur.peak - FADE_DROP_DB)
        self._faded = self._faded + 1 if faded else 0
        if (not self._damped and level < cur.peak - DAMPED_UNDER_DB
                and self._level(t - ROOM_DAMP_S) - level >= ROOM_DAMP_DB):
            # damped in a room: the level falls at the room's rate, not a damping's
            end = self._room_fall(cur, t + ONSET_HOP / RATE, 0.0)
            if end < t:
                out.extend(self._close(end))
                return out
        if self._damped * self.fp >= RELEASE_S:
            out.extend(self._close(self._fall_start(t - (self._damped - 0.5) * self.fp)))
            return out
        # 40 dB down while its pitch was just heard may be a beating string's dip: wait
        held = t - cur.heard_at <= HEARD_RECENTLY_S
        for frames, needed_s, under in (
                (self._quiet, RELEASE_S, False), (self._faded, FADE_RELEASE_S, False),
                (self._under, DIP_HOLD_S if held else RELEASE_S, True)):
            if frames * self.fp >= needed_s:
                cur.ended_under = under
                end = t - (frames - 0.5) * self.fp
                out.extend(self._close(end if under else self._damped_before(cur, end, 0.0)))
                return out
        out.extend(self._check_change(cur))
        cur = self._cur
        if cur is not None and self.provisional and not cur.announced:
            self.announcer.maybe_announce(cur, t)
        if cur is not None and not cur.reported and t >= cur.onset_s + self.report_after_s:
            out.extend(self._report(cur, t + self.fp / 2))
        return out

    def _recent_pitch(self, n: _Note, end: float) -> bool:
        """Whether ``n`` is at the pitch of a note that ended shortly before it began."""
        heard = n.voiced(n.onset_s)
        if len(heard) == 0:
            return False
        midi = float(np.median(heard))
        return any(n.onset_s - TAIL_VOICING_S <= e <= n.onset_s + 0.05
                   and abs(midi - p) <= RESUME_SEMITONES for p, e in self._ended_pitches)

    def _background(self) -> float:
        """Background level (dBFS) heard between notes; -inf until some has been heard.

        Recomputed after every 8 new between-note frames (a percentile per frame cost a
        third of the segmenter's time)."""
        if self._bg_new >= 8 or (self._bg_new and len(self._between) < 40):
            self._bg_new = 0
            self._bg = (float(np.percentile(self._between, 20)) if len(self._between) >= 5
                        else -math.inf)
        return self._bg

    def _buried(self, level: float, own: bool) -> bool:
        """Whether a note's level is down in the background heard between notes (while the
        model still hears its pitch, ``own``, only once buried in it: hum, hiss)."""
        return level < self._background() + (END_SNR_DB / 2 if own else END_SNR_DB)

    def _fall_start(self, t: float) -> float:
        """Where the fall that ended a damped note began (the hand touched the string):
        back from ``t``, the first hop whose level was falling slower than DAMP_KNEE_DB per
        hop pair (a free decay), at most DAMP_S back. The damped condition itself only holds
        once the level has already fallen DAMP_DROP_DB."""
        hop = ONSET_HOP / RATE
        x = t
        while x > t - DAMP_S:
            if self._level(x - 2 * hop) - self._level(x) < DAMP_KNEE_DB:
                return x
            x -= hop
        return x

    def _damped_before(self, cur: _Note, t: float, pre: float = GAP_PRE_S) -> float:
        """Where ``cur`` ends when the next pick at ``t`` (or its fading out there) closes
        it: at ``t``, unless the hand damped it just before, then where that fall began.

        The fall is the steepest one (at least DAMP_KNEE_DB per two hops: faster than any
        free decay) in the GAP_LOOK_S of hops before ``t - pre`` (windows ending before the
        pick's attack), followed back while it stays that steep; it must take the level
        GAP_FALL_DB down and the level must stay down after it (a beating dip swells
        back)."""
        found = self._fall_before(cur, t, pre, high=False)
        if found == t:
            # under a room's tail the broadband fall is small: the string's upper partials
            # stopping still show it
            found = self._fall_before(cur, t, pre, high=True)
            if found != t:
                # ... and the whole sound fell too (a nylon string's highs die on their own)
                _, broad = self.onsets.hop_levels(found - ONSET_HOP / RATE, t - pre)
                if len(broad) < 2 or broad[0] - min(broad[1:]) < HIGH_BROAD_DB:
                    return t
                # ... after the string had sounded steadily a while (a free decay falls
                # from its attack on)
                if found - cur.onset_s < HIGH_MIN_S:
                    return t
                _, flat = self.onsets.hop_levels(found - HIGH_FLAT_S, found, high=True)
                if len(flat) < 2 or flat[0] - flat[-1] > HIGH_FLAT_DB:
                    found = t
                else:
                    cur.sounding_until = max(cur.sounding_until, t)
        if found == t:
            found = self._room_fall(cur, t, pre)
        return found

    def _room_fall(self, cur: _Note, t: float, pre: float) -> float:
        """Where a note damped in a room began to fall: the level has fallen steadily at a
        room's rate (ROOM_RATE_DB per hop or more, ROOM_FALL_DB in all) up to ``t - pre``,
        after falling at most half that fast before (a string's own decay); else ``t``."""
        hop = ONSET_HOP / RATE
        lo = cur.onset_s + HIGH_MIN_S
        t0, lv = self.onsets.hop_levels(max(lo, t - pre - ROOM_LOOK_S), t - pre)
        if len(lv) < 2 * ROOM_BEFORE_HOPS:
            return t
        x = np.asarray(lv[:-2])  # (the last two hops may hold the pick's attack)
        n = len(x)
        # mean fall per hop over 3 hops ending at each hop
        rate = np.full(n, np.nan)
        rate[3:] = (x[:-3] - x[3:]) / 3.0
        k = n - 1
        while k >= 3 and rate[k] >= ROOM_RATE_DB:
            k -= 1
        start = k  # the fall began after hop ``start``
        if start >= n - 4 or start < ROOM_BEFORE_HOPS:
            return t
        if x[start] - x[-1] < ROOM_FALL_DB:
            return t
        before = (x[start - ROOM_BEFORE_HOPS] - x[start]) / ROOM_BEFORE_HOPS
        if before > ROOM_RATE_DB / 2:
            return t
        end = t0 + start * hop
        if cur.ref is not None:
            self._room_closed = (cur.ref, end)
        return end

    def _fall_before(self, cur: _Note, t: float, pre: float, *, high: bool) -> float:
        """:meth:`_damped_before` on the broadband or the upper-band (``high``) levels."""
        hop = ONSET_HOP / RATE
        lo = cur.onset_s + MIN_NOTE_S  # never the note's own attack
        t0, lv = self.onsets.hop_levels(max(lo, t - pre - GAP_LOOK_S - DAMP_S), t - pre,
                                        high=high)
        look = round(GAP_LOOK_S / hop)
        if len(lv) < 3:
            return t
        x = np.asarray(lv)
        drops = x[:-2] - x[2:]  # drops[i]: the fall into hop i + 2
        first = max(0, len(drops) - look)
        k = first + int(np.argmax(drops[first:]))
        if drops[k] < DAMP_KNEE_DB:
            return t
        start = k  # walk back while the fall into it stays steep
        while start >= 1 and drops[start - 1] >= DAMP_KNEE_DB:
            start -= 1
        top = float(x[start])
        bottom = k + 2 + int(np.argmin(x[k + 2:]))
        after = x[bottom:-2]  # (the last two hops may hold the pick's attack)
        if top - float(x[bottom]) >= GAP_FALL_DB and (
                len(after) == 0 or float(after.max()) <= top - GAP_FALL_DB / 2):
            return t0 + (start + 1) * hop
        return t

    def _was_damped(self, cur: _Note, t: float, level: float) -> bool:
        """A fretting hand's release or a palm: the level falls far faster than any free
        decay, to well under the note's peak."""
        return (level < cur.peak - DAMPED_UNDER_DB
                and self._level(t - DAMP_S) - level >= DAMP_DROP_DB)

    def _swells_back(self, t: float, f0: float, conf: float, level: float) -> bool:
        """A note that ended 40 dB under its peak rising back over that, at its pitch, with
        no pluck: a slowly beating string's next swell (its truth end is the last one)."""
        last = self._last
        return (last is not None and last.ended_under and conf >= HOLD_VOICED and f0 > 0
                and level >= last.peak - END_RANGE_DB + SWELL_DB
                and self._resume(t, self._midi(f0)))

    def _room_tail(self, t: float, midi: float) -> bool:
        """Voiced sound with no pluck at the pitch of a note just ended as damped in a room
        (within RESUME_S): that room still ringing it, no new note."""
        rc = self._room_closed
        return (rc is not None and t - rc[1] <= RESUME_S
                and abs(midi - rc[0]) <= RESUME_SEMITONES
                and not any(rc[1] + ROOM_TAIL_GAP_S <= o <= t
                            for o in (*self._rejected, *self._weak)))

    def _resume(self, t: float, midi: float) -> bool:
        """Voiced sound with no pluck, soon after the last note dipped out, at its pitch: the
        same string swelling back (beating, sympathetic feeding). Reopen that note."""
        last = self._last
        if (last is None or t - self._last_end > RESUME_S or last.pitch is None
                or abs(midi - last.pitch) > RESUME_SEMITONES
                or any(self._last_end - 0.05 <= o <= t for o in (*self._rejected, *self._weak))):
            return False
        self._cur, self._last = last, None
        self._quiet = self._under = self._damped = self._faded = 0
        return True

    def _add(self, t: float, midi: float, conf: float, level: float) -> None:
        assert self._cur is not None
        n = self._cur
        if t >= n.onset_s + SKIP_S or not n.times:  # (not the pick's click)
            n.peak = max(n.peak, level)
        n.times.append(t)
        n.midis.append(midi)
        n.confs.append(conf)
        n.levels.append(level)

    def _accept_onset(self, onset: float) -> tuple[bool, bool]:
        """(accepted, masked): a new pluck of a ringing string raises the level, or is masked
        by it but brings mostly new sound; flux wiggles inside a note do neither."""
        cur = self._cur
        if cur is None:
            return True, False
        if onset - cur.onset_s < MIN_NOTE_S:
            return False, False
        return self._new_note_evidence(onset, cur.ref)

    def _new_note_evidence(self, onset: float, ringing: float | None) -> tuple[bool, bool]:
        """(a new note?, masked) for an onset while a note of pitch ``ringing`` sounds."""
        plucked, fresh = self._pluck_evidence(onset)
        if fresh is None:
            return plucked, False  # the level rose: a pluck
        if fresh >= OTHER_NOTE_NEW and self._high_rise(onset) >= HIGH_RISE_DB:
            # the level above HIGH_HZ rose: the pick's attack over a tail (not ``masked``: a
            # same note picked again is common here, its first frames rightly show that pitch)
            return True, False
        if ringing is None:
            return plucked, plucked
        if plucked and fresh >= SAME_NOTE_NEW:
            return True, True  # mostly new sound, whatever it is
        # how much of the new sound is on the ringing note's own harmonics
        after = self._segment_audio(onset, onset + PLUCK_S)
        before = self._segment_audio(onset - PLUCK_S - 0.005, onset - 0.005)
        on_ringing = harmonic_share(after, midi_to_hz(ringing, self.a4), before=before)
        if not plucked:
            # under a loud reverberant tail a new note is only a small part of what sounds,
            # but none of it is on the ringing note's series
            other = fresh >= OTHER_NOTE_NEW and on_ringing <= OTHER_NOTE_SHARE
            return other, other
        if fresh < SAME_NOTE_NEW and on_ringing >= POLY_SHARE:
            # new sound all on the ringing note's own harmonics is that note fluctuating
            # (a distorted tone, beating strings) unless most of what sounds is new, or the
            # same note plucked again: its level dipped just before
            dip = self.onsets.min_level_at(onset - 0.06, onset)
            return self.onsets.level_at(onset, onset + 0.04) - dip >= REPLUCK_DB, True
        return True, True

    def _pluck_evidence(self, onset: float) -> tuple[bool, float | None]:
        """(a new pluck?, the share of new sound after it when the level barely rose)."""
        if self._level_rise(onset) >= RISE_DB:
            return True, None
        # a pluck under a loud tail (reverb, a ringing neighbour) barely raises the level,
        # but most of what sounds just after it is new
        fresh = new_energy(self._segment_audio(onset, onset + PLUCK_S),
                           self._segment_audio(onset - PLUCK_S - 0.005, onset - 0.005))
        return fresh >= PLUCK_NEW, fresh

    def _level_rise(self, onset: float) -> float:
        """How far (dB) the level rose at ``onset``."""
        return (self.onsets.level_at(onset, onset + 0.04)
                - self.onsets.level_at(onset - 0.035, onset - 0.012))

    def _high_rise(self, onset: float) -> float:
        """How far (dB) the level above onsets.HIGH_HZ rose at ``onset`` (loudest hop of the
        40 ms after it against the loudest of the hops before its attack)."""
        _, after = self.onsets.hop_levels(onset, onset + 0.04, high=True)
        _, before = self.onsets.hop_levels(onset - 0.035, onset - 0.012, high=True)
        return max(after) - max(before) if after and before else 0.0

    def _check_change(self, cur: _Note) -> list[NoteEvent]:
        """Start a new note where the pitch moved by more than a semitone-ish and stayed."""
        if not cur.midis or math.isnan(cur.midis[-1]):
            return []
        i = len(cur.midis) - 1
        settled = cur.voiced(cur.onset_s + SKIP_S)
        if cur.ref is None:
            if len(settled) >= 3:
                cur.ref = float(np.median(settled))
            return []
        m = cur.midis[i]
        if abs(m - cur.ref) <= CHANGE_SEMITONES:
            cur.dev = []
            if len(settled) <= 12:
                cur.ref = float(np.median(settled))
            return []
        cur.dev.append(i)
        need = max(2, round(CHANGE_FRAMES_S / self.fp))
        if len(cur.dev) < need:
            return []
        devs = [cur.midis[j] for j in cur.dev[-need:]]
        if max(devs) - min(devs) >= CHANGE_SEMITONES or cur.dev[-need] != i - need + 1:
            cur.dev = cur.dev[-1:]
            return []
        first = cur.dev[-need]
        start_t = cur.times[first] - self.fp / 2
        if cur.cause == "onset" and (start_t - cur.onset_s < EARLY_CHANGE_S or (
                start_t - cur.onset_s < TAIL_CHANGE_S and (
                    (cur.masked and self._prev_ref is not None
                     and abs(cur.ref - self._prev_ref) <= CHANGE_SEMITONES)
                    or self._new_at_onset(cur, float(np.median(devs)), cur.ref)))):
            # the first frames still showed the previous note (or a louder earlier sound the
            # model heard late, when the pluck's new sound is on the later pitch's series):
            # drop them, keep the onset
            del cur.times[:first], cur.midis[:first], cur.confs[:first], cur.levels[:first]
            cur.dev, cur.ref = [], None
            return []
        target = float(np.median(devs))
        # a pluck the level test rejected, just before the change, is the better onset time
        # (under a room's tail the model hears the new note up to ~0.2 s late)
        near = max((o for o in (*self._rejected, *self._weak)
                    if start_t - NEAR_S <= o <= start_t + 0.02 and o > cur.onset_s + MIN_NOTE_S),
                   default=None)
        if start_t >= cur.tail_from or (start_t - cur.onset_s >= TAIL_CHANGE_S
                                         and self._ringing_again(start_t, target, near)):
            cur.dev = []
            cur.tail_from = min(cur.tail_from, start_t)  # judged on its frames before that
            return []  # an earlier string left ringing, heard again as this one decays
        if self._is_chord(cur, start_t) and not self._fresh_pitch(start_t, target):
            cur.dev = []
            return []  # a chord's pitch track wanders between its notes: not a new note
        if near is not None:
            start_t = near
            while first > 0 and cur.times[first - 1] >= start_t:
                first -= 1
        moved = (cur.times[first:], cur.midis[first:], cur.confs[first:], cur.levels[first:])
        del cur.times[first:], cur.midis[first:], cur.confs[first:], cur.levels[first:]
        out = self._start(start_t, "change")
        for t, mm, c, lv in zip(*moved, strict=True):
            self._add(t, mm, c, lv)
        assert self._cur is not None  # _start opened it
        self._cur.at_pluck = near is not None
        self.announcer.change_found(self._cur, float(np.median(devs)))
        return out


    @staticmethod
    def _sounds_like_chord(seg: np.ndarray, f0: float, before: np.ndarray,
                           wobble: float, ringing: tuple[float, ...] = (),
                           ringing_share: bool = False) -> bool:
        """Not one harmonic series at ``f0``: too little of the new sound is on it, or a
        strong peak sits a fifth or a fourth off it (a chord's fifth, read as one note) that
        is not an earlier note still ringing (``ringing``, Hz)."""
        share, interval_db = harmonic_figures(seg, f0, before=before, wobble_cents=wobble,
                                              ringing=ringing, ringing_share=ringing_share)
        return share < POLY_SHARE or interval_db > CHORD_INTERVAL_DB

    def _one_over_tail(self, n: _Note, skip: float, seg: np.ndarray, before: np.ndarray,
                       f0: float, wobble: float, ringing: tuple[float, ...]) -> bool:
        """Whether a plucked note that looks like a chord is one note over a reverberant
        tail: its new sound, less what lies on the harmonics of earlier notes still sounding
        (``ringing``, Hz; a room's tail changes while it decays, so subtracting the spectrum
        from before the pluck leaves some of it), is one harmonic series at ``f0``."""
        return bool(ringing) and not any(
            self._sounds_like_chord(x, f0, before, wobble, ringing, ringing_share=True)
            for x in (seg, self._attack_audio(n, skip)))

    def _own_pitch(self, n: _Note, skip: float, seg: np.ndarray, before: np.ndarray,
                   midi: float) -> float | None:
        """A note plucked while a louder string rings on (let-ring): the model's frames
        follow that string (``midi``, the pitch of a note that ended at most RINGING_S before
        it), so its new sound looks like a chord. The one harmonic series of what is new
        just after its attack, if there is one (share over POLY_SHARE, no chord interval),
        is its pitch, fitted on the whole note's new sound (or its own frames' median, when
        the model heard it now and then)."""
        ringing = [p for p, e in self._ended_pitches
                   if n.onset_s - RINGING_S <= e <= n.onset_s + 0.05]
        if n.cause != "onset" or not any(abs(midi - p) <= RESUME_SEMITONES for p in ringing):
            return None
        if not any(abs(midi - m) <= RESUME_SEMITONES for m in n.heard_before):
            return None  # the model did not hear that string just before: it hears this note
        attack = self._attack_audio(n, skip)
        if low_harmonics_share(attack, before, midi_to_hz(midi, self.a4)) >= SAME_LOW_SHARE:
            return None  # new sound at its fundamental or octave: that note picked again
        found = new_series(attack, before, fmin=midi_to_hz(LOWEST_OWN_MIDI, self.a4),
                           ringing=tuple(midi_to_hz(p, self.a4) for p in ringing))
        if found is None or found[1] < POLY_SHARE or found[2] > CHORD_INTERVAL_DB:
            return None
        own = self._midi(found[0])
        octaves = abs(own - midi) / 12.0
        if abs(octaves - round(octaves)) * 12.0 <= RESUME_SEMITONES:
            return None  # the ringing pitch itself, or its octave (a weak fundamental)
        fitted = fit_series(seg, before, found[0])
        if fitted is not None and abs(self._midi(fitted) - own) <= 0.35:
            return self._midi(fitted)
        heard = n.voiced(n.onset_s)
        close = heard[np.abs(heard - own) <= RESUME_SEMITONES]
        return float(np.median(close)) if len(close) else own

    def _new_at_onset(self, n: _Note, later: float, first: float) -> bool:
        """Whether the sound new at ``n``'s onset is on the series of ``later`` (the pitch its
        frames moved to) rather than of ``first`` (what they showed at first): under a room's
        tail the model hears the louder earlier sound for a while, then the new note."""
        after = self._segment_audio(n.onset_s + 0.01, n.onset_s + 0.01 + ATTACK_S)
        before = self._segment_audio(n.onset_s - 0.07, n.onset_s - 0.01)
        s_later = series_share(after, before, midi_to_hz(later, self.a4))
        s_first = series_share(after, before, midi_to_hz(first, self.a4))
        return s_later >= TAIL_NEW_SHARE and s_later > s_first

    def _over_subharmonic(self, n: _Note, skip: float, before: np.ndarray, f0: float
                          ) -> float | None:
        """A plucked note the model read at a sub-harmonic (under a room's tail SwiftF0
        reads a steel string's note an octave or a twelfth low now and then, off by up to
        half a semitone): the one harmonic series of its new sound just after the attack,
        when that is 2..SUBHARMONIC_MAX times ``f0`` (one clear series: share over
        POLY_SHARE, no chord interval)."""
        if n.cause != "onset":
            return None
        found = new_series(self._attack_audio(n, skip), before,
                           fmin=midi_to_hz(LOWEST_OWN_MIDI, self.a4))
        if found is None or found[1] < POLY_SHARE or found[2] > CHORD_INTERVAL_DB:
            return None
        ratio = found[0] / f0
        k = round(ratio)
        if k < 2 or k > SUBHARMONIC_MAX or abs(1200 * math.log2(ratio / k)) > SUBHARMONIC_CENTS:
            return None
        return found[0]

    def _tail_hz(self, n: _Note) -> tuple[float, ...]:
        """Pitches (Hz) of the notes that ended at most RINGING_S before ``n`` began: a peak
        a fourth or a fifth off its series on their harmonics is their tail (a room's, a
        string left ringing), not a chord's other note."""
        return tuple(midi_to_hz(p, self.a4) for p, e in self._ended_pitches
                     if n.onset_s - RINGING_S <= e <= n.onset_s + 0.05)

    def _unheard_pluck(self, n: _Note, skip: float, before: np.ndarray, peak: float
                       ) -> float | None:
        """A pluck whose frames the model hardly voiced (a room's tail louder than it): its
        pitch (midi) from the one clear harmonic series of its new sound after the attack
        (share over POLY_SHARE, no chord interval), where the model's frames, however
        unsure, heard it at least once (a strum's new sound is no one series; a loud one
        never comes here: it raised the level)."""
        if n.cause != "onset" or peak < self.gate:
            return None
        found = new_series(self._attack_audio(n, skip), before,
                           fmin=midi_to_hz(LOWEST_OWN_MIDI, self.a4), ringing=self._tail_hz(n))
        if found is None or found[1] < POLY_SHARE or found[2] > CHORD_INTERVAL_DB:
            return None
        own = self._midi(found[0])
        if not any(abs(m - own) <= RESUME_SEMITONES for m in n.heard):
            return None  # the model never heard it there, even unsure
        return own

    @staticmethod
    def _moved_at_pluck(n: _Note, midi: float, settled: np.ndarray, spread: float) -> bool:
        """Whether the model, at a pluck (an accepted onset, or a faint one timing a pitch
        change), moved to ``midi`` away from every pitch it heard just before, and held it
        (``settled``: at least MOVED_FRAMES voiced frames whose p10-p90 ``spread``, cents,
        is vibrato at most, not a track jumping between strings): a new note
        under a room's tail, though its new sound looks like a chord (the earlier notes'
        tail changes as it decays, so subtracting what sounded before leaves part of it) and
        the level hardly rose. A damped string keeps the pitch heard before; a let-ring blend
        drifting to a between pitch has no pluck."""
        return ((n.cause == "onset" or n.at_pluck) and len(settled) >= MOVED_FRAMES
                and spread <= VIBRATO_CENTS and all(
            abs(midi - m) > CHANGE_SEMITONES for m in n.heard_before))

    def _attack_audio(self, n: _Note, skip: float) -> np.ndarray:
        """The note's first 0.1 s after its transient: where its own sound dominates what
        was ringing before (let-ring arpeggios: the strings still sounding beat and swell
        later, which looks like new sound off its series; a real chord is a chord here too)."""
        start = n.onset_s + min(skip, SKIP_S * 2)
        return self._segment_audio(start, start + ATTACK_S)

    def _is_chord(self, cur: _Note, until: float) -> bool:
        if cur.ref is None or until - cur.onset_s < SKIP_S + 0.05:
            return False
        seg = self._segment_audio(cur.onset_s + SKIP_S, until)
        before = self._segment_audio(cur.onset_s - 0.07, cur.onset_s - 0.01)
        f0 = midi_to_hz(cur.ref, self.a4)
        return harmonic_share(seg, f0, before=before) < POLY_SHARE

    def _ringing_again(self, t: float, midi: float, pluck: float | None = None) -> bool:
        """Whether a pitch change at ``t`` to ``midi`` is a note that ended (handed over to
        a later one) at most RINGING_S before, still ringing and now louder than the
        decaying current note, with no new sound of its own (let-ring arpeggios; asked only
        TAIL_CHANGE_S or more into the current note: a soundfont's damped notes never ring
        on, and a quick change to an earlier pitch there is a new note)."""
        return any(t - RINGING_S <= e <= t and abs(midi - p) <= RESUME_SEMITONES
                   for p, e in self._ended_pitches) and not self._fresh_pitch(t, midi) and not (
            pluck is not None and self._fresh_pitch(pluck, midi, PLUCK_SERIES_SHARE))

    def _fresh_pitch(self, t: float, midi: float, share: float = POLY_SHARE) -> bool:
        """Whether the sound that appeared at ``t`` is one harmonic series at ``midi``.

        A legato change or a new note over a reverberant tail brings energy that is all on
        the new pitch's harmonics; a chord whose pitch track wanders brings nothing new.
        """
        span = min(FRESH_S, self._n / RATE - t)
        if span < 0.03:
            return False
        after = self._segment_audio(t, t + span)
        before = self._segment_audio(t - span, t)
        if new_energy(after, before) < FRESH_ENERGY:
            return False
        f0 = midi_to_hz(midi, self.a4)
        return harmonic_share(after, f0, before=before) >= share

    # ------------------------------------------------------------------ notes
    def _start(self, onset: float, cause: str) -> list[NoteEvent]:
        self._prev_ref = self._cur.ref if self._cur is not None else None
        out = self._close(self._damped_before(self._cur, onset)) if self._cur is not None else []
        self._cur = _Note(onset_s=max(0.0, onset), cause=cause)
        self._cur.heard_before = [m for tt, m in self._heard
                                  if onset - HEARD_BEFORE_S <= tt <= onset - HEARD_GAP_S
                                  and not math.isnan(m)]
        self._quiet = self._under = self._damped = self._faded = 0
        self._run = []
        return out

    def _close(self, end: float) -> list[NoteEvent]:
        cur, self._cur = self._cur, None
        self._quiet = self._under = self._damped = self._faded = 0
        if cur is None:
            return []
        self._last, self._last_end = cur, end
        out: list[NoteEvent] = []
        if not cur.reported:
            out = self._report(cur, end)
        elif cur.judged and end > cur.reported_at:
            ended = NoteEnded(cur.onset_s, end, self._n / RATE)
            self._ended.append(ended)
            if self.provisional:
                self._outbox.append(ended)
        if cur.pitch is not None:
            self._ended_pitches = [*self._ended_pitches[-7:], (cur.pitch, end)]
        return out

    def _report(self, cur: _Note, end: float) -> list[NoteEvent]:
        cur.reported = True
        cur.reported_at = max(end, cur.onset_s)
        event = self._judge(cur, cur.reported_at)
        cur.judged = event is not None
        cur.pitch = event.midi if event is not None else None
        if self.provisional:
            if event is None:
                if cur.announced:
                    self._outbox.append(NoteDropped(cur.onset_s, self._n / RATE))
            else:
                if not cur.announced:  # too short to announce early: announce it now
                    self.announcer.announce(cur, event.midi)
                self._outbox.append(event)
        return [event] if event is not None else []

    def _judge(self, n: _Note, end: float) -> NoteEvent | None:
        event = self._judge_until(n, end, end)
        if n.sounding_until > end and (event is None or event.kind != "note"):
            # cut at its damp, a 16th's settled part (or its attack, the skip being a share
            # of its length) can be too short to tell one series from a chord: the room's
            # tail of it, up to the next pluck, still holds its own series
            whole = self._judge_until(n, end, n.sounding_until)
            if whole is not None and whole.kind == "note":
                event = whole
        return event

    def _judge_until(self, n: _Note, end: float, until: float) -> NoteEvent | None:
        """The NoteEvent for ``n`` ending at ``end``, judged on its sound up to ``until``."""
        dur = until - n.onset_s
        levels = np.asarray(n.levels) if n.levels else np.array([-140.0])
        peak = float(levels.max())
        if peak < self.gate:
            return None
        if (n.cause != "onset" and float(np.median(levels)) < self._floor(end) + BACKGROUND_DB
                and _mains(n.voiced(n.onset_s), self.a4)):
            return None  # mains hum, voiced once the notes died away (no attack, no level)
        if (n.cause == "voicing" and self._recent_pitch(n, end)
                and peak < self.onsets.level_at(n.onset_s - 0.06, n.onset_s - 0.015)
                + TAIL_RISE_DB):
            return None  # an earlier note's tail (a room, a string left ringing) heard again
        # judge the settled part: skip the transient and, in longer notes, the sharp start
        skip = min(max(SKIP_S, SETTLE_FRACTION * dur), SETTLE_MAX_S) if dur > 2 * SKIP_S \
            else 0.3 * dur
        settled = n.voiced(n.onset_s + skip, n.tail_from)
        allv = n.voiced(n.onset_s, n.tail_from)
        confs = np.asarray(n.confs)
        frac_voiced = len(allv) / max(1, len(n.midis))
        seg = self._segment_audio(max(n.onset_s + skip, until - 0.4), until)
        before = self._segment_audio(n.onset_s - 0.07, n.onset_s - 0.01)
        if len(settled) < 2:
            settled = allv
        if len(settled) == 0 or frac_voiced < 0.3:
            level_before = self.onsets.level_at(n.onset_s - 0.06, n.onset_s - 0.015)
            # a soft pluck under a room's tail the model hardly voiced: named by its sound
            named = (self._unheard_pluck(n, skip, before, peak)
                     if peak < level_before + 6 else None)
            if named is not None:
                return NoteEvent(n.onset_s, end, named, round(float(np.median(confs)), 4),
                                 "note", peak)
            if (n.cause != "onset" or dur < MIN_NOTE_S or peak < self._floor(end) + 12
                    or peak < level_before + 6):
                return None  # a flicker, steady noise or a string being damped: not a pluck
            kind = "unclear"
            f0s = [midi_to_hz(m, self.a4) for m in allv]
            if f0s and peak >= self.gate + 12 and harmonic_share(seg, float(np.median(f0s)),
                                                                 before=before) < POLY_SHARE:
                kind = "polyphonic"
            conf = float(np.median(confs)) if len(confs) else 0.0
            return NoteEvent(n.onset_s, end, None, conf, kind, peak)  # type: ignore[arg-type]
        midi = float(np.median(settled))
        f0 = midi_to_hz(midi, self.a4)
        # vibrato moves a note's harmonics; a chord's pitch track jumps by semitones instead
        spread = 100.0 * float(np.percentile(settled, 90) - np.percentile(settled, 10))
        wobble = spread / 2 if spread <= VIBRATO_CENTS else 0.0
        own = self._own_pitch(n, skip, seg, before, midi)
        ringing = tuple(midi_to_hz(p, self.a4) for p, e in self._ended_pitches
                        if n.onset_s - RINGING_S <= e <= n.onset_s + 0.05
                        and abs(p - midi) > RESUME_SEMITONES)
        if own is not None:
            midi, f0 = own, midi_to_hz(own, self.a4)
        elif (peak >= self.gate + 12
                and self._sounds_like_chord(seg, f0, before, wobble, ringing)
                and self._sounds_like_chord(self._attack_audio(n, skip), f0, before, wobble,
                                            ringing)):
            level_before = self.onsets.level_at(n.onset_s - 0.06, n.onset_s - 0.015)
            upper = self._over_subharmonic(n, skip, before, f0)
            if upper is not None:
                midi, f0 = self._midi(upper), upper
            elif not (n.cause == "onset" and self._one_over_tail(n, skip, seg, before, f0,
                                                                   wobble, ringing)):
                if peak >= level_before + 3:
                    return NoteEvent(n.onset_s, end, None, float(np.median(confs)),
                                     "polyphonic", peak)
                if not self._moved_at_pluck(n, midi, settled, spread):
                    return None  # no new attack: a string being damped or a ringing blend
        if self.refine:
            better = refine_f0(seg, f0)
            if better is not None and abs(1200 * math.log2(better / f0)) < 35:
                midi = self._midi(better)
        voiced_conf = confs[~np.isnan(np.asarray(n.midis))]
        conf = float(np.median(voiced_conf)) * min(1.0, frac_voiced / 0.6)
        return NoteEvent(n.onset_s, end, midi, round(conf, 4), "note", peak)
