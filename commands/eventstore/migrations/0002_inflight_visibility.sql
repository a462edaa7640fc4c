-- Loupe event store, version 2: readers stop below the lowest in-flight append of THIS
-- store instead of below the cluster-wide xmin.
--
-- Version 1 handed a row out once its tx_id was older than pg_snapshot_xmin(): any write
-- transaction anywhere in the cluster (a projection's batch, a rebuild, a bulk load in another
-- database) held every reader back for as long as it ran. Now each append announces itself
-- with a transaction-level advisory lock keyed by (this schema, its first position), taken
-- inside the reservation's critical section, and a reader's safe head is the lowest
-- announced position minus one, or the last reserved position (read under the same
-- reservation lock in shared mode) if that is lower. The proof is in docs/event-store.md
-- ("Visibility: readers stop below the lowest in-flight append").
--
-- `{schema}` is replaced by the (validated, quoted) schema name by the migration runner.
--
-- The in-flight lock key (one bigint, so pg_locks shows it with objsubid = 1; the two-int4
-- reservation and migration locks have objsubid = 2 and can never be mistaken for it):
--
--     bit  63      1                                  (keys are negative: conventional keys,
--                                                      such as the leader locks' crc32 values,
--                                                      are small positive numbers)
--     bits 47..62  hashtext('"<schema>"') & 65535     (the schema tag)
--     bits  0..46  first_position                     (so positions must stay below 2^47)
--
-- In pg_locks: classid = 2^31 + tag * 2^15 + (first_position >> 32),
-- objid = first_position & (2^32 - 1).
--
-- Every open append also holds the schema's "busy" lock (1282373234, hashtext('"<schema>"'))
-- in shared mode, so that a reader can learn "nothing is in flight" with one conditional lock
-- instead of a scan of pg_locks (which costs ~70 us even on an idle server).

COMMENT ON COLUMN {schema}.events.tx_id IS
    'The appending transaction''s id. Read by nothing since version 2 of the event store; '
    'still assigned inside the reservation''s critical section so that readers of version 1 '
    'stay correct while a deployment is upgraded.';

-- Reserve n contiguous positions and announce the append as in flight until it ends.
--
-- Inside one critical section (the session-level advisory lock of this schema, exclusive):
-- the positions are taken from the sequence, and the transaction-level in-flight lock of the
-- first position and the busy lock (shared) are acquired. Readers read the sequence under
-- the same lock in shared mode, so a reader either sees this reservation complete (positions
-- in the sequence, both locks held) or not at all (the positions are above what it read from
-- the sequence). The locks are released when the transaction ends, after its commit (or
-- rollback) has become visible to new snapshots.
--
-- The transaction id is still assigned here (and still stored in events.tx_id) so that
-- processes of version 1, which read with the xmin rule, stay correct during an upgrade;
-- hence also still "the first write of its transaction" (LP003).
CREATE OR REPLACE FUNCTION {schema}.reserve_positions(
    n bigint, OUT tx_id xid8, OUT first_position bigint
)
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
    -- appender and reader. The lock calls are plain assignments (PL/pgSQL evaluates them
    -- directly, without the executor) so that no interrupt can land between taking or
    -- releasing the lock and recording that in `locked`.
    BEGIN
        locked := pg_advisory_lock(1282373232, hashtext('{schema}')) IS NOT NULL;
        tx_id := pg_current_xact_id();
        first_position := nextval('{schema}.events_position_seq');
        IF first_position + n - 1 > 140737488355327 THEN  -- 2^47 - 1, see the key layout
            RAISE EXCEPTION 'event store %: positions are limited to 2^47 - 1', '{schema}'
                USING ERRCODE = '22003';
        END IF;
        IF n > 1 THEN
            PERFORM setval('{schema}.events_position_seq', first_position + n - 1);
        END IF;
        -- In flight until this transaction commits or rolls back. Taken inside a
        -- subtransaction (the block), it passes to the transaction when the block ends.
        PERFORM pg_advisory_xact_lock(
            (1::bigint << 63) | ((hashtext('{schema}') & 65535)::bigint << 47) | first_position
        );
        PERFORM pg_advisory_xact_lock_shared(1282373234, hashtext('{schema}'));
        locked := NOT pg_advisory_unlock(1282373232, hashtext('{schema}'));
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        IF locked THEN
            PERFORM pg_advisory_unlock(1282373232, hashtext('{schema}'));
        END IF;
        RAISE;
    END;
END;
$fn$;

-- The highest position below which no append of this store is in flight: every append that
-- will ever commit a position <= the result has already committed (or rolled back), and a
-- snapshot taken after this function returns sees its rows.
--
-- Callers must take their snapshot for the rows AFTER this returns: in READ COMMITTED a
-- statement's snapshot is taken when the statement starts, so the rows must be read by a
-- later statement (as head_position and read_safe below do: each statement of a VOLATILE
-- PL/pgSQL function gets a fresh snapshot). Under REPEATABLE READ or SERIALIZABLE the
-- transaction's snapshot may predate the result, so those are refused (LP005).
CREATE FUNCTION {schema}.safe_head() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    locked       boolean := false;
    busy_locked  boolean := false;
    v_idle       boolean := false;
    -- classid of this schema's in-flight locks with first_position < 2^32 (see the header).
    v_class      bigint := 2147483648 + ((hashtext('{schema}') & 65535)::bigint << 15);
    v_last       bigint;
    v_called     boolean;
    v_lowest     bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'the event store''s readers need READ COMMITTED, not %',
                current_setting('transaction_isolation')
            USING ERRCODE = 'LP005';
    END IF;
    -- Under the reservation lock (shared): no reservation is half done, so every append
    -- that reserved a position <= v_last already holds its in-flight lock. Same
    -- exception-safe pattern as reserve_positions: no session lock may outlive this block.
    BEGIN
        locked := pg_advisory_lock_shared(1282373232, hashtext('{schema}')) IS NOT NULL;
        -- A sequence is read outside MVCC: this is the last position reserved so far.
        SELECT s.last_value, s.is_called INTO v_last, v_called
        FROM {schema}.events_position_seq AS s;
        -- Fast path: every open append holds the busy lock in shared mode, so if this
        -- conditional exclusive lock is granted, none is in flight. (No appender can be
        -- waiting for it: they take it inside their critical section, which excludes ours.
        -- Readers racing for it fall back to the scan.)
        busy_locked := pg_try_advisory_lock(1282373234, hashtext('{schema}'));
        IF busy_locked THEN
            v_idle := true;
            busy_locked := NOT pg_advisory_unlock(1282373234, hashtext('{schema}'));
        END IF;
        locked := NOT pg_advisory_unlock_shared(1282373232, hashtext('{schema}'));
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        IF busy_locked THEN
            PERFORM pg_advisory_unlock(1282373234, hashtext('{schema}'));
        END IF;
        IF locked THEN
            PERFORM pg_advisory_unlock_shared(1282373232, hashtext('{schema}'));
        END IF;
        RAISE;
    END;
    IF NOT v_called THEN
        v_last := 0;
    END IF;
    IF v_idle THEN
        RETURN v_last;
    END IF;
    -- The scan runs after the lock is released (it is the slow part, and appenders must not
    -- wait for it). That is enough: an append that reserved before v_last was read still
    -- shows its lock here unless it has ended, and one that reserved since has positions
    -- above v_last, so least() below ignores it.
    SELECT min(((l.classid::bigint - v_class) << 32) | l.objid::bigint) INTO v_lowest
    FROM pg_catalog.pg_locks AS l
    WHERE l.locktype = 'advisory'
      AND l.objsubid = 1
      AND l.classid::bigint BETWEEN v_class AND v_class + 32767
      AND l.database = (
          SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database()
      );
    IF v_lowest IS NULL THEN
        RETURN v_last;
    END IF;
    RETURN least(v_last, v_lowest - 1);
END;
$fn$;

-- The highest position of a stored event at or below the safe head (0 if none); with
-- p_stream_types, of an event of those stream types. One round trip, two snapshots: the
-- SELECT below runs after safe_head() has returned.
CREATE FUNCTION {schema}.head_position(p_stream_types text[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    h bigint := {schema}.safe_head();
BEGIN
    IF p_stream_types IS NULL THEN
        RETURN coalesce((SELECT max(e.position) FROM {schema}.events AS e
                         WHERE e.position <= h), 0);
    END IF;
    RETURN coalesce((SELECT max(e.position) FROM {schema}.events AS e
                     WHERE e.position <= h AND e.stream_type = ANY (p_stream_types)), 0);
END;
$fn$;

-- Events after p_after in position order, up to the safe head, with the head (the highest
-- stored position at or below the safe head, from the same snapshot as the rows) on every
-- row; a single row with NULL event columns when there is nothing to return. When fewer than
-- p_limit events come back, every matching event up to the head has been returned, so a
-- reader with filters may move its cursor to the head.
--
-- The safe head is computed first (DECLARE), the rows by the next statement (RETURN QUERY),
-- which takes its own snapshot: never `SELECT ... WHERE position <= safe_head()` in one
-- statement, whose snapshot would predate the head.
CREATE FUNCTION {schema}.read_safe(
    p_after         bigint,
    p_limit         bigint,
    p_up_to         bigint,
    p_stream_types  text[],
    p_types         text[]
)
RETURNS TABLE (
    head            bigint,
    "position"      bigint,
    stream_id       uuid,
    stream_type     text,
    workspace_id    uuid,
    version         bigint,
    event_id        uuid,
    type            text,
    data            bytea,
    actor           uuid,
    client_id       text,
    dot_counter     bigint,
    hlc             bigint,
    command_id      uuid,
    correlation_id  uuid,
    recorded_at     timestamptz
)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    h bigint := {schema}.safe_head();
BEGIN
    RETURN QUERY
    SELECT hd.head, e.position, e.stream_id, e.stream_type, e.workspace_id, e.version,
           e.event_id, e.type, e.data, e.actor, e.client_id, e.dot_counter, e.hlc,
           e.command_id, e.correlation_id, e.recorded_at
    FROM (SELECT coalesce(max(x.position), 0) FROM {schema}.events AS x
          WHERE x.position <= h) AS hd(head)
    LEFT JOIN LATERAL (
        SELECT ev.position, ev.stream_id, ev.stream_type, ev.workspace_id, ev.version,
               ev.event_id, ev.type, ev.data, ev.actor, ev.client_id, ev.dot_counter, ev.hlc,
               ev.command_id, ev.correlation_id, ev.recorded_at
        FROM {schema}.events AS ev
        WHERE ev.position > p_after AND ev.position <= hd.head
          AND (p_up_to IS NULL OR ev.position <= p_up_to)
          AND (p_stream_types IS NULL OR ev.stream_type = ANY (p_stream_types))
          AND (p_types IS NULL OR ev.type = ANY (p_types))
        ORDER BY ev.position
        LIMIT p_limit
    ) AS e ON true
    ORDER BY e.position;
END;
$fn$;
