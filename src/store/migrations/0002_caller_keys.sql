-- Caller credentials (`authyd keys`). A key is stored only as the SHA-256 of the key (lower-case
-- hex), never in plaintext. Names are unique over every key ever created, revoked ones included,
-- so that a name in the audit trail always means one key. Times are unix milliseconds.
CREATE TABLE caller_keys (
    name           TEXT    NOT NULL PRIMARY KEY,
    key_hash       TEXT    NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    scopes         TEXT    NOT NULL, -- comma-separated scope names, e.g. 'enroll,verify'
    create_time    INTEGER NOT NULL,
    revoke_time    INTEGER,          -- NULL while the key is active
    last_used_time INTEGER           -- NULL until first used; refreshed at most once a minute
) STRICT;

-- A revoked key never comes back.
CREATE TRIGGER caller_keys_no_unrevoke BEFORE UPDATE OF revoke_time ON caller_keys
WHEN OLD.revoke_time IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a revoked caller key stays revoked');
END;

CREATE TRIGGER caller_keys_no_delete BEFORE DELETE ON caller_keys
BEGIN
    SELECT RAISE(ABORT, 'caller keys are revoked, never deleted');
END;
