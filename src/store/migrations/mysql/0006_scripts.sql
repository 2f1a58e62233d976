-- Scripts (SCRIPT LOAD, EVAL; kind 0, named by SHA1) and function
-- libraries (FUNCTION LOAD; kind 1, named by library): shared by every
-- instance (see store::ScriptKind).
CREATE TABLE IF NOT EXISTS kv_scripts (
    kind TINYINT      NOT NULL,
    name VARCHAR(191) NOT NULL,
    body LONGBLOB     NOT NULL,
    PRIMARY KEY (kind, name)
);
