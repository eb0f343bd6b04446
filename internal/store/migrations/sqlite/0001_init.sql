-- Slipway control-plane schema, version 1.
CREATE TABLE apps (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,              -- spec.App as JSON
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Config set with `slipway config set`, layered over the spec's config.
CREATE TABLE config_overrides (
    app   TEXT NOT NULL REFERENCES apps(name),
    env   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app, env, key)
);

CREATE TABLE artifacts (
    digest     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE releases (
    app         TEXT NOT NULL REFERENCES apps(name),
    env         TEXT NOT NULL,
    number      INTEGER NOT NULL,
    artifact    TEXT NOT NULL REFERENCES artifacts(digest),
    spec        TEXT NOT NULL,             -- spec.App pinned at release time
    config      TEXT NOT NULL,             -- effective config, JSON object
    config_hash TEXT NOT NULL,
    source      TEXT NOT NULL,             -- "deploy", "promote from staging #2", "rollback to #3", "config set"
    status      TEXT NOT NULL,             -- pending, deploying, live, superseded, failed
    reason      TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (app, env, number)
);

CREATE TABLE environments (
    app          TEXT NOT NULL REFERENCES apps(name),
    env          TEXT NOT NULL,
    live_release INTEGER,                  -- NULL until the first successful deploy
    PRIMARY KEY (app, env)
);

CREATE TABLE rollouts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app          TEXT NOT NULL,
    env          TEXT NOT NULL,
    from_release INTEGER,
    to_release   INTEGER NOT NULL,
    strategy     TEXT NOT NULL,
    state        TEXT NOT NULL,            -- running, succeeded, failed
    phase        TEXT NOT NULL,            -- starting, switching, switched, done
    reason       TEXT NOT NULL DEFAULT '',
    new_instances TEXT NOT NULL DEFAULT '[]',
    old_instances TEXT NOT NULL DEFAULT '[]',
    created_by   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT
);
-- One rollout per (app, environment) at a time, enforced by the database.
CREATE UNIQUE INDEX rollouts_one_running ON rollouts(app, env) WHERE state = 'running';

CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    app        TEXT NOT NULL,
    env        TEXT NOT NULL,
    release    INTEGER NOT NULL,
    addr       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX instances_by_release ON instances(app, env, release);

CREATE TABLE tokens (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,      -- sha256 of the token, hex
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Audit log: every state change, who, when.
CREATE TABLE events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    app    TEXT NOT NULL DEFAULT '',
    env    TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);

CREATE TABLE proxy_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
