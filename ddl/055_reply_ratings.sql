-- 055_reply_ratings.sql — every coach reply gets an identity, a prompt version and a rating.
--
-- * coach_replies (001) held live tips and session summaries. It now also holds plans
--   (`recommend`) and chat answers (kind 'plan' | 'chat', session_id NULL, thread_id for chat),
--   and records which prompt (name + version) produced each reply and the Opik trace it
--   belongs to when tracing was on. `source` is the model that wrote it ('offline' for the
--   offline coach). `reply_uuid` is made by the writer before the reply is stored (session
--   replies reach the database later, through the journal), so a rating can name a reply
--   that is still on its way.
-- * coach_ratings: one rating (+1 / -1, optional comment) per reply; re-rating replaces it.
--   No foreign key on purpose: a live tip rated in the practice room may be rated before its
--   journaled row lands. Ratings are joined to replies on reply_uuid.

ALTER TABLE fretcoach.coach_replies
    ADD COLUMN IF NOT EXISTS reply_uuid uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE fretcoach.coach_replies ADD COLUMN IF NOT EXISTS thread_id text;
ALTER TABLE fretcoach.coach_replies ADD COLUMN IF NOT EXISTS prompt_name text;
ALTER TABLE fretcoach.coach_replies ADD COLUMN IF NOT EXISTS prompt_version text;
ALTER TABLE fretcoach.coach_replies ADD COLUMN IF NOT EXISTS trace_id text;

CREATE UNIQUE INDEX IF NOT EXISTS coach_replies_reply_uuid_key
    ON fretcoach.coach_replies (reply_uuid);
CREATE INDEX IF NOT EXISTS coach_replies_user_at_idx
    ON fretcoach.coach_replies (user_id, at DESC);

COMMENT ON COLUMN fretcoach.coach_replies.reply_uuid IS
    'Stable identity of the reply, made when it was written (ratings refer to it).';
COMMENT ON COLUMN fretcoach.coach_replies.thread_id IS
    'Chat conversation the answer belongs to (kind chat), else NULL.';
COMMENT ON COLUMN fretcoach.coach_replies.prompt_name IS
    'Which prompt produced the reply: live, summary, plan or chat.';
COMMENT ON COLUMN fretcoach.coach_replies.prompt_version IS
    'Version of that prompt (v1, v2, ...), for comparing prompt versions.';
COMMENT ON COLUMN fretcoach.coach_replies.trace_id IS
    'Opik trace id of the model call when tracing was on, else NULL.';

CREATE TABLE IF NOT EXISTS fretcoach.coach_ratings (
    reply_uuid  uuid PRIMARY KEY,
    user_id     text NOT NULL CHECK (user_id <> ''),
    rating      smallint NOT NULL CHECK (rating IN (-1, 1)),
    comment     text,
    rated_at    timestamptz NOT NULL DEFAULT now(),
    opik_sent_at timestamptz
);
CREATE INDEX IF NOT EXISTS coach_ratings_user_idx ON fretcoach.coach_ratings (user_id);

COMMENT ON TABLE fretcoach.coach_ratings IS
    'The player''s rating of one coach reply (+1 helpful, -1 not); re-rating replaces it.';
COMMENT ON COLUMN fretcoach.coach_ratings.reply_uuid IS 'The rated reply (coach_replies.reply_uuid).';
COMMENT ON COLUMN fretcoach.coach_ratings.rating IS '+1 (up) or -1 (down).';
COMMENT ON COLUMN fretcoach.coach_ratings.comment IS 'Optional free-text comment of the player.';
COMMENT ON COLUMN fretcoach.coach_ratings.rated_at IS 'When the (latest) rating was given.';
COMMENT ON COLUMN fretcoach.coach_ratings.opik_sent_at IS
    'When the rating was sent to Opik as trace feedback, NULL if not (tracing off).';

SELECT fretcoach.secure_user_table('coach_ratings');  -- RLS, policies, grants (ddl/045)
