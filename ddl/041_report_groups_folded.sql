-- 041_report_groups_folded.sql — the day groups of `stats`, written once.
--
-- 011 and 012 spell the same 6 metrics × 7 figures out three times each (the function's
-- result columns, its two SELECT levels, the refresh's INSERT list), so a new metric meant
-- editing six places in two files. This file generates report_groups() and
-- report_days_refresh() from the lists below; the functions it makes are those of 012 (same
-- signature, same columns in the same order, same expressions: tests/test_reports_golden.py
-- compares every report before and after). Change a list here in a new migration by copying
-- this file; keep METRICS/RAW/WEAKEST_CHOICES of reports/stats.py and the columns of
-- fretcoach.report_days (011) in step.

DO $fold$
DECLARE
    metrics constant text[] := ARRAY['overall_score', 'pitch_accuracy', 'scale_conformity',
                                     'timing_stability', 'clean_playing', 'scale_coverage'];
    raw constant text[] := ARRAY['mean_abs_cents', 'in_scale_ratio', 'in_tune_ratio', 'ioi_cv'];
    areas constant text[] := ARRAY['pitch_accuracy', 'scale_conformity', 'timing_stability',
                                   'clean_playing', 'scale_coverage'];
    m text;
    -- (name, type) of every result column, the outer and the inner SELECT lists
    cols text[] := ARRAY['day date', 'scale text', 'n bigint', 'secs double precision',
                         'notes bigint', 'correct bigint', 'bad bigint',
                         'first_at timestamptz', 'last_at timestamptz'];
    names text[] := ARRAY['day', 'scale', 'n', 'secs', 'notes', 'correct', 'bad',
                          'first_at', 'last_at'];
    outer_sel text[] := ARRAY['day', 'scale', 'n', 'secs', 'notes', 'correct', 'bad',
                              'first_at', 'last_at'];
    inner_sel text[] := ARRAY[
        '(start_time AT TIME ZONE p_tz)::date AS day',
        'coalesce(scale_chosen, '''') AS scale',
        'count(*) AS n',
        'coalesce(sum(duration_seconds), 0) AS secs',
        'coalesce(sum(total_notes_played), 0) AS notes',
        'coalesce(sum(correct_notes_played), 0) AS correct',
        'coalesce(sum(bad_notes_played), 0) AS bad',
        'min(start_time) AS first_at',
        'max(start_time) AS last_at'];
BEGIN
    FOREACH m IN ARRAY raw LOOP
        cols := cols || ARRAY[m || '_n bigint', m || '_s double precision'];
        names := names || ARRAY[m || '_n', m || '_s'];
        outer_sel := outer_sel || ARRAY[m || '_n', m || '_s'];
        inner_sel := inner_sel || ARRAY[format('count(%1$I) AS %1$I_n', m),
                                        format('coalesce(sum(%1$I), 0) AS %1$I_s', m)];
    END LOOP;
    FOREACH m IN ARRAY areas LOOP
        cols := cols || ('w_' || m || ' bigint');
        names := names || ('w_' || m);
        outer_sel := outer_sel || ('w_' || m);
        inner_sel := inner_sel || format('count(*) FILTER (WHERE weakest_area = %L) AS w_%s',
                                         m, m);
    END LOOP;
    FOREACH m IN ARRAY metrics LOOP
        cols := cols || ARRAY[m || '_n bigint', m || '_s double precision',
                              m || '_lo double precision', m || '_hi double precision',
                              m || '_sx double precision', m || '_sxx double precision',
                              m || '_sxy double precision'];
        names := names || ARRAY[m || '_n', m || '_s', m || '_lo', m || '_hi', m || '_sx',
                                m || '_sxx', m || '_sxy'];
        -- Σy, Σx, Σx², Σxy from regr_* (numerically steadier than summing squares)
        outer_sel := outer_sel || ARRAY[
            format('%s_n', m),
            format('coalesce(%1$s_n * %1$s_ay, 0)', m),
            format('%s_lo', m),
            format('%s_hi', m),
            format('coalesce(%1$s_n * %1$s_ax, 0)', m),
            format('coalesce(%1$s_cxx + %1$s_n * %1$s_ax * %1$s_ax, 0)', m),
            format('coalesce(%1$s_cxy + %1$s_n * %1$s_ax * %1$s_ay, 0)', m)];
        inner_sel := inner_sel || ARRAY[
            format('regr_count(%1$s, x) AS %1$s_n', m),
            format('regr_avgy(%1$s, x) AS %1$s_ay', m),
            format('regr_avgx(%1$s, x) AS %1$s_ax', m),
            format('regr_sxx(%1$s, x) AS %1$s_cxx', m),
            format('regr_sxy(%1$s, x) AS %1$s_cxy', m),
            format('min(%1$s) AS %1$s_lo', m),
            format('max(%1$s) AS %1$s_hi', m)];
    END LOOP;

    EXECUTE format($f$
CREATE OR REPLACE FUNCTION fretcoach.report_groups(p_user text, p_tz text,
                                                   p_from timestamptz, p_to timestamptz,
                                                   p_scale text)
RETURNS TABLE (%s)
LANGUAGE sql STABLE AS $body$
    SELECT %s
    FROM (
        SELECT %s
        FROM (SELECT s.*, (date_part('epoch', s.start_time) - 1577836800) / 604800.0 AS x
              FROM fretcoach.sessions s
              WHERE s.user_id = p_user
                AND s.status IN ('completed', 'interrupted')
                AND NOT (s.status = 'completed' AND s.total_notes_played = 0)
                AND s.start_time >= coalesce(p_from, '-infinity')
                AND s.start_time < coalesce(p_to, 'infinity')
                AND (p_scale IS NULL OR s.scale_chosen = p_scale)) q
        GROUP BY 1, 2) g
$body$
$f$, array_to_string(cols, ', '), array_to_string(outer_sel, ', '),
      array_to_string(inner_sel, ', '));

    -- The refresh of 011 with its INSERT list generated (names[3:] after day, scale).
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION fretcoach.report_days_refresh(p_user text, p_tz text, p_days date[])
RETURNS void LANGUAGE plpgsql AS $body$
DECLARE
    d date;
    lo date;
    hi date;
    -- EXECUTE: planned with the real bounds, so only those days' sessions are read through
    -- sessions_user_start_idx (a cached generic plan would scan them all). $5 optionally
    -- keeps only some days of the range.
    ins constant text := %L;
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
END
$body$
$f$, 'INSERT INTO fretcoach.report_days SELECT $1, $2, scale, day, '
     || array_to_string(names[3:], ', ')
     || ' FROM fretcoach.report_groups($1, $2, $3, $4, NULL)'
     || ' WHERE $5::date[] IS NULL OR day = ANY ($5)');
END
$fold$;
