"""The note tracker's tuning constants, in one place, each with why it has its value.

Shared by note detection (:mod:`fretcoach_cli.audio.segment`) and early announcing
(:mod:`fretcoach_cli.audio.announce`). Times are seconds on the audio clock, levels dB;
figures quoted are from ``bench/accuracy.py``, ``bench/chords.py`` and
``bench/bench_announce.py`` on the rendered development set.
"""

from __future__ import annotations

RATE = 16000
VOICED = 0.5  # model confidence at which a frame counts as pitched
CHANGE_SEMITONES = 0.6  # a held deviation this large starts a new note
CHANGE_FRAMES_S = 0.045  # ... when it lasts this long
START_FRAMES_S = 0.045  # voiced sound out of silence for this long starts a note
SKIP_S = 0.04  # pluck transient left out of the pitch estimate
SETTLE_FRACTION = 0.4  # ... and this share of a longer note (plucks start sharp)
SETTLE_MAX_S = 0.3
RELEASE_S = 0.03  # level below the note's end level for this long ends a note:
END_RANGE_DB = 40.0  # ... the string has stopped sounding 40 dB under its own peak
END_SNR_DB = 6.0  # ... or within this of the background (measured between notes); the input
# gate only decides what may *start* a note: a held note rings on below it (a real string
# decays 10–20 dB/s and rings for seconds; ending at the gate cut notes at ~1–2 s and made
# each beating swell back above it a new note)
DIP_HOLD_S = 0.25  # ... for this long while the model has just heard its pitch (40 dB down
# may be a dip of a beating string, which swells back)
HEARD_RECENTLY_S = 0.1  # ... within this long
DAMP_S = 0.1  # ... or its level fell this fast: a damped string (a free decay loses 10–30 dB/s)
DAMP_DROP_DB = 15.0
DAMPED_UNDER_DB = 20.0  # ... to this far under its peak
DAMP_KNEE_DB = 1.5  # ... and it ends where that fall began: the level still lost less than
# this over two onset hops (16 ms, ~90 dB/s: faster than any free decay, slower than a damping)
# A note cut short by the next pick after the hand damped it (staccato, the soundfont's note-off,
# a short gap before the next note: the damped rule above needs RELEASE_S more once the level is
# DAMP_DROP_DB down, which a 40–80 ms gap never gives) ends where its level began to fall when,
# just before that pick, it fell this far at least DAMP_KNEE_DB per two hops
GAP_FALL_DB = 6.0
GAP_LOOK_S = 0.06  # ... the bottom of that fall sought this far back from the pick
GAP_PRE_S = 0.012  # ... in the hops (32 ms windows) that end before the pick's attack
# ... or, when the broadband level shows no such fall (a room's tail keeps it up: under a
# 25-50 % wet room it falls 3-7 dB at 50-80 dB/s), the same fall in the level above
# onsets.HIGH_HZ (the string's upper partials stop; the room absorbs highs), when the
# broadband level fell at least HIGH_BROAD_DB after it too (a nylon string's highs die on
# their own while the whole tone holds), it began at least HIGH_MIN_S into the note and the
# upper band had fallen at most HIGH_FLAT_DB over the HIGH_FLAT_S before it (a free decay
# falls from the attack on). Devset reverb offF1 0.553 -> 0.676; no category lower.
HIGH_BROAD_DB = 2.0
HIGH_MIN_S = 0.08
HIGH_FLAT_S = 0.04
HIGH_FLAT_DB = 3.5
# ... or, in a room, where the level began to fall at the room's rate: a string damped in a
# room is heard decaying as the room does (60 dB per RT60: 50-200 dB/s for RT60 0.3-1.2 s),
# far faster than a string's own decay (10-30 dB/s) and far slower than a damping heard dry.
# Looking back at most ROOM_LOOK_S from the pick (or from now), the level has fallen at least
# ROOM_RATE_DB per hop (mean of 3 hops; 44 dB/s) all the way, ROOM_FALL_DB in all, and before
# that fall it fell at most half that fast over ROOM_BEFORE_HOPS hops (a free decay, even the
# soundfont's nylon at ~40 dB/s, falls the same way from its attack on: no knee). Devset
# realroom offF1 0.699 -> 0.738, reverb 0.683 -> 0.685; no category lower.
ROOM_LOOK_S = 0.5
ROOM_RATE_DB = 0.35
ROOM_FALL_DB = 6.0
ROOM_BEFORE_HOPS = 8
# The same fall ends a note with no next pick once the level is DAMPED_UNDER_DB under its peak
# and ROOM_DAMP_DB under where it was ROOM_DAMP_S before (else it rang on until the room's
# tail faded into the background, up to 1 s late: realroom offF1 0.738 -> 0.835). Voiced sound
# at that note's pitch within RESUME_S after it, with no flux peak from ROOM_TAIL_GAP_S after
# its end on (the damping's own click is one), is the room still ringing it: no new note.
ROOM_DAMP_S = 0.25
ROOM_DAMP_DB = 12.0
ROOM_TAIL_GAP_S = 0.05
HOLD_VOICED = 0.3  # model confidence at which a ringing note's own pitch still counts as heard
# (a decaying string under sympathetic ones reads 0.3–0.5 for a frame or two)
BACKGROUND_S = 10.0  # between-note levels the background is estimated from (20th percentile)
# The same string swelling back (beating of its two polarisations, sympathetic strings feeding
# it) after its level dipped below the end level, with no pluck, continues the note it was
RESUME_S = 1.5  # ... when it comes back within this long
RESUME_SEMITONES = 0.5  # ... at this pitch
SWELL_DB = 1.0  # ... or, after it fell 40 dB under its peak, rising back this far over that
# ... and so does pitchless sound near the background level for this long (a note that has
# died away into room noise or hum, which keeps the level above the gate)
FADE_RELEASE_S = 0.045
FADE_MARGIN_DB = 8.0
FADE_DROP_DB = 3.0  # ... and under the note's peak by this much (a ringing chord is pitchless too)
RISE_DB = 2.5  # an onset inside a ringing note needs this much level rise (re-pluck)
PLUCK_S = 0.04  # ... or this much audio after it must be mostly new sound
PLUCK_NEW = 0.35
SAME_NOTE_NEW = 0.6  # ... and more than this when the new sound is on the ringing note's harmonics
REPLUCK_DB = 2.0  # ... or a rise this large from the dip before it (the same note picked again)
# ... or, under a louder tail, at least this share of new sound of which at most this share is
# on the ringing note's harmonics (a new note in a wet room: devset reverb note F1 0.845 →
# 0.862, onset precision unchanged)
OTHER_NOTE_NEW = 0.1
OTHER_NOTE_SHARE = 0.5
# ... or, with at least OTHER_NOTE_NEW of new sound, a rise this large in the level above
# onsets.HIGH_HZ: a pick's attack stands out there over a room's low-passed tail (and over a
# ringing string) when the broadband level hardly moves. Rejected onsets on the devset: true
# plucks rose 2.0-13.8 dB there (a re-pick of the same note under reverb, legato picks), false
# ones with new sound at most 1.8 dB (a distorted tone's flicker; the strums' false onsets that
# rose 2.5-8.5 dB brought no new sound at all)
HIGH_RISE_DB = 2.0  # (devset reverb note F1 0.948 -> 0.953, legato 0.986 -> 0.993)
MIN_NOTE_S = 0.05
EARLY_CHANGE_S = 0.06  # a pitch change this soon after a pluck is the model catching up
# ... and so is one this soon after a pluck whose first frames still showed the previous
# note's pitch (its ring or a room's reverb tail, louder at first than the new attack)
TAIL_CHANGE_S = 0.25
# ... or one this soon after any pluck whose new sound (the first ATTACK_S after it, less what
# sounded before) lies on the later pitch's series more than on the first frames' pitch and
# at least this share of it (the model follows a louder earlier sound it had not heard as a
# note: devset reverb note F1 0.911 -> 0.919)
TAIL_NEW_SHARE = 0.3
FRESH_S = 0.08  # audio compared either side of a pitch change
# A rejected or weak onset at most this long before a pitch change times the new note: under a
# room's tail the model hears a soft pluck 0.1-0.2 s late (devset reverb note F1 at 0.12 s
# 0.921, at 0.2 s 0.924; no other category changed)
NEAR_S = 0.2
FRESH_ENERGY = 0.3  # ... of which at least this share must be new to be a new note
PLUCK_SERIES_SHARE = 0.6  # ... and a change to the pitch of a note that ended shortly before
# (let-ring: that string heard again as this one decays) is a new note after all when such a
# pluck brought new sound at least this much on the new pitch's series (a room's tail changes
# as it decays, so what was there before is not all subtracted: 0.77-0.79 seen on real plucks;
# devset reverb note F1 0.941 -> 0.942, a melody revisiting a pitch within RINGING_S)
POLY_SHARE = 0.8  # harmonic share below this (with a strong level) = chord / double stop
# ... and so is new sound a fifth or a fourth off its series this strong (dB under its
# strongest harmonic): 108 rendered strums (bench/chords.py) guessed as one note 18 → 9 times,
# 4 of 2,834 single devset notes over it
CHORD_INTERVAL_DB = -10.0
# A new note whose frames show the pitch of a note that ended at most this long before it (a
# louder string left ringing: the model follows it) and whose new sound looks like a chord is
# named by the one harmonic series of that new sound, when there is one (let-ring arpeggios)
RINGING_S = 3.0
SAME_LOW_SHARE = 0.25  # ... unless this share of its new sound is on that pitch's first two
# harmonics (the same note picked again; a D4 over a ringing G2 sits on G2's 3rd, 6th...)
LOWEST_OWN_MIDI = 36.0  # ... no lower than this (C2: a sub-octave holds every harmonic too)
ATTACK_S = 0.1  # ... and the same must hold just after the attack, where the new sound is its own
# A plucked note that looks like a chord at the model's pitch is named by the one harmonic
# series of its new sound when that lies 2..SUBHARMONIC_MAX times the model's pitch, within
# SUBHARMONIC_CENTS of a whole multiple (under a room's tail SwiftF0 reads a steel string's
# E4 as ~A2, 50 cents off a twelfth below: devset reverb note F1 0.924 -> 0.928; the chord
# strums, 88 of 108 reported polyphonic and 8 guessed, unchanged)
# A plucked note whose new sound looks like a chord though the level hardly rose (no new attack:
# a string being damped, a ringing blend) is still a note when the model, from a pluck on (an
# accepted onset, or a faint one timing a pitch change), moved away from every pitch it heard
# just before and held the new one: this many settled voiced frames at least, spread no wider
# than VIBRATO_CENTS. Under a room's tail the earlier notes' decaying sound is left in "what is
# new" (the tail changes as it decays), so the chord test fails on soft plucks the model names
# right (devset reverb note F1 0.948 -> 0.952 with the ones below; 1 frame: soft sixteenths in
# a wet room got 3 more wrong notes from a track jumping between strings, tests/test_segment_room)
MOVED_FRAMES = 2
SUBHARMONIC_MAX = 6
SUBHARMONIC_CENTS = 100.0
# ... and only when the model heard that string in the frames HEARD_GAP_S..HEARD_BEFORE_S
# before the pluck (else it is hearing the new note itself: a re-pick of a pitch played
# earlier whose 3rd harmonic read as "its own series", reverb_07)
HEARD_BEFORE_S = 0.1
HEARD_GAP_S = 0.01
# A note that began without an attack (out of silence, or a pitch change with no pluck) at a
# mains frequency (50/60 Hz and their first harmonics) whose level stays within this of the
# background is hum, which the model voices once the string has died away
BACKGROUND_DB = 4.0
MAINS_HZ = tuple(sorted({k * f for f in (50.0, 60.0) for k in (1, 2, 3, 4)}))
MAINS_CENTS = 25.0
# Voiced sound with no pluck that comes up soon after a note ended, without rising above what
# sounded just before it, is an earlier note's tail (a room's reverberation, a string left
# ringing) that the model hears again once the louder note is gone: not a new note
TAIL_VOICING_S = 2.0
TAIL_RISE_DB = 3.0
VIBRATO_CENTS = 120.0  # widest pitch spread (p10–p90) of a note still taken as vibrato
KEEP_S = 3.0
KEEP = int(KEEP_S * RATE)  # samples of audio kept for segment measurements
# Announcing a note (provisional mode): measured on the examples, the first two voiced frames
# from the onset on name the same semitone as the settled pitch as often as frames after the
# transient do (156/159 notes either way) and come ~25 ms sooner (p50 136 vs 162 ms).
ANNOUNCE_SKIP_S = 0.0  # frames earlier than this after the onset are not used to name it
ANNOUNCE_FRAMES = 2  # voiced frames that must agree to announce a note
ANNOUNCE_SPREAD = 0.35  # ... within this many semitones
ANNOUNCE_DEADLINE_S = 0.2  # announce anyway (pitch maybe unknown) this long after the onset
# A plucked note is named sooner by a probe: an extra pitch-model call on the audio up to
# 48 ms after the onset, ahead of the regular frames, its pitch confirmed by the harmonics of
# what is new since the onset; if unconfirmed, again at 60, 70 and 80 ms (a live block of
# ~10 ms lands a probe that late after it). One fairly confident frame is enough once the
# harmonics agree: on the devset and examples (2,900 notes, 10.7 ms blocks) that took notes
# shown within 80 ms from 72 % to 82 % (p50 72 → 57 ms) with 2 more wrong names of 2,900 (the
# harmonic check is what keeps them right: without it 7.6 % were wrong).
PROBE_S = (0.048, 0.06, 0.07, 0.08)  # ... tried at each of these delays until it names it
PROBE_FRAMES = 6  # model frames of audio the probe looks at (96 ms; 8 named no more)
PROBE_SHARE = 0.6  # harmonic share of the new sound that confirms the probe's pitch
PROBE_MIN_FRAMES = 1  # confident frames after the onset the probe needs (its last one is
# always unsure: its window runs past the audio, so 2 cost a whole probe step)
PROBE_VOICED = 0.35  # ... at this model confidence (the attack of an overdriven note reads low)
# A weak onset (a flux peak too faint to start a note: a soft pluck at 10 dB SNR, a
# hammer-on) is probed too; if it names a new pitch and the change the frames find comes,
# that note takes the announcement over. At 10 dB SNR: 64 % → 89 % shown within 80 ms.
WEAK_ATTEMPTS = 2  # ... at the first this many probe delays only (more: +0.6 % named in time,
# a third more withdrawn announcements)
WEAK_WAIT_S = 0.3  # a weak onset's announcement is withdrawn if no note starts there by then
# The lowest pitch a note may have follows the tuning (``practice --tuning``): its lowest open
# string less this margin (a string tuned down a tone, or slack, still counts), never under
# the pitch model's own floor. Frames under it are unpitched (mains hum at 50/60 Hz, a
# sub-octave misreading), so they start and name no note.
LOW_MARGIN_SEMITONES = 3.0
