-- Progressive delivery: canary weights and steps, manual control, analysis
-- decisions, instance readiness and warm windows.
ALTER TABLE rollouts ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy';   -- deploy, rollback, promote, config
ALTER TABLE rollouts ADD COLUMN step INTEGER NOT NULL DEFAULT 0;       -- index of the current canary step
ALTER TABLE rollouts ADD COLUMN weight INTEGER NOT NULL DEFAULT 0;     -- canary weight now published
ALTER TABLE rollouts ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;     -- 1 while held by `rollout pause`
ALTER TABLE rollouts ADD COLUMN awaiting INTEGER NOT NULL DEFAULT 0;   -- 1 while waiting at a manual gate for `rollout promote`
ALTER TABLE rollouts ADD COLUMN message TEXT NOT NULL DEFAULT '';      -- what the rollout is doing now
ALTER TABLE rollouts ADD COLUMN progress_at TEXT NOT NULL DEFAULT '';  -- last time a step completed

-- Every decision the judge or a user made, with its evidence.
CREATE TABLE rollout_decisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
    at         TEXT NOT NULL,
    action     TEXT NOT NULL,      -- advance, abort, promote, pause, resume, wait
    actor      TEXT NOT NULL,      -- "analysis", "deadline", or a user
    step       INTEGER NOT NULL,
    weight     INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    evidence   TEXT NOT NULL DEFAULT '{}'   -- analysis.Decision as JSON
);
CREATE INDEX rollout_decisions_by_rollout ON rollout_decisions(rollout_id, id);

-- ready: passed its health gate and may receive traffic.
-- warm_until: an instance of a superseded release kept running for instant
-- rollback until then.
ALTER TABLE instances ADD COLUMN ready INTEGER NOT NULL DEFAULT 1;
ALTER TABLE instances ADD COLUMN warm_until TEXT NOT NULL DEFAULT '';
