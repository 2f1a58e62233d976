-- Events are trimmed along the sequence now (oldest numbers first), so the
-- index on the time an event was logged has no reader; every event insert
-- no longer maintains it.
ALTER TABLE kv_events DROP INDEX kv_events_at;
