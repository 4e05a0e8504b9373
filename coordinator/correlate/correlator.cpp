// SPDX-License-Identifier: Apache-2.0
// The Correlator's folding and incident life cycle; the links are in correlator_links.cpp.
#include "coordinator/correlate/correlator.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "coordinator/correlate/correlate_text.hpp"

namespace medic::coordinator::correlate {

namespace {

constexpr std::int64_t k_never = std::numeric_limits<std::int64_t>::min();

std::int64_t seen_ms(const SignalInput& input, std::int64_t now_ms) noexcept {
  return input.received_ms != 0 ? input.received_ms : now_ms;
}

void take_latest(Incident& incident, const SignalInput& input, std::int64_t now_ms) {
  incident.count += 1;
  incident.last_seen_ms = std::max(incident.last_seen_ms, seen_ms(input, now_ms));
  incident.message = input.signal.message;
  incident.value = input.signal.value;
}

} // namespace

std::string_view to_string(EventKind kind) noexcept {
  switch (kind) {
  case EventKind::opened: return "opened";
  case EventKind::folded: return "folded";
  case EventKind::severity_raised: return "severity_raised";
  case EventKind::cleared: return "cleared";
  case EventKind::resolved: return "resolved";
  case EventKind::reopened: return "reopened";
  case EventKind::linked: return "linked";
  case EventKind::fleet_opened: return "fleet_opened";
  case EventKind::fleet_member: return "fleet_member";
  case EventKind::flapping: return "flapping";
  }
  return "unknown";
}

Correlator::Correlator(CorrelationConfig config)
    : m_config(std::move(config)), m_graph(m_config.dependencies) {}

void Correlator::reconfigure(const CorrelationConfig& config) {
  std::string group_label = std::move(m_config.group_label);
  m_config = config;
  m_config.group_label = std::move(group_label);
  m_graph = DependencyGraph(m_config.dependencies);
}

std::vector<IncidentEvent> Correlator::on_signal(const SignalInput& input, std::int64_t now_ms) {
  Events events;
  const AgentIndex agent = know_agent(input.agent_id, input.host, input.agent_labels);
  if (input.signal.state == protocol::SignalState::firing) {
    fire(input, agent, now_ms, events);
  } else {
    clear(input, now_ms, events);
  }
  return events;
}

void Correlator::set_agents(std::span<const KnownAgent> agents) {
  for (const auto& agent : agents) {
    know_agent(agent.agent_id, agent.host, agent.labels);
  }
}

AgentIndex Correlator::know_agent(std::string_view id, std::string_view host,
                                  const std::vector<protocol::Label>& labels) {
  GroupIndex group = 0;
  if (const std::string* name = text::label(labels, m_config.group_label);
      name != nullptr && !m_config.group_label.empty() && !name->empty()) {
    const auto [it, added] =
        m_group_index.try_emplace(*name, static_cast<GroupIndex>(m_group_sizes.size()));
    if (added) {
      m_group_sizes.push_back(0);
    }
    group = it->second;
  }
  m_key.assign(id);
  auto [it, added] = m_agent_index.try_emplace(m_key, static_cast<AgentIndex>(m_agents.size()));
  if (added) {
    m_agents.push_back({std::string(id), std::string(host), 0});
  }
  AgentInfo& info = m_agents[it->second];
  if (added || info.group != group) {
    if (!added && info.group != 0) {
      --m_group_sizes[info.group];
    }
    if (group != 0) {
      ++m_group_sizes[group];
    }
    info.group = group;
  }
  if (info.host != host) {
    info.host.assign(host);
  }
  return it->second;
}

const std::string& Correlator::host_key(std::string_view agent, std::string_view fingerprint) {
  m_key.assign(agent);
  m_key.push_back('\x1f');
  m_key.append(fingerprint);
  return m_key;
}

void Correlator::fire(const SignalInput& input, AgentIndex agent, std::int64_t now_ms,
                      Events& events) {
  const auto found = m_by_key.find(host_key(input.agent_id, text::fingerprint(input.signal)));
  Entry* current = found == m_by_key.end() ? nullptr : entry(found->second);
  if (current != nullptr && current->incident.state == IncidentState::open) {
    fold(*current, input, now_ms, events);
  } else if (current != nullptr) {
    if (m_open >= m_config.max_open) {
      ++m_dropped;
      return;
    }
    reopen(*current, input, now_ms, events);
  } else {
    current = open_new(input, agent, now_ms, events);
  }
  if (current != nullptr) {
    current->agent = agent; // restored incidents learn it here
    track_fleet(*current, agent, now_ms, events);
  }
}

Correlator::Entry* Correlator::open_new(const SignalInput& input, AgentIndex agent,
                                        std::int64_t now_ms, Events& events) {
  if (m_open >= m_config.max_open) {
    ++m_dropped;
    return nullptr;
  }
  keep_resolved_bounded();
  const IncidentId id = m_next_id++;
  Entry& added = m_entries[id];
  Incident& incident = added.incident;
  incident.id = id;
  incident.fingerprint = text::fingerprint(input.signal);
  incident.agent_id = input.agent_id;
  incident.host = input.host;
  incident.service = text::service(input);
  incident.rule = input.signal.rule;
  incident.category = input.signal.category;
  incident.severity = input.signal.severity;
  incident.layer = text::layer(input);
  incident.labels = text::merged_labels(input);
  incident.first_seen_ms = seen_ms(input, now_ms);
  take_latest(incident, input, now_ms);
  added.opened_ms = now_ms;
  added.agent = agent;
  m_by_key.emplace(host_key(incident.agent_id, incident.fingerprint), id);
  index_open(added);
  after_opening(added, now_ms, EventKind::opened,
                "signal " + incident.rule + " opened an incident on " + incident.host, events);
  return &added;
}

void Correlator::fold(Entry& entry, const SignalInput& input, std::int64_t now_ms, Events& events) {
  Incident& incident = entry.incident;
  take_latest(incident, input, now_ms);
  const protocol::Severity was = incident.severity;
  const bool raised = text::worse(input.signal.severity, was);
  if (raised) {
    incident.severity = input.signal.severity;
  }
  std::string detail = "signal " + input.signal.rule + " fired again";
  if (entry.quiet_deadline_ms != 0) {
    m_quiet.erase({entry.quiet_deadline_ms, incident.id});
    entry.quiet_deadline_ms = 0;
    detail += " during its quiet period (stays open)";
  }
  if (raised) {
    detail += " at severity " + std::string(protocol::to_string(incident.severity)) + " (was " +
              std::string(protocol::to_string(was)) + ")";
  }
  detail += " (count " + std::to_string(incident.count) + ")";
  events.push_back(
      {raised ? EventKind::severity_raised : EventKind::folded, incident, std::move(detail)});
}

void Correlator::reopen(Entry& entry, const SignalInput& input, std::int64_t now_ms,
                        Events& events) {
  Incident& incident = entry.incident;
  m_forget.erase({incident.resolved_ms, incident.id});
  const std::int64_t resolved_ago = now_ms - incident.resolved_ms;
  incident.state = IncidentState::open;
  incident.resolved_ms = 0;
  incident.reopened += 1;
  incident.severity = input.signal.severity;
  take_latest(incident, input, now_ms);
  entry.opened_ms = now_ms;
  index_open(entry);
  after_opening(entry, now_ms, EventKind::reopened,
                "signal " + input.signal.rule + " fired again " + text::duration(resolved_ago) +
                    " after the incident resolved: reopened (time " +
                    std::to_string(incident.reopened) + ")",
                events);
}

void Correlator::after_opening(Entry& entry, std::int64_t now_ms, EventKind kind,
                               std::string detail, Events& events) {
  const bool flapping = note_opening(entry, now_ms);
  entry.host_root = host_group_root(entry, now_ms);
  entry.dependency_root = deepest_dependency(entry);
  relink(entry);
  if (entry.incident.link != LinkReason::none) {
    detail += "; " + link_sentence(entry);
  }
  events.push_back({kind, entry.incident, std::move(detail)});
  regroup_under(entry, now_ms, events);
  relink_dependants(entry.incident.service, events);
  if (flapping) {
    events.push_back({EventKind::flapping, entry.incident, flapping_sentence()});
  }
}

std::string Correlator::flapping_sentence() const {
  return "opened " + std::to_string(m_config.flap_count + 1) + " times within " +
         text::duration(m_config.flap_window.count()) + ": flapping (remediation stops; escalate)";
}

bool Correlator::note_opening(Entry& entry, std::int64_t now_ms) {
  if (entry.openings.empty()) {
    entry.openings.assign(m_config.flap_count + 1, k_never);
    entry.next_opening = 0;
  }
  entry.openings[entry.next_opening] = now_ms;
  entry.next_opening = (entry.next_opening + 1) % entry.openings.size();
  const std::int64_t oldest = entry.openings[entry.next_opening];
  if (entry.incident.flapping || oldest == k_never ||
      now_ms - oldest > m_config.flap_window.count()) {
    return false;
  }
  entry.incident.flapping = true;
  return true;
}

void Correlator::clear(const SignalInput& input, std::int64_t now_ms, Events& events) {
  const auto found = m_by_key.find(host_key(input.agent_id, text::fingerprint(input.signal)));
  Entry* current = found == m_by_key.end() ? nullptr : entry(found->second);
  if (current == nullptr || current->incident.state != IncidentState::open) {
    return;
  }
  const std::int64_t quiet = m_config.quiet_period.count();
  if (quiet == 0) {
    events.push_back({EventKind::cleared, current->incident,
                      "signal " + input.signal.rule + " cleared (no quiet period)"});
    resolve(*current, now_ms, "its signal cleared", events);
    return;
  }
  if (current->quiet_deadline_ms == 0) { // a repeated clear does not push the deadline out
    current->quiet_deadline_ms = now_ms + quiet;
    m_quiet.emplace(current->quiet_deadline_ms, current->incident.id);
  }
  events.push_back({EventKind::cleared, current->incident,
                    "signal " + input.signal.rule + " cleared; the incident resolves after " +
                        text::duration(quiet) + " without a new firing"});
}

std::vector<IncidentEvent> Correlator::tick(std::int64_t now_ms) {
  Events events;
  while (!m_quiet.empty() && m_quiet.begin()->first <= now_ms) {
    const IncidentId id = m_quiet.begin()->second;
    m_quiet.erase(m_quiet.begin());
    Entry* due = entry(id);
    if (due != nullptr && (due->incident.kind == IncidentKind::host || due->open_members == 0)) {
      due->quiet_deadline_ms = 0;
      resolve(*due, now_ms,
              due->incident.kind == IncidentKind::fleet
                  ? std::string("no member host incident is open")
                  : "no firing signal for " + text::duration(m_config.quiet_period.count()) +
                        " after it cleared",
              events);
    }
  }
  const std::int64_t reopen = m_config.reopen_window.count();
  while (!m_forget.empty() && m_forget.begin()->first <= now_ms - reopen) {
    forget(m_forget.begin()->second);
  }
  const std::int64_t fleet_cutoff = now_ms - m_config.fleet_window.count();
  for (auto it = m_fleet_windows.begin(); it != m_fleet_windows.end();) {
    it->second.expire(fleet_cutoff);
    it = it->second.empty() ? m_fleet_windows.erase(it) : std::next(it);
  }
  keep_resolved_bounded();
  return events;
}

void Correlator::resolve(Entry& entry, std::int64_t now_ms, std::string reason, Events& events) {
  Incident& incident = entry.incident;
  if (incident.state != IncidentState::open) {
    return;
  }
  if (entry.quiet_deadline_ms != 0) {
    m_quiet.erase({entry.quiet_deadline_ms, incident.id});
    entry.quiet_deadline_ms = 0;
  }
  unindex_open(entry);
  incident.state = IncidentState::resolved;
  incident.resolved_ms = now_ms;
  m_forget.emplace(now_ms, incident.id);
  events.push_back({EventKind::resolved, incident, "resolved: " + std::move(reason)});
  if (entry.counted_in_fleet) {
    entry.counted_in_fleet = false;
    Entry* fleet = this->entry(entry.fleet_root);
    if (fleet != nullptr && fleet->open_members > 0 && --fleet->open_members == 0) {
      resolve(*fleet, now_ms, "every member host incident resolved", events);
    }
  }
  relink_dependants(incident.service, events);
}

void Correlator::index_open(Entry& entry) {
  ++m_open;
  const Incident& incident = entry.incident;
  if (incident.kind != IncidentKind::host) {
    return;
  }
  m_open_by_host[incident.host].emplace(incident.layer, entry.opened_ms, incident.id);
  if (!incident.service.empty()) {
    m_open_by_service[incident.service].emplace(entry.opened_ms, incident.id);
  }
}

void Correlator::unindex_open(const Entry& entry) {
  --m_open;
  const Incident& incident = entry.incident;
  if (incident.kind != IncidentKind::host) {
    return;
  }
  if (auto it = m_open_by_host.find(incident.host); it != m_open_by_host.end()) {
    it->second.erase({incident.layer, entry.opened_ms, incident.id});
    if (it->second.empty()) {
      m_open_by_host.erase(it);
    }
  }
  if (auto it = m_open_by_service.find(incident.service); it != m_open_by_service.end()) {
    it->second.erase({entry.opened_ms, incident.id});
    if (it->second.empty()) {
      m_open_by_service.erase(it);
    }
  }
}

} // namespace medic::coordinator::correlate
