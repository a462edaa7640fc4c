-- Where each publisher (the NATS relay) has got to in the global event order.
CREATE TABLE IF NOT EXISTS {schema}.relay_checkpoints (
    name        text PRIMARY KEY,
    position    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
