// SPDX-License-Identifier: Apache-2.0
#include "shared/error.hpp"

#include <cstring>

namespace medic {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
  case ErrorCode::invalid_argument: return "invalid-argument";
  case ErrorCode::config: return "config";
  case ErrorCode::io: return "io";
  case ErrorCode::protocol: return "protocol";
  case ErrorCode::storage: return "storage";
  case ErrorCode::busy: return "busy";
  case ErrorCode::not_found: return "not-found";
  case ErrorCode::permission: return "permission";
  case ErrorCode::internal: return "internal";
  }
  return "unknown";
}

std::string errno_text(std::string_view what, int error_number) {
  std::string text(what);
  text += ": ";
  text += std::strerror(error_number);
  return text;
}

} // namespace medic
