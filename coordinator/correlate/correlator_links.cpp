// SPDX-License-Identifier: Apache-2.0
// The Correlator's links: host groups (same_host), the dependency map, fleet incidents.
#include <algorithm>

#include "coordinator/correlate/correlate_text.hpp"
#include "coordinator/correlate/correlator.hpp"

namespace medic::coordinator::correlate {

namespace {

constexpr std::uint64_t k_percent = 100;

std::string fleet_member_sentence(const Incident& fleet) {
  return "member of fleet incident " + std::to_string(fleet.id) + " (" +
         std::to_string(fleet.fleet_hosts) + " hosts so far): not remediated on its own";
}

} // namespace

IncidentId Correlator::host_group_root(const Entry& entry, std::int64_t now_ms) const {
  const Incident& incident = entry.incident;
  const auto host = m_open_by_host.find(incident.host);
  if (incident.kind != IncidentKind::host || host == m_open_by_host.end()) {
    return 0;
  }
  const std::int64_t cutoff = now_ms - m_config.group_window.count();
  const HostKey own{incident.layer, entry.opened_ms, incident.id};
  // The first element at or after the cutoff of each layer, most fundamental layer first, is
  // the smallest (layer, opened, id) of the window.
  for (const Layer layer : {Layer::resource, Layer::dependency, Layer::service}) {
    for (auto at = host->second.lower_bound({layer, cutoff, 0});
         at != host->second.end() && std::get<0>(*at) == layer; ++at) {
      if (std::get<2>(*at) != incident.id) {
        return *at < own ? std::get<2>(*at) : 0;
      }
    }
  }
  return 0;
}

void Correlator::regroup_under(const Entry& root, std::int64_t now_ms, Events& events) {
  const Incident& incident = root.incident;
  const auto host = m_open_by_host.find(incident.host);
  if (incident.kind != IncidentKind::host || host == m_open_by_host.end() || root.host_root != 0) {
    return; // only a new root of its group takes the others over
  }
  const std::int64_t cutoff = now_ms - m_config.group_window.count();
  const HostKey own{incident.layer, root.opened_ms, incident.id};
  for (const Layer layer : {Layer::resource, Layer::dependency, Layer::service}) {
    for (auto at = host->second.lower_bound({layer, cutoff, 0});
         at != host->second.end() && std::get<0>(*at) == layer; ++at) {
      Entry* member = entry(std::get<2>(*at));
      if (!(own < *at) || member == nullptr || member->host_root == incident.id) {
        continue;
      }
      // A member already under a root more fundamental (or earlier) than this one stays there.
      if (const Entry* current = entry(member->host_root);
          current != nullptr && current->incident.state == IncidentState::open &&
          HostKey{current->incident.layer, current->opened_ms, current->incident.id} < own) {
        continue;
      }
      member->host_root = incident.id;
      if (relink(*member)) {
        emit_link(*member, events);
      }
    }
  }
}

IncidentId Correlator::deepest_dependency(const Entry& entry) const {
  const Incident& incident = entry.incident;
  if (incident.kind != IncidentKind::host || incident.service.empty() || m_graph.empty()) {
    return 0;
  }
  TimeKey best{0, 0};
  std::uint32_t best_depth = 0;
  for (const Reach& reach : m_graph.dependencies_of(incident.service)) { // deepest first
    if (reach.depth < best_depth) {
      break;
    }
    const auto open = m_open_by_service.find(reach.service);
    if (open == m_open_by_service.end() || open->second.empty()) {
      continue;
    }
    const TimeKey earliest = *open->second.begin();
    if (best_depth == 0 || earliest < best) {
      best = earliest;
      best_depth = reach.depth;
    }
  }
  return best.second;
}

void Correlator::relink_dependants(const std::string& service, Events& events) {
  if (service.empty() || m_graph.empty()) {
    return;
  }
  for (const auto& dependant : m_graph.dependants_of(service)) {
    const auto open = m_open_by_service.find(dependant);
    if (open == m_open_by_service.end()) {
      continue;
    }
    for (const auto& [opened_ms, id] : open->second) {
      Entry* member = entry(id);
      if (member == nullptr) {
        continue;
      }
      const IncidentId deepest = deepest_dependency(*member);
      if (deepest == member->dependency_root) {
        continue;
      }
      member->dependency_root = deepest;
      if (relink(*member)) {
        emit_link(*member, events);
      }
    }
  }
}

bool Correlator::relink(Entry& entry) {
  IncidentId root = 0;
  LinkReason link = LinkReason::none;
  if (entry.dependency_root != 0 && is_open(entry.dependency_root)) {
    root = entry.dependency_root;
    link = LinkReason::dependency;
  } else if (entry.fleet_root != 0 && is_open(entry.fleet_root)) {
    root = entry.fleet_root;
    link = LinkReason::fleet;
  } else if (entry.host_root != 0) {
    root = entry.host_root;
    link = LinkReason::same_host;
  }
  Incident& incident = entry.incident;
  const bool changed = root != incident.root_id || link != incident.link;
  incident.root_id = root;
  incident.link = link;
  return changed;
}

std::string Correlator::link_sentence(const Entry& linked) const {
  const Incident& incident = linked.incident;
  const Entry* root = entry(incident.root_id);
  const std::string id = std::to_string(incident.root_id);
  switch (incident.link) {
  case LinkReason::dependency:
    return "caused by incident " + id + " of service " +
           (root != nullptr ? root->incident.service : std::string("?")) + ", which service " +
           incident.service + " depends on: not remediated on its own";
  case LinkReason::fleet:
    return root != nullptr ? fleet_member_sentence(root->incident)
                           : "member of fleet incident " + id;
  case LinkReason::same_host:
    return "incident " + id +
           (root != nullptr ? " (" + std::string(to_string(root->incident.layer)) + " layer)"
                            : std::string()) +
           " on the same host is the probable root (informative: remediation goes on)";
  case LinkReason::none: break;
  }
  return "no longer linked: its root incident resolved";
}

void Correlator::emit_link(const Entry& linked, Events& events) {
  events.push_back({EventKind::linked, linked.incident, link_sentence(linked)});
}

void Correlator::track_fleet(Entry& member, AgentIndex agent, std::int64_t now_ms, Events& events) {
  const bool by_count = m_config.fleet_min_hosts >= 2;
  const bool by_percent = m_config.fleet_min_percent > 0 && !m_config.group_label.empty();
  if (member.incident.kind != IncidentKind::host || (!by_count && !by_percent)) {
    return;
  }
  const std::string& fingerprint = member.incident.fingerprint;
  auto window = m_fleet_windows.find(fingerprint);
  if (window == m_fleet_windows.end()) {
    if (m_fleet_windows.size() >= m_config.max_open) {
      return; // a flood of distinct fingerprints: not tracked rather than unbounded
    }
    window = m_fleet_windows.try_emplace(fingerprint).first;
  }
  window->second.expire(now_ms - m_config.fleet_window.count());
  const GroupIndex group = m_agents[agent].group;
  window->second.fire(agent, group, now_ms);
  const auto known = m_fleet_by_fingerprint.find(fingerprint);
  Entry* fleet = known == m_fleet_by_fingerprint.end() ? nullptr : entry(known->second);
  if (fleet == nullptr || fleet->incident.state != IncidentState::open) {
    if (fleet_reached(window->second, group)) {
      open_fleet(member, fleet, window->second, now_ms, events);
    }
    return;
  }
  if (join_fleet(*fleet, member)) {
    events.push_back(
        {EventKind::fleet_member, member.incident, fleet_member_sentence(fleet->incident)});
    return;
  }
  Incident& shared = fleet->incident;
  shared.count += 1;
  shared.last_seen_ms = std::max(shared.last_seen_ms, member.incident.last_seen_ms);
  if (text::worse(member.incident.severity, shared.severity)) {
    shared.severity = member.incident.severity;
    events.push_back({EventKind::severity_raised, shared,
                      "member " + member.incident.host + " fired at severity " +
                          std::string(protocol::to_string(shared.severity))});
  }
}

Correlator::Entry* Correlator::fleet_entry(const Entry& member, Entry* resolved_fleet,
                                           std::int64_t earliest_ms) {
  if (resolved_fleet != nullptr) {
    Incident& shared = resolved_fleet->incident;
    m_forget.erase({shared.resolved_ms, shared.id});
    shared.state = IncidentState::open;
    shared.resolved_ms = 0;
    shared.reopened += 1;
    shared.severity = member.incident.severity;
    return resolved_fleet;
  }
  const IncidentId id = m_next_id++;
  Entry& added = m_entries[id];
  Incident& shared = added.incident;
  const Incident& first = member.incident;
  shared.id = id;
  shared.kind = IncidentKind::fleet;
  shared.fingerprint = first.fingerprint;
  shared.service = first.service;
  shared.rule = first.rule;
  shared.category = first.category;
  shared.severity = first.severity;
  shared.layer = first.layer;
  shared.labels = first.labels;
  shared.message = first.message;
  shared.value = first.value;
  shared.first_seen_ms = earliest_ms;
  m_fleet_by_fingerprint[shared.fingerprint] = id;
  return &added;
}

void Correlator::open_fleet(Entry& member, Entry* resolved_fleet, const FleetWindow& window,
                            std::int64_t now_ms, Events& events) {
  if (m_open >= m_config.max_open) {
    ++m_dropped;
    return;
  }
  const bool reopening = resolved_fleet != nullptr;
  Entry& fleet = *fleet_entry(member, resolved_fleet, window.earliest_ms());
  fleet.opened_ms = now_ms;
  index_open(fleet);
  const bool flapping = note_opening(fleet, now_ms);
  std::vector<Entry*> joined;
  for (const AgentIndex agent : window.agents()) {
    const auto key = m_by_key.find(host_key(m_agents[agent].id, fleet.incident.fingerprint));
    Entry* host = key == m_by_key.end() ? nullptr : entry(key->second);
    if (host != nullptr && host->incident.state == IncidentState::open &&
        join_fleet(fleet, *host)) {
      joined.push_back(host);
    }
  }
  std::string detail = std::string(reopening ? "reopened: " : "") + "fingerprint " +
                       fleet.incident.fingerprint + " fired on " + std::to_string(window.hosts()) +
                       " hosts within " + text::duration(m_config.fleet_window.count());
  const GroupIndex group = m_agents[member.agent].group;
  if (const std::string* name = text::label(member.incident.labels, m_config.group_label);
      group != 0 && name != nullptr) {
    detail += " (" + std::to_string(window.hosts_in(group)) + " of the " +
              std::to_string(m_group_sizes[group]) + " hosts of group " + *name + ")";
  }
  events.push_back({EventKind::fleet_opened, fleet.incident,
                    detail + ": one fleet incident, no per-host remediation"});
  for (const Entry* host : joined) {
    events.push_back(
        {EventKind::fleet_member, host->incident, fleet_member_sentence(fleet.incident)});
  }
  if (flapping) {
    events.push_back({EventKind::flapping, fleet.incident, flapping_sentence()});
  }
}

bool Correlator::fleet_reached(const FleetWindow& window, GroupIndex group) const {
  if (m_config.fleet_min_hosts >= 2 && window.hosts() >= m_config.fleet_min_hosts) {
    return true;
  }
  if (m_config.fleet_min_percent == 0 || group == 0 || group >= m_group_sizes.size()) {
    return false;
  }
  const std::uint64_t size = m_group_sizes[group];
  const std::uint64_t firing = window.hosts_in(group);
  return size >= 2 && firing >= 2 && firing * k_percent >= m_config.fleet_min_percent * size;
}

bool Correlator::join_fleet(Entry& fleet, Entry& member) {
  Incident& shared = fleet.incident;
  if (member.counted_in_fleet && member.fleet_root == shared.id) {
    return false;
  }
  if (member.fleet_root != shared.id) {
    member.fleet_root = shared.id;
    ++shared.fleet_hosts;
  }
  member.counted_in_fleet = true;
  ++fleet.open_members;
  shared.count += member.incident.count;
  shared.last_seen_ms = std::max(shared.last_seen_ms, member.incident.last_seen_ms);
  if (text::worse(member.incident.severity, shared.severity)) {
    shared.severity = member.incident.severity;
  }
  relink(member);
  return true;
}

} // namespace medic::coordinator::correlate
