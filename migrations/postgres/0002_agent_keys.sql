-- SPDX-License-Identifier: Apache-2.0
-- CURVE public keys of enrolled agents (the ZAP allowlist), and what agents' spools dropped.
CREATE TABLE agent_keys (
  public_key TEXT COLLATE "C" PRIMARY KEY,
  agent_id   TEXT COLLATE "C" NOT NULL,
  added_ms   BIGINT NOT NULL,
  revoked_ms BIGINT
);
CREATE INDEX agent_keys_by_agent ON agent_keys (agent_id);

ALTER TABLE agents ADD COLUMN dropped_batches BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN dropped_items BIGINT NOT NULL DEFAULT 0;
