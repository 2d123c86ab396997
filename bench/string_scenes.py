"""Devset plans for the physical-string categories (rendered by ``string_model.py``).

Each plan draws everything from ``Random(f"{category}:{index}")``, so clips are reproducible.
Categories (what a real acoustic guitar does that the soundfont renders never do):

- ``sustain``     — single notes held 3–10 s on all six strings (E2 and A2 twice), damped or
                    left to ring out
- ``letring``     — arpeggios over open chord shapes, every note left ringing under the next
                    (truth: each note hands over at the next onset, as legato is scored)
- ``sympathetic`` — single notes while the unplayed open strings ring 15–22 dB under them
- ``beating``     — long decays whose two polarisations beat (3–8 cents apart, near-equal)
- ``hum``         — a phrase under 50/60 Hz mains hum with harmonics, 30–42 dB under the notes
- ``realroom``    — a phrase in a small room (RT60 0.3–1.2 s) through a cheap microphone,
                    hiss 45–55 dB down, pick clicks, fret squeaks, a same-pitch re-pick
- ``doublestop``  — single notes with 2–3 real double stops (thirds, fourths, sixths)
"""

from __future__ import annotations

import random

from string_model import OPEN_MIDI, Pluck, Scene

CATEGORIES = ("sustain", "letring", "sympathetic", "beating", "hum", "realroom", "doublestop")

CHORD_SHAPES = {  # frets per string (low E first), None = not played
    "C": (None, 3, 2, 0, 1, 0), "G": (3, 2, 0, 0, 0, 3), "Am": (None, 0, 2, 2, 1, 0),
    "Em": (0, 2, 2, 0, 0, 0), "D": (None, None, 0, 2, 3, 2), "E": (0, 2, 2, 1, 0, 0),
    "A": (None, 0, 2, 2, 2, 0), "Dm": (None, None, 0, 2, 3, 1),
}  # fmt: skip


def _cents(rng: random.Random) -> float:
    """A player's intonation: mostly within ±5 cents, now and then ±15."""
    spread = 15.0 if rng.random() < 0.15 else 5.0
    return round(rng.uniform(-spread, spread), 1)


def _sustain(rng: random.Random, index: int) -> tuple[list[Pluck], float]:
    string = index % 6
    plucks = []
    t = 0.5
    n = 2 if index in (2, 5) else 1
    for k in range(n):
        hold = rng.uniform(3.0, 4.5) if n == 2 and k == 0 else rng.uniform(3.0, 9.5 - t)
        damped = (k == 0 and n == 2) or rng.random() < 0.5
        t60 = hold * rng.uniform(1.6, 2.0)  # rings (at least) as long as held
        plucks.append(Pluck(round(t, 3), string, rng.randint(0, 7), hold=hold if damped
                            else None, cents=_cents(rng), velocity=rng.uniform(0.65, 0.95),
                            t60=t60))  # fmt: skip
        t += hold + rng.uniform(0.6, 1.0)
    return plucks, t + 0.5


def _single_notes(
    rng: random.Random, n: int, strings: tuple[int, ...], t60_scale: tuple[float, float]
) -> tuple[list[Pluck], float]:
    plucks = []
    t = 0.5
    for _ in range(n):
        hold = rng.uniform(2.0, 4.0)
        damped = rng.random() < 0.5
        s = rng.choice(strings)
        plucks.append(Pluck(round(t, 3), s, rng.randint(0, 9), hold=hold if damped else None,
                            cents=_cents(rng), velocity=rng.uniform(0.6, 0.95),
                            t60=hold * rng.uniform(*t60_scale) if not damped else None))
        t += hold + rng.uniform(0.5, 1.2)
    return plucks, t + 0.3


def _phrase(rng: random.Random, n: int, *, repick: bool = True) -> tuple[list[Pluck], float]:
    """A slow phrase: held (1.5–3 s) and short (0.4–0.9 s) notes, some damped, some left
    ringing into the next; with ``repick`` one note is picked again at the same pitch."""
    plucks: list[Pluck] = []
    t = 0.5
    repick_at = rng.randrange(1, n) if repick else -1
    for i in range(n):
        dur = rng.uniform(1.5, 3.0) if rng.random() < 0.4 else rng.uniform(0.4, 0.9)
        damped = rng.random() < 0.6
        if i == repick_at and plucks:
            prev = plucks[-1]
            s, fret, kind = prev.string, prev.fret, rng.choice(("hard", "soft"))
        else:
            s, fret, kind = rng.randint(0, 5), rng.randint(0, 9), "hard"
        plucks.append(Pluck(round(t, 3), s, fret, hold=dur if damped else None,
                            cents=_cents(rng), velocity=rng.uniform(0.55, 0.95), repick=kind))
        t += dur + rng.uniform(0.1, 0.35)
    return plucks, t + 1.0


def _letring(rng: random.Random) -> tuple[list[Pluck], float]:
    plucks = []
    t = 0.5
    for name in rng.sample(sorted(CHORD_SHAPES), 2):
        shape = CHORD_SHAPES[name]
        strings = [s for s, f in enumerate(shape) if f is not None]
        order = strings + strings[-2:0:-1][:2]  # up the chord, then two back down
        ioi = rng.uniform(0.35, 0.7)
        for s in order:
            plucks.append(Pluck(round(t, 3), s, shape[s], hold=None, cents=_cents(rng),
                                velocity=rng.uniform(0.55, 0.9)))
            t += ioi + rng.gauss(0, 0.01)
        t += 0.3
    return plucks, t + 2.5


def _doublestop(rng: random.Random) -> tuple[list[Pluck], float]:
    plucks: list[Pluck] = []
    t = 0.5
    n = rng.randint(6, 8)
    stops = set(rng.sample(range(n), rng.randint(2, 3)))
    for i in range(n):
        dur = rng.uniform(0.5, 1.3)
        if i in stops:
            s = rng.randint(1, 4)  # a pair of neighbouring strings s, s+1
            gap = rng.choice((3, 4, 5, 9)) if s != 3 else rng.choice((4, 5, 8))  # 3rd/4th/6th
            lo_fret = rng.randint(1, 7)
            hi_fret = lo_fret + gap - (OPEN_MIDI[s + 1] - OPEN_MIDI[s])
            if hi_fret < 0:
                lo_fret -= hi_fret
                hi_fret = 0
            vel = rng.uniform(0.6, 0.9)
            for ss, fret in ((s, lo_fret), (s + 1, hi_fret)):
                plucks.append(Pluck(round(t, 3), ss, fret, hold=dur, cents=_cents(rng),
                                    velocity=vel, group=i))
        else:
            plucks.append(Pluck(round(t, 3), rng.randint(0, 5), rng.randint(0, 9), hold=dur,
                                cents=_cents(rng), velocity=rng.uniform(0.6, 0.9)))
        t += dur + rng.uniform(0.15, 0.4)
    return plucks, t + 1.0


def scene_plan(category: str, index: int) -> Scene:
    """The scene of clip ``index`` of a string-model category (no rendering)."""
    rng = random.Random(f"{category}:{index}")
    seed = rng.randrange(1 << 30)
    desc = f"devset {category}_{index:02d} (string model)"
    if category == "sustain":
        plucks, total = _sustain(rng, index)
        return Scene(tuple(plucks), total, seed, sympathy_db=-35.0, hiss_db=-70.0,
                     description=desc)  # fmt: skip
    if category == "letring":
        plucks, total = _letring(rng)
        return Scene(tuple(plucks), total, seed, sympathy_db=-28.0, hiss_db=-70.0,
                     description=desc)  # fmt: skip
    if category == "sympathetic":
        plucks, total = _single_notes(rng, rng.randint(1, 3), (1, 2, 3, 4, 5), (1.6, 2.2))
        return Scene(tuple(plucks), total, seed, sympathy_db=round(rng.uniform(-22, -15), 1),
                     hiss_db=-70.0, description=desc)  # fmt: skip
    if category == "beating":
        plucks, total = _single_notes(rng, rng.randint(1, 2), (0, 1, 2, 3, 4, 5), (1.8, 2.4))
        return Scene(tuple(plucks), total, seed, split_cents=(3.0, 8.0),
                     pol_balance=(0.7, 1.0), hiss_db=-70.0, description=desc)  # fmt: skip
    if category == "hum":
        plucks, total = _phrase(rng, rng.randint(5, 7))
        return Scene(tuple(plucks), total, seed, sympathy_db=-30.0,
                     hum=(rng.choice((50.0, 60.0)), round(rng.uniform(-42, -30), 1)),
                     hiss_db=-65.0, description=desc)  # fmt: skip
    if category == "realroom":
        plucks, total = _phrase(rng, rng.randint(5, 7))
        squeaks = tuple(round(p.onset - rng.uniform(0.08, 0.2), 3) for p in
                        rng.sample(plucks[1:], min(2, len(plucks) - 1)))  # fmt: skip
        return Scene(tuple(plucks), total, seed, sympathy_db=round(rng.uniform(-30, -25), 1),
                     room=(round(rng.uniform(0.3, 1.2), 2), round(rng.uniform(0.2, 0.45), 2)),
                     mic="cheap", hiss_db=round(rng.uniform(-55, -45), 1), pick_noise_db=-20.0,
                     fret_noises=squeaks, description=desc)  # fmt: skip
    if category == "doublestop":
        plucks, total = _doublestop(rng)
        return Scene(tuple(plucks), total, seed, sympathy_db=-30.0, hiss_db=-70.0,
                     description=desc)  # fmt: skip
    raise ValueError(f"unknown string-model category {category!r}")
