-- The error tracker's database (errors.db, apart from slipway.db so that a
-- flood of error events never queues behind or slows the control plane's
-- own writes). Times are Unix milliseconds.

-- One project per (app, environment): the DSN's project id and key.
CREATE TABLE projects (
    id               INTEGER PRIMARY KEY,      -- the DSN's project id
    app              TEXT NOT NULL,
    env              TEXT NOT NULL,
    public_key       TEXT NOT NULL UNIQUE,     -- the DSN's key (32 hex)
    grouping_version TEXT NOT NULL,            -- fixed at creation: an upgrade never re-splits issues
    created_at       INTEGER NOT NULL,
    UNIQUE (app, env)
);

-- An issue is the group of events with one fingerprint hash.
CREATE TABLE issues (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES projects(id),
    hash             TEXT NOT NULL,
    grouping_version TEXT NOT NULL,
    title            TEXT NOT NULL,
    culprit          TEXT NOT NULL,
    type             TEXT NOT NULL,
    level            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'unresolved', -- unresolved | resolved | ignored
    resolved_in      TEXT,                     -- resolved "in the next release": events of this release (or older) do not reopen it
    regressed        INTEGER NOT NULL DEFAULT 0,
    first_seen       INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    events           INTEGER NOT NULL,
    first_release    TEXT NOT NULL,            -- '' when the event named none
    last_release     TEXT NOT NULL,
    UNIQUE (project_id, hash)
);
CREATE INDEX issues_project_last_seen ON issues(project_id, last_seen);
CREATE INDEX issues_first_release ON issues(project_id, first_release);

-- Per issue, per release: how many events, when.
CREATE TABLE issue_releases (
    issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    release    TEXT NOT NULL,
    events     INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (issue_id, release)
);
CREATE INDEX issue_releases_release ON issue_releases(release);

-- A sample of each issue's events (the newest, up to a count per issue,
-- and none older than the retention age), payloads zstd-compressed JSON.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    issue_id    INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    release     TEXT NOT NULL,
    environment TEXT NOT NULL,
    timestamp   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX events_issue ON events(issue_id, id);
CREATE INDEX events_received ON events(received_at);

-- Release health from session items.
CREATE TABLE release_health (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    release    TEXT NOT NULL,
    started    INTEGER NOT NULL DEFAULT 0,
    errored    INTEGER NOT NULL DEFAULT 0,
    crashed    INTEGER NOT NULL DEFAULT 0,
    abnormal   INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, release)
);
