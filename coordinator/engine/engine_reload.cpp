// SPDX-License-Identifier: Apache-2.0
// Engine::reload: a checked config swapped in on the loop thread (SIGHUP, `medicctl reload`).
#include <spdlog/spdlog.h>

#include "coordinator/engine/engine.hpp"

namespace medic::coordinator::engine {

void Engine::reload(EngineConfig next, Sinks sinks, const std::string& actor,
                    const std::string& summary) {
  const std::int64_t now_ms = m_clock.now_unix_ms();
  m_rules = std::move(next.diagnose.rules);
  next.diagnose.rules = {};
  // FleetView was sized by it at start: kept until a restart.
  next.diagnose.recent_window = m_config.diagnose.recent_window;
  m_correlator.reconfigure(next.correlation);
  m_learner.reconfigure(next.learn);
  m_planner.reconfigure(next.plan);
  if (next.plan.dry_run != m_config.plan.dry_run) {
    set_dry_run(next.plan.dry_run, actor); // the file's new value; an operator's switch else
  }
  if (sinks == Sinks::rebuild) {
    if (m_escalator) {
      m_escalator->stop();
    }
    drain_escalations(now_ms); // audit what the old sinks delivered before they go
    m_escalator = escalate::make_escalator(next.escalation);
  }
  m_config = std::move(next);
  audit(0, now_ms, actor, "reload", summary,
        {{"rules", m_rules.size()}, {"rules_origin", m_rules.origin()}});
}

} // namespace medic::coordinator::engine
