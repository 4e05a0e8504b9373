// SPDX-License-Identifier: Apache-2.0
// The engine's side of maintenance windows and the fleet freeze: holding remediation (and,
// unless a window says notify, escalation) while they are in force, writing every change
// through to the store before answering, and pushing each agent the POLICY that applies to it
// so its offline fallback healing honours the same windows. Loop thread only.
#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"

namespace medic::coordinator::engine {
namespace {

constexpr std::string_view k_maintenance_state = "maintenance";

std::string label_value(const std::vector<protocol::Label>& labels, std::string_view name) {
  for (const auto& label : labels) {
    if (label.name == name) {
      return label.value;
    }
  }
  return {};
}

} // namespace

const maintenance::Window* Engine::quiet_window(const correlate::Incident& incident,
                                                const Work& work, std::int64_t now_ms) const {
  if (m_maintenance.windows().empty() || incident.kind != correlate::IncidentKind::host) {
    return nullptr;
  }
  // The names a window's services are matched against: the incident's service, process and
  // unit labels, and the values of what its diagnosis would run (a unit, a process name).
  std::vector<std::string> services;
  for (const char* name : {"service", "process", "unit"}) {
    if (auto value = label_value(incident.labels, name); !value.empty()) {
      services.push_back(std::move(value));
    }
  }
  if (!incident.service.empty()) {
    services.push_back(incident.service);
  }
  if (work.diagnosis) {
    for (const auto& candidate : work.diagnosis->candidates) {
      for (const auto& param : candidate.params) {
        services.push_back(param.value);
      }
    }
  }
  std::string group;
  if (const AgentView* view = m_fleet.find(incident.agent_id); view != nullptr) {
    group = label_value(view->labels, m_config.correlation.group_label);
  }
  return m_maintenance.covering({incident.host, group, services}, now_ms);
}

std::optional<std::string> Engine::maintenance_hold(const correlate::Incident& incident,
                                                    const Work& work, std::int64_t now_ms) const {
  if (m_maintenance.frozen(now_ms)) {
    const auto& freeze = m_maintenance.freeze();
    return "the fleet is frozen (" + (freeze.reason.empty() ? "no reason given" : freeze.reason) +
           ", by " + freeze.actor + "); `medicctl freeze off` lifts it";
  }
  if (const auto* window = quiet_window(incident, work, now_ms); window != nullptr) {
    return "maintenance window " + window->id + " (" +
           (window->reason.empty() ? "no reason given" : window->reason) + ", by " + window->actor +
           ") is in force until " + std::to_string(window->end_ms);
  }
  return std::nullopt;
}

protocol::Policy Engine::policy_for(const std::string& agent_id, std::int64_t now_ms) const {
  protocol::Policy policy;
  policy.version = std::max<std::uint64_t>(m_maintenance.version(), 1);
  const auto& freeze = m_maintenance.freeze();
  policy.freeze.on = m_maintenance.frozen(now_ms);
  if (policy.freeze.on) {
    policy.freeze.until_ms = freeze.until_ms;
    policy.freeze.reason = freeze.reason;
  }
  const AgentView* view = m_fleet.find(agent_id);
  if (view == nullptr) {
    return policy;
  }
  const std::string group = label_value(view->labels, m_config.correlation.group_label);
  for (const auto* window : m_maintenance.windows_for(view->host, group)) {
    if (window->end_ms <= now_ms) {
      continue;
    }
    policy.windows.push_back(
        {window->id, window->start_ms, window->end_ms, window->services, window->reason});
  }
  return policy;
}

void Engine::push_policy(const std::string& agent_id, std::int64_t now_ms) {
  if (agent_id.starts_with(k_alert_agent_prefix)) {
    return; // a pseudo agent: nothing to send to
  }
  if (auto sent = m_sender.send_policy(agent_id, policy_for(agent_id, now_ms)); !sent) {
    // Not connected: it gets the policy with its next HELLO.
    spdlog::debug("engine: POLICY to {} not sent: {}", agent_id, sent.error().message());
  }
}

void Engine::maintenance_changed(std::int64_t now_ms) {
  for (const auto& [agent_id, labels] : m_fleet.agents()) {
    push_policy(agent_id, now_ms);
  }
  // What maintenance held may be healed (or escalated) now: plan it again on the next tick.
  for (auto it = m_maintenance_held.begin(); it != m_maintenance_held.end();) {
    const correlate::Incident* incident = m_correlator.find(*it);
    if (incident == nullptr || incident->state != correlate::IncidentState::open) {
      it = m_maintenance_held.erase(it);
      continue;
    }
    Work& work = m_work[*it];
    if (!maintenance_hold(*incident, work, now_ms)) {
      audit(*it, now_ms, "coordinator", "maintenance",
            "maintenance no longer holds this incident: planning it again");
      if (quiet_window(*incident, work, now_ms) == nullptr) {
        maybe_escalate(*incident, now_ms);
      }
      schedule(*it, work, now_ms);
      it = m_maintenance_held.erase(it);
    } else {
      ++it;
    }
  }
}

void Engine::store_maintenance(maintenance::Maintenance before, std::string what,
                               const std::string& actor, Done done) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  auto text = std::make_shared<std::string>(m_maintenance.to_json().dump());
  const std::uint64_t version = m_maintenance.version();
  const bool queued = m_storage_worker.try_submit(
      [this, text, now_ms, version, before = std::move(before), what = std::move(what), actor,
       done = std::move(done)]() mutable -> uv::Worker::Completion {
        auto saved = m_store.put_engine_state(k_maintenance_state, *text, now_ms);
        return [this, saved = std::move(saved), version, before = std::move(before),
                what = std::move(what), actor, done = std::move(done)]() mutable {
          const std::int64_t at_ms = m_clock.now_unix_ms();
          if (!saved) {
            ++m_counters.store_errors;
            if (m_maintenance.version() == version) {
              m_maintenance = std::move(before); // not stored: not in force either
            }
            done(fail(std::move(saved).error().context("storing the maintenance state")));
            return;
          }
          audit(0, at_ms, actor, "maintenance", what);
          maintenance_changed(at_ms);
          done(maintenance_state());
        };
      });
  if (!queued) {
    m_maintenance = std::move(before);
    done(fail(ErrorCode::busy, "the storage queue is full; try again in a moment"));
  }
}

void Engine::add_maintenance(maintenance::Window window, const std::string& actor, Done done) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  maintenance::Maintenance before = m_maintenance;
  window.actor = actor;
  auto id = m_maintenance.add(std::move(window), now_ms);
  if (!id) {
    done(fail(std::move(id).error()));
    return;
  }
  store_maintenance(std::move(before), "maintenance window " + *id + " added", actor,
                    std::move(done));
}

void Engine::remove_maintenance(const std::string& id, const std::string& actor, Done done) {
  maintenance::Maintenance before = m_maintenance;
  auto removed = m_maintenance.remove(id, m_clock.now_unix_ms());
  if (!removed) {
    done(fail(std::move(removed).error()));
    return;
  }
  store_maintenance(std::move(before), "maintenance window " + id + " removed", actor,
                    std::move(done));
}

void Engine::set_freeze(maintenance::Freeze freeze, const std::string& actor, Done done) {
  maintenance::Maintenance before = m_maintenance;
  freeze.actor = actor;
  const bool on = freeze.on;
  const std::string reason = freeze.reason;
  if (auto set = m_maintenance.set_freeze(std::move(freeze), m_clock.now_unix_ms()); !set) {
    done(fail(std::move(set).error()));
    return;
  }
  store_maintenance(std::move(before),
                    on ? "fleet freeze on: " + (reason.empty() ? "no reason given" : reason)
                       : "fleet freeze lifted",
                    actor, std::move(done));
}

nlohmann::json Engine::maintenance_state() const {
  auto state = m_maintenance.to_json();
  state["frozen"] = m_maintenance.frozen(m_clock.now_unix_ms());
  state["held_incidents"] = m_maintenance_held;
  return state;
}

Result<void> Engine::restore_maintenance() {
  auto stored = m_store.get_engine_state(k_maintenance_state);
  if (!stored) {
    return fail(std::move(stored).error().context("restoring the maintenance state"));
  }
  if (!*stored) {
    return {};
  }
  try {
    auto restored = maintenance::Maintenance::from_json(nlohmann::json::parse(**stored));
    if (!restored) {
      return fail(std::move(restored).error());
    }
    m_maintenance = std::move(*restored);
    m_maintenance.expire(m_clock.now_unix_ms());
    return {};
  } catch (const nlohmann::json::exception& e) {
    // Unlike learned state, forgetting a window could restart what an operator is working
    // on: refuse to start rather than heal through a maintenance window.
    return fail(ErrorCode::storage,
                std::string("the stored maintenance state is unreadable: ") + e.what());
  }
}

} // namespace medic::coordinator::engine
