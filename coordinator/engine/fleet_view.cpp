// SPDX-License-Identifier: Apache-2.0
#include "coordinator/engine/fleet_view.hpp"

#include <algorithm>

#include "coordinator/storage/store.hpp"

namespace medic::coordinator::engine {

namespace {

template <class Item>
void push_bounded(std::deque<Item>& items, Item item, std::size_t bound) {
  items.push_back(std::move(item));
  while (items.size() > bound) {
    items.pop_front();
  }
}

// At most `bytes` of `text`, never splitting a UTF-8 sequence.
std::string cut(const std::string& text, std::size_t bytes) {
  if (text.size() <= bytes) {
    return text;
  }
  std::size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
    --end;
  }
  return text.substr(0, end) + "...";
}

} // namespace

AgentView* FleetView::agent(const std::string& agent_id) {
  const auto it = m_agents.find(agent_id);
  if (it != m_agents.end()) {
    return &it->second;
  }
  if (m_agents.size() >= m_limits.max_agents) {
    ++m_dropped_agents;
    return nullptr;
  }
  return &m_agents[agent_id];
}

const AgentView* FleetView::find(const std::string& agent_id) const {
  const auto it = m_agents.find(agent_id);
  return it == m_agents.end() ? nullptr : &it->second;
}

void FleetView::hello(const std::string& agent_id, const protocol::Hello& hello) {
  AgentView* view = agent(agent_id);
  if (view == nullptr) {
    return;
  }
  if (!view->host.empty() && view->host != hello.host) {
    const auto it = m_by_host.find(view->host);
    if (it != m_by_host.end() && it->second == agent_id) {
      m_by_host.erase(it);
    }
  }
  view->host = hello.host;
  view->labels = hello.labels;
  view->catalog = hello.actions;
  view->greeted = true;
  if (!hello.host.empty()) {
    m_by_host[hello.host] = agent_id;
  }
}

std::unordered_map<std::string, std::vector<protocol::ActionSchema>> FleetView::catalogs() const {
  std::unordered_map<std::string, std::vector<protocol::ActionSchema>> out;
  for (const auto& [id, view] : m_agents) {
    if (view.greeted) {
      out.emplace(id, view.catalog);
    }
  }
  return out;
}

std::string FleetView::agent_for_host(const std::string& host) const {
  const auto it = m_by_host.find(host);
  return it == m_by_host.end() ? std::string{} : it->second;
}

void FleetView::batch(const std::string& agent_id, const protocol::Batch& batch,
                      std::int64_t now_ms) {
  AgentView* view = agent(agent_id);
  if (view == nullptr) {
    return;
  }
  view->last_batch_ms = now_ms;
  for (const auto& sample : batch.samples) {
    auto key = std::make_pair(sample.name, storage::canonical_labels(sample.labels));
    const auto it = view->metrics.find(key);
    if (it != view->metrics.end()) {
      it->second.value = sample.value;
    } else if (view->metrics.size() < m_limits.max_metrics) {
      diagnose::MetricValue value{key.first, key.second, sample.value};
      view->metrics.emplace(std::move(key), std::move(value));
    }
  }
  for (const auto& event : batch.logs) {
    if (event.template_id) {
      push_bounded(view->templates, *event.template_id, m_limits.max_templates);
    }
    if (!event.rule.empty()) {
      push_bounded(view->log_rules, event.rule, m_limits.max_templates);
    }
    if (!event.rule.empty() || event.kind == protocol::LogEventKind::gap) {
      protocol::LogEvent kept = event;
      kept.text = cut(kept.text, m_limits.max_text_bytes);
      push_bounded(view->log_lines, std::move(kept), m_limits.max_log_lines);
    }
  }
  for (const auto& evidence : batch.evidence) {
    protocol::Evidence kept = evidence;
    kept.output = cut(kept.output, m_limits.max_text_bytes);
    push_bounded(view->evidence, std::move(kept), m_limits.max_evidence);
  }
  for (const auto& result : batch.results) {
    recovery(agent_id, result);
  }
}

void FleetView::recovery(const std::string& agent_id, const protocol::CommandResult& result) {
  AgentView* view = agent(agent_id);
  if (view == nullptr || result.action.empty()) {
    return;
  }
  view->recoveries.push_front({result.action, result.status, result.started_ms});
  while (view->recoveries.size() > m_limits.max_recoveries) {
    view->recoveries.pop_back();
  }
}

void FleetView::incident_opened(const std::string& agent_id, std::int64_t now_ms) {
  if (AgentView* view = agent(agent_id); view != nullptr) {
    push_bounded(view->incident_opens, now_ms, m_limits.max_opens);
  }
}

diagnose::DiagnosisInput FleetView::diagnosis_input(const correlate::Incident& incident,
                                                    std::int64_t now_ms) const {
  diagnose::DiagnosisInput input;
  input.incident = incident;
  const AgentView* view = find(incident.agent_id);
  if (view == nullptr) {
    return input;
  }
  input.metrics.reserve(view->metrics.size());
  for (const auto& [key, value] : view->metrics) {
    input.metrics.push_back(value);
  }
  input.log_templates.assign(view->templates.begin(), view->templates.end());
  input.log_rules.assign(view->log_rules.begin(), view->log_rules.end());
  input.recent_incidents = static_cast<std::uint32_t>(
      std::count_if(view->incident_opens.begin(), view->incident_opens.end(),
                    [&](std::int64_t t) { return now_ms - t <= m_limits.recent_window_ms; }));
  input.recent_recoveries.assign(view->recoveries.begin(), view->recoveries.end());
  return input;
}

std::vector<std::pair<std::string, std::vector<protocol::Label>>> FleetView::agents() const {
  std::vector<std::pair<std::string, std::vector<protocol::Label>>> list;
  list.reserve(m_agents.size());
  for (const auto& [id, view] : m_agents) {
    list.emplace_back(id, view.labels);
  }
  return list;
}

} // namespace medic::coordinator::engine
