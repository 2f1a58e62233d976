-- Scripts (SCRIPT LOAD, EVAL; kind 0, named by SHA1) and function
-- libraries (FUNCTION LOAD; kind 1, named by library): shared by every
-- instance (see store::ScriptKind).
CREATE TABLE kv_scripts (
    kind INTEGER NOT NULL,
    name TEXT    NOT NULL,
    body BLOB    NOT NULL,
    PRIMARY KEY (kind, name)
);
