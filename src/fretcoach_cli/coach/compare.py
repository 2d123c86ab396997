"""`fretcoach coach compare`: replay the same stored sessions through two prompt versions.

Each of the player's latest N completed sessions is rebuilt from its stored notes (metrics
recomputed with the session's own strictness and tempo), then the coach answers once per
version — a live tip over the whole session, or the closing summary; for plans, one plan
from all N sessions, as `recommend` makes it — with the configured
model chain, or the offline coach when none is configured (its wording is versioned too:
each live prompt file carries its offline template). Nothing is stored: this is an
experiment, not something the player was shown.

Figures per version: the ratings the player gave so far to replies of that version, mean
length in words, mean number of concrete figures cited (llm.grounding.figures), and
grounding: replies whose every figure exists in the session data (the stored session row,
the recomputed metrics, the notes and the positions the coach was told about).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.coach.prompts.versions import load
from fretcoach_cli.errors import NotFoundError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.llm.grounding import figures, ungrounded

KINDS = ("live", "summary", "plan")


@dataclass
class Replayed:
    session_id: str
    text: str
    source: str
    figures: int
    ungrounded: list[str]


@dataclass
class VersionColumn:
    version: str
    replies: list[Replayed] = field(default_factory=list)
    ups: int = 0
    downs: int = 0

    @property
    def mean_words(self) -> float:
        return statistics.fmean(len(r.text.split()) for r in self.replies)

    @property
    def mean_figures(self) -> float:
        return statistics.fmean(r.figures for r in self.replies)

    @property
    def grounded(self) -> int:
        return sum(1 for r in self.replies if not r.ungrounded)

    @property
    def sources(self) -> list[str]:
        return sorted({r.source for r in self.replies})

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "ratings": {"up": self.ups, "down": self.downs},
                "replies": len(self.replies), "mean_words": round(self.mean_words, 1),
                "mean_figures": round(self.mean_figures, 2), "grounded": self.grounded,
                "answered_by": self.sources,
                "samples": [{"session_id": r.session_id, "text": r.text, "source": r.source,
                             "figures": r.figures, "ungrounded": r.ungrounded}
                            for r in self.replies]}


@dataclass
class Comparison:
    kind: str
    sessions: list[str]
    columns: list[VersionColumn]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "prompt": self.kind, "sessions": self.sessions,
                "versions": [c.to_dict() for c in self.columns]}


def _events(rows: list[Any]) -> list[NoteEvent]:
    return [NoteEvent(n.onset_s, n.offset_s, n.midi, float(n.confidence or 0.0), n.kind,
                      -math.inf if n.level_db is None else float(n.level_db)) for n in rows]


def _compare_plans(rows: list[Any], prompts: list[Any], columns: list[VersionColumn],
                   chain: Any) -> Comparison:
    """One plan from the same sessions per version (as `recommend` makes it). The offline
    planner does not use a prompt, so offline both columns hold the same plan."""
    from dataclasses import asdict

    from fretcoach_cli.coach.plans import recommend, recommendation_input

    data = recommendation_input(rows)
    evidence = [data.to_dict(), [asdict(r) for r in rows]]
    for prompt, column in zip(prompts, columns, strict=True):
        result = recommend(data, chain=chain, prompt=prompt)
        doc = result.plan.model_dump(mode="json")
        target = doc.get("session_target") or {}
        text = (f"{doc.get('scale')} — {str(doc.get('focus_area', '')).replace('_', ' ')}, "
                f"{doc.get('target_tempo_bpm')} BPM, {target.get('minutes')} min: "
                f"{doc.get('reasoning', '')}")
        column.replies.append(Replayed("", text, result.source, len(figures(text)),
                                       ungrounded(text, *evidence)))
    return Comparison("plan", [str(r.session_id) for r in rows], columns)


def session_data(row: Any, metrics: Any, events: list[NoteEvent], scale: Any) -> list[Any]:
    """Everything a reply about this session may take a figure from."""
    from dataclasses import asdict

    from fretcoach_cli.coach.offline import played_tempo, positions

    notes = [{"onset_s": e.onset_s, "midi": e.midi, "cents": e.cents,
              "note": scale.note_name(e.midi) if e.midi is not None else None}
             for e in events]
    places = [{"string": p[0], "fret": p[1]} for p in positions(events) if p is not None]
    tempo = played_tempo(events)  # what the offline coach derives from the notes and cites
    derived = {} if tempo is None else {"played_tempo_bpm": tempo}
    return [asdict(row), metrics.to_dict(), notes, places, derived]


def compare(conn: Any, *, kind: str, version_a: str, version_b: str, sessions: int,
            chain: Any = None) -> Comparison:
    """Replay the latest ``sessions`` completed sessions through both versions of ``kind``."""
    from fretcoach_cli.coach.live import LiveCoach, LiveContext
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.scoring.metrics import compute_metrics
    from fretcoach_cli.store import Sessions, replies

    prompts = [load(kind, version_a), load(kind, version_b)]  # unknown version: UsageError
    store = Sessions(conn)
    rows = [r for r in store.list(status="completed", limit=sessions)]
    if not rows:
        raise NotFoundError("no completed sessions to replay",
                            hint="practise first, or 'fretcoach db seed' for sample data")
    rated = replies.ratings_by_version(conn, kind)
    columns = [VersionColumn(p.version, ups=rated.get(p.version, (0, 0))[0],
                             downs=rated.get(p.version, (0, 0))[1]) for p in prompts]
    if kind == "plan":
        return _compare_plans(rows, prompts, columns, chain)
    replayed: list[str] = []
    for row in rows:
        events = _events(store.notes(row.session_id))
        if not any(e.is_note for e in events):
            continue
        scale = parse_scale(row.scale_chosen or "A minor pentatonic")
        metrics = compute_metrics(events, scale, strictness=row.strictness or 0.5,
                                  bpm=row.tempo_bpm)
        data = session_data(row, metrics, events, scale)
        replayed.append(str(row.session_id))
        for prompt, column in zip(prompts, columns, strict=True):
            coach = LiveCoach(chain, prompt_versions={kind: prompt})  # fresh: same state for both
            if kind == "live":
                stream = coach.stream(LiveContext(metrics, events, scale))
                assert stream is not None  # a fresh coach is never busy
                "".join(stream)
                reply = stream.reply
            else:
                reply = coach.summary(metrics, events, scale, row.duration_seconds)
            coach.close()
            if reply is None:
                continue
            column.replies.append(Replayed(str(row.session_id), reply.text, reply.source,
                                           len(figures(reply.text)),
                                           ungrounded(reply.text, *data)))
    if not replayed:
        raise NotFoundError("the latest sessions hold no notes to replay")
    return Comparison(kind, replayed, columns)
