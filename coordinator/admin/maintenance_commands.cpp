// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/maintenance_commands.hpp"

#include "coordinator/admin/admin_reply.hpp"

namespace medic::coordinator::admin {
namespace {

// A list of strings field: absent is empty; anything else than strings is refused.
Result<std::vector<std::string>> names_field(const nlohmann::json& request, const char* name) {
  std::vector<std::string> out;
  const auto it = request.find(name);
  if (it == request.end()) {
    return out;
  }
  if (!it->is_array()) {
    return fail(ErrorCode::invalid_argument, std::string("\"") + name + "\" must be a list");
  }
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return fail(ErrorCode::invalid_argument,
                  std::string("\"") + name + "\" must hold strings only");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::int64_t> time_field(const nlohmann::json& request, const char* name, bool required) {
  const auto it = request.find(name);
  if (it == request.end() && !required) {
    return 0;
  }
  if (it == request.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
    return fail(ErrorCode::invalid_argument,
                std::string("\"") + name + "\" must be a time in Unix ms");
  }
  return it->get<std::int64_t>();
}

engine::EngineControl::Done answer(const Respond& respond) {
  return [respond](Result<nlohmann::json> state) {
    if (!state) {
      const auto code = state.error().code();
      respond(failure(code == ErrorCode::invalid_argument ? "bad-request"
                      : code == ErrorCode::not_found      ? "not-found"
                      : code == ErrorCode::busy           ? "busy"
                                                          : "storage",
                      state.error().message()));
      return;
    }
    respond({{"ok", true}, {"maintenance", std::move(*state)}});
  };
}

void add(engine::EngineControl& engine, const nlohmann::json& request, const Respond& respond) {
  maintenance::Window window;
  for (auto [field, target] :
       {std::pair{"hosts", &window.hosts}, std::pair{"groups", &window.groups},
        std::pair{"services", &window.services}}) {
    auto names = names_field(request, field);
    if (!names) {
      respond(failure("bad-request", names.error().message()));
      return;
    }
    *target = std::move(*names);
  }
  auto start = time_field(request, "start_ms", true);
  auto end = time_field(request, "end_ms", true);
  if (!start || !end) {
    respond(failure("bad-request", (!start ? start : end).error().message()));
    return;
  }
  window.start_ms = *start;
  window.end_ms = *end;
  window.reason = string_field(request, "reason");
  window.notify = request.contains("notify") && request.at("notify").is_boolean() &&
                  request.at("notify").get<bool>();
  engine.add_maintenance(std::move(window), actor_of(request), answer(respond));
}

void freeze(engine::EngineControl& engine, const nlohmann::json& request, const Respond& respond) {
  if (!request.contains("on") || !request.at("on").is_boolean()) {
    respond(failure("bad-request", "\"on\" must be true or false"));
    return;
  }
  auto until = time_field(request, "until_ms", false);
  if (!until) {
    respond(failure("bad-request", until.error().message()));
    return;
  }
  maintenance::Freeze wanted;
  wanted.on = request.at("on").get<bool>();
  wanted.until_ms = *until;
  wanted.reason = string_field(request, "reason");
  engine.set_freeze(std::move(wanted), actor_of(request), answer(respond));
}

} // namespace

bool handle_maintenance(engine::EngineControl& engine, const std::string& name,
                        const nlohmann::json& request, const Respond& respond) {
  if (name == "maintenance.add") {
    add(engine, request, respond);
  } else if (name == "maintenance.remove") {
    const std::string id = string_field(request, "id");
    if (id.empty()) {
      respond(failure("bad-request", "\"id\" must name a window (see maintenance.list)"));
      return true;
    }
    engine.remove_maintenance(id, actor_of(request), answer(respond));
  } else if (name == "maintenance.list") {
    respond({{"ok", true}, {"maintenance", engine.maintenance_state()}});
  } else if (name == "freeze") {
    freeze(engine, request, respond);
  } else {
    return false;
  }
  return true;
}

} // namespace medic::coordinator::admin
