-- SPDX-License-Identifier: Apache-2.0
-- Samples over time: every series numbered once, raw samples packed one row per batch, minute
-- and hour roll-ups, and one row of self-healing figures per day. Retention deletes by time,
-- hence the time indexes.

-- Every series an agent reports, so raw rows and roll-ups refer to it by a small number.
-- labels is the canonical "k=v,k2=v2" text, as in latest_samples.
CREATE TABLE series (
  id       BIGSERIAL PRIMARY KEY,
  agent_id TEXT COLLATE "C" NOT NULL,
  name     TEXT NOT NULL,
  labels   TEXT NOT NULL DEFAULT '',
  UNIQUE (agent_id, name, labels)
);

-- Raw samples: one row per stored batch; packed holds (series id, time, value) per sample
-- (coordinator/storage/sample_pack.hpp), times relative to time_ms, the batch's earliest.
CREATE TABLE sample_batches (
  id       BIGSERIAL PRIMARY KEY,
  agent_id TEXT COLLATE "C" NOT NULL,
  seq      BIGINT NOT NULL,
  time_ms  BIGINT NOT NULL,
  count    INTEGER NOT NULL,
  packed   BYTEA NOT NULL
);
CREATE INDEX sample_batches_by_agent ON sample_batches (agent_id, time_ms);
CREATE INDEX sample_batches_by_time ON sample_batches (time_ms);

-- Roll-ups: count, sum, min and max of one series over one minute or hour (mean = sum/count).
CREATE TABLE rollups_minute (
  series_id BIGINT NOT NULL,
  bucket_ms BIGINT NOT NULL,
  count     BIGINT NOT NULL,
  sum       DOUBLE PRECISION NOT NULL,
  min       DOUBLE PRECISION NOT NULL,
  max       DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (series_id, bucket_ms)
);
CREATE INDEX rollups_minute_by_time ON rollups_minute (bucket_ms);

CREATE TABLE rollups_hour (
  series_id BIGINT NOT NULL,
  bucket_ms BIGINT NOT NULL,
  count     BIGINT NOT NULL,
  sum       DOUBLE PRECISION NOT NULL,
  min       DOUBLE PRECISION NOT NULL,
  max       DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (series_id, bucket_ms)
);
CREATE INDEX rollups_hour_by_time ON rollups_hour (bucket_ms);

-- Up to where hours have been rolled up from minutes (one row).
CREATE TABLE rollup_progress (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  hours_done_ms BIGINT NOT NULL
);

-- The seeds' daily self-healing metrics, one row per UTC day.
CREATE TABLE daily_healing_metrics (
  day               TEXT COLLATE "C" PRIMARY KEY,
  opened            BIGINT NOT NULL,
  resolved          BIGINT NOT NULL,
  auto_recovered    BIGINT NOT NULL,
  escalated         BIGINT NOT NULL,
  false_positives   BIGINT NOT NULL,
  actions           BIGINT NOT NULL,
  actions_succeeded BIGINT NOT NULL,
  mttd_ms           DOUBLE PRECISION NOT NULL,
  mttr_ms           DOUBLE PRECISION NOT NULL,
  updated_ms        BIGINT NOT NULL
);

-- Retention deletes batch claims by age; signals, log events and evidence go by id order.
CREATE INDEX received_batches_by_time ON received_batches (received_at_ms);
