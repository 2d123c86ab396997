"""Practice plans: one schema for every feature, the statistics they are based on, and the
recommendation itself (a model through the fallback chain, else the offline coach).

The statistics (per-metric averages, trend, weakest area, per-scale figures) are computed
here in Python from plain session summary rows, never by the model: the model only chooses
and explains. A plan whose scale does not parse (``music.scales.parse_scale``) is rejected by
the schema itself, so it is retried once, then the next model or the offline coach answers;
an invalid plan is never returned, so it is never stored.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fretcoach_cli.coach import prompts
from fretcoach_cli.coach.offline import METRIC_TITLES
from fretcoach_cli.errors import UsageError
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.failures import AllLinksFailed, Attempt
from fretcoach_cli.llm.links import OFFLINE
from fretcoach_cli.llm.tracing import Tracer
from fretcoach_cli.music.scales import SCALE_TYPES, parse_scale

FocusArea = Literal["pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing",
                    "scale_coverage"]
FOCUS_AREAS: tuple[FocusArea, ...] = get_args(FocusArea)  # METRIC_TITLES' keys, in order
FEATURE = "recommendation"
RECENT_SESSIONS = 20


class SessionTarget(BaseModel):
    """How long the session should be: minutes, notes, or both."""

    model_config = ConfigDict(extra="ignore")

    minutes: int | None = Field(default=None, ge=1, le=180,
                                description="Practice length in minutes.")
    notes: int | None = Field(default=None, ge=10, le=5000,
                              description="Number of notes to play.")

    @model_validator(mode="after")
    def _one_of(self) -> SessionTarget:
        if self.minutes is None and self.notes is None:
            raise ValueError("session_target needs minutes or notes")
        return self


class PracticePlan(BaseModel):
    """A practice plan, as models produce it, as stored (``practice_plan`` jsonb) and shown."""

    model_config = ConfigDict(extra="ignore")

    scale: str = Field(description="Root note plus a supported scale type, e.g. "
                                   "'A minor pentatonic' or 'Bb dorian'.")
    focus_area: FocusArea = Field(description="The one metric this session works on.")
    reasoning: str = Field(max_length=800,
                           description="Why, citing the statistics (under 60 words).")
    target_tempo_bpm: int | None = Field(default=None, ge=30, le=260,
                                         description="Click tempo in BPM.")
    strictness: float = Field(ge=0.0, le=1.0,
                              description="0 lenient … 1 strict tuning tolerance.")
    sensitivity: float = Field(ge=0.0, le=1.0,
                               description="0 only loud notes count … 1 quiet notes too.")
    session_target: SessionTarget
    target_accuracy: int | None = Field(default=None, ge=0, le=100,
                                        description="Score (0-100) of the focus area that "
                                                    "completes the plan, with its time.")
    exercises: list[str] = Field(min_length=1, max_length=6,
                                 description="2-5 short exercise steps.")

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, value: str) -> str:
        try:
            return parse_scale(value).display_name
        except UsageError as exc:
            raise ValueError(exc.one_line()) from None

    @field_validator("exercises")
    @classmethod
    def _short_steps(cls, value: list[str]) -> list[str]:
        steps = [" ".join(str(s).split())[:200] for s in value if str(s).strip()]
        if not steps:
            raise ValueError("exercises must not be empty")
        return steps

    @property
    def title(self) -> str:
        return f"{self.scale}: {METRIC_TITLES[self.focus_area]}"

    def stored(self, generated_by: str) -> dict[str, Any]:
        """The jsonb document: the plan plus its title and which model (or offline) wrote it."""
        return {**self.model_dump(mode="json"), "title": self.title,
                "generated_by": generated_by}


# --------------------------------------------------------------------------------------------
# Recommendation input: statistics of recent sessions


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(name, default)
    return getattr(row, name, default)


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return round(statistics.fmean(xs), 1) if xs else None


@dataclass
class ScaleStats:
    scale: str
    sessions: int
    minutes: float
    last_played: str | None
    averages: dict[str, float | None]
    max_clean_bpm: float | None = None  # the speed trainer's best clean tempo (ddl/060)


@dataclass
class RecommendationInput:
    """What a recommendation is based on, computed from the newest ``sessions`` rows."""

    sessions: int
    minutes: float
    averages: dict[str, float | None]
    trend: dict[str, float | None]  # newer half minus older half, in score points
    weakest_area: FocusArea | None
    per_scale: list[ScaleStats] = field(default_factory=list)
    last_scale: str | None = None
    last_tempo_bpm: float | None = None
    last_strictness: float | None = None
    last_sensitivity: float | None = None
    #: the latest exercise's weakest notes (coach.exercise_tips.ExerciseFocus.to_dict)
    exercise_focus: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scale_name(row: Any) -> str | None:
    name = _get(row, "scale_chosen")
    if not name:
        return None
    try:
        return parse_scale(str(name)).display_name
    except UsageError:
        return str(name)


def recommendation_input(rows: Sequence[Any], *, limit: int = RECENT_SESSIONS
                         ) -> RecommendationInput:
    """Statistics of the newest ``limit`` sessions (rows: store ``SessionRow`` or mappings
    with the same column names; any order)."""
    def when(r: Any) -> datetime | str:
        return _get(r, "start_time") or ""

    from fretcoach_cli.reports.filters import counts_as_practice
    from fretcoach_cli.reports.trend import halves, trend_change

    played = [r for r in rows if counts_as_practice(_get(r, "status"),
                                                    _get(r, "total_notes_played"))]
    ordered = sorted(played, key=lambda r: (str(when(r)), str(_get(r, "session_id") or "")),
                     reverse=True)[:limit]
    averages: dict[str, float | None] = {m: _mean(_get(r, m) for r in ordered)
                                         for m in FOCUS_AREAS}
    trend: dict[str, float | None] = {}
    for m in FOCUS_AREAS:  # the rule `stats` and the chat use (reports.trend)
        values = [_get(r, m) for r in reversed(ordered)]
        change = trend_change(*halves(values), scored=sum(v is not None for v in values))
        trend[m] = None if change is None else round(change, 1)
    present = [(m, v) for m in FOCUS_AREAS if (v := averages[m]) is not None]
    weakest = min(present, key=lambda mv: mv[1])[0] if present else None
    by_scale: dict[str, list[Any]] = {}
    for r in ordered:
        name = _scale_name(r)
        if name:
            by_scale.setdefault(name, []).append(r)
    per_scale = [
        ScaleStats(
            scale=name, sessions=len(rs),
            minutes=round(sum(float(_get(r, "duration_seconds") or 0) for r in rs) / 60, 1),
            last_played=str(when(rs[0]))[:10] or None,
            averages={m: _mean(_get(r, m) for r in rs) for m in FOCUS_AREAS},
            max_clean_bpm=max((float(v) for r in rs if (v := _get(r, "max_clean_bpm"))
                               is not None), default=None))
        for name, rs in by_scale.items()
    ]
    newest = ordered[0] if ordered else None
    return RecommendationInput(
        sessions=len(ordered),
        minutes=round(sum(float(_get(r, "duration_seconds") or 0) for r in ordered) / 60, 1),
        averages=averages, trend=trend, weakest_area=weakest, per_scale=per_scale,
        last_scale=_scale_name(newest) if newest is not None else None,
        last_tempo_bpm=_get(newest, "tempo_bpm") if newest is not None else None,
        last_strictness=_get(newest, "strictness") if newest is not None else None,
        last_sensitivity=_get(newest, "sensitivity") if newest is not None else None,
    )


def suggested_scales(plan_documents: Iterable[dict[str, Any]], limit: int = 3) -> list[str]:
    """Scales of the newest stored plans (newest first) — what "try another" avoids."""
    out: list[str] = []
    for doc in plan_documents:
        name = doc.get("scale") if isinstance(doc, dict) else None
        if not name:
            continue
        try:
            name = parse_scale(str(name)).display_name
        except UsageError:
            continue
        if name not in out:
            out.append(name)
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------------------------
# The offline planner

#: Where to go next when the weak scale is to be avoided: a common learning path.
PATH = ("A minor pentatonic", "E minor pentatonic", "C major", "G major", "A blues",
        "A natural minor", "D dorian", "E minor", "D major", "G mixolydian",
        "A harmonic minor", "E phrygian", "F lydian", "C major pentatonic", "B locrian")

EXERCISES: dict[str, tuple[str, ...]] = {
    "pitch_accuracy": (
        "Play {scale} up and down at {tempo} BPM, letting each note ring for a full beat",
        "Hold the 3rd and 5th degrees for two beats each and watch the tuner needle",
        "Fret each note right behind the fret wire with the lightest pressure that rings",
    ),
    "scale_conformity": (
        "Play {scale} up and back slowly, saying each note name out loud",
        "Improvise on two strings only, staying inside {scale}",
        "Start every phrase on the root and end it on the root",
    ),
    "timing_stability": (
        "Play {scale} one note per click at {tempo} BPM",
        "Play two notes per click (eighth notes) once one per click feels easy",
        "Repeat each scale note four times on the beat before moving on",
    ),
    "clean_playing": (
        "Play {scale} slowly, muting idle strings with the picking-hand palm",
        "Lift each fretting finger just as the next note sounds",
        "Alternate pick every note with small, close-to-the-string motions",
    ),
    "scale_coverage": (
        "Play {scale} through every degree, low to high and back, in one position",
        "Make up a short phrase that starts on each degree in turn",
        "Play the scale across all six strings at {tempo} BPM",
    ),
}


RAMP_STEP = 4  # bpm a step of the recommended speed-trainer ramp


def speed_ramp(held_bpm: float) -> tuple[int, int]:
    """(start, target) of the next ramp from a held clean tempo: one step below it, two
    steps above (96 held → 92 … 104), inside the plan's 40–200 bpm."""
    start = int(_clamp(round(held_bpm) - RAMP_STEP, 40, 196))
    return start, int(_clamp(round(held_bpm) + 2 * RAMP_STEP, start + RAMP_STEP, 200))


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def offline_plan(data: RecommendationInput, avoid: Sequence[str] = ()) -> PracticePlan:
    """A deterministic plan from the statistics: work on the weakest area, on the scale where
    it is weakest (unless that scale is to be avoided), at a tempo adapted to timing."""
    avoid_set = {a.lower() for a in avoid}
    focus: FocusArea = data.weakest_area or "scale_coverage"
    candidates = sorted(
        (s for s in data.per_scale if s.averages.get(focus) is not None
         and s.scale.lower() not in avoid_set),
        key=lambda s: (s.averages[focus], s.scale))
    if candidates:
        scale = candidates[0].scale
        why_scale = (f"{scale} is where it is lowest "
                     f"({candidates[0].averages[focus]:.0f})")
    else:
        played = {s.scale.lower() for s in data.per_scale}
        fresh = [p for p in PATH if p.lower() not in avoid_set and p.lower() not in played]
        scale = (fresh or [p for p in PATH if p.lower() not in avoid_set] or [PATH[0]])[0]
        why_scale = f"{scale} is a good next step on the usual learning path"
    last_tempo = float(data.last_tempo_bpm or 70)
    timing = data.averages.get("timing_stability")
    if focus == "timing_stability":
        tempo = last_tempo * 0.85
    elif timing is not None and timing >= 85:
        tempo = last_tempo + 5
    else:
        tempo = last_tempo
    tempo_i = int(_clamp(round(tempo / 5) * 5, 40, 200))
    strict = float(data.last_strictness if data.last_strictness is not None else 0.5)
    pitch = data.averages.get("pitch_accuracy")
    if pitch is not None and pitch >= 85:
        strict += 0.1
    elif pitch is not None and pitch < 60:
        strict -= 0.1
    sens = float(data.last_sensitivity if data.last_sensitivity is not None else 0.5)
    if data.sessions:
        avg = data.averages.get(focus)
        trend = data.trend.get(focus)
        trend_txt = f", trend {trend:+.0f}" if trend is not None else ""
        avg_txt = f"{avg:.0f}" if avg is not None else "n/a"
        over = "session" if data.sessions == 1 else f"{data.sessions} sessions"
        reasoning = (f"Your {METRIC_TITLES[focus]} averaged {avg_txt} over the last "
                     f"{over}{trend_txt}, your weakest area; {why_scale}.")
    else:
        reasoning = f"No sessions yet: start with {scale} to set a baseline."
    minutes = 10 if data.sessions < 3 else 15
    steps = [s.format(scale=scale, tempo=tempo_i) for s in EXERCISES[focus]]
    held = next((s.max_clean_bpm for s in data.per_scale
                 if s.scale == scale and s.max_clean_bpm is not None), None)
    if held is not None:  # the speed trainer: a little below what was held, up past it
        start, target = speed_ramp(held)
        tempo_i = start
        reasoning += (f" You held {held:g} bpm clean; start at {start}, ramp to {target}.")
        steps = [*steps[:4], f"Speed trainer: fretcoach practice --scale \"{scale}\" "
                             f"--ramp {start}:{target}:+{RAMP_STEP}"]
    if data.exercise_focus:  # practice --exercise: aim at its weakest positions
        steps = [*steps[:4], str(data.exercise_focus["step"])[:200]]
        reasoning += f" {data.exercise_focus['summary']}"
    return PracticePlan(scale=scale, focus_area=focus, reasoning=reasoning,
                        target_tempo_bpm=tempo_i, strictness=round(_clamp(strict, 0.1, 0.9), 2),
                        sensitivity=round(_clamp(sens, 0.0, 1.0), 2),
                        session_target=SessionTarget(minutes=minutes),
                        target_accuracy=accuracy_target(data, focus), exercises=steps)


def accuracy_target(data: RecommendationInput, focus: FocusArea) -> int | None:
    """The focus score that completes a plan: a few points over the recent average (fewer
    near the top, where points are hard), none without history to measure against."""
    avg = data.averages.get(focus)
    if avg is None:
        return None
    return int(min(100, round(avg) + (5 if avg < 90 else 2)))


def with_accuracy_target(plan: PracticePlan, data: RecommendationInput) -> PracticePlan:
    """A model's plan gets the same completion score as an offline one: the wire schema does
    not ask a small model to invent it."""
    if plan.target_accuracy is not None:
        return plan
    return plan.model_copy(update={"target_accuracy": accuracy_target(data, plan.focus_area)})


# --------------------------------------------------------------------------------------------
# Recommending

#: Roots a plan may name (one spelling per pitch class, as the scale parser prints them).
PLAN_ROOTS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
#: Strictness/sensitivity steps a model may choose (constrained decoding cannot bound floats).
PLAN_STEPS = (0.3, 0.4, 0.5, 0.6, 0.7)


def plan_wire_schema(avoid: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON schema a model decodes a plan under: stricter than :class:`PracticePlan`
    (every scale spelled out, minus the ones to avoid; bounded text), so that constrained
    decoding can only produce a plan that validates, even from a 135M model."""
    avoided = {a.lower() for a in avoid}
    scales = [name for root in PLAN_ROOTS for t in SCALE_TYPES
              if (name := f"{root} {t.name}").lower() not in avoided]
    steps = {"type": "number", "enum": list(PLAN_STEPS)}
    return {
        "type": "object",
        "properties": {
            "scale": {"type": "string", "enum": scales},
            "focus_area": {"type": "string", "enum": list(FOCUS_AREAS)},
            "reasoning": {"type": "string", "minLength": 10, "maxLength": 300},
            "target_tempo_bpm": {"type": "integer", "minimum": 40, "maximum": 200},
            "strictness": steps,
            "sensitivity": steps,
            "session_target": {"type": "object",
                               "properties": {"minutes": {"type": "integer", "minimum": 5,
                                                          "maximum": 60}},
                               "required": ["minutes"], "additionalProperties": False},
            "exercises": {"type": "array", "minItems": 2, "maxItems": 4,
                          "items": {"type": "string", "minLength": 5, "maxLength": 100}},
        },
        "required": ["scale", "focus_area", "reasoning", "target_tempo_bpm", "strictness",
                     "sensitivity", "session_target", "exercises"],
        "additionalProperties": False,
    }



@dataclass(frozen=True)
class PlanResult:
    plan: PracticePlan
    source: str  # model name or "offline"
    prompt_version: str
    attempts: tuple[Attempt, ...] = ()
    configured: bool = False  # a model was configured (so an offline plan is a fallback)

    @property
    def store_source(self) -> str:
        """The ``ai_practice_plans.source`` column value: "model" or "offline"."""
        return OFFLINE if self.source == OFFLINE else "model"


def recommend(data: RecommendationInput, *, chain: ProviderChain | None = None,
              avoid: Sequence[str] = (), tracer: Tracer | None = None,
              metadata: dict[str, Any] | None = None,
              thread_id: str | None = None, memory_text: str = "",
              prompt: Any = None) -> PlanResult:
    """A validated plan: from the chain when it answers usefully, else the offline planner."""
    avoid_list = list(avoid)
    if chain is None or not chain.configured:
        return PlanResult(offline_plan(data, avoid_list), OFFLINE, prompts.PROMPT_VERSION)
    tracer = tracer or Tracer()
    meta = {**(metadata or {}), "prompt_version": prompts.PROMPT_VERSION}

    def config(spec) -> dict[str, Any]:
        return tracer.config(feature=FEATURE, model=spec.model, metadata=meta,
                             thread_id=thread_id)

    def validate(plan: Any) -> PracticePlan:
        if not isinstance(plan, PracticePlan):
            plan = PracticePlan.model_validate(plan)
        if plan.scale.lower() in {a.lower() for a in avoid_list}:
            raise ValueError(f"{plan.scale} was suggested recently; choose a different scale")
        return plan

    messages = prompts.plan_messages(data.to_dict(), [t.name for t in SCALE_TYPES], avoid_list,
                                     prompt)  # the plan prompt version (default: newest)
    if memory_text:  # coach memory (coach.memory.recommend_with_memory): facts, in a message
        # of their own before the statistics, which stay one parseable JSON document
        messages = [*messages[:-1], (messages[-1][0], memory_text), messages[-1]]
    try:
        plan, source, attempts = chain.invoke_structured(
            messages, PracticePlan, validate=validate, config=config,
            wire_schema=plan_wire_schema(avoid_list))
    except AllLinksFailed as exc:
        return PlanResult(offline_plan(data, avoid_list), OFFLINE, prompts.PROMPT_VERSION,
                          tuple(exc.attempts), configured=True)
    plan = with_accuracy_target(plan, data)
    if data.exercise_focus and not any("--exercise" in s for s in plan.exercises):
        plan = plan.model_copy(update={"exercises": [
            *plan.exercises[:5], str(data.exercise_focus["step"])[:200]]})
    return PlanResult(plan, source, prompts.PROMPT_VERSION,
                      tuple(attempts), configured=True)
