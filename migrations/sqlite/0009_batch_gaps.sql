-- SPDX-License-Identifier: Apache-2.0
-- Redeliveries are recognised without a row per batch: an agent's batches are stored up to its
-- highest stored seq (agents.last_seq, written with every batch anyway) except the ranges passed
-- over when a higher seq was stored first (batch_gaps). The claim row per batch this replaces
-- (received_batches, keyed by agent) cost every batch a random B-tree page and a fifth of the
-- storage thread's CPU at 10,000 agents. agents.first_seq is the lowest seq stored.
CREATE TABLE batch_gaps (
  agent_id   TEXT NOT NULL,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (agent_id, first_seq)
) WITHOUT ROWID;
CREATE INDEX batch_gaps_by_time ON batch_gaps (created_ms);

ALTER TABLE agents ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET
  first_seq = COALESCE((SELECT MIN(seq) FROM received_batches r WHERE r.agent_id = agents.id), 0),
  last_seq = MAX(last_seq,
                 COALESCE((SELECT MAX(seq) FROM received_batches r WHERE r.agent_id = agents.id), 0));

-- Below each agent's first claim still held, and between two claims that are not consecutive.
INSERT INTO batch_gaps (agent_id, first_seq, last_seq, created_ms)
  SELECT agent_id, 1, MIN(seq) - 1, MIN(received_at_ms) FROM received_batches
  GROUP BY agent_id HAVING MIN(seq) > 1;
INSERT INTO batch_gaps (agent_id, first_seq, last_seq, created_ms)
  SELECT agent_id, previous + 1, seq - 1, received_at_ms FROM (
    SELECT agent_id, seq, received_at_ms,
           LAG(seq) OVER (PARTITION BY agent_id ORDER BY seq) AS previous
    FROM received_batches)
  WHERE previous IS NOT NULL AND seq > previous + 1;

DROP TABLE received_batches;
