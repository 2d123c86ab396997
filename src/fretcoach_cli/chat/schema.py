"""What the agent may read: tables, columns, their meaning and units.

Written by hand (a test checks it against the live database) because the model needs meanings
and units, not just types; and never with sample rows: stored free text must not reach the
prompt, where it could carry instructions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    meaning: str


@dataclass(frozen=True)
class Table:
    name: str
    meaning: str
    columns: tuple[Column, ...]


def _c(name: str, type_: str, meaning: str) -> Column:
    return Column(name, type_, meaning)


SCORE = "score 0-100 (higher is better)"

TABLES: tuple[Table, ...] = (
    Table("sessions", "one practice session (live playing or an analysed file); one row each", (
        _c("session_id", "uuid", "key"),
        _c("start_time", "timestamptz", "when the session started (UTC; convert with AT TIME "
                                        "ZONE for local days)"),
        _c("end_time", "timestamptz", "when it ended (NULL while active)"),
        _c("duration_seconds", "float", "length in seconds"),
        _c("scale_chosen", "text", "scale practised, e.g. 'A minor pentatonic'"),
        _c("scale_type", "text", "scale type without root, e.g. 'minor pentatonic'"),
        _c("scale_root", "text", "root note, e.g. 'A'"),
        _c("status", "text", "'completed', 'interrupted' or 'active' (still running); "
                             "statistics normally use completed and interrupted"),
        _c("overall_score", "float", SCORE + ": the session's overall mark"),
        _c("pitch_accuracy", "float", SCORE + ": in-scale notes played in tune"),
        _c("scale_conformity", "float", SCORE + ": share of notes inside the scale"),
        _c("timing_stability", "float", SCORE + ": evenness of timing"),
        _c("clean_playing", "float", SCORE + ": single clean notes vs. unclear/polyphonic"),
        _c("scale_coverage", "float", SCORE + ": share of the scale's degrees played"),
        _c("weakest_area", "text", "the metric that was lowest: pitch_accuracy, "
                                   "scale_conformity, timing_stability or clean_playing"),
        _c("total_notes_played", "integer", "notes detected"),
        _c("correct_notes_played", "integer", "notes in the scale and in tune"),
        _c("bad_notes_played", "integer", "notes out of the scale or out of tune"),
        _c("mean_abs_cents", "float", "mean absolute tuning error, cents (100 = a semitone)"),
        _c("in_scale_ratio", "float", "share of notes in the scale, 0-1"),
        _c("in_tune_ratio", "float", "share of in-scale notes in tune, 0-1"),
        _c("ioi_cv", "float", "coefficient of variation of inter-onset intervals (lower = "
                              "steadier)"),
        _c("mean_abs_grid_dev_ms", "float", "mean distance from the click grid, ms (with a "
                                            "tempo only)"),
        _c("clean_ratio", "float", "share of clean single notes, 0-1"),
        _c("tempo_bpm", "float", "click tempo in beats per minute (NULL without a click)"),
        _c("strictness", "float", "tuning strictness setting 0-1"),
        _c("sensitivity", "float", "input sensitivity setting 0-1"),
        _c("pitch_model", "text", "pitch detector used: 'swift' or 'crepe'"),
        _c("a4_hz", "float", "concert pitch reference in Hz"),
        _c("tuning", "text", "guitar tuning played in: a name such as 'drop-d' or the open "
                             "strings low to high ('D2 A2 D3 G3 B3 E4'); NULL = standard"),
        _c("practice_id", "uuid", "the practice plan this session followed, if any"),
    )),
    Table("session_notes", "every note detected in a session, in order", (
        _c("session_id", "uuid", "the session (join sessions USING (session_id))"),
        _c("seq", "integer", "position in the session, from 0"),
        _c("onset_s", "float", "seconds from the session start when the note began"),
        _c("offset_s", "float", "seconds from the start when it ended"),
        _c("midi", "float", "pitch as a fractional MIDI number (69 = A4); NULL unless "
                            "kind = 'note'"),
        _c("cents", "float", "tuning error against the nearest semitone, cents (-50..50)"),
        _c("pitch_class", "smallint", "0 = C, 1 = C#, … 11 = B"),
        _c("note_name", "text", "e.g. 'A2', 'C#4'"),
        _c("kind", "text", "'note', 'polyphonic' or 'unclear'"),
        _c("in_scale", "boolean", "whether the note belongs to the session's scale"),
        _c("in_tune", "boolean", "whether it was within the tuning tolerance"),
        _c("confidence", "float", "pitch detector confidence 0-1"),
        _c("level_db", "float", "loudness in dBFS"),
    )),
    Table("ai_practice_plans", "practice plans the coach suggested", (
        _c("practice_id", "uuid", "key"),
        _c("generated_at", "timestamptz", "when the plan was made"),
        _c("status", "text", "'pending', 'in_progress', 'completed' or 'dismissed'"),
        _c("session_id", "uuid", "the session that practised it, if any"),
        _c("source", "text", "'model' or 'offline'"),
        _c("practice_plan", "jsonb", "the plan: keys scale, focus_area, target_tempo_bpm, "
                                     "strictness, sensitivity, session_target {minutes, notes}, "
                                     "exercises (list), title; read with ->> e.g. "
                                     "practice_plan->>'scale'"),
    )),
)

#: Columns the agent may know about, by table (used for "did you mean" hints).
COLUMNS: dict[str, tuple[str, ...]] = {t.name: tuple(c.name for c in t.columns) for t in TABLES}


def describe(max_rows: int, timeout_s: float) -> str:
    """The text the ``describe_schema`` tool returns (also summarised in the system prompt)."""
    lines = ["PostgreSQL, schema fretcoach. You only ever see the current user's rows.", ""]
    for table in TABLES:
        lines.append(f"TABLE {table.name} — {table.meaning}")
        for col in table.columns:
            lines.append(f"  {col.name} {col.type}: {col.meaning}")
        lines.append("")
    lines += [
        "Rules: one SELECT (WITH … SELECT allowed); aggregates, window, math, date/time, "
        "string and JSON functions; no other tables, no writes, no SET.",
        f"At most {max_rows} rows come back (then 'truncated' is true: aggregate or LIMIT); "
        f"a query running longer than {timeout_s:g} s is cancelled.",
        "Weeks/days: date_trunc('week', start_time AT TIME ZONE '<tz>'). Usually filter "
        "status IN ('completed', 'interrupted').",
    ]
    return "\n".join(lines)
