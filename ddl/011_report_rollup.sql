-- 011_report_rollup.sql — per-day report groups so `fretcoach stats` stays fast.
--
-- report_groups() folds one user's completed/interrupted sessions into (local day, scale)
-- groups: counts, sums, min/max and the least-squares sums (Σx, Σx², Σxy; x = weeks since
-- 2020-01-01) of every score, from which every figure of `stats` is combined. It is the one
-- definition of those groups: reports/stats.py reads it directly (any period), and
-- report_days keeps it materialised per user and time zone (a zone is registered the first
-- time stats runs with it); statement-level triggers on sessions refresh the days a
-- statement touched. Generated column lists: keep METRICS/RAW/WEAKEST in reports/stats.py
-- in step.
--
-- Open period ends are -infinity/infinity and each refreshed day is inserted with EXECUTE
-- (planned with its real bounds), so sessions_user_start_idx bounds the scan: refreshing
-- one day reads only that day's sessions, not all of the user's.

CREATE TABLE IF NOT EXISTS fretcoach.report_zones (
    user_id   text NOT NULL CHECK (user_id <> ''),
    tz        text NOT NULL,
    built_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tz)
);

CREATE TABLE IF NOT EXISTS fretcoach.report_days (
    user_id   text NOT NULL,
    tz        text NOT NULL,
    scale     text NOT NULL,  -- '' when the session had no scale
    day date NOT NULL,
    n bigint,
    secs double precision,
    notes bigint,
    correct bigint,
    bad bigint,
    first_at timestamptz,
    last_at timestamptz,
    mean_abs_cents_n bigint,
    mean_abs_cents_s double precision,
    in_scale_ratio_n bigint,
    in_scale_ratio_s double precision,
    in_tune_ratio_n bigint,
    in_tune_ratio_s double precision,
    ioi_cv_n bigint,
    ioi_cv_s double precision,
    w_pitch_accuracy bigint,
    w_scale_conformity bigint,
    w_timing_stability bigint,
    w_clean_playing bigint,
    w_scale_coverage bigint,
    overall_score_n bigint,
    overall_score_s double precision,
    overall_score_lo double precision,
    overall_score_hi double precision,
    overall_score_sx double precision,
    overall_score_sxx double precision,
    overall_score_sxy double precision,
    pitch_accuracy_n bigint,
    pitch_accuracy_s double precision,
    pitch_accuracy_lo double precision,
    pitch_accuracy_hi double precision,
    pitch_accuracy_sx double precision,
    pitch_accuracy_sxx double precision,
    pitch_accuracy_sxy double precision,
    scale_conformity_n bigint,
    scale_conformity_s double precision,
    scale_conformity_lo double precision,
    scale_conformity_hi double precision,
    scale_conformity_sx double precision,
    scale_conformity_sxx double precision,
    scale_conformity_sxy double precision,
    timing_stability_n bigint,
    timing_stability_s double precision,
    timing_stability_lo double precision,
    timing_stability_hi double precision,
    timing_stability_sx double precision,
    timing_stability_sxx double precision,
    timing_stability_sxy double precision,
    clean_playing_n bigint,
    clean_playing_s double precision,
    clean_playing_lo double precision,
    clean_playing_hi double precision,
    clean_playing_sx double precision,
    clean_playing_sxx double precision,
    clean_playing_sxy double precision,
    scale_coverage_n bigint,
    scale_coverage_s double precision,
    scale_coverage_lo double precision,
    scale_coverage_hi double precision,
    scale_coverage_sx double precision,
    scale_coverage_sxx double precision,
    scale_coverage_sxy double precision,
    PRIMARY KEY (user_id, tz, day, scale),
    FOREIGN KEY (user_id, tz) REFERENCES fretcoach.report_zones (user_id, tz) ON DELETE CASCADE
);

CREATE OR REPLACE FUNCTION fretcoach.report_groups(p_user text, p_tz text,
                                                   p_from timestamptz, p_to timestamptz,
                                                   p_scale text)
RETURNS TABLE (
    day date,
    scale text,
    n bigint,
    secs double precision,
    notes bigint,
    correct bigint,
    bad bigint,
    first_at timestamptz,
    last_at timestamptz,
    mean_abs_cents_n bigint,
    mean_abs_cents_s double precision,
    in_scale_ratio_n bigint,
    in_scale_ratio_s double precision,
    in_tune_ratio_n bigint,
    in_tune_ratio_s double precision,
    ioi_cv_n bigint,
    ioi_cv_s double precision,
    w_pitch_accuracy bigint,
    w_scale_conformity bigint,
    w_timing_stability bigint,
    w_clean_playing bigint,
    w_scale_coverage bigint,
    overall_score_n bigint,
    overall_score_s double precision,
    overall_score_lo double precision,
    overall_score_hi double precision,
    overall_score_sx double precision,
    overall_score_sxx double precision,
    overall_score_sxy double precision,
    pitch_accuracy_n bigint,
    pitch_accuracy_s double precision,
    pitch_accuracy_lo double precision,
    pitch_accuracy_hi double precision,
    pitch_accuracy_sx double precision,
    pitch_accuracy_sxx double precision,
    pitch_accuracy_sxy double precision,
    scale_conformity_n bigint,
    scale_conformity_s double precision,
    scale_conformity_lo double precision,
    scale_conformity_hi double precision,
    scale_conformity_sx double precision,
    scale_conformity_sxx double precision,
    scale_conformity_sxy double precision,
    timing_stability_n bigint,
    timing_stability_s double precision,
    timing_stability_lo double precision,
    timing_stability_hi double precision,
    timing_stability_sx double precision,
    timing_stability_sxx double precision,
    timing_stability_sxy double precision,
    clean_playing_n bigint,
    clean_playing_s double precision,
    clean_playing_lo double precision,
    clean_playing_hi double precision,
    clean_playing_sx double precision,
    clean_playing_sxx double precision,
    clean_playing_sxy double precision,
    scale_coverage_n bigint,
    scale_coverage_s double precision,
    scale_coverage_lo double precision,
    scale_coverage_hi double precision,
    scale_coverage_sx double precision,
    scale_coverage_sxx double precision,
    scale_coverage_sxy double precision
)
LANGUAGE sql STABLE AS $$
    SELECT day,
           scale,
           n,
           secs,
           notes,
           correct,
           bad,
           first_at,
           last_at,
           mean_abs_cents_n,
           mean_abs_cents_s,
           in_scale_ratio_n,
           in_scale_ratio_s,
           in_tune_ratio_n,
           in_tune_ratio_s,
           ioi_cv_n,
           ioi_cv_s,
           w_pitch_accuracy,
           w_scale_conformity,
           w_timing_stability,
           w_clean_playing,
           w_scale_coverage,
           overall_score_n,
           coalesce(overall_score_n * overall_score_ay, 0),
           overall_score_lo,
           overall_score_hi,
           coalesce(overall_score_n * overall_score_ax, 0),
           coalesce(overall_score_cxx + overall_score_n * overall_score_ax * overall_score_ax, 0),
           coalesce(overall_score_cxy + overall_score_n * overall_score_ax * overall_score_ay, 0),
           pitch_accuracy_n,
           coalesce(pitch_accuracy_n * pitch_accuracy_ay, 0),
           pitch_accuracy_lo,
           pitch_accuracy_hi,
           coalesce(pitch_accuracy_n * pitch_accuracy_ax, 0),
           coalesce(pitch_accuracy_cxx + pitch_accuracy_n * pitch_accuracy_ax * pitch_accuracy_ax, 0),
           coalesce(pitch_accuracy_cxy + pitch_accuracy_n * pitch_accuracy_ax * pitch_accuracy_ay, 0),
           scale_conformity_n,
           coalesce(scale_conformity_n * scale_conformity_ay, 0),
           scale_conformity_lo,
           scale_conformity_hi,
           coalesce(scale_conformity_n * scale_conformity_ax, 0),
           coalesce(scale_conformity_cxx + scale_conformity_n * scale_conformity_ax * scale_conformity_ax, 0),
           coalesce(scale_conformity_cxy + scale_conformity_n * scale_conformity_ax * scale_conformity_ay, 0),
           timing_stability_n,
           coalesce(timing_stability_n * timing_stability_ay, 0),
           timing_stability_lo,
           timing_stability_hi,
           coalesce(timing_stability_n * timing_stability_ax, 0),
           coalesce(timing_stability_cxx + timing_stability_n * timing_stability_ax * timing_stability_ax, 0),
           coalesce(timing_stability_cxy + timing_stability_n * timing_stability_ax * timing_stability_ay, 0),
           clean_playing_n,
           coalesce(clean_playing_n * clean_playing_ay, 0),
           clean_playing_lo,
           clean_playing_hi,
           coalesce(clean_playing_n * clean_playing_ax, 0),
           coalesce(clean_playing_cxx + clean_playing_n * clean_playing_ax * clean_playing_ax, 0),
           coalesce(clean_playing_cxy + clean_playing_n * clean_playing_ax * clean_playing_ay, 0),
           scale_coverage_n,
           coalesce(scale_coverage_n * scale_coverage_ay, 0),
           scale_coverage_lo,
           scale_coverage_hi,
           coalesce(scale_coverage_n * scale_coverage_ax, 0),
           coalesce(scale_coverage_cxx + scale_coverage_n * scale_coverage_ax * scale_coverage_ax, 0),
           coalesce(scale_coverage_cxy + scale_coverage_n * scale_coverage_ax * scale_coverage_ay, 0)
    FROM (
        SELECT (start_time AT TIME ZONE p_tz)::date AS day,
               coalesce(scale_chosen, '') AS scale,
               count(*) AS n,
               coalesce(sum(duration_seconds), 0) AS secs,
               coalesce(sum(total_notes_played), 0) AS notes,
               coalesce(sum(correct_notes_played), 0) AS correct,
               coalesce(sum(bad_notes_played), 0) AS bad,
               min(start_time) AS first_at,
               max(start_time) AS last_at,
               count(mean_abs_cents) AS mean_abs_cents_n,
               coalesce(sum(mean_abs_cents), 0) AS mean_abs_cents_s,
               count(in_scale_ratio) AS in_scale_ratio_n,
               coalesce(sum(in_scale_ratio), 0) AS in_scale_ratio_s,
               count(in_tune_ratio) AS in_tune_ratio_n,
               coalesce(sum(in_tune_ratio), 0) AS in_tune_ratio_s,
               count(ioi_cv) AS ioi_cv_n,
               coalesce(sum(ioi_cv), 0) AS ioi_cv_s,
               count(*) FILTER (WHERE weakest_area = 'pitch_accuracy') AS w_pitch_accuracy,
               count(*) FILTER (WHERE weakest_area = 'scale_conformity') AS w_scale_conformity,
               count(*) FILTER (WHERE weakest_area = 'timing_stability') AS w_timing_stability,
               count(*) FILTER (WHERE weakest_area = 'clean_playing') AS w_clean_playing,
               count(*) FILTER (WHERE weakest_area = 'scale_coverage') AS w_scale_coverage,
               regr_count(overall_score, x) AS overall_score_n,
               regr_avgy(overall_score, x) AS overall_score_ay,
               regr_avgx(overall_score, x) AS overall_score_ax,
               regr_sxx(overall_score, x) AS overall_score_cxx,
               regr_sxy(overall_score, x) AS overall_score_cxy,
               min(overall_score) AS overall_score_lo,
               max(overall_score) AS overall_score_hi,
               regr_count(pitch_accuracy, x) AS pitch_accuracy_n,
               regr_avgy(pitch_accuracy, x) AS pitch_accuracy_ay,
               regr_avgx(pitch_accuracy, x) AS pitch_accuracy_ax,
               regr_sxx(pitch_accuracy, x) AS pitch_accuracy_cxx,
               regr_sxy(pitch_accuracy, x) AS pitch_accuracy_cxy,
               min(pitch_accuracy) AS pitch_accuracy_lo,
               max(pitch_accuracy) AS pitch_accuracy_hi,
               regr_count(scale_conformity, x) AS scale_conformity_n,
               regr_avgy(scale_conformity, x) AS scale_conformity_ay,
               regr_avgx(scale_conformity, x) AS scale_conformity_ax,
               regr_sxx(scale_conformity, x) AS scale_conformity_cxx,
               regr_sxy(scale_conformity, x) AS scale_conformity_cxy,
               min(scale_conformity) AS scale_conformity_lo,
               max(scale_conformity) AS scale_conformity_hi,
               regr_count(timing_stability, x) AS timing_stability_n,
               regr_avgy(timing_stability, x) AS timing_stability_ay,
               regr_avgx(timing_stability, x) AS timing_stability_ax,
               regr_sxx(timing_stability, x) AS timing_stability_cxx,
               regr_sxy(timing_stability, x) AS timing_stability_cxy,
               min(timing_stability) AS timing_stability_lo,
               max(timing_stability) AS timing_stability_hi,
               regr_count(clean_playing, x) AS clean_playing_n,
               regr_avgy(clean_playing, x) AS clean_playing_ay,
               regr_avgx(clean_playing, x) AS clean_playing_ax,
               regr_sxx(clean_playing, x) AS clean_playing_cxx,
               regr_sxy(clean_playing, x) AS clean_playing_cxy,
               min(clean_playing) AS clean_playing_lo,
               max(clean_playing) AS clean_playing_hi,
               regr_count(scale_coverage, x) AS scale_coverage_n,
               regr_avgy(scale_coverage, x) AS scale_coverage_ay,
               regr_avgx(scale_coverage, x) AS scale_coverage_ax,
               regr_sxx(scale_coverage, x) AS scale_coverage_cxx,
               regr_sxy(scale_coverage, x) AS scale_coverage_cxy,
               min(scale_coverage) AS scale_coverage_lo,
               max(scale_coverage) AS scale_coverage_hi
        FROM (SELECT s.*, (date_part('epoch', s.start_time) - 1577836800) / 604800.0 AS x
              FROM fretcoach.sessions s
              WHERE s.user_id = p_user
                AND s.status IN ('completed', 'interrupted')
                AND s.start_time >= coalesce(p_from, '-infinity')
                AND s.start_time < coalesce(p_to, 'infinity')
                AND (p_scale IS NULL OR s.scale_chosen = p_scale)) q
        GROUP BY 1, 2) g
$$;

-- Recompute the given local days (all days when p_days is NULL) of one user and zone.
CREATE OR REPLACE FUNCTION fretcoach.report_days_refresh(p_user text, p_tz text, p_days date[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d date;
    lo date;
    hi date;
    -- EXECUTE: planned with the real bounds, so only those days' sessions are read through
    -- sessions_user_start_idx (a cached generic plan would scan them all). $5 optionally
    -- keeps only some days of the range.
    ins constant text :=
        'INSERT INTO fretcoach.report_days SELECT $1, $2, scale, day, '
           || 'n, secs, notes, correct, bad, first_at, last_at, mean_abs_cents_n, '
           || 'mean_abs_cents_s, in_scale_ratio_n, in_scale_ratio_s, '
           || 'in_tune_ratio_n, in_tune_ratio_s, ioi_cv_n, ioi_cv_s, '
           || 'w_pitch_accuracy, w_scale_conformity, w_timing_stability, '
           || 'w_clean_playing, w_scale_coverage, overall_score_n, overall_score_s, '
           || 'overall_score_lo, overall_score_hi, overall_score_sx, '
           || 'overall_score_sxx, overall_score_sxy, pitch_accuracy_n, '
           || 'pitch_accuracy_s, pitch_accuracy_lo, pitch_accuracy_hi, '
           || 'pitch_accuracy_sx, pitch_accuracy_sxx, pitch_accuracy_sxy, '
           || 'scale_conformity_n, scale_conformity_s, scale_conformity_lo, '
           || 'scale_conformity_hi, scale_conformity_sx, scale_conformity_sxx, '
           || 'scale_conformity_sxy, timing_stability_n, timing_stability_s, '
           || 'timing_stability_lo, timing_stability_hi, timing_stability_sx, '
           || 'timing_stability_sxx, timing_stability_sxy, clean_playing_n, '
           || 'clean_playing_s, clean_playing_lo, clean_playing_hi, '
           || 'clean_playing_sx, clean_playing_sxx, clean_playing_sxy, '
           || 'scale_coverage_n, scale_coverage_s, scale_coverage_lo, '
           || 'scale_coverage_hi, scale_coverage_sx, scale_coverage_sxx, '
           || 'scale_coverage_sxy'
           || ' FROM fretcoach.report_groups($1, $2, $3, $4, NULL)'
           || ' WHERE $5::date[] IS NULL OR day = ANY ($5)';
BEGIN
    IF p_days IS NULL THEN
        DELETE FROM fretcoach.report_days WHERE user_id = p_user AND tz = p_tz;
        EXECUTE ins USING p_user, p_tz, '-infinity'::timestamptz, 'infinity'::timestamptz,
                          NULL::date[];
        RETURN;
    END IF;
    DELETE FROM fretcoach.report_days
    WHERE user_id = p_user AND tz = p_tz AND day = ANY (p_days);
    -- Many days (a sync batch, a bulk load): one pass over their whole range; a few: one
    -- query per day.
    IF cardinality(p_days) > 31 THEN
        SELECT min(x), max(x) INTO lo, hi FROM unnest(p_days) AS x;
        EXECUTE ins USING p_user, p_tz, (lo::timestamp AT TIME ZONE p_tz),
                          ((hi + 1)::timestamp AT TIME ZONE p_tz), p_days;
        RETURN;
    END IF;
    FOR d IN SELECT DISTINCT x FROM unnest(p_days) AS x LOOP
        EXECUTE ins USING p_user, p_tz, (d::timestamp AT TIME ZONE p_tz),
                          ((d + 1)::timestamp AT TIME ZONE p_tz), NULL::date[];
    END LOOP;
END $$;

-- Statement-level: one refresh per statement, for the users and days it touched, and only
-- for zones someone registered (otherwise this is one indexed lookup).
CREATE OR REPLACE FUNCTION fretcoach.report_days_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    users text[];
    times timestamptz[];
    z record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(user_id), array_agg(start_time) INTO users, times FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(user_id), array_agg(start_time) INTO users, times FROM old_rows;
    ELSE
        SELECT array_agg(u), array_agg(t) INTO users, times
        FROM (SELECT user_id AS u, start_time AS t FROM old_rows
              UNION SELECT user_id, start_time FROM new_rows) c;
    END IF;
    IF users IS NULL THEN
        RETURN NULL;
    END IF;
    FOR z IN SELECT rz.user_id, rz.tz FROM fretcoach.report_zones rz
             WHERE rz.user_id = ANY (users) ORDER BY 1, 2 LOOP
        -- serialise refreshes of one user and zone so concurrent writers see each other
        PERFORM pg_advisory_xact_lock(hashtext('fretcoach.report_days'),
                                      hashtext(z.user_id || '/' || z.tz));
        PERFORM fretcoach.report_days_refresh(
            z.user_id, z.tz,
            ARRAY(SELECT DISTINCT (c.t AT TIME ZONE z.tz)::date
                  FROM unnest(users, times) AS c(u, t) WHERE c.u = z.user_id));
    END LOOP;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS sessions_report_days_ins ON fretcoach.sessions;
CREATE TRIGGER sessions_report_days_ins AFTER INSERT ON fretcoach.sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fretcoach.report_days_track();
DROP TRIGGER IF EXISTS sessions_report_days_upd ON fretcoach.sessions;
CREATE TRIGGER sessions_report_days_upd AFTER UPDATE ON fretcoach.sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fretcoach.report_days_track();
DROP TRIGGER IF EXISTS sessions_report_days_del ON fretcoach.sessions;
CREATE TRIGGER sessions_report_days_del AFTER DELETE ON fretcoach.sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fretcoach.report_days_track();

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['report_zones', 'report_days']
    LOOP
        EXECUTE format('ALTER TABLE fretcoach.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE fretcoach.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS %I ON fretcoach.%I', t || '_own_rows', t);
        EXECUTE format(
            'CREATE POLICY %I ON fretcoach.%I '
            'USING (user_id = current_setting(''fretcoach.user_id'', true)) '
            'WITH CHECK (user_id = current_setting(''fretcoach.user_id'', true))',
            t || '_own_rows', t);
    END LOOP;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON fretcoach.report_zones, fretcoach.report_days
            TO fretcoach_app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') THEN
        GRANT SELECT ON fretcoach.report_zones, fretcoach.report_days TO fretcoach_reader;
    END IF;
END $$;
