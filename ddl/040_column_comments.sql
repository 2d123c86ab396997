-- 040_column_comments.sql — what each column the chat agent may read means, in the database.
--
-- chat/schema.py used to restate these meanings by hand (issue 18); now the database holds
-- them (COMMENT ON, pg_description) and the agent's describe_schema reads them from the
-- catalog, so a column and its meaning change in one migration. Which tables and columns the
-- agent may read stays a decision in code (chat/schema.py EXPOSED, checked by the SQL guard).
-- A later migration that adds or changes such a column writes its COMMENT too
-- (tests/test_chat_schema.py fails on an exposed column without one). COMMENT ON is
-- idempotent; the texts are those chat/schema.py had, word for word, so the prompt is
-- unchanged.

COMMENT ON TABLE fretcoach.sessions IS
    'one practice session (live playing or an analysed file); one row each';
COMMENT ON COLUMN fretcoach.sessions.session_id IS
    'key';
COMMENT ON COLUMN fretcoach.sessions.start_time IS
    'when the session started (UTC; convert with AT TIME ZONE for local days)';
COMMENT ON COLUMN fretcoach.sessions.end_time IS
    'when it ended (NULL while active)';
COMMENT ON COLUMN fretcoach.sessions.duration_seconds IS
    'length in seconds';
COMMENT ON COLUMN fretcoach.sessions.scale_chosen IS
    'scale practised, e.g. ''A minor pentatonic''';
COMMENT ON COLUMN fretcoach.sessions.scale_type IS
    'scale type without root, e.g. ''minor pentatonic''';
COMMENT ON COLUMN fretcoach.sessions.scale_root IS
    'root note, e.g. ''A''';
COMMENT ON COLUMN fretcoach.sessions.status IS
    '''completed'', ''interrupted'' or ''active'' (still running); statistics normally use completed and interrupted';
COMMENT ON COLUMN fretcoach.sessions.overall_score IS
    'score 0-100 (higher is better): the session''s overall mark';
COMMENT ON COLUMN fretcoach.sessions.pitch_accuracy IS
    'score 0-100 (higher is better): in-scale notes played in tune';
COMMENT ON COLUMN fretcoach.sessions.scale_conformity IS
    'score 0-100 (higher is better): share of notes inside the scale';
COMMENT ON COLUMN fretcoach.sessions.timing_stability IS
    'score 0-100 (higher is better): evenness of timing';
COMMENT ON COLUMN fretcoach.sessions.clean_playing IS
    'score 0-100 (higher is better): single clean notes vs. unclear/polyphonic';
COMMENT ON COLUMN fretcoach.sessions.scale_coverage IS
    'score 0-100 (higher is better): share of the scale''s degrees played';
COMMENT ON COLUMN fretcoach.sessions.weakest_area IS
    'the metric that was lowest: pitch_accuracy, scale_conformity, timing_stability or clean_playing';
COMMENT ON COLUMN fretcoach.sessions.total_notes_played IS
    'notes detected';
COMMENT ON COLUMN fretcoach.sessions.correct_notes_played IS
    'notes in the scale and in tune';
COMMENT ON COLUMN fretcoach.sessions.bad_notes_played IS
    'notes out of the scale or out of tune';
COMMENT ON COLUMN fretcoach.sessions.mean_abs_cents IS
    'mean absolute tuning error, cents (100 = a semitone)';
COMMENT ON COLUMN fretcoach.sessions.in_scale_ratio IS
    'share of notes in the scale, 0-1';
COMMENT ON COLUMN fretcoach.sessions.in_tune_ratio IS
    'share of in-scale notes in tune, 0-1';
COMMENT ON COLUMN fretcoach.sessions.ioi_cv IS
    'coefficient of variation of inter-onset intervals (lower = steadier)';
COMMENT ON COLUMN fretcoach.sessions.mean_abs_grid_dev_ms IS
    'mean distance from the click grid, ms (with a tempo only)';
COMMENT ON COLUMN fretcoach.sessions.clean_ratio IS
    'share of clean single notes, 0-1';
COMMENT ON COLUMN fretcoach.sessions.tempo_bpm IS
    'click tempo in beats per minute (NULL without a click)';
COMMENT ON COLUMN fretcoach.sessions.strictness IS
    'tuning strictness setting 0-1';
COMMENT ON COLUMN fretcoach.sessions.sensitivity IS
    'input sensitivity setting 0-1';
COMMENT ON COLUMN fretcoach.sessions.pitch_model IS
    'pitch detector used: ''swift'' or ''crepe''';
COMMENT ON COLUMN fretcoach.sessions.a4_hz IS
    'concert pitch reference in Hz';
COMMENT ON COLUMN fretcoach.sessions.tuning IS
    'guitar tuning played in: a name such as ''drop-d'' or the open strings low to high (''D2 A2 D3 G3 B3 E4''); NULL = standard';
COMMENT ON COLUMN fretcoach.sessions.practice_id IS
    'the practice plan this session followed, if any';

COMMENT ON TABLE fretcoach.session_notes IS
    'every note detected in a session, in order';
COMMENT ON COLUMN fretcoach.session_notes.session_id IS
    'the session (join sessions USING (session_id))';
COMMENT ON COLUMN fretcoach.session_notes.seq IS
    'position in the session, from 0';
COMMENT ON COLUMN fretcoach.session_notes.onset_s IS
    'seconds from the session start when the note began';
COMMENT ON COLUMN fretcoach.session_notes.offset_s IS
    'seconds from the start when it ended';
COMMENT ON COLUMN fretcoach.session_notes.midi IS
    'pitch as a fractional MIDI number (69 = A4); NULL unless kind = ''note''';
COMMENT ON COLUMN fretcoach.session_notes.cents IS
    'tuning error against the nearest semitone, cents (-50..50)';
COMMENT ON COLUMN fretcoach.session_notes.pitch_class IS
    '0 = C, 1 = C#, … 11 = B';
COMMENT ON COLUMN fretcoach.session_notes.note_name IS
    'e.g. ''A2'', ''C#4''';
COMMENT ON COLUMN fretcoach.session_notes.kind IS
    '''note'', ''polyphonic'' or ''unclear''';
COMMENT ON COLUMN fretcoach.session_notes.in_scale IS
    'whether the note belongs to the session''s scale';
COMMENT ON COLUMN fretcoach.session_notes.in_tune IS
    'whether it was within the tuning tolerance';
COMMENT ON COLUMN fretcoach.session_notes.confidence IS
    'pitch detector confidence 0-1';
COMMENT ON COLUMN fretcoach.session_notes.level_db IS
    'loudness in dBFS';

COMMENT ON TABLE fretcoach.ai_practice_plans IS
    'practice plans the coach suggested';
COMMENT ON COLUMN fretcoach.ai_practice_plans.practice_id IS
    'key';
COMMENT ON COLUMN fretcoach.ai_practice_plans.generated_at IS
    'when the plan was made';
COMMENT ON COLUMN fretcoach.ai_practice_plans.status IS
    '''pending'', ''in_progress'', ''completed'' or ''dismissed''';
COMMENT ON COLUMN fretcoach.ai_practice_plans.session_id IS
    'the session that practised it, if any';
COMMENT ON COLUMN fretcoach.ai_practice_plans.source IS
    '''model'' or ''offline''';
COMMENT ON COLUMN fretcoach.ai_practice_plans.practice_plan IS
    'the plan: keys scale, focus_area, target_tempo_bpm, strictness, sensitivity, session_target {minutes, notes}, exercises (list), title; read with ->> e.g. practice_plan->>''scale''';
