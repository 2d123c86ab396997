"""Chat without a model: common questions answered from `stats` figures by fixed rules.

Deterministic intent rules (keywords, checked in order) pick one of a few answers: progress,
weakest area, what to practise (a plan draft, saved only by /save), last session, totals —
and anything else gets an honest "offline I can only…" reply. No free-form SQL offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.chat.tools import PlanDraft, ToolCall, ToolContext, draft_plan, stats_dict

LABELS = {"overall_score": "overall", "pitch_accuracy": "pitch accuracy",
          "scale_conformity": "scale conformity", "timing_stability": "timing stability",
          "clean_playing": "clean playing", "scale_coverage": "scale coverage"}

CAPABILITIES = ("your progress (\"how am I doing?\"), your weakest area, what to practise "
                "next (a plan you can `/save`), your last session, and totals/streaks")
LIMITS = ("Offline I can't answer free-form questions about your data, write SQL or hold a "
          "conversation — configure a model (`fretcoach config set llm_provider openai`, or "
          "an OpenAI-compatible `llm_base_url`) for that.")

# (intent, pattern) in priority order
INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("help", re.compile(r"^\s*(help|\?|what can you do)\b", re.I)),
    ("plan", re.compile(r"\b(what should i (practi[cs]e|play|work on)|practi[cs]e next|"
                        r"plan|recommend|suggest|next session|exercise)", re.I)),
    ("weakest", re.compile(r"\b(weak|worst|struggl|problem|bad at|need to improve|"
                           r"improve on)", re.I)),
    ("last", re.compile(r"\b(last|latest|previous|most recent|yesterday'?s?) "
                        r"(session|practi[cs]e|time)", re.I)),
    ("progress", re.compile(r"\b(progress|improv|trend|getting better|how am i doing|"
                            r"better|worse|over time)", re.I)),
    ("totals", re.compile(r"\b(how (much|many|long|often)|total|streak|hours|minutes|"
                          r"sessions)\b", re.I)),
)


@dataclass
class OfflineAnswer:
    text: str
    intent: str
    plan: PlanDraft | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


def intent_of(question: str) -> str:
    for name, pattern in INTENTS:
        if pattern.search(question):
            return name
    return "unknown"


def _fmt(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


class OfflineResponder:
    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    def answer(self, question: str) -> OfflineAnswer:
        intent = intent_of(question)
        if intent in ("help", "unknown"):
            lead = "" if intent == "help" else "I can't answer that offline. "
            return OfflineAnswer(f"{lead}Offline I can tell you about {CAPABILITIES}.\n\n"
                                 f"{LIMITS}", intent)
        calls = [ToolCall("practice_stats", {})]
        data = stats_dict(self.ctx)
        calls[0].rows = data["totals"]["sessions"]
        result = self.answer_from_stats(question, data)
        result.tool_calls = calls + result.tool_calls
        return result

    def answer_from_stats(self, question: str, data: dict[str, Any]) -> OfflineAnswer:
        """The answer given the `stats` figures (``PracticeStats.to_dict()``)."""
        intent = intent_of(question)
        if intent in ("help", "unknown"):
            return self.answer(question)
        if not data["totals"]["sessions"]:
            return OfflineAnswer("You have no recorded sessions yet — play one with "
                                 "`fretcoach practice` and ask me again.", intent)
        method = getattr(self, f"_{intent}")
        result: OfflineAnswer = method(data)
        result.text += "\n\n_(offline answer from your statistics)_"
        return result

    # intents -----------------------------------------------------------------------------
    def _progress(self, data: dict[str, Any]) -> OfflineAnswer:
        lines = ["| metric | average | first half → second half | per week |",
                 "|---|---|---|---|"]
        for key, label in LABELS.items():
            m = data["metrics"].get(key) or {}
            if not m.get("sessions"):
                continue
            change = m.get("change")
            halves = (f"{_fmt(m.get('first_half'))} → {_fmt(m.get('second_half'))} "
                      f"({change:+.1f})" if change is not None else "—")
            slope = m.get("slope_per_week")
            lines.append(f"| {label} | {_fmt(m.get('mean'))} | {halves} | "
                         f"{'—' if slope is None else f'{slope:+.1f}'} |")
        from fretcoach_cli.reports.trend import verdict as trend_verdict

        # the change `stats` computed with the one trend rule (reports.trend)
        verdict = trend_verdict((data["metrics"].get("overall_score") or {}).get("change"))
        t = data["totals"]
        head = (f"Over {t['sessions']} sessions ({_minutes(t['practice_seconds'])}): "
                f"{verdict}")
        return OfflineAnswer(head + "\n\n" + "\n".join(lines), "progress")

    def _weakest(self, data: dict[str, Any]) -> OfflineAnswer:
        weak = data["weakest_area"]
        area = weak.get("lowest_average") or weak.get("most_often")
        if area is None:
            return OfflineAnswer("I can't tell yet: your sessions have no scores.", "weakest")
        mean = (data["metrics"].get(area) or {}).get("mean")
        text = f"Your weakest area is **{LABELS.get(area, area)}** (average {_fmt(mean)})."
        if weak.get("most_often") and weak["most_often"] != area:
            text += (f" Sessions most often flagged **{LABELS.get(weak['most_often'])}** "
                     f"({weak['most_often_sessions']} sessions).")
        if data.get("worst_scale"):
            text += f" Your lowest-scoring scale is {data['worst_scale']}."
        return OfflineAnswer(text + " Ask me what to practise for a plan.", "weakest")

    def _plan(self, data: dict[str, Any]) -> OfflineAnswer:
        draft = draft_plan(self.ctx)
        p = draft.plan
        target = p.get("session_target") or {}
        lines = [f"**{p.get('title')}**", "", p.get("reasoning", ""), "",
                 f"- tempo: {p.get('target_tempo_bpm') or '—'} BPM, "
                 f"{target.get('minutes') or '—'} min, strictness {p.get('strictness')}"]
        lines += [f"- {step}" for step in p.get("exercises", [])]
        lines += ["", "Type `/save` to save this plan."]
        return OfflineAnswer("\n".join(lines), "plan", plan=draft,
                             tool_calls=[ToolCall("make_practice_plan", {})])

    def _last(self, data: dict[str, Any]) -> OfflineAnswer:
        from fretcoach_cli.chat.tools import recent_sessions

        rows = recent_sessions(self.ctx, limit=1)
        if not rows:
            return OfflineAnswer("No finished session yet.", "last")
        r = rows[0]
        when = r["start_time"]
        try:
            from zoneinfo import ZoneInfo

            when = when.astimezone(ZoneInfo(self.ctx.timezone))
        except Exception:
            pass
        lines = [f"Your last session: **{r.get('scale_chosen') or 'no scale'}**, "
                 f"{when:%Y-%m-%d %H:%M}, {_minutes(float(r.get('duration_seconds') or 0))}, "
                 f"{r.get('total_notes_played') or 0} notes.", "",
                 "| metric | score |", "|---|---|"]
        for key, label in LABELS.items():
            if r.get(key) is not None:
                lines.append(f"| {label} | {_fmt(r[key])} |")
        if r.get("weakest_area"):
            lines += ["", f"Weakest: {LABELS.get(r['weakest_area'], r['weakest_area'])}."]
        return OfflineAnswer("\n".join(lines), "last",
                             tool_calls=[ToolCall("recent_sessions", {"limit": 1}, rows=1)])

    def _totals(self, data: dict[str, Any]) -> OfflineAnswer:
        t = data["totals"]
        cur, longest = data["current_streak"], data["longest_streak"]
        text = (f"You've practised **{_minutes(t['practice_seconds'])}** over "
                f"{t['sessions']} sessions on {t['days_practised']} days "
                f"({t['notes']} notes). Current streak: {cur['days']} days; longest: "
                f"{longest['days']} days.")
        if data.get("best_scale"):
            text += f" Best scale: {data['best_scale']}."
        return OfflineAnswer(text, "totals")
