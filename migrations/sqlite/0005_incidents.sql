-- SPDX-License-Identifier: Apache-2.0
-- The coordinator's brain: incidents (signals folded by fingerprint and correlated), the audit
-- trail of every step taken on them (fold, diagnosis, decision, command, result, approval,
-- escalation, operator action), approvals, and the engines' learned state.

CREATE TABLE incidents (
  id             INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL,
  fingerprint    TEXT NOT NULL,
  agent_id       TEXT NOT NULL DEFAULT '',
  host           TEXT NOT NULL DEFAULT '',
  service        TEXT NOT NULL DEFAULT '',
  rule           TEXT NOT NULL DEFAULT '',
  category       TEXT NOT NULL,
  severity       TEXT NOT NULL,
  layer          TEXT NOT NULL,
  labels         TEXT NOT NULL DEFAULT '{}',
  message        TEXT NOT NULL DEFAULT '',
  value          REAL NOT NULL DEFAULT 0,
  state          TEXT NOT NULL,
  first_seen_ms  INTEGER NOT NULL,
  last_seen_ms   INTEGER NOT NULL,
  resolved_ms    INTEGER NOT NULL DEFAULT 0,
  signal_count   INTEGER NOT NULL DEFAULT 0,
  reopened       INTEGER NOT NULL DEFAULT 0,
  root_id        INTEGER NOT NULL DEFAULT 0,
  link           TEXT NOT NULL DEFAULT 'none',
  flapping       INTEGER NOT NULL DEFAULT 0 CHECK (flapping IN (0, 1)),
  fleet_hosts    INTEGER NOT NULL DEFAULT 0,
  diagnosis      TEXT NOT NULL DEFAULT '{}',
  false_positive INTEGER NOT NULL DEFAULT 0 CHECK (false_positive IN (0, 1)),
  escalated      INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1))
);
CREATE INDEX incidents_by_state ON incidents (state, last_seen_ms);
CREATE INDEX incidents_by_host ON incidents (host, last_seen_ms);

CREATE TABLE audit (
  seq         INTEGER PRIMARY KEY,
  incident_id INTEGER NOT NULL DEFAULT 0,
  time_ms     INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  kind        TEXT NOT NULL,
  text        TEXT NOT NULL,
  detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_incident ON audit (incident_id, seq);
CREATE INDEX audit_by_time ON audit (time_ms);

-- Engine state kept as documents (learned posteriors, limits, pending approvals): written by
-- the coordinator that owns it, read back at start-up.
CREATE TABLE engine_state (
  name       TEXT PRIMARY KEY,
  document   TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
