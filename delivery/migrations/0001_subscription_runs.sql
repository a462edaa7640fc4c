-- Scheduled runs of subscriptions, claimed by the scheduler that sends them
-- (delivery/claims.py, docs/subscriptions.md "Delivery guarantees").
--
-- Not a read model: this is the schedulers' own working state, which cannot be rebuilt from
-- the event log. A row per (subscription, scheduled time) makes a run claimable once; the
-- token fences a scheduler that lost its claim (its lease ran out and another took over).

CREATE TABLE {schema}.subscription_runs (
    subscription_id  uuid        NOT NULL,
    scheduled_for    timestamptz NOT NULL,
    -- claimed: rendering; sending: an SMTP attempt is under way; sent / failed: the outcome is
    -- known and kept in `outcome`, not yet recorded as an event; recorded: done; skipped: the
    -- run was no longer due when looked at again (paused, deleted, rescheduled).
    state            text        NOT NULL
        CHECK (state IN ('claimed', 'sending', 'sent', 'failed', 'recorded', 'skipped')),
    token            uuid        NOT NULL,
    claimed_by       text        NOT NULL,
    claimed_at       timestamptz NOT NULL,
    lease_until      timestamptz NOT NULL,
    attempts         integer     NOT NULL DEFAULT 0,
    outcome          json,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, scheduled_for)
);

-- Runs whose owner may have died: looked for on every scheduler tick.
CREATE INDEX subscription_runs_open ON {schema}.subscription_runs (lease_until)
    WHERE state IN ('claimed', 'sending', 'sent', 'failed');
