-- SPDX-License-Identifier: Apache-2.0
-- What agents detect on their hosts: detector signals (fire and clear) and the log events they
-- ship (matched lines and gaps). Rows are only ever inserted, in the same transaction as the
-- batch that carried them, so a redelivered batch never adds them twice.

CREATE TABLE signals (
  id          INTEGER PRIMARY KEY,
  agent_id    TEXT NOT NULL,
  batch_seq   INTEGER NOT NULL,
  rule        TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('firing', 'cleared')),
  severity    TEXT NOT NULL,
  category    TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  value       REAL NOT NULL,
  time_ms     INTEGER NOT NULL,
  labels      TEXT NOT NULL DEFAULT '',
  message     TEXT NOT NULL DEFAULT '',
  received_ms INTEGER NOT NULL
);
CREATE INDEX signals_by_agent_time ON signals (agent_id, time_ms);
CREATE INDEX signals_by_fingerprint ON signals (fingerprint, time_ms);

CREATE TABLE log_events (
  id          INTEGER PRIMARY KEY,
  agent_id    TEXT NOT NULL,
  batch_seq   INTEGER NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('line', 'gap')),
  source      TEXT NOT NULL,
  path        TEXT NOT NULL,
  time_ms     INTEGER NOT NULL,
  file_offset INTEGER NOT NULL,
  text        TEXT NOT NULL DEFAULT '',
  rule        TEXT NOT NULL DEFAULT '',
  template_id INTEGER,
  gap_bytes   INTEGER NOT NULL DEFAULT 0,
  labels      TEXT NOT NULL DEFAULT '',
  received_ms INTEGER NOT NULL
);
CREATE INDEX log_events_by_agent_time ON log_events (agent_id, time_ms);
