"""The notes a player misses most, counted across sessions from ``session_notes``.

A *miss* is what a session summary lists under "Notes to work on" (``scoring.metrics``):
a pitched note outside the session's scale, or an in-scale note further from its pitch than
the session's tolerance (``in_tune`` is false; the tolerance was the session's own, so the
flag is what that session judged). Counts are per pitch class, with the octave-specific
names (``note_name``, e.g. "F#3") that make up each one.

Speed at 100k sessions / 10M notes: the sessions are chosen first (newest first, on
``sessions_user_start_idx``) and capped at ``max_sessions``; their notes are then read by
the primary key of ``session_notes`` (session_id, seq), so the work grows with the notes of
the chosen sessions only, never with the user's whole history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fretcoach_cli.reports.filters import SessionFilter

#: the sessions a period's answer reads at most (its newest ones)
MAX_SESSIONS = 200
_STATUSES = ("completed", "interrupted")


@dataclass
class NoteMisses:
    """One pitch class: how often it was played and missed, and how."""

    pitch_class: int
    name: str                       # as the player's sessions spelled it ("F#", "Bb")
    played: int = 0
    out_of_scale: int = 0
    out_of_tune: int = 0            # in the scale, but outside the pitch tolerance
    sharp: int = 0                  # out-of-tune misses above the pitch
    flat: int = 0
    by_name: dict[str, int] = field(default_factory=dict)  # "F#3" → misses

    @property
    def missed(self) -> int:
        return self.out_of_scale + self.out_of_tune

    @property
    def missed_ratio(self) -> float:
        return self.missed / self.played if self.played else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"pitch_class": self.pitch_class, "note": self.name, "played": self.played,
                "missed": self.missed, "missed_ratio": self.missed_ratio,
                "out_of_scale": self.out_of_scale, "out_of_tune": self.out_of_tune,
                "sharp": self.sharp, "flat": self.flat,
                "by_name": [{"name": k, "missed": v} for k, v in self.by_name.items()]}


@dataclass
class MissedNotes:
    """What the notes of the chosen sessions say; ``notes`` ranked, most missed first."""

    sessions: int
    capped: bool                    # more sessions matched than were read
    first: datetime | None          # the oldest and newest chosen session's start
    last: datetime | None
    played: int
    missed: int
    notes: list[NoteMisses]

    def to_dict(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "capped": self.capped,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "played": self.played, "missed": self.missed,
                "missed_ratio": self.missed / self.played if self.played else None,
                "notes": [n.to_dict() for n in self.notes]}


_SQL = """
WITH chosen AS (
    SELECT session_id, start_time FROM fretcoach.sessions WHERE {where}
    ORDER BY start_time DESC, session_id DESC LIMIT %(n)s)
SELECT (SELECT count(*) FROM chosen), (SELECT min(start_time) FROM chosen),
       (SELECT max(start_time) FROM chosen),
       n.pitch_class, n.note_name, count(n.seq),
       count(*) FILTER (WHERE n.in_scale IS FALSE),
       count(*) FILTER (WHERE n.in_scale IS NOT FALSE AND n.in_tune IS FALSE),
       count(*) FILTER (WHERE n.in_scale IS NOT FALSE AND n.in_tune IS FALSE AND n.cents > 0),
       count(*) FILTER (WHERE n.in_scale IS NOT FALSE AND n.in_tune IS FALSE AND n.cents < 0)
  FROM chosen
  LEFT JOIN fretcoach.session_notes n
    ON n.session_id = chosen.session_id AND n.kind = 'note' AND n.pitch_class IS NOT NULL
 GROUP BY n.pitch_class, n.note_name
"""
# whether the period has more sessions than are read (at most n + 1 index entries)
_MORE_SQL = """
SELECT count(*) FROM (SELECT 1 FROM fretcoach.sessions WHERE {where}
                       ORDER BY start_time DESC LIMIT %(n)s) more
"""


def missed_notes(conn: Any, flt: SessionFilter, *, max_sessions: int = MAX_SESSIONS
                 ) -> MissedNotes:
    """The misses of the newest ``max_sessions`` played sessions ``flt`` selects, on the
    user-scoped ``conn`` (row-level security applies as well)."""
    from fretcoach_cli.music.notes import SHARP_NAMES

    where, params = flt.where(_STATUSES)
    n = max(1, int(max_sessions))
    rows = conn.execute(_SQL.format(where=where), {**params, "n": n}).fetchall()
    if not rows or not rows[0][0]:
        return MissedNotes(0, False, None, None, 0, 0, [])
    found, first, last = int(rows[0][0]), rows[0][1], rows[0][2]
    capped = found == n and int(conn.execute(_MORE_SQL.format(where=where),
                                             {**params, "n": n + 1}).fetchone()[0]) > n
    classes: dict[int, NoteMisses] = {}
    spelled: dict[int, dict[str, int]] = {}
    for *_, pc, name, played, outside, sour, sharp, flat in rows:
        if pc is None:  # a session with no pitched notes
            continue
        entry = classes.setdefault(int(pc), NoteMisses(int(pc), SHARP_NAMES[int(pc)]))
        entry.played += int(played)
        entry.out_of_scale += int(outside)
        entry.out_of_tune += int(sour)
        entry.sharp += int(sharp)
        entry.flat += int(flat)
        if name:
            missed = int(outside) + int(sour)
            if missed:
                entry.by_name[str(name)] = entry.by_name.get(str(name), 0) + missed
            letters = str(name).rstrip("-0123456789")
            count = spelled.setdefault(int(pc), {})
            count[letters] = count.get(letters, 0) + int(played)
    for pc, entry in classes.items():
        if spelled.get(pc):  # the spelling the sessions used most ("Bb", not "A#")
            entry.name = max(sorted(spelled[pc]), key=lambda k: spelled[pc][k])
        entry.by_name = dict(sorted(entry.by_name.items(), key=lambda kv: (-kv[1], kv[0])))
    ranked = sorted((e for e in classes.values() if e.missed),
                    key=lambda e: (-e.missed, -e.missed_ratio, e.pitch_class))
    played_all = sum(e.played for e in classes.values())
    return MissedNotes(found, capped, first, last, played_all,
                       sum(e.missed for e in classes.values()), ranked)
