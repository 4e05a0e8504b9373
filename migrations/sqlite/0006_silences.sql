-- SPDX-License-Identifier: Apache-2.0
-- Silences (docs/silences.md): matchers on incidents and a time range; while an open incident
-- matches an active one, its escalation notifications are not sent. Written through by
-- `medicctl silence add|expire`; the engine loads the ones not yet ended at start.

CREATE TABLE silences (
  id          TEXT PRIMARY KEY,
  matchers    TEXT NOT NULL,          -- JSON list, escalate/silence.hpp matchers_to_json()
  starts_ms   INTEGER NOT NULL,
  ends_ms     INTEGER NOT NULL,       -- exclusive; an early expiry moves it to the expiry time
  created_by  TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  comment     TEXT NOT NULL,
  expired_ms  INTEGER NOT NULL DEFAULT 0,
  expired_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX silences_by_end ON silences (ends_ms);
