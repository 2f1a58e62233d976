-- respire schema for TiDB, MySQL 8 and MariaDB 10.11. TiDB-only clauses sit
-- in /*T! ... */ comments, which the others ignore. Keys, fields and values
-- are bytes (VARBINARY/LONGBLOB: binary collation).

-- One row per key: its kind, deadline, WATCH version and (for strings) value.
-- `kid` is a random id linking a hash's fields, so the fields' primary key
-- stays within the 3072-byte index limit.
CREATE TABLE IF NOT EXISTS kv_keys (
    db        INT             NOT NULL,
    `key`     VARBINARY(3000) NOT NULL,
    kh        BIGINT          NOT NULL,
    kid       BIGINT          NOT NULL,
    kind      TINYINT         NOT NULL,
    expire_at BIGINT          NULL,
    version   BIGINT          NOT NULL,
    value     LONGBLOB        NULL,
    PRIMARY KEY (db, `key`) /*T![clustered_index] CLUSTERED */,
    KEY kv_keys_hash (db, kh),
    KEY kv_keys_expire (expire_at)
);

-- One row per hash field.
CREATE TABLE IF NOT EXISTS kv_hash_fields (
    kid   BIGINT          NOT NULL,
    field VARBINARY(3000) NOT NULL,
    value LONGBLOB        NOT NULL,
    PRIMARY KEY (kid, field) /*T![clustered_index] CLUSTERED */
);

-- The event log (outbox), written in the mutation's transaction. On TiDB,
-- AUTO_ID_CACHE 1 keeps ids in allocation order across TiDB servers.
CREATE TABLE IF NOT EXISTS kv_events (
    id    BIGINT          NOT NULL AUTO_INCREMENT,
    db    INT             NOT NULL,
    `key` VARBINARY(3000) NOT NULL,
    name  VARCHAR(32)     NOT NULL,
    class INT             NOT NULL,
    at_ms BIGINT          NOT NULL,
    PRIMARY KEY (id) /*T![clustered_index] CLUSTERED */,
    KEY kv_events_at (at_ms)
) /*T![auto_id_cache] AUTO_ID_CACHE=1 */;

-- Where each relay stopped.
CREATE TABLE IF NOT EXISTS kv_relay (
    name    VARCHAR(191) NOT NULL,
    last_id BIGINT       NOT NULL,
    PRIMARY KEY (name)
);

-- Deployment-wide settings (notify-keyspace-events, ...).
CREATE TABLE IF NOT EXISTS kv_settings (
    name  VARCHAR(191) NOT NULL,
    value TEXT         NOT NULL,
    PRIMARY KEY (name)
);

-- Leases: which instance runs a deployment-wide job (the expiry sweeper).
CREATE TABLE IF NOT EXISTS kv_leases (
    name       VARCHAR(64)  NOT NULL,
    holder     VARCHAR(191) NOT NULL,
    expires_at BIGINT       NOT NULL,
    PRIMARY KEY (name)
);
