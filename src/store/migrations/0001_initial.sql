-- authyd schema, SQLite. Times are unix milliseconds (INTEGER). Applied migrations are
-- checksummed: never edit a released migration, add a new one.

-- The caller's users mapped to Authy ids. Only the masked phone is kept: no raw phone, no email.
CREATE TABLE users (
    user_id      TEXT    NOT NULL PRIMARY KEY,
    authy_id     INTEGER NOT NULL,
    masked_phone TEXT    NOT NULL,
    country_code INTEGER NOT NULL,
    enroll_time  INTEGER NOT NULL
) STRICT;

-- OneTouch approval requests. No foreign key to users: deleting a user keeps its approvals.
-- `state` is Authy's spelling; the set is fixed by the provider, so it is checked here too.
CREATE TABLE approvals (
    approval_id  TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL,
    authy_id     INTEGER NOT NULL,
    provider_ref TEXT    NOT NULL,
    request_id   TEXT,
    message      TEXT    NOT NULL,
    details      TEXT    NOT NULL, -- JSON object of strings
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
    create_time  INTEGER NOT NULL,
    expire_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX approvals_provider_ref ON approvals (provider_ref);
-- NULL request ids never collide (SQL NULLs are distinct), so only keyed requests are unique.
CREATE UNIQUE INDEX approvals_user_request ON approvals (user_id, request_id);
-- Resume after restart reads the pending ones only.
CREATE INDEX approvals_pending ON approvals (create_time) WHERE state = 'pending';

-- Every state change of an approval, append-only. `source` is not checked here: its vocabulary
-- may grow, and the application rejects unknown values when reading.
CREATE TABLE approval_transitions (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    approval_id TEXT    NOT NULL REFERENCES approvals (approval_id),
    from_state  TEXT    NOT NULL CHECK (from_state IN ('pending', 'approved', 'denied', 'expired')),
    to_state    TEXT    NOT NULL CHECK (to_state IN ('pending', 'approved', 'denied', 'expired')),
    source      TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;

CREATE INDEX approval_transitions_approval ON approval_transitions (approval_id, seq);

CREATE TRIGGER approval_transitions_no_update BEFORE UPDATE ON approval_transitions
BEGIN
    SELECT RAISE(ABORT, 'approval_transitions is append-only');
END;

CREATE TRIGGER approval_transitions_no_delete BEFORE DELETE ON approval_transitions
BEGIN
    SELECT RAISE(ABORT, 'approval_transitions is append-only');
END;

-- The audit trail, append-only. Never holds secrets (tokens, keys, raw phones, emails).
CREATE TABLE audit_events (
    seq     INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    caller  TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    user_id TEXT,
    subject TEXT,
    outcome TEXT    NOT NULL,
    detail  TEXT
) STRICT;

CREATE INDEX audit_events_user ON audit_events (user_id, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
