-- 030_session_tuning.sql — the tuning a session was played in (`practice --tuning`).
--
-- NULL means standard tuning (every session before this column, and `analyze --save`). The
-- text is music/tunings.py's Tuning.spec: a tuning's key ("drop-d", "dadgad") or its
-- strings low to high with octaves ("D2 A2 D3 G3 B3 E4"), read back by parse_tuning().

ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS tuning text;

COMMENT ON COLUMN fretcoach.sessions.tuning IS
    'tuning the session was played in: a name such as drop-d or dadgad, or the open strings '
    'low to high with octaves (D2 A2 D3 G3 B3 E4); NULL = standard';
