// SPDX-License-Identifier: Apache-2.0
// A silence as stored (escalate/silence.hpp is the live form, with its matchers compiled): the
// matchers stay a JSON list the engine parses, so the schema does not change with them.
#pragma once

#include <cstdint>
#include <string>

namespace medic::coordinator::storage {

struct SilenceRecord {
  std::string id;
  std::string matchers_json = "[]"; // escalate::matchers_to_json()
  std::int64_t starts_ms = 0;
  std::int64_t ends_ms = 0; // exclusive; expiring early sets it to the expiry time
  std::string created_by;   // "operator:uid=1000"
  std::int64_t created_ms = 0;
  std::string comment;
  std::int64_t expired_ms = 0; // 0: never expired early
  std::string expired_by;
  friend bool operator==(const SilenceRecord&, const SilenceRecord&) = default;
};

} // namespace medic::coordinator::storage
