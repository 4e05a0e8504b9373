-- SPDX-License-Identifier: Apache-2.0
-- What agents did to heal their hosts: every action outcome (answers to COMMANDs and actions the
-- agent took on its own while cut off), the agent's remediation budgets, and diagnostic
-- evidence gathered when a signal fired. Inserted with the batch that carried them, so a
-- redelivered batch never adds them twice.

CREATE TABLE recovery_executions (
  id              INTEGER PRIMARY KEY,
  agent_id        TEXT NOT NULL,
  batch_seq       INTEGER NOT NULL,
  command_id      TEXT NOT NULL DEFAULT '',
  origin          TEXT NOT NULL DEFAULT '',
  action          TEXT NOT NULL DEFAULT '',
  rule            TEXT NOT NULL DEFAULT '',
  target          TEXT NOT NULL DEFAULT '',
  params          TEXT NOT NULL DEFAULT '{}',
  status          TEXT NOT NULL,
  reason          TEXT NOT NULL DEFAULT '',
  exit_code       INTEGER NOT NULL,
  started_ms      INTEGER NOT NULL,
  finished_ms     INTEGER NOT NULL,
  output          TEXT NOT NULL DEFAULT '',
  post_check      TEXT NOT NULL DEFAULT '',
  rollback        TEXT NOT NULL DEFAULT '',
  rollback_status TEXT NOT NULL DEFAULT '',
  plan            TEXT NOT NULL DEFAULT '',
  audit_seq       INTEGER NOT NULL DEFAULT 0,
  received_ms     INTEGER NOT NULL
);
CREATE INDEX recovery_executions_by_agent ON recovery_executions (agent_id, started_ms);
CREATE INDEX recovery_executions_by_command ON recovery_executions (command_id);

CREATE TABLE heal_budgets (
  agent_id        TEXT NOT NULL,
  target          TEXT NOT NULL,
  action          TEXT NOT NULL,
  attempts        INTEGER NOT NULL,
  window_start_ms INTEGER NOT NULL,
  next_allowed_ms INTEGER NOT NULL,
  needs_person    INTEGER NOT NULL CHECK (needs_person IN (0, 1)),
  updated_ms      INTEGER NOT NULL,
  PRIMARY KEY (agent_id, target, action)
);

CREATE TABLE evidence (
  id          INTEGER PRIMARY KEY,
  agent_id    TEXT NOT NULL,
  batch_seq   INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  rule        TEXT NOT NULL DEFAULT '',
  action      TEXT NOT NULL,
  time_ms     INTEGER NOT NULL,
  status      TEXT NOT NULL,
  output      TEXT NOT NULL DEFAULT '',
  received_ms INTEGER NOT NULL
);
CREATE INDEX evidence_by_fingerprint ON evidence (fingerprint, time_ms);
