-- 070_input_latency.sql — measured input latency per audio device (`fretcoach calibrate`).
--
-- One row per user and device: the delay to subtract from a note's onset (audio clock of the
-- input) to put it on the click's grid (the click's output latency + the input latency),
-- measured by an output-to-input loopback or by playing along to clicks. `device_key` is
-- audio/latency.py device_key(): host API and device name, lower case (indices change when
-- devices come and go). `practice` reads it for the device in use; `doctor` reports it.
-- Kept in the database, not the TOML file, because practice and doctor already open it, it
-- is per user like every other row, and the figures (spread, hits, method) travel with the
-- sessions they corrected.

CREATE TABLE IF NOT EXISTS fretcoach.input_latency (
    user_id        text NOT NULL CHECK (user_id <> ''),
    device_key     text NOT NULL CHECK (device_key <> ''),
    device_name    text NOT NULL,
    latency_ms     double precision NOT NULL CHECK (latency_ms > -500 AND latency_ms < 500),
    spread_ms      double precision NOT NULL CHECK (spread_ms >= 0),
    hits           integer NOT NULL CHECK (hits >= 0),
    attempts       integer NOT NULL CHECK (attempts >= hits),
    method         text NOT NULL CHECK (method IN ('loopback', 'play-along')),
    output_device  text,
    sample_rate    integer,
    measured_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device_key)
);

COMMENT ON TABLE fretcoach.input_latency IS
    'measured input latency per user and audio input device (fretcoach calibrate); '
    'subtracted from note onsets before timing is judged';
COMMENT ON COLUMN fretcoach.input_latency.device_key IS
    'host API and device name, lower case, e.g. alsa/usb audio: - (hw:1,0)';
COMMENT ON COLUMN fretcoach.input_latency.latency_ms IS
    'median delay in ms from the click to the heard pluck (output + input latency)';
COMMENT ON COLUMN fretcoach.input_latency.spread_ms IS
    'standard deviation in ms of the kept measurements';
COMMENT ON COLUMN fretcoach.input_latency.method IS
    'loopback (output wired to input, chirps) or play-along (plucks on clicks)';

SELECT fretcoach.secure_user_table('input_latency');  -- RLS, policies, grants (ddl/045)
