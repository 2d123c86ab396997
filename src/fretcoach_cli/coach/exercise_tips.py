"""What the coach says about an exercise: its weakest notes, by position on the neck.

Live, from the verdicts decided so far in this session; at the end and in `recommend`, from
the stored verdicts of the latest sessions of the same exercise (ddl/065), averaged per
expected note: "your 4th note, D3 on the G string, fret 7, is late by 35 ms on average".
Deterministic and grounded: every figure is one of the stored or live verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fretcoach_cli.scoring.exercise_report import NoteStat, describe_stat, weakest_notes

if TYPE_CHECKING:
    import psycopg

HISTORY_SESSIONS = 5  # the coach and recommend average the latest sessions of an exercise

_ADVICE = {
    "late": "start it right on the click",
    "early": "wait for the click before it",
    "wrong_pitch": "check the string and fret before you play it",
    "missed": "keep the hand moving through it at the tempo",
}


def _advice(stat: NoteStat) -> str:
    kind = stat.worst or ("late" if (stat.mean_offset_ms or 0) > 0 else "early")
    return _ADVICE.get(kind, "play it slowly a few times")


def exercise_tip(verdicts: Iterable[Any]) -> str | None:
    """A live tip about the weakest note decided so far (NoteVerdicts or their dicts), or
    None when every note so far is a clean hit."""
    dicts = [v if isinstance(v, Mapping) else v.to_dict() for v in verdicts]
    worst = weakest_notes(dicts, 1)
    if not worst:
        return None
    text = describe_stat(worst[0])
    return f"{text[0].upper()}{text[1:]}: {_advice(worst[0])}."


@dataclass(frozen=True)
class ExerciseFocus:
    """The latest exercise and its weakest notes over its latest sessions."""

    name: str
    source: str | None
    bpm: float | None
    scale: str | None
    sessions: int
    weakest: list[NoteStat] = field(default_factory=list)

    @property
    def sentences(self) -> list[str]:
        return [describe_stat(s) for s in self.weakest]

    def command(self) -> str:
        ex = self.name if self.source in (None, "built-in") else str(self.source)
        scale = f' --scale "{self.scale}"' if self.scale and self.source in (None, "built-in") \
            else ""
        bpm = f" --bpm {self.bpm:g}" if self.bpm else ""
        return f"fretcoach practice --exercise {ex}{scale}{bpm}"

    def step(self) -> str:
        """A plan step aimed at the weakest positions."""
        notes = ", ".join(str(s.index + 1) for s in self.weakest)
        first = self.weakest[0]
        return (f"{self.command()}: watch note{'s' if len(self.weakest) > 1 else ''} {notes} "
                f"— {describe_stat(first)}; {_advice(first)}")

    def to_dict(self) -> dict[str, Any]:
        """What `recommend` gets (and a model's prompt shows): figures and the plan step."""
        return {"name": self.name, "bpm": self.bpm, "scale": self.scale,
                "sessions": self.sessions, "weakest_notes": self.sentences,
                "indices": [s.index for s in self.weakest], "step": self.step(),
                "summary": summary_line(self)}


def exercise_focus(conn: psycopg.Connection[Any], name: str | None = None
                   ) -> ExerciseFocus | None:
    """The weakest notes of exercise ``name`` (default: the latest one played) over its
    latest sessions; None when there is no exercise session or nothing needs work."""
    row = conn.execute(
        "SELECT exercise_name, exercise_source, exercise_bpm, scale_chosen "
        "FROM fretcoach.sessions WHERE exercise_name IS NOT NULL AND status <> 'active' "
        + ("AND exercise_name = %s " if name else "")
        + "ORDER BY start_time DESC LIMIT 1", (name,) if name else ()).fetchone()
    if row is None:
        return None
    from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

    rows = ExerciseVerdicts(conn).of_exercise(row[0], limit_sessions=HISTORY_SESSIONS)
    sessions = len(_sessions_of(conn, row[0]))
    weakest = weakest_notes([r.to_dict() for r in rows], 2)
    if not weakest:
        return None
    return ExerciseFocus(row[0], row[1], row[2], row[3], sessions, weakest)


def _sessions_of(conn: psycopg.Connection[Any], name: str) -> list[Any]:
    return [r[0] for r in conn.execute(
        "SELECT session_id FROM fretcoach.sessions WHERE exercise_name = %s "
        "AND status <> 'active' ORDER BY start_time DESC LIMIT %s",
        (name, HISTORY_SESSIONS)).fetchall()]


def summary_line(focus: ExerciseFocus | None) -> str | None:
    """The closing words' sentence about the exercise (over its latest sessions)."""
    if focus is None:
        return None
    over = f" (over your last {focus.sessions} sessions of it)" if focus.sessions > 1 else ""
    text = focus.sentences[0]
    return f"On {focus.name}{over}: {text}; {_advice(focus.weakest[0])}."
