-- QR registrations (StartRegistration / WatchRegistration) and the replay guard of OneTouch
-- callbacks. Times are unix milliseconds.

-- The latest QR registration of each of the caller's users. Starting again replaces the row; the
-- audit trail keeps the history. `authy_id` is set once completed; `failure` holds the status
-- Authy reported when it failed (never a secret: the token itself is not stored).
CREATE TABLE registrations (
    user_id     TEXT    NOT NULL PRIMARY KEY,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'completed', 'expired', 'failed')),
    authy_id    INTEGER,
    failure     TEXT,
    create_time INTEGER NOT NULL,
    expire_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    CHECK ((state = 'completed') = (authy_id IS NOT NULL))
) STRICT;

-- OneTouch callbacks already accepted, by SHA-256 of nonce and signature, so a replayed callback
-- is refused. Rows older than the nonce window are pruned: a replay that old fails the nonce
-- freshness check anyway.
CREATE TABLE callback_replays (
    digest    TEXT    NOT NULL PRIMARY KEY CHECK (length(digest) = 64),
    seen_time INTEGER NOT NULL
) STRICT;

CREATE INDEX callback_replays_seen ON callback_replays (seen_time);
