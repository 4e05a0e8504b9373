// SPDX-License-Identifier: Apache-2.0
// The Correlator's table of incidents: forgetting, restore() and the read accessors.
#include <algorithm>
#include <limits>

#include "coordinator/correlate/correlator.hpp"

namespace medic::coordinator::correlate {

void Correlator::forget(IncidentId id) {
  const auto it = m_entries.find(id);
  if (it == m_entries.end() || it->second.incident.state == IncidentState::open) {
    return;
  }
  const Incident& incident = it->second.incident;
  m_forget.erase({incident.resolved_ms, id});
  if (incident.kind == IncidentKind::fleet) {
    if (auto fleet = m_fleet_by_fingerprint.find(incident.fingerprint);
        fleet != m_fleet_by_fingerprint.end() && fleet->second == id) {
      m_fleet_by_fingerprint.erase(fleet);
    }
  } else if (auto key = m_by_key.find(host_key(incident.agent_id, incident.fingerprint));
             key != m_by_key.end() && key->second == id) {
    m_by_key.erase(key);
  }
  m_entries.erase(it);
}

void Correlator::keep_resolved_bounded() {
  while (m_entries.size() - m_open >= m_config.max_open && !m_forget.empty()) {
    forget(m_forget.begin()->second);
  }
}

Correlator::Entry* Correlator::entry(IncidentId id) {
  const auto it = m_entries.find(id);
  return it == m_entries.end() ? nullptr : &it->second;
}

const Correlator::Entry* Correlator::entry(IncidentId id) const {
  const auto it = m_entries.find(id);
  return it == m_entries.end() ? nullptr : &it->second;
}

bool Correlator::is_open(IncidentId id) const {
  const Entry* found = entry(id);
  return found != nullptr && found->incident.state == IncidentState::open;
}

std::vector<Incident> Correlator::incidents_in(IncidentState state) const {
  std::vector<Incident> out;
  for (const auto& [id, kept] : m_entries) {
    if (kept.incident.state == state) {
      out.push_back(kept.incident);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Incident& a, const Incident& b) { return a.id < b.id; });
  return out;
}

const Incident* Correlator::find(IncidentId id) const {
  const Entry* found = entry(id);
  return found == nullptr ? nullptr : &found->incident;
}

std::vector<Incident> Correlator::open_incidents() const {
  return incidents_in(IncidentState::open);
}

std::vector<Incident> Correlator::resolved_incidents() const {
  return incidents_in(IncidentState::resolved);
}

bool Correlator::inhibited(const Incident& incident) const {
  // Our own entry has the latest link; a snapshot from an older event may not.
  const Entry* known = entry(incident.id);
  const Incident& latest = known != nullptr ? known->incident : incident;
  return (latest.link == LinkReason::dependency || latest.link == LinkReason::fleet) &&
         is_open(latest.root_id);
}

void Correlator::restore(std::vector<Incident> incidents, IncidentId next_id) {
  m_entries.clear();
  m_by_key.clear();
  m_fleet_by_fingerprint.clear();
  m_open_by_host.clear();
  m_open_by_service.clear();
  m_quiet.clear();
  m_forget.clear();
  m_fleet_windows.clear();
  m_open = 0;
  m_next_id = std::max<IncidentId>(next_id, 1);
  for (auto& incident : incidents) {
    if (incident.id == 0 || m_entries.contains(incident.id)) {
      continue; // not an incident the store could have given: nothing to fold into
    }
    m_next_id = std::max(m_next_id, incident.id + 1);
    Entry& kept = m_entries[incident.id];
    kept.incident = std::move(incident);
    kept.opened_ms = kept.incident.last_seen_ms;
    const IncidentId root = kept.incident.root_id;
    switch (kept.incident.link) {
    case LinkReason::same_host: kept.host_root = root; break;
    case LinkReason::dependency: kept.dependency_root = root; break;
    case LinkReason::fleet: kept.fleet_root = root; break;
    case LinkReason::none: break;
    }
    restore_keys(kept);
  }
  restore_fleet_members();
}

void Correlator::restore_keys(Entry& kept) {
  const Incident& incident = kept.incident;
  auto& index = incident.kind == IncidentKind::fleet ? m_fleet_by_fingerprint : m_by_key;
  const std::string& key = incident.kind == IncidentKind::fleet
                               ? incident.fingerprint
                               : host_key(incident.agent_id, incident.fingerprint);
  // Two incidents of one key (an old resolved one and a newer one): the open one, else the
  // newest, is the one signals fold into; the other is only forgotten in time.
  auto [it, added] = index.try_emplace(key, incident.id);
  if (!added && !is_open(it->second) &&
      (incident.state == IncidentState::open || incident.id > it->second)) {
    it->second = incident.id;
  }
  if (incident.state == IncidentState::open) {
    index_open(kept);
  } else {
    m_forget.emplace(incident.resolved_ms, incident.id);
  }
}

// Counts the open members of every open fleet incident; a fleet incident left without one
// resolves on the next tick().
void Correlator::restore_fleet_members() {
  for (auto& [id, kept] : m_entries) {
    if (kept.incident.state != IncidentState::open || kept.fleet_root == 0) {
      continue;
    }
    if (Entry* fleet = entry(kept.fleet_root);
        fleet != nullptr && fleet->incident.state == IncidentState::open) {
      kept.counted_in_fleet = true;
      ++fleet->open_members;
    }
  }
  for (const auto& [id, kept] : m_entries) {
    if (kept.incident.kind == IncidentKind::fleet && kept.incident.state == IncidentState::open &&
        kept.open_members == 0) {
      m_quiet.emplace(std::numeric_limits<std::int64_t>::min(), id);
    }
  }
}

} // namespace medic::coordinator::correlate
