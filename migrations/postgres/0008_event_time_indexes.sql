-- SPDX-License-Identifier: Apache-2.0
-- Signals and log events are read newest first across the whole fleet (medicctl, the engines'
-- backtests) or for one agent. The fleet-wide read had no time index: it read every signal and
-- sorted them. Nothing reads signals by fingerprint, and that index cost every batch a random
-- B-tree page per signal (the fingerprints of one agent are spread over the whole index), while
-- a time index grows at its end.
DROP INDEX signals_by_fingerprint;
CREATE INDEX signals_by_time ON signals (time_ms);
CREATE INDEX log_events_by_time ON log_events (time_ms);
