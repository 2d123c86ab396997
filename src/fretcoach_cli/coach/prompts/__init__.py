"""Prompts for every coach feature, with one version string stored beside what they produce.

Every number the model sees is measured (metrics, the notes, the offline coach's grounded
finding); the model only phrases and picks a technique. No stored free text (notes typed by
the user, earlier replies) ever goes into a system prompt. Messages are (role, text) tuples,
which LangChain accepts anywhere, so this module needs no LangChain import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fretcoach_cli.coach.offline import METRIC_TITLES, Finding, positions, where
from fretcoach_cli.coach.prompts.versions import Prompt, load
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import Scale

#: The release of the prompt set, stored with plans and traced as metadata. Each prompt's own
#: version (v1, v2, … — files in this package, see versions.py) is stored with every reply.
PROMPT_VERSION = "fretcoach-prompts-2026.11.1"

Message = tuple[str, str]
RECENT_NOTES = 12

def _score(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.0f}"


def _note_line(scale: Scale, n: NoteEvent, pos: tuple[int, int] | None) -> str:
    if not n.is_note or n.midi is None:
        return f"{n.onset_s:.2f}s {n.kind}"
    cents = n.cents or 0.0
    inside = "in scale" if scale.contains(n.pitch_class) else "OUT of scale"
    place = where(pos)
    return (f"{n.onset_s:.2f}s {scale.note_name(n.midi)} {cents:+.0f}c {inside}"
            f"{', ' + place if place else ''}")


def metric_facts(metrics) -> list[str]:
    """Scores with their raw figures, in the words of the metrics documentation."""
    lines = []
    enabled = getattr(metrics, "enabled", tuple(METRIC_TITLES))
    for name in enabled:
        lines.append(f"- {METRIC_TITLES.get(name, name)}: {_score(getattr(metrics, name, None))}"
                     "/100")
    raw = {
        "mean |cents| of in-scale notes": getattr(metrics, "mean_abs_cents", None),
        "mean cents (negative = flat)": getattr(metrics, "mean_cents", None),
        "tolerance ± cents": getattr(metrics, "tolerance_cents", None),
        "inter-onset CV": getattr(metrics, "ioi_cv", None),
        "mean |offset| from click, ms": getattr(metrics, "mean_abs_grid_dev_ms", None),
        "click BPM": getattr(metrics, "bpm", None),
    }
    for label, value in raw.items():
        if value is not None:
            lines.append(f"- {label}: {float(value):.2f}")
    missing = getattr(metrics, "degrees_missing", ())
    if missing:
        lines.append(f"- scale degrees not played: {' '.join(missing)}")
    oos = getattr(metrics, "out_of_scale_notes", ())
    if oos:
        lines.append("- out-of-scale notes: " + ", ".join(
            f"{o.name} ({o.interval}) x{o.count}" for o in oos[:4]))
    return lines


def live_messages(metrics, notes: Sequence[NoteEvent], scale: Scale,
                  found: Finding | None, prompt: Prompt | None = None) -> list[Message]:
    recent = list(notes)[-RECENT_NOTES:]
    pos = positions(recent)
    focus = found.metric if found else getattr(metrics, "weakest_area", None)
    lines = [
        f"Scale: {scale.display_name} ({' '.join(scale.note_names())})",
        f"Focus metric: {METRIC_TITLES.get(focus or '', focus or 'none yet')}",
        "Measured over the last few seconds:",
        *metric_facts(metrics),
    ]
    if found is not None:
        lines.append(f"Main finding: {found.fact}.")
    lines.append("Recent notes (oldest first):")
    lines.extend(f"  {_note_line(scale, n, p)}" for n, p in zip(recent, pos, strict=True))
    return [("system", (prompt or load("live")).text), ("human", "\n".join(lines))]


def summary_messages(metrics, notes: Sequence[NoteEvent], scale: Scale,
                     found: Finding | None, duration_s: float | None,
                     prompt: Prompt | None = None) -> list[Message]:
    lines = [
        f"Scale: {scale.display_name}",
        f"Notes played: {getattr(metrics, 'total_notes_played', 0)}",
        f"Duration: {duration_s:.0f} s" if duration_s else "Duration: unknown",
        f"Overall: {_score(getattr(metrics, 'overall_score', None))}/100",
        *metric_facts(metrics),
    ]
    if found is not None:
        lines.append(f"Weakest area finding: {found.fact}.")
    return [("system", (prompt or load("summary")).text), ("human", "\n".join(lines))]


def plan_messages(rec_input: dict[str, Any], scale_types: Sequence[str],
                  avoid: Sequence[str], prompt: Prompt | None = None) -> list[Message]:
    body = {
        "statistics": rec_input,
        "supported_scale_types": list(scale_types),
        "avoid": list(avoid),
        "metrics": list(METRIC_TITLES),
    }
    return [("system", (prompt or load("plan")).text),
            ("human", "Recent practice statistics (JSON):\n" + json.dumps(body, indent=1))]
