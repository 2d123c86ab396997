-- 065_exercise_verdicts.sql — `practice --exercise` (and `analyze --exercise --save`):
-- which exercise a session played, and the verdict of every expected note.
--
-- * sessions.exercise_name / exercise_source / exercise_bpm: NULL for a free session.
-- * exercise_verdicts: one row per entry of the `verdicts` list of `--json` (scoring/
--   exercise.py NoteVerdict): every expected note in the exercise's order (expected_index
--   0 …) and an `extra` row (expected_index NULL) for each played note nobody asked for.
--   `ord` keeps the list's order; rows are written once, at the end of the session (a replay
--   deletes and rewrites them in one transaction), so the key never collides.
-- * Not (yet) exposed to the chat agent (chat/schema.py EXPOSED), so fretcoach_reader gets no
--   SELECT on it; the comments are there for when it is.

ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS exercise_name text;
ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS exercise_source text;
ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS exercise_bpm double precision;

CREATE TABLE IF NOT EXISTS fretcoach.exercise_verdicts (
    session_id      uuid NOT NULL,
    ord             integer NOT NULL CHECK (ord >= 0),
    user_id         text NOT NULL CHECK (user_id <> ''),
    expected_index  integer CHECK (expected_index >= 0),
    verdict         text NOT NULL
                    CHECK (verdict IN ('hit', 'wrong_pitch', 'missed', 'extra', 'early', 'late')),
    beat            double precision,
    string          smallint,
    fret            smallint,
    expected_midi   smallint,
    expected_s      double precision,
    played_midi     double precision,
    onset_s         double precision,
    offset_ms       double precision,
    PRIMARY KEY (session_id, ord),
    CHECK ((expected_index IS NULL) = (verdict = 'extra')),
    FOREIGN KEY (session_id, user_id) REFERENCES fretcoach.sessions (session_id, user_id)
        ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS exercise_verdicts_user_idx
    ON fretcoach.exercise_verdicts (user_id, session_id);
CREATE INDEX IF NOT EXISTS sessions_user_exercise_idx
    ON fretcoach.sessions (user_id, exercise_name, start_time DESC)
    WHERE exercise_name IS NOT NULL;

SELECT fretcoach.secure_user_table('exercise_verdicts');  -- RLS, policies, grants (ddl/045)

COMMENT ON COLUMN fretcoach.sessions.exercise_name IS
    'exercise played (practice --exercise), e.g. ''scale-run'' or a tab file''s title; NULL = free playing';
COMMENT ON COLUMN fretcoach.sessions.exercise_source IS
    '''built-in'' or the exercise file''s path; NULL = free playing';
COMMENT ON COLUMN fretcoach.sessions.exercise_bpm IS
    'tempo the exercise was judged at, quarter notes per minute; NULL = free playing';
COMMENT ON TABLE fretcoach.exercise_verdicts IS
    'the verdict of every expected note of an exercise session (and of each extra note played); join sessions on session_id';
COMMENT ON COLUMN fretcoach.exercise_verdicts.session_id IS
    'the session (sessions.session_id)';
COMMENT ON COLUMN fretcoach.exercise_verdicts.ord IS
    'order of the verdict list: expected notes in exercise order, extra notes where they fell';
COMMENT ON COLUMN fretcoach.exercise_verdicts.expected_index IS
    'position of the note in the exercise, 0 = first; NULL for an extra note';
COMMENT ON COLUMN fretcoach.exercise_verdicts.verdict IS
    'hit, wrong_pitch, missed, extra, early or late (early/late: right pitch outside the timing tolerance)';
COMMENT ON COLUMN fretcoach.exercise_verdicts.beat IS
    'beat of the expected note from the start of the exercise (quarter notes)';
COMMENT ON COLUMN fretcoach.exercise_verdicts.string IS
    'string of the expected note, 0 = lowest (low E in standard tuning)';
COMMENT ON COLUMN fretcoach.exercise_verdicts.fret IS
    'fret of the expected note';
COMMENT ON COLUMN fretcoach.exercise_verdicts.expected_midi IS
    'MIDI number of the expected note (60 = middle C)';
COMMENT ON COLUMN fretcoach.exercise_verdicts.expected_s IS
    'when the note was due, seconds from the start of the recording';
COMMENT ON COLUMN fretcoach.exercise_verdicts.played_midi IS
    'fractional MIDI number of the note played for it (NULL when missed)';
COMMENT ON COLUMN fretcoach.exercise_verdicts.onset_s IS
    'when the paired note was played, seconds from the start of the recording';
COMMENT ON COLUMN fretcoach.exercise_verdicts.offset_ms IS
    'played minus expected time in ms, positive = late; NULL for missed and extra notes';
