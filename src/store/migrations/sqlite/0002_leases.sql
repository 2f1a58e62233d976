-- Leases: which process runs a deployment-wide job (the expiry sweeper).
CREATE TABLE kv_leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
