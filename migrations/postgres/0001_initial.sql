-- SPDX-License-Identifier: Apache-2.0
-- PostgreSQL twin of migrations/sqlite/0001_initial.sql; keep the two in step.
-- Text keys use COLLATE "C" so that ORDER BY sorts bytewise, as SQLite's BINARY collation does:
-- both backends must list agents and series in the same order.

CREATE TABLE agents (
  id            TEXT COLLATE "C" PRIMARY KEY,
  host          TEXT NOT NULL DEFAULT '',
  version       TEXT NOT NULL DEFAULT '',
  labels        JSONB NOT NULL DEFAULT '{}'::jsonb,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms  BIGINT NOT NULL,
  last_seq      BIGINT NOT NULL DEFAULT 0,
  batches       BIGINT NOT NULL DEFAULT 0,
  samples       BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE latest_samples (
  agent_id TEXT COLLATE "C" NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  name     TEXT COLLATE "C" NOT NULL,
  labels   TEXT COLLATE "C" NOT NULL DEFAULT '',
  value    DOUBLE PRECISION NOT NULL,
  time_ms  BIGINT NOT NULL,
  PRIMARY KEY (agent_id, name, labels)
);

CREATE TABLE received_batches (
  agent_id       TEXT COLLATE "C" NOT NULL,
  seq            BIGINT NOT NULL,
  received_at_ms BIGINT NOT NULL,
  PRIMARY KEY (agent_id, seq)
);
