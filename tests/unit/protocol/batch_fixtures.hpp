// SPDX-License-Identifier: Apache-2.0
// Values the protocol tests put in batches: a disk signal and a database log line.
#pragma once

#include "protocol/message.hpp"

namespace medic::test {

inline protocol::Signal disk_full_signal() {
  protocol::Signal signal;
  signal.rule = "disk-almost-full";
  signal.state = protocol::SignalState::firing;
  signal.severity = protocol::Severity::high;
  signal.category = protocol::Category::resource;
  signal.fingerprint = "9f2c41d0a1b2c3d4";
  signal.value = 97.5;
  signal.time_ms = 1001;
  signal.labels = {{"mount", "/var"}};
  signal.message = "disk.used_pct 97.5 above 95 for 60s";
  return signal;
}

inline protocol::LogEvent auth_failed_line() {
  protocol::LogEvent line;
  line.source = "postgres";
  line.path = "/var/log/postgresql/postgresql-15-main.log";
  line.time_ms = 1002;
  line.offset = 123'456;
  line.text = "FATAL:  password authentication failed";
  line.rule = "db-auth-failed";
  line.template_id = 17;
  return line;
}

} // namespace medic::test
