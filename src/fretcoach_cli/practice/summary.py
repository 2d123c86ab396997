"""Rows and results of a practice session: what is stored, and what the summary shows."""

from __future__ import annotations

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
SUMMARY_LABELS = (*METRIC_LABELS[:4], ("scale_coverage", "Scale coverage"), METRIC_LABELS[4])


def metrics_of(options: Any, events: list[NoteEvent]) -> Any:
    """Scoring's metrics for these events under the session's settings."""
    from fretcoach_cli.scoring.metrics import compute_metrics

    return compute_metrics(events, options.scale, strictness=options.strictness,
                           bpm=options.bpm, grid=getattr(options, "grid", None))


def session_meta(options: Any) -> dict[str, Any]:
    """The session row's fields known at start (a practice session)."""
    exercise = getattr(options, "exercise", None)
    extra = {} if exercise is None else {"exercise": {
        "name": exercise.name, "source": exercise.source, "bpm": options.bpm}}
    return extra | session_fields(
        options.scale, user=options.user, bpm=options.bpm, strictness=options.strictness,
        sensitivity=options.sensitivity, a4=options.a4, pitch_model=options.pitch_model,
        source_kind=options.source_kind, source_label=options.source_label,
        plan_id=options.plan_id, tuning=getattr(options, "tuning", None))


def session_fields(scale: Any, *, user: str | None, bpm: float | None, strictness: float,
                   sensitivity: float, a4: float, pitch_model: str, source_kind: str,
                   source_label: str = "", plan_id: Any = None,
                   tuning: Any = None) -> dict[str, Any]:
    """The one place a session row's descriptive fields are built, for `practice` and
    `analyze --save` alike (they once stored scale_type in two forms, and chat missed the
    analysed ones): scale_type is the type's name, e.g. 'minor pentatonic'."""
    return {
        "user": user,
        "scale_chosen": scale.display_name,
        "scale_root": scale.root_name,
        "scale_type": scale.type_name,
        "bpm": bpm,
        "strictness": strictness,
        "sensitivity": sensitivity,
        "a4_hz": a4,
        "pitch_model": pitch_model,
        "input_source": f"{source_kind}:{source_label}" if source_label else source_kind,
        "plan_id": plan_id,
        # NULL = standard; otherwise the spec parse_tuning() reads back
        "tuning": None if tuning is None or tuning.key == "standard" else tuning.spec,
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
        "note_name": verdict.name,
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
    fields = metrics_of(options, events).to_dict()
    fields["duration_seconds"] = round(duration_s, 3)
    return fields


@dataclass
class SessionResult:
    """Everything the summary screen and the headless printer show."""

    scale_name: str
    duration_s: float
    notes: int
    metrics: Any  # scoring.metrics.Metrics (per_degree, worst_notes, raw figures)
    verdicts: list[Verdict]
    row: dict[str, Any] | None = None
    session_id: Any = None
    saved: bool = False
    save_message: str = ""
    discarded: bool = False  # no notes were heard: nothing to keep (not a failure)
    previous: Any = None
    reason: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)


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
        row=row,
        session_id=getattr(outcome, "session_id", None),
        saved=bool(getattr(outcome, "saved", False)),
        save_message=getattr(outcome, "message", "not saved (no database)"),
        previous=previous,
        reason=reason,
    )
