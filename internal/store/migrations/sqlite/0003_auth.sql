-- Users, roles, per-environment grants, tokens that belong to users, and
-- an append-only, hash-chained audit log.

-- A user has a global role; grants give it another role in one environment
-- (by name, in every app). A removed user is disabled, not deleted: the
-- audit log keeps naming it.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'approver', 'admin')),
    created_at TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE grants (
    user_name  TEXT NOT NULL REFERENCES users(name),
    env        TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'approver', 'admin')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_name, env)
);

-- Tokens belong to a user and act with its role; only the sha256 of a token
-- is stored.
CREATE TABLE user_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name    TEXT NOT NULL REFERENCES users(name),
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,   -- sha256 of the token, hex
    created_at   TEXT NOT NULL,
    last_used_at TEXT,                   -- updated at most once a minute
    UNIQUE (user_name, name)
);

-- Every token of version 2 (in practice the admin token of DATA/token)
-- becomes a user of the same name and role, holding that token as
-- "bootstrap", so it keeps working.
INSERT INTO users (name, role, created_at)
    SELECT name, CASE WHEN role IN ('viewer', 'deployer', 'approver', 'admin') THEN role ELSE 'viewer' END, created_at FROM tokens;
INSERT INTO user_tokens (user_name, name, hash, created_at)
    SELECT name, 'bootstrap', hash, created_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE user_tokens RENAME TO tokens;

-- The audit log gains what each entry is about and how it ended, and a
-- hash chain: hash = sha256 of the entry's canonical encoding, which
-- includes prev_hash, the hash of the entry before it ("" for the first).
-- Store.VerifyEvents walks it. Rows written before this migration are
-- chained, once, in the same transaction (Store.sealEvents).
ALTER TABLE events ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok';   -- ok, denied
ALTER TABLE events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
UPDATE events SET target = CASE WHEN env <> '' THEN app || '/' || env ELSE app END;
CREATE INDEX events_by_app ON events(app, id);

-- Append-only: no row is ever deleted, and a row is written once (the only
-- update allowed is sealing a row written before the chain existed).
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be deleted');
END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events WHEN OLD.hash <> ''
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be changed');
END;
