// SPDX-License-Identifier: Apache-2.0
// Helpers every admin request handler uses: the error answer, reading request fields, and
// running a store query on the storage worker with the answer sent back from the loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_server.hpp"
#include "coordinator/storage/store.hpp"
#include "shared/uv/worker.hpp"

namespace medic::coordinator::admin {

[[nodiscard]] inline nlohmann::json failure(std::string_view code, std::string_view message) {
  return {{"ok", false}, {"error", {{"code", code}, {"message", message}}}};
}

[[nodiscard]] inline std::string string_field(const nlohmann::json& request, const char* name) {
  const auto it = request.find(name);
  return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A non-negative integer field; nullopt when absent or not one.
[[nodiscard]] inline std::optional<std::uint64_t> unsigned_field(const nlohmann::json& request,
                                                                 const char* name) {
  const auto it = request.find(name);
  if (it == request.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
    return std::nullopt;
  }
  return it->get<std::uint64_t>();
}

// "operator:uid=1000": the audit trail's actor for a request (peer_uid is set by AdminServer).
[[nodiscard]] inline std::string actor_of(const nlohmann::json& request) {
  const auto it = request.find("peer_uid");
  const long uid = it != request.end() && it->is_number_integer() ? it->get<long>() : -1;
  return "operator:uid=" + std::to_string(uid);
}

// Runs `query(store)` on the storage worker and `answer(value)` back on the loop; a failed query
// or a full queue is answered with an error.
template <class Query, class Answer>
void query_storage(uv::Worker& worker, storage::Store& store, const Respond& respond, Query query,
                   Answer answer) {
  const bool queued = worker.try_submit([&store, respond, query = std::move(query),
                                         answer = std::move(answer)]() -> uv::Worker::Completion {
    auto result = query(store);
    return [respond, answer, result = std::move(result)]() mutable {
      if (!result) {
        const bool refused = result.error().code() == ErrorCode::invalid_argument;
        respond(failure(refused ? "refused" : "storage", result.error().message()));
        return;
      }
      answer(std::move(*result));
    };
  });
  if (!queued) {
    respond(failure("busy", "the storage queue is full; try again in a moment"));
  }
}

} // namespace medic::coordinator::admin
