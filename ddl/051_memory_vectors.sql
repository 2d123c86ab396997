-- Coach memory recall by meaning (issue 20): where the server has pgvector and lets us create
-- it (the embedded server does; on an external one it needs a superuser or a trusted
-- extension), memories get an embedding column, filled and searched when an embedding model
-- is configured (setting embedding_model). Elsewhere recall stays on full-text search (050),
-- and nothing here fails.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported THEN
            RAISE NOTICE 'pgvector cannot be created here: memory recall uses full-text search';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        -- no fixed dimension: it is the configured model's; rows of another model are
        -- re-embedded when recalled (store/memory.py), so a model change needs no migration
        EXECUTE 'ALTER TABLE fretcoach.coach_memories ADD COLUMN IF NOT EXISTS embedding vector';
        ALTER TABLE fretcoach.coach_memories ADD COLUMN IF NOT EXISTS embedding_model text;
        COMMENT ON COLUMN fretcoach.coach_memories.embedding_model IS
            'Embedding model that wrote the embedding column (NULL: not embedded yet).';
    END IF;
END $$;
