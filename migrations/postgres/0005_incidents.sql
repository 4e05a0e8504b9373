-- SPDX-License-Identifier: Apache-2.0
-- PostgreSQL twin of migrations/sqlite/0005_incidents.sql; keep the two in step.

CREATE TABLE incidents (
  id             BIGINT PRIMARY KEY,
  kind           TEXT NOT NULL,
  fingerprint    TEXT COLLATE "C" NOT NULL,
  agent_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
  host           TEXT COLLATE "C" NOT NULL DEFAULT '',
  service        TEXT NOT NULL DEFAULT '',
  rule           TEXT NOT NULL DEFAULT '',
  category       TEXT NOT NULL,
  severity       TEXT NOT NULL,
  layer          TEXT NOT NULL,
  labels         TEXT NOT NULL DEFAULT '{}',
  message        TEXT NOT NULL DEFAULT '',
  value          DOUBLE PRECISION NOT NULL DEFAULT 0,
  state          TEXT NOT NULL,
  first_seen_ms  BIGINT NOT NULL,
  last_seen_ms   BIGINT NOT NULL,
  resolved_ms    BIGINT NOT NULL DEFAULT 0,
  signal_count   BIGINT NOT NULL DEFAULT 0,
  reopened       BIGINT NOT NULL DEFAULT 0,
  root_id        BIGINT NOT NULL DEFAULT 0,
  link           TEXT NOT NULL DEFAULT 'none',
  flapping       BOOLEAN NOT NULL DEFAULT FALSE,
  fleet_hosts    BIGINT NOT NULL DEFAULT 0,
  diagnosis      TEXT NOT NULL DEFAULT '{}',
  false_positive BOOLEAN NOT NULL DEFAULT FALSE,
  escalated      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX incidents_by_state ON incidents (state, last_seen_ms);
CREATE INDEX incidents_by_host ON incidents (host, last_seen_ms);

CREATE TABLE audit (
  seq         BIGSERIAL PRIMARY KEY,
  incident_id BIGINT NOT NULL DEFAULT 0,
  time_ms     BIGINT NOT NULL,
  actor       TEXT NOT NULL,
  kind        TEXT NOT NULL,
  text        TEXT NOT NULL,
  detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_incident ON audit (incident_id, seq);
CREATE INDEX audit_by_time ON audit (time_ms);

CREATE TABLE engine_state (
  name       TEXT PRIMARY KEY,
  document   TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);
