"""The offline coach: deterministic advice computed from the measured figures and the notes.

It is what answers when no model is configured or every model failed, and it is also the
source of the *findings* (which note, how far off, where on the neck) that the LLM prompts
are grounded in — so an LLM reply and an offline reply talk about the same facts.

Same input → same output: technique tips are picked from a fixed library by a stable index
(the number of notes seen), never at random. Replies are labelled "offline" by the caller.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.fretboard import likely_position, string_label
from fretcoach_cli.music.scales import Scale

METRIC_TITLES = {
    "pitch_accuracy": "pitch accuracy",
    "scale_conformity": "scale conformity",
    "timing_stability": "timing stability",
    "clean_playing": "clean playing",
    "scale_coverage": "scale coverage",
}

#: Concrete techniques per weakness. Each is an imperative that fits after a colon.
TIPS: dict[str, tuple[str, ...]] = {
    "sharp": (
        "ease off the fretting pressure — press just hard enough to stop the buzz",
        "keep the fretting finger straight behind the fret wire instead of pushing the "
        "string sideways",
        "relax the thumb behind the neck; a death grip bends notes sharp",
    ),
    "flat": (
        "fret right behind the fret wire, not in the middle of the fret",
        "let the note settle and ring for a beat before moving on, listening to its pitch",
        "check that string with the tuner view — a flat string makes every note on it flat",
    ),
    "scale_conformity": (
        "slow down and say each note's name as you play it, from the root up and back",
        "play the scale shape once up and down before every phrase to reset your hand",
        "play only the scale notes on two strings until every note lands inside",
    ),
    "timing_stability": (
        "turn the click on at a slower tempo and play exactly one note per beat",
        "tap your foot and play one note per tap, counting out loud",
        "play each note twice on the beat before moving to the next one",
    ),
    "clean_playing": (
        "mute the strings you are not playing with the side of your picking hand",
        "lift the previous finger just as the next note sounds so only one string rings",
        "pick closer to the string and with a smaller motion so you hit only one string",
    ),
    "scale_coverage": (
        "run the whole scale up and down before improvising, touching every degree",
        "build a short phrase that starts on each missing degree in turn",
        "play the scale across all six strings in one position, slowly",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One grounded observation: the metric it explains, a sentence of facts, a technique."""

    metric: str
    fact: str
    technique: str

    @property
    def text(self) -> str:
        return f"{self.fact}: {self.technique}."


def _pick(kind: str, index: int) -> str:
    tips = TIPS[kind]
    return tips[index % len(tips)]


def positions(notes: Sequence[NoteEvent]) -> list[tuple[int, int] | None]:
    """A plausible (string, fret) for each note, the hand assumed to stay near the last one."""
    out: list[tuple[int, int] | None] = []
    prev: tuple[int, int] | None = None
    for n in notes:
        pos = likely_position(n.midi, prev) if n.is_note and n.midi is not None else None
        out.append(pos)
        prev = pos or prev
    return out


def where(pos: tuple[int, int] | None) -> str:
    """"3rd string (G), fret 12" / "open 1st string (e)"."""
    if pos is None:
        return ""
    string, fret = pos
    return f"open {string_label(string)}" if fret == 0 else f"{string_label(string)}, fret {fret}"


def _score_of(metrics, name: str) -> float | None:
    value = getattr(metrics, name, None)
    return None if value is None else float(value)


def weakest_metric(metrics) -> str | None:
    """The weakest enabled metric with a value (scoring's choice when it made one)."""
    chosen = getattr(metrics, "weakest_area", None)
    if chosen:
        return chosen
    enabled = getattr(metrics, "enabled", tuple(METRIC_TITLES))
    present = [(n, s) for n in enabled if (s := _score_of(metrics, n)) is not None]
    return min(present, key=lambda ns: ns[1])[0] if present else None


def _pitch_finding(metrics, notes: Sequence[NoteEvent], scale: Scale, index: int) -> Finding:
    in_scale = [(i, n) for i, n in enumerate(notes)
                if n.is_note and scale.contains(n.pitch_class)]
    pos = positions(notes)
    by_note: dict[int, list[int]] = {}
    for i, n in in_scale:
        by_note.setdefault(n.nearest_midi or 0, []).append(i)
    if not by_note:
        mean_abs = getattr(metrics, "mean_abs_cents", None)
        fact = (f"Your notes are {mean_abs:.0f} cents off on average" if mean_abs is not None
                else "Your notes drift out of tune")
        return Finding("pitch_accuracy", fact, _pick("flat", index))

    def badness(midi: int) -> tuple[float, int, int]:
        cents = [notes[i].cents or 0.0 for i in by_note[midi]]
        return (abs(statistics.fmean(cents)), len(cents), -midi)

    worst = max(by_note, key=badness)
    idxs = by_note[worst]
    mean = statistics.fmean(notes[i].cents or 0.0 for i in idxs)
    name = scale.note_name(worst)
    direction = "sharp" if mean > 0 else "flat"
    last_pos = next((pos[i] for i in reversed(idxs) if pos[i] is not None), None)
    place = where(last_pos)
    times = f" over {len(idxs)} notes" if len(idxs) > 1 else ""
    fact = f"Your {name} is {abs(mean):.0f} cents {direction}{times}"
    if place:
        fact += f" ({place})"
    return Finding("pitch_accuracy", fact, _pick(direction, index))


def _neighbours(scale: Scale, pc: int) -> tuple[str, str]:
    below = next(scale.name_of((pc - k) % 12) for k in range(1, 12)
                 if scale.contains((pc - k) % 12))
    above = next(scale.name_of((pc + k) % 12) for k in range(1, 12)
                 if scale.contains((pc + k) % 12))
    return below, above


def _conformity_finding(metrics, notes: Sequence[NoteEvent], scale: Scale,
                        index: int) -> Finding:
    wrong = [(i, n) for i, n in enumerate(notes)
             if n.is_note and not scale.contains(n.pitch_class)]
    if not wrong:
        fact = f"Every note you played is inside {scale.display_name}"
        return Finding("scale_conformity", fact, "keep going, and try a faster run next")
    counts: dict[int, list[int]] = {}
    for i, n in wrong:
        counts.setdefault(n.pitch_class or 0, []).append(i)
    pc = min(counts, key=lambda p: (-len(counts[p]), p))
    idxs = counts[pc]
    pos = positions(notes)
    last = notes[idxs[-1]]
    name = scale.note_name(last.midi or 0.0)
    place = where(pos[idxs[-1]])
    below, above = _neighbours(scale, pc)
    times = f" {len(idxs)} times" if len(idxs) > 1 else ""
    fact = (f"You played {name} ({scale.interval_label(pc)}){times}"
            f"{f' on the {place}' if place else ''}, which is not in {scale.display_name} — "
            f"the nearest scale notes are {below} and {above}")
    return Finding("scale_conformity", fact, _pick("scale_conformity", index))


def played_tempo(notes: Sequence[NoteEvent]) -> float | None:
    """The tempo the notes were played at (bpm from the median gap between onsets), as the
    timing tip quotes it; None with fewer than two notes."""
    onsets = sorted(n.onset_s for n in notes if n.is_note)
    gaps = [b - a for a, b in itertools.pairwise(onsets) if b > a]
    return 60.0 / statistics.median(gaps) if gaps else None


def _timing_finding(metrics, notes: Sequence[NoteEvent], index: int) -> Finding:
    bpm = getattr(metrics, "bpm", None)
    dev = getattr(metrics, "mean_abs_grid_dev_ms", None)
    cv = getattr(metrics, "ioi_cv", None)
    tempo = played_tempo(notes)
    if bpm and dev is not None:
        fact = f"Your notes land {dev:.0f} ms off the {bpm:.0f} BPM click on average"
        slower = max(40, int(round(bpm * 0.8 / 5) * 5))
        tech = _pick("timing_stability", index)
        if index % len(TIPS["timing_stability"]) == 0:
            tech = f"drop the click to {slower} BPM and play exactly one note per beat"
        return Finding("timing_stability", fact, tech)
    if cv is not None:
        fact = f"The spacing between your notes varies by {100 * cv:.0f}%"
    else:
        fact = "The spacing between your notes is uneven"
    tech = _pick("timing_stability", index)
    if tempo is not None and index % len(TIPS["timing_stability"]) == 0:
        slower = max(40, min(200, int(round(tempo * 0.8 / 5) * 5)))
        tech = f"turn the click on at {slower} BPM (a bit under your {tempo:.0f}) and play " \
               "one note per beat"
    return Finding("timing_stability", fact, tech)


def _clean_finding(metrics, index: int) -> Finding:
    unclear = int(getattr(metrics, "unclear_notes", 0) or 0)
    poly = int(getattr(metrics, "polyphonic_notes", 0) or 0)
    total = int(getattr(metrics, "total_onsets", 0) or 0)
    parts = []
    if poly:
        parts.append(f"{poly} sounded like two strings at once")
    if unclear:
        parts.append(f"{unclear} had no clear pitch")
    if not parts:
        return Finding("clean_playing", f"All {total} of your last notes rang clearly",
                       "keep muting the idle strings as you speed up")
    fact = f"Of your last {total} notes, {' and '.join(parts)}"
    return Finding("clean_playing", fact, _pick("clean_playing", index))


def _coverage_finding(metrics, scale: Scale, index: int) -> Finding:
    missing = list(getattr(metrics, "degrees_missing", ()) or ())
    names = scale.note_names()
    labels = scale.degree_labels
    named = [f"{names[labels.index(lab)]} ({lab})" for lab in missing if lab in labels]
    if named:
        shown = ", ".join(named[:3]) + (" and more" if len(named) > 3 else "")
        fact = f"You have not played {shown} of {scale.display_name} yet"
    else:
        return Finding("scale_coverage", f"You have played every note of {scale.display_name}",
                       "now start phrases on a different degree each time")
    return Finding("scale_coverage", fact, _pick("scale_coverage", index))


def finding(metrics, notes: Sequence[NoteEvent], scale: Scale,
            metric: str | None = None, *, turn: int | None = None) -> Finding | None:
    """The grounded observation about ``metric`` (default: the weakest); None if no data.

    ``turn`` picks the technique's wording (default: the number of notes); a live coach passes
    how many tips it has given, so a long session does not hear the same sentence again."""
    metric = metric or weakest_metric(metrics)
    if metric is None:
        return None
    index = len(notes) if turn is None else turn
    if metric == "pitch_accuracy":
        return _pitch_finding(metrics, notes, scale, index)
    if metric == "scale_conformity":
        return _conformity_finding(metrics, notes, scale, index)
    if metric == "timing_stability":
        return _timing_finding(metrics, notes, index)
    if metric == "clean_playing":
        return _clean_finding(metrics, index)
    if metric == "scale_coverage":
        return _coverage_finding(metrics, scale, index)
    return None


NOT_ENOUGH = "Keep playing — I need a few more clear notes before I can say anything useful."


def live_tip(metrics, notes: Sequence[NoteEvent], scale: Scale, *, turn: int | None = None,
             avoid: str | None = None, template: str | None = None) -> tuple[str, str | None]:
    """(1–2 sentence instruction, metric it is about) for the live view.

    Never ``avoid`` (the tip just given) when anything else is true to say: another wording
    of the same advice, else the next weakest area. ``template`` is the live prompt version's
    offline wording (``{fact}``, ``{fact_lc}``, ``{technique}``, ``{Technique}``); default
    "fact: technique."."""
    def text(f: Finding) -> str:
        if not template:
            return f.text
        return template.format(fact=f.fact, fact_lc=f.fact[:1].lower() + f.fact[1:],
                               technique=f.technique,
                               Technique=f.technique[:1].upper() + f.technique[1:])

    f = finding(metrics, notes, scale, turn=turn)
    if f is None:
        return NOT_ENOUGH, None
    if avoid is not None and text(f) == avoid:
        base = len(notes) if turn is None else turn
        for step in range(1, 4):
            other = finding(metrics, notes, scale, f.metric, turn=base + step)
            if other is not None and text(other) != avoid:
                return text(other), other.metric
        for metric in _by_score(metrics):
            other = finding(metrics, notes, scale, metric, turn=turn)
            if metric != f.metric and other is not None and text(other) != avoid:
                return text(other), other.metric
    return text(f), f.metric


def _by_score(metrics) -> list[str]:
    """Enabled metrics with a value, weakest first."""
    enabled = getattr(metrics, "enabled", tuple(METRIC_TITLES))
    present = [(n, s) for n in enabled if (s := _score_of(metrics, n)) is not None]
    return [n for n, _ in sorted(present, key=lambda ns: ns[1])]


def _fmt_duration(seconds: float | None) -> str:
    if not seconds:
        return ""
    m, s = divmod(round(seconds), 60)
    return f" over {m}:{s:02d}" if m else f" over {s} s"


def session_summary(metrics, notes: Sequence[NoteEvent], scale: Scale,
                    duration_s: float | None = None) -> tuple[str, str | None]:
    """(2–3 sentences + one thing to work on, metric to work on) after a session."""
    total = int(getattr(metrics, "total_notes_played", 0) or 0)
    if total == 0:
        return ("No clear notes were detected this time, so there is nothing to score. "
                "Work on: check the input level and play single notes that ring for a moment."
                ), None
    overall = getattr(metrics, "overall_score", None)
    first = f"You played {total} notes of {scale.display_name}{_fmt_duration(duration_s)}"
    first += f" for an overall {overall:.0f}/100." if overall is not None else "."
    enabled = getattr(metrics, "enabled", tuple(METRIC_TITLES))
    scored = [(n, s) for n in enabled if (s := _score_of(metrics, n)) is not None]
    weakest = weakest_metric(metrics)
    parts = [first]
    if scored:
        best = max(scored, key=lambda ns: ns[1])
        parts.append(f"Strongest was {METRIC_TITLES[best[0]]} ({best[1]:.0f}).")
    f = finding(metrics, notes, scale, weakest) if weakest else None
    if f is None:
        return " ".join(parts), weakest
    score = _score_of(metrics, f.metric)
    score_txt = f" ({score:.0f})" if score is not None else ""
    parts.append(f"Weakest was {METRIC_TITLES[f.metric]}{score_txt}: {f.fact[0].lower()}"
                 f"{f.fact[1:]}.")
    parts.append(f"Work on: {f.technique}.")
    return " ".join(parts), f.metric
