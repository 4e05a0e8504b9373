-- SPDX-License-Identifier: Apache-2.0
-- PostgreSQL twin of migrations/sqlite/0004_recovery_executions.sql; keep the two in step.

CREATE TABLE recovery_executions (
  id              BIGSERIAL PRIMARY KEY,
  agent_id        TEXT COLLATE "C" NOT NULL,
  batch_seq       BIGINT NOT NULL,
  command_id      TEXT NOT NULL DEFAULT '',
  origin          TEXT NOT NULL DEFAULT '',
  action          TEXT NOT NULL DEFAULT '',
  rule            TEXT NOT NULL DEFAULT '',
  target          TEXT NOT NULL DEFAULT '',
  params          TEXT NOT NULL DEFAULT '{}',
  status          TEXT NOT NULL,
  reason          TEXT NOT NULL DEFAULT '',
  exit_code       BIGINT NOT NULL,
  started_ms      BIGINT NOT NULL,
  finished_ms     BIGINT NOT NULL,
  output          TEXT NOT NULL DEFAULT '',
  post_check      TEXT NOT NULL DEFAULT '',
  rollback        TEXT NOT NULL DEFAULT '',
  rollback_status TEXT NOT NULL DEFAULT '',
  plan            TEXT NOT NULL DEFAULT '',
  audit_seq       BIGINT NOT NULL DEFAULT 0,
  received_ms     BIGINT NOT NULL
);
CREATE INDEX recovery_executions_by_agent ON recovery_executions (agent_id, started_ms);
CREATE INDEX recovery_executions_by_command ON recovery_executions (command_id);

CREATE TABLE heal_budgets (
  agent_id        TEXT COLLATE "C" NOT NULL,
  target          TEXT NOT NULL,
  action          TEXT NOT NULL,
  attempts        BIGINT NOT NULL,
  window_start_ms BIGINT NOT NULL,
  next_allowed_ms BIGINT NOT NULL,
  needs_person    BIGINT NOT NULL CHECK (needs_person IN (0, 1)),
  updated_ms      BIGINT NOT NULL,
  PRIMARY KEY (agent_id, target, action)
);

CREATE TABLE evidence (
  id          BIGSERIAL PRIMARY KEY,
  agent_id    TEXT COLLATE "C" NOT NULL,
  batch_seq   BIGINT NOT NULL,
  fingerprint TEXT NOT NULL,
  rule        TEXT NOT NULL DEFAULT '',
  action      TEXT NOT NULL,
  time_ms     BIGINT NOT NULL,
  status      TEXT NOT NULL,
  output      TEXT NOT NULL DEFAULT '',
  received_ms BIGINT NOT NULL
);
CREATE INDEX evidence_by_fingerprint ON evidence (fingerprint, time_ms);
