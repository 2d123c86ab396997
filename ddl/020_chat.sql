-- 020_chat.sql — what `fretcoach chat` needs on top of 001/010.
--
-- * fretcoach_chat holds LangGraph's checkpoint tables (checkpoints, checkpoint_blobs,
--   checkpoint_writes, checkpoint_migrations), created at run time by PostgresSaver.setup()
--   on an owner connection whose search_path is this schema. A schema of its own keeps them
--   out of reach of fretcoach_reader (no USAGE) and of code that walks schema fretcoach.
--   Checkpoint rows carry no user_id: a thread is reachable only through its chat_threads
--   row, which row-level security scopes to its user.
-- * chat_threads gets the model that last answered and a turn count, for `/threads`.

CREATE SCHEMA IF NOT EXISTS fretcoach_chat;
REVOKE ALL ON SCHEMA fretcoach_chat FROM PUBLIC;

ALTER TABLE fretcoach.chat_threads ADD COLUMN IF NOT EXISTS model text;
ALTER TABLE fretcoach.chat_threads ADD COLUMN IF NOT EXISTS turns integer NOT NULL DEFAULT 0;
