// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/silence_commands.hpp"

#include "coordinator/admin/admin_reply.hpp"

namespace medic::coordinator::admin {
namespace {

engine::EngineControl::Done answer(const Respond& respond, const char* key) {
  return [respond, key](Result<nlohmann::json> value) {
    if (!value) {
      const auto code = value.error().code();
      respond(failure(code == ErrorCode::invalid_argument ? "bad-request"
                      : code == ErrorCode::not_found      ? "not-found"
                      : code == ErrorCode::busy           ? "busy"
                                                          : "storage",
                      value.error().message()));
      return;
    }
    if (key == nullptr) { // the engine's answer is the object itself
      nlohmann::json reply = std::move(*value);
      reply["ok"] = true;
      respond(reply);
      return;
    }
    respond({{"ok", true}, {key, std::move(*value)}});
  };
}

Result<std::int64_t> time_field(const nlohmann::json& request, const char* name) {
  if (!request.contains(name)) {
    return 0;
  }
  const auto& value = request.at(name);
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
    return fail(ErrorCode::invalid_argument,
                std::string("\"") + name + "\" must be a time in Unix ms");
  }
  return value.get<std::int64_t>();
}

} // namespace

Result<escalate::Silence> silence_of(const nlohmann::json& request) {
  escalate::Silence silence;
  if (!request.contains("matchers")) {
    return fail(ErrorCode::invalid_argument,
                "\"matchers\" must list what to silence, e.g. [{\"field\": \"host\", \"op\": "
                "\"=\", \"value\": \"web-1\"}]");
  }
  auto matchers = escalate::matchers_from_json(request.at("matchers"));
  if (!matchers) {
    return fail(std::move(matchers).error());
  }
  silence.matchers = std::move(*matchers);
  auto starts = time_field(request, "starts_ms");
  auto ends = starts ? time_field(request, "ends_ms") : starts;
  if (!ends) {
    return fail(std::move(ends).error());
  }
  if (*ends == 0) {
    return fail(ErrorCode::invalid_argument,
                "\"ends_ms\" must say when the silence ends (Unix ms)");
  }
  silence.starts_ms = *starts;
  silence.ends_ms = *ends;
  silence.comment = string_field(request, "comment");
  return silence;
}

bool handle_silence(engine::EngineControl& engine, const std::string& name,
                    const nlohmann::json& request, const Respond& respond) {
  if (name == "silence.add") {
    auto silence = silence_of(request);
    if (!silence) {
      respond(failure("bad-request", silence.error().message()));
      return true;
    }
    engine.add_silence(std::move(*silence), actor_of(request), answer(respond, "silence"));
  } else if (name == "silence.expire") {
    const std::string id = string_field(request, "id");
    if (id.empty()) {
      respond(failure("bad-request", "\"id\" must name a silence (see silence.list)"));
      return true;
    }
    engine.expire_silence(id, actor_of(request), answer(respond, "silence"));
  } else if (name == "silence.list") {
    const bool all =
        request.contains("all") && request.at("all").is_boolean() && request.at("all").get<bool>();
    engine.list_silences(all, answer(respond, nullptr));
  } else {
    return false;
  }
  return true;
}

} // namespace medic::coordinator::admin
