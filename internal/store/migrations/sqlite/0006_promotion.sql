-- Promotions that wait for approvals before they deploy.
CREATE TABLE promotions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app          TEXT NOT NULL,
    from_env     TEXT NOT NULL,
    to_env       TEXT NOT NULL,
    from_release INTEGER NOT NULL,
    artifact     TEXT NOT NULL,
    needed       INTEGER NOT NULL,           -- approvals needed
    state        TEXT NOT NULL,              -- pending, approved, expired, cancelled
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    rollout_id   INTEGER                     -- the rollout it started once approved
);
CREATE INDEX promotions_pending ON promotions(app, to_env, state);

CREATE TABLE approvals (
    promotion_id INTEGER NOT NULL REFERENCES promotions(id),
    approver     TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (promotion_id, approver)
);
