-- Pipeline runs: every commit built and tested once into an artifact.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app          TEXT NOT NULL,
    repo         TEXT NOT NULL,              -- local path or URL cloned
    spec_file    TEXT NOT NULL,              -- slipway.yaml's path inside the repository
    revision     TEXT NOT NULL,              -- what was asked for: a hash, branch or tag
    commit_sha   TEXT NOT NULL DEFAULT '',   -- the full hash it resolved to, once checked out
    branch       TEXT NOT NULL DEFAULT '',
    tag          TEXT NOT NULL DEFAULT '',
    trigger_kind TEXT NOT NULL,              -- manual, push, poll, webhook
    actor        TEXT NOT NULL,
    state        TEXT NOT NULL,              -- queued, running, succeeded, failed, cancelled
    artifact     TEXT NOT NULL DEFAULT '',   -- digest of the artifact a succeeded run produced
    error        TEXT NOT NULL DEFAULT '',
    rerun_of     INTEGER REFERENCES runs(id),
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT
);
CREATE INDEX runs_by_app ON runs(app, id);
CREATE INDEX runs_by_state ON runs(state, id);

-- The steps of a run, in the order they appear in the pipeline.
CREATE TABLE run_steps (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    position    INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    step        TEXT NOT NULL,
    state       TEXT NOT NULL,               -- pending, running, succeeded, failed, timed_out, cancelled, skipped
    exit_code   INTEGER,
    error       TEXT NOT NULL DEFAULT '',
    log_path    TEXT NOT NULL DEFAULT '',    -- relative to DATA/runs/<run id>
    pgid        INTEGER NOT NULL DEFAULT 0,  -- process group of a running local step, to stop it after a crash
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, position)
);
