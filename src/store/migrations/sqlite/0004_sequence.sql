-- The sequenced log: every event gets one sequence number (seq), in commit
-- order, gap-free, and the time it was sequenced (seq_ms, never decreasing
-- along seq). `<seq_ms>-<seq>` is its entry id in the read-only stream
-- __events@<db>__. Events logged before this migration are sequenced by
-- their id (SQLite's ids already follow commit order: one writer).
ALTER TABLE kv_events ADD COLUMN seq INTEGER;
ALTER TABLE kv_events ADD COLUMN seq_ms INTEGER;
UPDATE kv_events SET seq = id, seq_ms = (SELECT COALESCE(MAX(at_ms), 0) FROM kv_events);
CREATE UNIQUE INDEX kv_events_seq ON kv_events (seq);
CREATE INDEX kv_events_unsequenced ON kv_events (id) WHERE seq IS NULL;
CREATE INDEX kv_events_stream ON kv_events (db, seq_ms, seq);

-- The sequence (db = -1: the last number given) and each database's
-- stream counters (XLEN, XINFO STREAM).
CREATE TABLE kv_streams (
    db              INTEGER PRIMARY KEY,
    last_seq        INTEGER NOT NULL,
    last_ms         INTEGER NOT NULL,
    added           INTEGER NOT NULL,
    deleted         INTEGER NOT NULL,
    max_deleted_seq INTEGER NOT NULL,
    max_deleted_ms  INTEGER NOT NULL
);
INSERT INTO kv_streams
    SELECT -1, COALESCE(MAX(seq), 0), COALESCE(MAX(seq_ms), 0), COUNT(*), 0, 0, 0 FROM kv_events;
INSERT INTO kv_streams
    SELECT db, MAX(seq), MAX(seq_ms), COUNT(*), 0, 0, 0 FROM kv_events WHERE class <> 33 GROUP BY db;
