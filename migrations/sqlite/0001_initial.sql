-- SPDX-License-Identifier: Apache-2.0
-- The coordinator's first schema: who reported, what they last reported, and which batches are
-- already stored. schema_migrations is created and filled by Database::migrate, not here.

-- One row per agent that ever sent a HELLO or a BATCH. labels is a JSON object of the HELLO's
-- labels; counters are kept here so listing agents needs no aggregate over other tables.
CREATE TABLE agents (
  id            TEXT PRIMARY KEY,
  host          TEXT NOT NULL DEFAULT '',
  version       TEXT NOT NULL DEFAULT '',
  labels        TEXT NOT NULL DEFAULT '{}',
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms  INTEGER NOT NULL,
  last_seq      INTEGER NOT NULL DEFAULT 0,
  batches       INTEGER NOT NULL DEFAULT 0,
  samples       INTEGER NOT NULL DEFAULT 0
);

-- The newest value of each series. labels is the canonical "k=v,k2=v2" text (sorted by name,
-- '' when none) so that the same label set always lands on the same key.
CREATE TABLE latest_samples (
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  name     TEXT NOT NULL,
  labels   TEXT NOT NULL DEFAULT '',
  value    REAL NOT NULL,
  time_ms  INTEGER NOT NULL,
  PRIMARY KEY (agent_id, name, labels)
) WITHOUT ROWID;

-- Delivery is at-least-once; a batch is applied only when its (agent, seq) is new here, which
-- makes redelivery after a lost ACK harmless.
CREATE TABLE received_batches (
  agent_id       TEXT NOT NULL,
  seq            INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
