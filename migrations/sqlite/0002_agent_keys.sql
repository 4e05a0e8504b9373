-- SPDX-License-Identifier: Apache-2.0
-- CURVE public keys of enrolled agents (the ZAP allowlist), and what agents' spools dropped.

-- A key is admitted while revoked_ms is NULL. A revoked key stays, so it can never be enrolled
-- again by mistake: the agent must generate a new one.
CREATE TABLE agent_keys (
  public_key TEXT PRIMARY KEY,
  agent_id   TEXT NOT NULL,
  added_ms   INTEGER NOT NULL,
  revoked_ms INTEGER
);
CREATE INDEX agent_keys_by_agent ON agent_keys (agent_id);

-- Cumulative counts the agent reports with its batches; the largest value seen is kept.
ALTER TABLE agents ADD COLUMN dropped_batches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN dropped_items INTEGER NOT NULL DEFAULT 0;
