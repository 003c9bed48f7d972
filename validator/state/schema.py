"""The validator's database: one SQLite file (WAL) holding every round, verdict, loss and weight decision.

A round as state, one transaction per arrow, each UPDATE guarded by the state it expects:

    rounds.state:        evaluating -> scored -> done          (or abandoned, when too old to resume)
    round_models.state:  pending -> running -> evaluated | rejected | failed
    weight_sets.state:   sending -> set | failed               (or skipped: not due, or --dont-set-weights)

A restart first sweeps `running` back to `pending`: a step killed before its commit is redone, one killed after
it is never repeated. Weights in `sending` are reconciled with what the chain holds before anything is resent.
Counters for metrics live here too and are bumped in the same transaction as what they count, so a restart
neither resets nor doubles them.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    block INTEGER PRIMARY KEY,              -- the round's anchor block (a multiple of the round interval)
    block_hash TEXT NOT NULL,
    seed TEXT NOT NULL,                     -- u64 from the block hash, as decimal text (SQLite ints are signed)
    competitions_sha TEXT NOT NULL,
    competitions_json TEXT NOT NULL,        -- the document in force: a resumed round uses the same one
    state TEXT NOT NULL CHECK (state IN ('evaluating', 'scored', 'done', 'abandoned')),
    metagraph_json TEXT NOT NULL,           -- {hotkey: uid} at the round's block (weights map through it)
    my_uid INTEGER,                         -- this validator's uid at the round's block
    note TEXT NOT NULL DEFAULT '',          -- e.g. chain read fallbacks taken while planning
    started_at REAL NOT NULL,
    scored_at REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS round_samples (
    round_block INTEGER NOT NULL,
    competition TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sample_id TEXT NOT NULL,
    PRIMARY KEY (round_block, competition, idx)
);
CREATE TABLE IF NOT EXISTS round_models (
    round_block INTEGER NOT NULL,
    hotkey TEXT NOT NULL,
    uid INTEGER,
    competition TEXT NOT NULL,
    pointer TEXT NOT NULL,
    commit_block INTEGER NOT NULL,
    role TEXT NOT NULL,                     -- pool | priority | new | revisit
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'evaluated', 'rejected', 'failed')),
    reason TEXT,                            -- node.refusal.RefusalKind value when rejected or failed
    message TEXT NOT NULL DEFAULT '',
    content_hash TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    eval_seconds REAL NOT NULL DEFAULT 0,   -- time inside the evaluation process
    evaluated_samples INTEGER NOT NULL DEFAULT 0,
    cached_samples INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (round_block, hotkey)
);
CREATE TABLE IF NOT EXISTS rejections (   -- pointers refused at planning (no model row: bad pointer, competition)
    round_block INTEGER NOT NULL,
    hotkey TEXT NOT NULL,
    data TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (round_block, hotkey)
);
CREATE TABLE IF NOT EXISTS pointers (      -- last known commitment per hotkey: the fallback when the chain is down
    hotkey TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    commit_block INTEGER NOT NULL,
    uid INTEGER,
    seen_round INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (      -- verification of one (hotkey, pointer), cached across rounds
    hotkey TEXT NOT NULL,
    pointer TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'refused')),
    reason TEXT,
    message TEXT NOT NULL DEFAULT '',
    content_hash TEXT,
    parameters INTEGER,
    total_bytes INTEGER,
    lineage TEXT NOT NULL DEFAULT 'none',   -- none | certified | not_certified | unchecked
    lineage_parent TEXT,
    lineage_message TEXT NOT NULL DEFAULT '',
    checked_round INTEGER NOT NULL,
    PRIMARY KEY (hotkey, pointer)
);
CREATE TABLE IF NOT EXISTS losses (        -- per-sample summed CE; inf = failed sample (NaN never stored)
    content_hash TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    policy TEXT NOT NULL,                   -- tokenisation policy key
    dtype TEXT NOT NULL,
    loss REAL NOT NULL,
    tokens INTEGER NOT NULL,
    round_block INTEGER NOT NULL,
    PRIMARY KEY (content_hash, sample_id, policy, dtype)
);
CREATE TABLE IF NOT EXISTS results (
    round_block INTEGER NOT NULL,
    competition TEXT NOT NULL,
    hotkey TEXT NOT NULL,
    uid INTEGER,
    win_rate REAL NOT NULL,
    weight REAL NOT NULL,                   -- this round's weight in the competition (before mixing)
    mean_loss REAL,                         -- nats per scored token over the round's samples
    samples INTEGER NOT NULL,
    PRIMARY KEY (round_block, competition, hotkey)
);
CREATE TABLE IF NOT EXISTS ema (
    round_block INTEGER NOT NULL,
    hotkey TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (round_block, hotkey)
);
CREATE TABLE IF NOT EXISTS pool (
    round_block INTEGER NOT NULL,
    competition TEXT NOT NULL,
    hotkey TEXT NOT NULL,
    pointer TEXT NOT NULL,
    PRIMARY KEY (round_block, competition, hotkey)
);
CREATE TABLE IF NOT EXISTS discarded (     -- hopeless (hotkey, pointer) pairs: never evaluated again
    hotkey TEXT NOT NULL,
    pointer TEXT NOT NULL,
    round_block INTEGER NOT NULL,
    PRIMARY KEY (hotkey, pointer)
);
CREATE TABLE IF NOT EXISTS weight_sets (
    round_block INTEGER PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('sending', 'set', 'skipped', 'failed')),
    weights_json TEXT NOT NULL,             -- {uid: weight} meant for the chain
    chain_block INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    value REAL NOT NULL,
    PRIMARY KEY (name, label)
);
CREATE INDEX IF NOT EXISTS round_models_by_state ON round_models (round_block, state);
CREATE INDEX IF NOT EXISTS losses_by_round ON losses (round_block);
"""
