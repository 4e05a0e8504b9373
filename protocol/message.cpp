// SPDX-License-Identifier: Apache-2.0
#include "protocol/message.hpp"

namespace medic::protocol {

std::string_view to_string(MessageType type) noexcept {
  switch (type) {
  case MessageType::hello: return "HELLO";
  case MessageType::batch: return "BATCH";
  case MessageType::ack: return "ACK";
  case MessageType::error: return "ERROR";
  }
  return "UNKNOWN";
}

} // namespace medic::protocol
