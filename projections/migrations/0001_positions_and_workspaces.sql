-- Where each projection has got to. Written in the same transaction as its rows.
CREATE TABLE IF NOT EXISTS {schema}.projection_positions (
    name        text PRIMARY KEY,
    position    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The workspace catalogue: what `GET /workspaces` lists.
CREATE TABLE IF NOT EXISTS {schema}.rm_workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_by  uuid,
    created_at  timestamptz NOT NULL,
    version     bigint NOT NULL,
    position    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.rm_workspace_members (
    workspace_id uuid NOT NULL REFERENCES {schema}.rm_workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL,
    role         text NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX IF NOT EXISTS rm_workspace_members_user ON {schema}.rm_workspace_members (user_id);
