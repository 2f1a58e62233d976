-- The sequenced log: every event gets one sequence number (seq), in commit
-- order, gap-free, and the time it was sequenced (seq_ms, never decreasing
-- along seq), from the deployment's one sequencer. `<seq_ms>-<seq>` is its
-- entry id in the read-only stream __events@<db>__. Events logged before
-- this migration are sequenced by their id.
ALTER TABLE kv_events ADD COLUMN seq BIGINT NULL;
ALTER TABLE kv_events ADD COLUMN seq_ms BIGINT NULL;
SET @respire_last_ms = (SELECT COALESCE(MAX(at_ms), 0) FROM kv_events);
UPDATE kv_events SET seq = id, seq_ms = @respire_last_ms;
-- Unique: no number is ever given twice. NULLs (not yet sequenced) sort
-- first, in id order: the sequencer's work list.
CREATE UNIQUE INDEX kv_events_seq ON kv_events (seq);
CREATE INDEX kv_events_stream ON kv_events (db, seq_ms, seq);

-- The sequence (db = -1: the last number given; its row lock serialises
-- sequencers) and each database's stream counters (XLEN, XINFO STREAM).
CREATE TABLE IF NOT EXISTS kv_streams (
    db              INT    NOT NULL,
    last_seq        BIGINT NOT NULL,
    last_ms         BIGINT NOT NULL,
    added           BIGINT NOT NULL,
    deleted         BIGINT NOT NULL,
    max_deleted_seq BIGINT NOT NULL,
    max_deleted_ms  BIGINT NOT NULL,
    PRIMARY KEY (db) /*T![clustered_index] CLUSTERED */
);
INSERT INTO kv_streams
    SELECT -1, COALESCE(MAX(seq), 0), COALESCE(MAX(seq_ms), 0), COUNT(*), 0, 0, 0 FROM kv_events;
INSERT INTO kv_streams
    SELECT db, MAX(seq), MAX(seq_ms), COUNT(*), 0, 0, 0 FROM kv_events WHERE class <> 33 GROUP BY db;
