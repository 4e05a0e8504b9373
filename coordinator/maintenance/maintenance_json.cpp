// SPDX-License-Identifier: Apache-2.0
// The maintenance state as a JSON document: what the engine writes through to the store at
// every change (engine_state "maintenance") and what `medicctl maintenance list` shows.
#include <nlohmann/json.hpp>

#include "coordinator/maintenance/maintenance.hpp"

namespace medic::coordinator::maintenance {

nlohmann::json window_json(const Window& window) {
  return {{"id", window.id},
          {"hosts", window.hosts},
          {"groups", window.groups},
          {"services", window.services},
          {"start_ms", window.start_ms},
          {"end_ms", window.end_ms},
          {"notify", window.notify},
          {"reason", window.reason},
          {"actor", window.actor},
          {"created_ms", window.created_ms}};
}

nlohmann::json Maintenance::to_json() const {
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& window : m_windows) {
    windows.push_back(window_json(window));
  }
  return {{"version", m_version},
          {"next_id", m_next_id},
          {"freeze",
           {{"on", m_freeze.on},
            {"until_ms", m_freeze.until_ms},
            {"reason", m_freeze.reason},
            {"actor", m_freeze.actor},
            {"since_ms", m_freeze.since_ms}}},
          {"windows", std::move(windows)}};
}

Result<Maintenance> Maintenance::from_json(const nlohmann::json& document) {
  try {
    Maintenance out;
    out.m_version = document.at("version").get<std::uint64_t>();
    out.m_next_id = document.at("next_id").get<std::uint64_t>();
    const auto& freeze = document.at("freeze");
    out.m_freeze.on = freeze.at("on").get<bool>();
    out.m_freeze.until_ms = freeze.at("until_ms").get<std::int64_t>();
    out.m_freeze.reason = freeze.at("reason").get<std::string>();
    out.m_freeze.actor = freeze.at("actor").get<std::string>();
    out.m_freeze.since_ms = freeze.at("since_ms").get<std::int64_t>();
    for (const auto& w : document.at("windows")) {
      if (out.m_windows.size() >= k_max_windows) {
        break;
      }
      Window window;
      window.id = w.at("id").get<std::string>();
      window.hosts = w.at("hosts").get<std::vector<std::string>>();
      window.groups = w.at("groups").get<std::vector<std::string>>();
      window.services = w.at("services").get<std::vector<std::string>>();
      window.start_ms = w.at("start_ms").get<std::int64_t>();
      window.end_ms = w.at("end_ms").get<std::int64_t>();
      window.notify = w.at("notify").get<bool>();
      window.reason = w.at("reason").get<std::string>();
      window.actor = w.at("actor").get<std::string>();
      window.created_ms = w.at("created_ms").get<std::int64_t>();
      out.m_windows.push_back(std::move(window));
    }
    std::stable_sort(out.m_windows.begin(), out.m_windows.end(),
                     [](const Window& a, const Window& b) { return a.start_ms < b.start_ms; });
    return out;
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::storage, std::string("the stored maintenance state: ") + e.what());
  }
}

} // namespace medic::coordinator::maintenance
