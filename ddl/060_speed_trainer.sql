-- 060_speed_trainer.sql — the speed trainer's outcome (`practice --ramp START:TARGET:STEP`).
--
-- A session played with a tempo ramp stores the ramp it was given, the tempo curve (one point
-- per bar after the count-in: the bar's downbeat in audio seconds, its tempo, and whether it
-- was clean) and the highest tempo held clean. Sessions without a ramp leave all three NULL.
-- The columns live on fretcoach.sessions, so its RLS policy, FORCE and grants already cover
-- them (no new table, no new policy).

ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS ramp text;
ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS max_clean_bpm double precision;
ALTER TABLE fretcoach.sessions ADD COLUMN IF NOT EXISTS tempo_curve jsonb;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'sessions_max_clean_bpm_range'
                      AND conrelid = 'fretcoach.sessions'::regclass) THEN
        ALTER TABLE fretcoach.sessions ADD CONSTRAINT sessions_max_clean_bpm_range
            CHECK (max_clean_bpm IS NULL OR max_clean_bpm BETWEEN 20 AND 400);
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS sessions_clean_tempo_idx
    ON fretcoach.sessions (user_id, scale_chosen, start_time)
    WHERE max_clean_bpm IS NOT NULL;

COMMENT ON COLUMN fretcoach.sessions.ramp IS
    'speed trainer ramp the session was played with, START:TARGET:STEP in bpm '
    '(e.g. 80:140:+4); NULL = no speed trainer';
COMMENT ON COLUMN fretcoach.sessions.max_clean_bpm IS
    'speed trainer: highest tempo (bpm) held clean for the required run of bars (every note '
    'in the scale and within 30 ms of the beat grid); NULL = no ramp or never held clean';
COMMENT ON COLUMN fretcoach.sessions.tempo_curve IS
    'speed trainer tempo curve: JSON list of {"t": bar downbeat in seconds from the start, '
    '"bpm": the bar''s tempo, "clean": true, false, or null for a bar with no notes}';
