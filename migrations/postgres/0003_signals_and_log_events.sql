-- SPDX-License-Identifier: Apache-2.0
-- PostgreSQL twin of migrations/sqlite/0003_signals_and_log_events.sql; keep the two in step.

CREATE TABLE signals (
  id          BIGSERIAL PRIMARY KEY,
  agent_id    TEXT COLLATE "C" NOT NULL,
  batch_seq   BIGINT NOT NULL,
  rule        TEXT COLLATE "C" NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('firing', 'cleared')),
  severity    TEXT NOT NULL,
  category    TEXT NOT NULL,
  fingerprint TEXT COLLATE "C" NOT NULL,
  value       DOUBLE PRECISION NOT NULL,
  time_ms     BIGINT NOT NULL,
  labels      TEXT NOT NULL DEFAULT '',
  message     TEXT NOT NULL DEFAULT '',
  received_ms BIGINT NOT NULL
);
CREATE INDEX signals_by_agent_time ON signals (agent_id, time_ms);
CREATE INDEX signals_by_fingerprint ON signals (fingerprint, time_ms);

CREATE TABLE log_events (
  id          BIGSERIAL PRIMARY KEY,
  agent_id    TEXT COLLATE "C" NOT NULL,
  batch_seq   BIGINT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('line', 'gap')),
  source      TEXT NOT NULL,
  path        TEXT NOT NULL,
  time_ms     BIGINT NOT NULL,
  file_offset BIGINT NOT NULL,
  text        TEXT NOT NULL DEFAULT '',
  rule        TEXT NOT NULL DEFAULT '',
  template_id BIGINT,
  gap_bytes   BIGINT NOT NULL DEFAULT 0,
  labels      TEXT NOT NULL DEFAULT '',
  received_ms BIGINT NOT NULL
);
CREATE INDEX log_events_by_agent_time ON log_events (agent_id, time_ms);
