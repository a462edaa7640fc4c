-- The read-model schema's own bookkeeping. Read-model tables themselves are created by their
-- projections (projections/*.py `ddl`) and replaced by a rebuild when a projection's version
-- changes: a read model is versioned by its projection, not by migrations.
CREATE TABLE IF NOT EXISTS {schema}.projection_positions (
    name        text PRIMARY KEY,
    position    bigint NOT NULL DEFAULT 0,
    version     integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
