-- One row per element of a list, set or sorted set (see store::Member):
-- membership is a primary-key lookup; order by (score, member) an index.
CREATE TABLE kv_members (
    db     INTEGER NOT NULL,
    key    BLOB    NOT NULL,
    member BLOB    NOT NULL,
    score  INTEGER NOT NULL,
    value  BLOB    NOT NULL,
    PRIMARY KEY (db, key, member)
) WITHOUT ROWID;

CREATE INDEX kv_members_score ON kv_members (db, key, score, member);
