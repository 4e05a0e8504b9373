// SPDX-License-Identifier: Apache-2.0
// The (agent id, seq) a batch is stored under, checked the same way by every backend.
#pragma once

#include <cstdint>
#include <limits>

#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::storage {

// The seq as the signed 64-bit value the tables hold. A batch with an empty agent id, or a seq
// beyond that range, cannot be stored faithfully and is refused.
inline Result<std::int64_t> checked_sender(const protocol::Envelope& envelope) {
  if (envelope.agent_id.empty()) {
    return fail(ErrorCode::invalid_argument, "empty agent id");
  }
  if (envelope.seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return fail(ErrorCode::invalid_argument, "sequence number out of range");
  }
  return static_cast<std::int64_t>(envelope.seq);
}

} // namespace medic::coordinator::storage
