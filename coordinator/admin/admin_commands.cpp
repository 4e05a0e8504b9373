// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/admin_commands.hpp"

#include "shared/build_info.hpp"

namespace medic::coordinator::admin {

namespace {

nlohmann::json failure(std::string_view code, std::string_view message) {
  return {{"ok", false}, {"error", {{"code", code}, {"message", message}}}};
}

} // namespace

AdminCommands::AdminCommands(const Clock& clock, const server::IngestServer& ingest,
                             uv::Worker& storage_worker, storage::Store& store)
    : m_clock(clock),
      m_ingest(ingest),
      m_storage_worker(storage_worker),
      m_store(store),
      m_started_ms(clock.now_unix_ms()) {}

void AdminCommands::handle(const nlohmann::json& request, const Respond& respond) {
  const auto cmd = request.find("cmd");
  if (cmd == request.end() || !cmd->is_string()) {
    respond(failure("bad-request", "the request needs a \"cmd\" string"));
    return;
  }
  const auto& name = cmd->get_ref<const std::string&>();
  if (name == "status") {
    status(respond);
  } else if (name == "agents") {
    agents(respond);
  } else {
    respond(failure("unknown-command", "unknown command '" + name + "' (status, agents)"));
  }
}

void AdminCommands::status(const Respond& respond) const {
  const auto& c = m_ingest.counters();
  respond({{"ok", true},
           {"version", build_info::k_version},
           {"started_ms", m_started_ms},
           {"now_ms", m_clock.now_unix_ms()},
           {"listen", m_ingest.endpoint()},
           {"storage_queue",
            {{"queued", m_storage_worker.queued()}, {"capacity", m_storage_worker.capacity()}}},
           {"ingest",
            {{"frames", c.frames},
             {"hellos", c.hellos},
             {"batches", c.batches},
             {"samples", c.samples},
             {"duplicates", c.duplicates},
             {"malformed", c.malformed},
             {"refused_busy", c.refused_busy},
             {"storage_errors", c.storage_errors},
             {"acks_sent", c.acks_sent},
             {"replies_failed", c.replies_failed}}}});
}

void AdminCommands::agents(const Respond& respond) {
  const bool queued = m_storage_worker.try_submit([this, respond]() -> uv::Worker::Completion {
    auto listed = m_store.list_agents();
    return [respond, listed = std::move(listed)] {
      if (!listed) {
        respond(failure("storage", listed.error().message()));
        return;
      }
      nlohmann::json agents = nlohmann::json::array();
      for (const auto& agent : *listed) {
        agents.push_back(agent_json(agent));
      }
      respond({{"ok", true}, {"agents", std::move(agents)}});
    };
  });
  if (!queued) {
    respond(failure("busy", "the storage queue is full; try again in a moment"));
  }
}

nlohmann::json agent_json(const storage::AgentRecord& agent) {
  nlohmann::json latest = nlohmann::json::array();
  for (const auto& sample : agent.latest) {
    latest.push_back({{"name", sample.name},
                      {"labels", sample.labels},
                      {"value", sample.value},
                      {"time_ms", sample.time_ms}});
  }
  nlohmann::json labels = nlohmann::json::parse(agent.labels_json, nullptr, false);
  if (labels.is_discarded()) {
    labels = nlohmann::json::object();
  }
  return {{"id", agent.id},
          {"host", agent.host},
          {"version", agent.version},
          {"labels", std::move(labels)},
          {"first_seen_ms", agent.first_seen_ms},
          {"last_seen_ms", agent.last_seen_ms},
          {"last_seq", agent.last_seq},
          {"batches", agent.batches},
          {"samples", agent.samples},
          {"latest", std::move(latest)}};
}

} // namespace medic::coordinator::admin
