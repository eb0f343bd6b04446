-- Git triggers: the repository each app watches, the refs seen in it, the
-- runs pushes started and what became of them, production candidates and
-- branch previews.

-- The spec.App (JSON) a run read from slipway.yaml at its commit; NULL
-- until the run has read it (or when it could not).
ALTER TABLE runs ADD COLUMN spec TEXT;

-- One row per app whose spec has a source, made when the source is first
-- applied.
CREATE TABLE sources (
    app            TEXT PRIMARY KEY REFERENCES apps(name),
    repo           TEXT NOT NULL,              -- the repository the refs below were seen in
    baseline       INTEGER NOT NULL DEFAULT 0, -- 1 once a poll recorded the refs (the first poll starts no run)
    webhook_secret BLOB NOT NULL,              -- sealed with the secrets key (age), like secrets.ciphertext
    polled_at      TEXT,
    poll_error     TEXT NOT NULL DEFAULT '',   -- why the last poll failed; '' when it worked
    created_at     TEXT NOT NULL
);

-- The refs seen last, by polling or by a webhook.
CREATE TABLE source_refs (
    app        TEXT NOT NULL,
    ref        TEXT NOT NULL,                  -- refs/heads/main, refs/tags/v1.0.0
    commit_sha TEXT NOT NULL,                  -- as listed by the repository (a tag object for annotated tags)
    seen_at    TEXT NOT NULL,
    PRIMARY KEY (app, ref)
);

-- Runs a push started, the action their rule decided, and what was done
-- once they ended.
CREATE TABLE trigger_runs (
    run_id    INTEGER PRIMARY KEY REFERENCES runs(id),
    app       TEXT NOT NULL,
    ref       TEXT NOT NULL,
    action    TEXT NOT NULL,                   -- trigger.Action as JSON
    target    TEXT NOT NULL DEFAULT '',        -- the environment it deploys to (deploy or preview)
    delivered INTEGER NOT NULL DEFAULT 0,      -- 1 once its artifact went live in target
    result    TEXT NOT NULL DEFAULT ''         -- what was done, or why not
);
CREATE INDEX trigger_runs_by_target ON trigger_runs(app, target, delivered);

-- Artifacts waiting to be promoted into an environment (tag rules with
-- candidate).
CREATE TABLE candidates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app        TEXT NOT NULL,
    env        TEXT NOT NULL,
    ref        TEXT NOT NULL,                  -- the tag or branch name
    commit_sha TEXT NOT NULL,
    artifact   TEXT NOT NULL,
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    created_at TEXT NOT NULL
);
CREATE INDEX candidates_by_app ON candidates(app, id);

-- Promotions of a candidate that wait for approvals.
CREATE TABLE candidate_promotions (
    promotion_id INTEGER PRIMARY KEY REFERENCES promotions(id),
    candidate_id INTEGER NOT NULL REFERENCES candidates(id)
);

-- Preview environments made for branches; the environment itself is in
-- the app's stored spec.
CREATE TABLE previews (
    app        TEXT NOT NULL,
    env        TEXT NOT NULL,
    branch     TEXT NOT NULL,
    host       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app, env)
);
