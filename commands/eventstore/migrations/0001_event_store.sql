-- Loupe event store, version 1.
--
-- `{schema}` is replaced by the (validated, quoted) schema name by the migration runner.
-- Why the design looks like this (and the proof that readers never skip a late commit):
-- docs/event-store.md.

-- Global positions. Never used as a column default: positions are handed out only by
-- reserve_positions(), under a lock, together with the transaction id (see below).
CREATE SEQUENCE {schema}.events_position_seq AS bigint START 1 CACHE 1;

CREATE TABLE {schema}.events (
    position        bigint      NOT NULL,
    stream_id       uuid        NOT NULL,
    stream_type     text        NOT NULL,
    workspace_id    uuid,
    version         bigint      NOT NULL,
    type            text        NOT NULL,
    data            bytea       NOT NULL,
    event_id        uuid        NOT NULL,
    actor           uuid,
    client_id       text,
    dot_counter     bigint,
    hlc             bigint,
    command_id      uuid,
    correlation_id  uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- The appending transaction's id; readers only hand out rows whose tx_id is older than
    -- the oldest transaction still running (pg_snapshot_xmin of their snapshot).
    tx_id           xid8        NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_version_check CHECK (version >= 0),
    -- A dot is (client_id, dot_counter): a counter without its replica means nothing.
    CONSTRAINT events_dot_check CHECK (dot_counter IS NULL OR client_id IS NOT NULL)
);

CREATE INDEX events_command_id_idx ON {schema}.events (command_id) WHERE command_id IS NOT NULL;

-- One row per command batch that was appended with a command_id, also when the batch
-- produced no events, so that a retried command is answered with the first result.
CREATE TABLE {schema}.commands (
    command_id      uuid        NOT NULL,
    stream_id       uuid        NOT NULL,
    version         bigint      NOT NULL,
    first_position  bigint,
    last_position   bigint,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT commands_pkey PRIMARY KEY (command_id)
);

-- Reserve n contiguous positions and fix the transaction's xid, both inside one critical
-- section, so that among appenders xid order equals position order.
--
-- Must be the first write of its transaction: if the transaction already had an xid, that
-- xid was assigned outside the critical section and the ordering argument would not hold.
-- The lock is session-level so that it is released right here, not at commit: appenders
-- serialise only for the few microseconds of the reservation, never for their whole
-- transaction (which is what a table lock would do).
CREATE FUNCTION {schema}.reserve_positions(n bigint, OUT tx_id xid8, OUT first_position bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    locked boolean := false;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'reserve_positions: n must be at least 1, got %', n
            USING ERRCODE = '22023';
    END IF;
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'reserve_positions must be the first write of its transaction'
            USING ERRCODE = 'LP003';
    END IF;
    -- The block's handler only exists to release the session-level lock if anything in the
    -- critical section fails or is cancelled: a leaked session lock would stall every
    -- appender. (PL/pgSQL variables keep their values into the handler.)
    BEGIN
        PERFORM pg_advisory_lock(1282373232, hashtext('{schema}'));
        locked := true;
        tx_id := pg_current_xact_id();
        first_position := nextval('{schema}.events_position_seq');
        IF n > 1 THEN
            PERFORM setval('{schema}.events_position_seq', first_position + n - 1);
        END IF;
        PERFORM pg_advisory_unlock(1282373232, hashtext('{schema}'));
        locked := false;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        IF locked THEN
            PERFORM pg_advisory_unlock(1282373232, hashtext('{schema}'));
        END IF;
        RAISE;
    END;
END;
$fn$;

-- The pre-checks of a single-stream append, shared by append_events and append_event: the
-- command must be new (LP002) and the stream at the expected version (LP001, actual version
-- in DETAIL). Plain reads, run before any position is reserved, so that most rejected appends
-- leave no gap; races that slip past them are caught by the unique constraints.
CREATE FUNCTION {schema}.check_append(
    p_command_id uuid, p_stream_id uuid, p_expected_version bigint
) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    v_actual bigint;
BEGIN
    IF p_command_id IS NOT NULL THEN
        IF p_stream_id IS NULL OR p_expected_version IS NULL THEN
            RAISE EXCEPTION 'append: a command_id needs a stream and an expected version'
                USING ERRCODE = '22023';
        END IF;
        IF EXISTS (SELECT 1 FROM {schema}.commands c WHERE c.command_id = p_command_id) THEN
            RAISE EXCEPTION 'duplicate command %', p_command_id
                USING ERRCODE = 'LP002', DETAIL = p_command_id::text;
        END IF;
    END IF;
    -- ORDER BY ... LIMIT 1, not max(): one index probe whatever the planner's statistics say
    -- (with max() a plan cached before the table was analysed read the whole stream).
    SELECT e.version INTO v_actual
    FROM {schema}.events e WHERE e.stream_id = p_stream_id
    ORDER BY e.version DESC LIMIT 1;
    v_actual := coalesce(v_actual, 0);
    IF v_actual <> p_expected_version THEN
        -- The same command may have committed between the two checks: its events are what
        -- moved the version. Then this is a duplicate, not a conflict.
        IF p_command_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM {schema}.commands c WHERE c.command_id = p_command_id
        ) THEN
            RAISE EXCEPTION 'duplicate command %', p_command_id
                USING ERRCODE = 'LP002', DETAIL = p_command_id::text;
        END IF;
        RAISE EXCEPTION 'wrong expected version for stream %: expected %, actual %',
                p_stream_id, p_expected_version, v_actual
            USING ERRCODE = 'LP001', DETAIL = v_actual::text;
    END IF;
END;
$fn$;

-- One append in one round trip: idempotency check, expected-version check, reservation,
-- commands row, events. Called outside an explicit transaction (its implicit transaction is
-- the append's transaction), or as the first statement of an explicit one.
--
-- Two modes:
--   * single stream (the EventStore API): p_stream_id/p_stream_type/p_workspace_id are the
--     stream, p_expected_version is checked against the stream's current version, and the
--     event versions are p_expected_version + 1, + 2, ...; the per-event stream and version
--     arrays are NULL.
--   * explicit versions (the eventsourcing adapter): p_expected_version is NULL and every
--     event carries its own stream and version in the p_stream_ids ... p_versions arrays; the
--     pre-check only looks for (stream_id, version) pairs that already exist.
-- Both pre-checks are plain reads that run before any position is reserved, so that most
-- rejected appends leave no gap. Races that slip past them are caught by the unique
-- constraints (the caller maps those to the same errors).
CREATE FUNCTION {schema}.append_events(
    p_command_id        uuid,
    p_expected_version  bigint,
    p_stream_id         uuid,
    p_stream_type       text,
    p_workspace_id      uuid,
    p_stream_ids        uuid[],
    p_stream_types      text[],
    p_workspace_ids     uuid[],
    p_versions          bigint[],
    p_event_ids         uuid[],
    p_types             text[],
    p_data              bytea[],
    p_actors            uuid[],
    p_client_ids        text[],
    p_dot_counters      bigint[],
    p_hlcs              bigint[],
    p_correlation_ids   uuid[],
    OUT first_position  bigint,
    OUT recorded_at     timestamptz
)
LANGUAGE plpgsql AS $fn$
DECLARE
    n        bigint := coalesce(cardinality(p_event_ids), 0);
    v_xid    xid8;
    v_clash  text;
BEGIN
    recorded_at := now();

    IF p_expected_version IS NOT NULL OR p_command_id IS NOT NULL THEN
        PERFORM {schema}.check_append(p_command_id, p_stream_id, p_expected_version);
    ELSIF n > 0 THEN
        SELECT u.s::text INTO v_clash
        FROM unnest(p_stream_ids, p_versions) AS u(s, v)
        JOIN {schema}.events e ON e.stream_id = u.s AND e.version = u.v
        LIMIT 1;
        IF v_clash IS NOT NULL THEN
            RAISE EXCEPTION 'version conflict in stream %', v_clash
                USING ERRCODE = 'LP004', DETAIL = v_clash;
        END IF;
    END IF;

    IF n > 0 THEN
        -- The first write of the transaction (see reserve_positions).
        SELECT r.tx_id, r.first_position INTO v_xid, first_position
        FROM {schema}.reserve_positions(n) AS r;
    END IF;

    -- Before the events, so that two racing appends of the same command collide here (on
    -- the primary key) rather than on the events' (stream_id, version).
    IF p_command_id IS NOT NULL THEN
        INSERT INTO {schema}.commands (command_id, stream_id, version, first_position,
                                       last_position, recorded_at)
        VALUES (p_command_id, p_stream_id, p_expected_version + n, first_position,
                first_position + n - 1, recorded_at);
    END IF;

    IF n > 0 THEN
        INSERT INTO {schema}.events (position, stream_id, stream_type, workspace_id, version,
                                     type, data, event_id, actor, client_id, dot_counter, hlc,
                                     command_id, correlation_id, recorded_at, tx_id)
        SELECT first_position + u.ord - 1,
               coalesce(u.stream_id, p_stream_id),
               coalesce(u.stream_type, p_stream_type),
               CASE WHEN p_stream_ids IS NULL THEN p_workspace_id ELSE u.workspace_id END,
               coalesce(u.version, p_expected_version + u.ord),
               u.type, u.data, u.event_id, u.actor, u.client_id, u.dot_counter, u.hlc,
               p_command_id, u.correlation_id, recorded_at, v_xid
        FROM unnest(p_stream_ids, p_stream_types, p_workspace_ids, p_versions, p_event_ids,
                    p_types, p_data, p_actors, p_client_ids, p_dot_counters, p_hlcs,
                    p_correlation_ids)
             WITH ORDINALITY AS u(stream_id, stream_type, workspace_id, version, event_id,
                                  type, data, actor, client_id, dot_counter, hlc,
                                  correlation_id, ord);
    END IF;
END;
$fn$;

-- The common case in one round trip with scalar arguments: one event appended to a single
-- stream (an interactive edit). Same semantics as append_events in single-stream mode, without
-- the cost of binding and unnesting twelve arrays.
CREATE FUNCTION {schema}.append_event(
    p_command_id        uuid,
    p_expected_version  bigint,
    p_stream_id         uuid,
    p_stream_type       text,
    p_workspace_id      uuid,
    p_event_id          uuid,
    p_type              text,
    p_data              bytea,
    p_actor             uuid,
    p_client_id         text,
    p_dot_counter       bigint,
    p_hlc               bigint,
    p_correlation_id    uuid,
    OUT first_position  bigint,
    OUT recorded_at     timestamptz
)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_xid xid8;
BEGIN
    recorded_at := now();
    PERFORM {schema}.check_append(p_command_id, p_stream_id, p_expected_version);
    -- The first write of the transaction (see reserve_positions).
    SELECT r.tx_id, r.first_position INTO v_xid, first_position
    FROM {schema}.reserve_positions(1) AS r;
    IF p_command_id IS NOT NULL THEN
        INSERT INTO {schema}.commands (command_id, stream_id, version, first_position,
                                       last_position, recorded_at)
        VALUES (p_command_id, p_stream_id, p_expected_version + 1, first_position,
                first_position, recorded_at);
    END IF;
    INSERT INTO {schema}.events (position, stream_id, stream_type, workspace_id, version,
                                 type, data, event_id, actor, client_id, dot_counter, hlc,
                                 command_id, correlation_id, recorded_at, tx_id)
    VALUES (first_position, p_stream_id, p_stream_type, p_workspace_id,
            p_expected_version + 1, p_type, p_data, p_event_id, p_actor, p_client_id,
            p_dot_counter, p_hlc, p_command_id, p_correlation_id, recorded_at, v_xid);
END;
$fn$;
