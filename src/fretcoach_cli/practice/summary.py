"""Rows and results of a practice session: what is stored, and what the summary shows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.scoring.judge import Verdict, judge_notes

METRIC_LABELS = (
    ("pitch_accuracy", "Pitch accuracy"),
    ("scale_conformity", "Scale conformity"),
    ("timing_stability", "Timing stability"),
    ("clean_playing", "Clean playing"),
    ("overall_score", "Overall"),
)


def metrics_of(options: Any, events: list[NoteEvent]) -> Any:
    """Scoring's metrics for these events under the session's settings."""
    from fretcoach_cli.scoring import compute_metrics

    return compute_metrics(events, options.scale, strictness=options.strictness,
                           bpm=options.bpm)


def session_meta(options: Any) -> dict[str, Any]:
    """The session row's fields known at start."""
    scale = options.scale
    return {
        "user": options.user,
        "scale_chosen": scale.display_name,
        "scale_root": scale.root_name,
        "scale_type": scale.type_key,
        "bpm": options.bpm,
        "strictness": options.strictness,
        "sensitivity": options.sensitivity,
        "a4_hz": options.a4,
        "pitch_model": options.pitch_model,
        "input_source": options.source_kind,
        "input_label": options.source_label,
        "plan_id": options.plan_id,
    }


def note_row(seq: int, event: NoteEvent, verdict: Verdict) -> dict[str, Any]:
    """One stored note (JSON-safe: it goes through the journal)."""
    return {
        "seq": seq,
        "onset_s": round(event.onset_s, 6),
        "offset_s": round(event.offset_s, 6),
        "midi": event.midi,
        "cents": verdict.cents,
        "pitch_class": verdict.pitch_class,
        "kind": event.kind,
        "confidence": event.confidence,
        "level_db": event.level_db if event.level_db != float("-inf") else None,
        "in_scale": verdict.in_scale,
        "in_tune": verdict.in_tune,
        "degree": verdict.degree,
        "grid_offset_ms": verdict.grid_offset_ms,
    }


def summary_fields(options: Any, events: list[NoteEvent], duration_s: float) -> dict[str, Any]:
    """Final figures for the session row (metrics plus the raw figures behind them)."""
    metrics = metrics_of(options, events)
    fields = dict(metrics.as_row()) if hasattr(metrics, "as_row") else dict(vars(metrics))
    fields["duration_seconds"] = round(duration_s, 3)
    return fields


@dataclass(frozen=True)
class DegreeStat:
    label: str
    count: int
    in_tune: int
    mean_abs_cents: float | None


@dataclass(frozen=True)
class WorstNote:
    onset_s: float
    name: str
    cents: float | None
    reason: str


@dataclass
class SessionResult:
    """Everything the summary screen and the headless printer show."""

    scale_name: str
    duration_s: float
    notes: int
    metrics: Any
    verdicts: list[Verdict]
    degrees: list[DegreeStat]
    worst: list[WorstNote]
    row: dict[str, Any] | None = None
    session_id: Any = None
    saved: bool = False
    save_message: str = ""
    previous: Any = None
    reason: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)


def degree_table(scale: Any, verdicts: list[Verdict]) -> list[DegreeStat]:
    """Per scale degree: how often it was played, how often in tune, mean |cents|."""
    groups: dict[int, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if v.judged and v.degree is not None:
            groups[v.degree].append(v)
    out = []
    for degree in range(1, scale.size + 1):
        vs = groups.get(degree, [])
        cents = [abs(v.cents) for v in vs if v.cents is not None]
        out.append(DegreeStat(scale.degree_labels[degree - 1], len(vs),
                              sum(1 for v in vs if v.in_tune),
                              sum(cents) / len(cents) if cents else None))
    return out


def worst_notes(verdicts: list[Verdict], limit: int = 5) -> list[WorstNote]:
    """Wrong notes first (by time), then the most out-of-tune in-scale notes."""
    wrong = [WorstNote(v.onset_s, v.name or "?", v.cents, "not in scale")
             for v in verdicts if v.judged and v.in_scale is False]
    off = sorted((v for v in verdicts if v.judged and v.in_scale and not v.in_tune),
                 key=lambda v: -abs(v.cents or 0.0))
    out = wrong[:limit]
    for v in off:
        if len(out) >= limit:
            break
        out.append(WorstNote(v.onset_s, v.name or "?", v.cents, "out of tune"))
    return out


def build_result(options: Any, events: list[NoteEvent], duration_s: float, *,
                 row: dict[str, Any] | None, outcome: Any, previous: Any,
                 reason: str) -> SessionResult:
    verdicts = judge_notes(events, options.scale, strictness=options.strictness,
                           bpm=options.bpm)
    return SessionResult(
        scale_name=options.scale.display_name,
        duration_s=duration_s,
        notes=sum(1 for e in events if e.is_note),
        metrics=metrics_of(options, events),
        verdicts=verdicts,
        degrees=degree_table(options.scale, verdicts),
        worst=worst_notes(verdicts),
        row=row,
        session_id=getattr(outcome, "session_id", None),
        saved=bool(getattr(outcome, "saved", False)),
        save_message=getattr(outcome, "message", "not saved (no database)"),
        previous=previous,
        reason=reason,
    )
