-- Secrets: versioned, encrypted at rest (age, X25519; the key lives in a
-- file outside the database). A value is never updated: a change adds a
-- version, an unset adds a version with deleted = 1 and no ciphertext. Only
-- `secret rotate-key` rewrites ciphertexts, to the same values under a new key.
CREATE TABLE secrets (
    app        TEXT NOT NULL REFERENCES apps(name),
    env        TEXT NOT NULL,
    key        TEXT NOT NULL,
    version    INTEGER NOT NULL,          -- 1, 2, ... per (app, env, key)
    ciphertext BLOB NOT NULL,             -- age-encrypted; empty when deleted
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app, env, key, version)
);

-- The public half (age1...) of the key the ciphertexts are encrypted for,
-- so a start with the wrong key file fails loudly and an interrupted key
-- rotation can be finished.
CREATE TABLE secrets_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    recipient  TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The secret versions a release pins: JSON {"KEY": version}. A rollback
-- re-delivers exactly these.
ALTER TABLE releases ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
