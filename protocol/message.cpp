// SPDX-License-Identifier: Apache-2.0
#include "protocol/message.hpp"

namespace medic::protocol {

std::string_view to_string(MessageType type) noexcept {
  switch (type) {
  case MessageType::hello: return "HELLO";
  case MessageType::batch: return "BATCH";
  case MessageType::ack: return "ACK";
  case MessageType::heartbeat: return "HEARTBEAT";
  case MessageType::command: return "COMMAND";
  case MessageType::result: return "RESULT";
  case MessageType::error: return "ERROR";
  }
  return "UNKNOWN";
}

std::string_view to_string(ResultStatus status) noexcept {
  switch (status) {
  case ResultStatus::succeeded: return "succeeded";
  case ResultStatus::failed: return "failed";
  case ResultStatus::rejected: return "rejected";
  case ResultStatus::expired: return "expired";
  case ResultStatus::duplicate: return "duplicate";
  case ResultStatus::timed_out: return "timed-out";
  }
  return "unknown";
}

} // namespace medic::protocol
