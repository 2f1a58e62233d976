-- One row per element of a list, set or sorted set (see store::Member),
-- linked to its key by kid like hash fields: membership is a primary-key
-- lookup; order by (score, member) an index (8 + 8 + 3000 bytes, within
-- the 3072-byte index limit).
CREATE TABLE IF NOT EXISTS kv_members (
    kid    BIGINT          NOT NULL,
    member VARBINARY(3000) NOT NULL,
    score  BIGINT          NOT NULL,
    value  LONGBLOB        NOT NULL,
    PRIMARY KEY (kid, member) /*T![clustered_index] CLUSTERED */,
    KEY kv_members_score (kid, score, member)
);
