-- SPDX-License-Identifier: Apache-2.0
-- PostgreSQL twin of migrations/sqlite/0006_silences.sql; keep the two in step.

CREATE TABLE silences (
  id          TEXT COLLATE "C" PRIMARY KEY,
  matchers    TEXT NOT NULL,
  starts_ms   BIGINT NOT NULL,
  ends_ms     BIGINT NOT NULL,
  created_by  TEXT NOT NULL,
  created_ms  BIGINT NOT NULL,
  comment     TEXT NOT NULL,
  expired_ms  BIGINT NOT NULL DEFAULT 0,
  expired_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX silences_by_end ON silences (ends_ms);
