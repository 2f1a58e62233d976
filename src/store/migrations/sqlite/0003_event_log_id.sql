-- The event log's identity: stream message ids are "<log id>:<event id>",
-- so a recreated database never collides with events a stream still holds.
INSERT OR IGNORE INTO kv_settings (name, value) VALUES ('event-log-id', lower(hex(randomblob(16))));
