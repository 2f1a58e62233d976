-- One row per key: its kind, deadline, WATCH version and (for strings) value.
CREATE TABLE kv_keys (
    db        INTEGER NOT NULL,
    key       BLOB    NOT NULL,
    -- Stable hash of the key: SCAN's cursor order, RANDOMKEY's pick.
    kh        INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    expire_at INTEGER,
    version   INTEGER NOT NULL,
    value     BLOB,
    PRIMARY KEY (db, key)
) WITHOUT ROWID;

CREATE INDEX kv_keys_hash ON kv_keys (db, kh);

CREATE INDEX kv_keys_expire ON kv_keys (expire_at) WHERE expire_at IS NOT NULL;

-- One row per hash field.
CREATE TABLE kv_hash_fields (
    db    INTEGER NOT NULL,
    key   BLOB    NOT NULL,
    field BLOB    NOT NULL,
    value BLOB    NOT NULL,
    PRIMARY KEY (db, key, field)
) WITHOUT ROWID;

-- The event log (outbox): written in the mutation's transaction, relayed in
-- id order. AUTOINCREMENT so ids are never reused after trimming.
CREATE TABLE kv_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    db     INTEGER NOT NULL,
    key    BLOB    NOT NULL,
    name   TEXT    NOT NULL,
    class  INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL
);

-- Where each relay stopped.
CREATE TABLE kv_relay (
    name    TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);

-- Deployment-wide settings (notify-keyspace-events, ...).
CREATE TABLE kv_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
