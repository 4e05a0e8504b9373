// SPDX-License-Identifier: Apache-2.0
// medicctl's side of the admin socket: one blocking request/response exchange, bounded in time
// and in bytes. medicctl is a short-lived CLI, so blocking calls are right here.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "shared/error.hpp"

namespace medic::coordinator::cli {

inline constexpr std::size_t k_max_response_bytes = 64 << 20;

// Connect failures come back as ErrorCode::io with a hint about what to check.
[[nodiscard]] Result<nlohmann::json> admin_request(const std::string& socket_path,
                                                   const nlohmann::json& request,
                                                   std::chrono::milliseconds timeout);

} // namespace medic::coordinator::cli
