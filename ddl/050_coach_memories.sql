-- 050_coach_memories.sql — what the coach remembers about a player across chats and sessions.
--
-- One row per fact the player stated (goals, guitar, tuning, limits such as a sore wrist,
-- what they struggle with, plans they agreed): typed by `fretcoach memory add`, picked out
-- of a chat turn, or written when a plan is saved. `norm` is the normalised text
-- (store/memory.py normalise): UNIQUE (user_id, norm) keeps a fact from being stored twice.
-- A GIN index on the English tsvector of kind and text serves the recall, which is
-- full-text search, so it works on the embedded server with nothing to download.
--
-- The chat agent's SQL role (fretcoach_reader) gets no grant: the relevant memories reach the
-- model as context chosen by code (coach/memory.py), never through free-form SQL, and this
-- free text stays out of the agent's schema description. The restrictive agent_scope policy
-- is added anyway (021's rule for every user_id table), in case a grant is ever given.

CREATE TABLE IF NOT EXISTS fretcoach.coach_memories (
    memory_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           text NOT NULL CHECK (user_id <> ''),
    kind              text NOT NULL DEFAULT 'note'
                      CHECK (kind IN ('goal', 'gear', 'tuning', 'limit', 'struggle', 'plan',
                                      'note')),
    text              text NOT NULL CHECK (length(btrim(text)) BETWEEN 1 AND 500),
    norm              text NOT NULL CHECK (norm <> ''),
    source            text NOT NULL DEFAULT 'user'
                      CHECK (source IN ('user', 'chat', 'plan', 'session')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    last_recalled_at  timestamptz,
    UNIQUE (user_id, norm)
);

-- The expression store/memory.py searches (an expression index rather than a generated
-- column: nothing to keep in step, and INSERT … SELECT * stays a plain privilege question).
CREATE INDEX IF NOT EXISTS coach_memories_search_idx
    ON fretcoach.coach_memories USING gin (to_tsvector('english'::regconfig, kind || ' ' || text));
CREATE INDEX IF NOT EXISTS coach_memories_user_updated_idx
    ON fretcoach.coach_memories (user_id, updated_at DESC);

SELECT fretcoach.secure_user_table('coach_memories');  -- RLS, policies, grants (ddl/045)
