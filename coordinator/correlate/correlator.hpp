// SPDX-License-Identifier: Apache-2.0
// Folds the fleet's signals into incidents and links incidents to their probable root: a pure
// engine (values in, events out, time passed in as Unix ms; no I/O, no threads). Called from one
// thread only (the coordinator's engine); not thread-safe.
//
// Folding: a firing signal folds into the open incident of its (agent, fingerprint), or reopens
// the same incident if that resolved less than correlation.reopen_window ago. A `cleared` signal
// starts the quiet period; tick() resolves the incident when no firing arrived during it.
//
// Links (Incident::root_id / link), strongest first; only the first two inhibit remediation:
// - dependency: the incident's service depends (config `dependencies`, transitively) on a service
//   with an open incident on any host; the deepest such dependency is the root. Works in both
//   orders; when that root resolves, the link moves to the next open one or goes away.
// - fleet: the fingerprint fired on correlation.fleet_min_hosts hosts, or fleet_min_percent % of
//   a host group, within correlation.fleet_window: one fleet incident, every member linked.
// - same_host: the most fundamental (resource < dependency < service), then earliest, incident
//   of the host opened within correlation.group_window. Informative only, it does NOT inhibit: a
//   CPU spike on a host must not stop a crashed service there from being restarted. The link
//   stays as a record of the group after that root resolves.
//
// Cost: a fold is a few hash lookups; an opening also walks the host's incidents of the group
// window and the dependants' open incidents (each of those walks emits an event per step).
// Memory: at most correlation.max_open open and as many resolved incidents.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "coordinator/correlate/correlation_config.hpp"
#include "coordinator/correlate/dependency_graph.hpp"
#include "coordinator/correlate/fleet_window.hpp"
#include "coordinator/correlate/incident.hpp"
#include "protocol/message.hpp"

namespace medic::coordinator::correlate {

// One signal as ingest stored it.
struct SignalInput {
  std::string agent_id;
  std::string host;
  std::vector<protocol::Label> agent_labels; // from the agent's HELLO (service, group, layer...)
  protocol::Signal signal;
  std::int64_t received_ms = 0; // first_seen/last_seen; 0: now_ms
};

// An agent the coordinator knows (enrolled or seen): for the host groups' sizes.
struct KnownAgent {
  std::string agent_id;
  std::string host;
  std::vector<protocol::Label> labels;
};

enum class EventKind : std::uint8_t {
  opened,          // a new incident
  folded,          // a firing signal folded into an open incident
  severity_raised, // ... at a worse severity than seen so far
  cleared,         // a `cleared` signal: the quiet period started
  resolved,        // quiet period over (or, for a fleet incident, its last member resolved)
  reopened,        // fired again within the reopen window: same id, reopened++
  linked,          // root_id / link changed (also to none) after the incident was opened
  fleet_opened,    // a fleet incident opened (or reopened)
  fleet_member,    // a host incident joined a fleet incident (snapshot: the member)
  flapping,        // marked flapping (once per incident)
};

[[nodiscard]] std::string_view to_string(EventKind kind) noexcept; // "opened", ...

struct IncidentEvent {
  EventKind kind = EventKind::opened;
  Incident incident;  // snapshot after the change
  std::string detail; // a plain sentence for the audit trail
};

class Correlator {
public:
  // `config` should have passed finish_correlation.
  explicit Correlator(CorrelationConfig config);

  // Events in the order things happened; empty for a clear nothing waits for, or a dropped
  // signal (see dropped()). A signal without fingerprint folds under its rule name.
  [[nodiscard]] std::vector<IncidentEvent> on_signal(const SignalInput& input, std::int64_t now_ms);
  // Call about once a second: resolves incidents whose quiet period ended, forgets resolved
  // ones past the reopen window, and expires the fleet windows.
  [[nodiscard]] std::vector<IncidentEvent> tick(std::int64_t now_ms);

  // Adds or updates agents (group label from correlation.group_label); the group sizes for the
  // fleet percentage count every agent given here or seen in a signal. Never removes one.
  void set_agents(std::span<const KnownAgent> agents);

  // Start-up: the store's open and recently resolved incidents, and the next id to give (raised
  // above the largest restored id). Replaces all state but the known agents. Quiet periods in
  // progress and fleet windows are not restored: an open incident waits for its next clear.
  void restore(std::vector<Incident> incidents, IncidentId next_id);
  // A config reload: the windows, fleet and flapping thresholds, max_open and the dependency
  // map apply from now on (links already made stay until the incident is relinked);
  // group_label is kept (the known agents' groups were counted by it: a restart changes it).
  void reconfigure(const CorrelationConfig& config);

  [[nodiscard]] const Incident* find(IncidentId id) const;
  [[nodiscard]] std::vector<Incident> open_incidents() const;     // by id
  [[nodiscard]] std::vector<Incident> resolved_incidents() const; // still reopenable, by id
  // Linked by dependency or fleet to a root that is still open: not remediated on its own.
  [[nodiscard]] bool inhibited(const Incident& incident) const;

  [[nodiscard]] std::size_t open_count() const noexcept { return m_open; }
  // Signals of a new fingerprint refused because correlation.max_open incidents were open.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return m_dropped; }
  [[nodiscard]] IncidentId next_id() const noexcept { return m_next_id; }
  [[nodiscard]] const CorrelationConfig& config() const noexcept { return m_config; }

private:
  using Events = std::vector<IncidentEvent>;
  using HostKey = std::tuple<Layer, std::int64_t, IncidentId>; // (layer, opened, id)
  using TimeKey = std::pair<std::int64_t, IncidentId>;

  struct Entry {
    Incident incident;
    std::int64_t opened_ms = 0;         // first opening or latest reopening (now_ms)
    std::int64_t quiet_deadline_ms = 0; // 0: no clear pending
    IncidentId host_root = 0;
    IncidentId dependency_root = 0;
    IncidentId fleet_root = 0;
    std::uint32_t open_members = 0;     // fleet incidents: counted members still open
    bool counted_in_fleet = false;      // host incidents: counted in fleet_root's open_members
    AgentIndex agent = 0;               // host incidents
    std::vector<std::int64_t> openings; // ring of the last flap_count + 1 openings
    std::size_t next_opening = 0;
  };
  struct AgentInfo {
    std::string id;
    std::string host;
    GroupIndex group = 0;
  };

  // correlator.cpp: folding and the incident life cycle.
  AgentIndex know_agent(std::string_view id, std::string_view host,
                        const std::vector<protocol::Label>& labels);
  void fire(const SignalInput& input, AgentIndex agent, std::int64_t now_ms, Events& events);
  void clear(const SignalInput& input, std::int64_t now_ms, Events& events);
  Entry* open_new(const SignalInput& input, AgentIndex agent, std::int64_t now_ms, Events& events);
  void fold(Entry& entry, const SignalInput& input, std::int64_t now_ms, Events& events);
  void reopen(Entry& entry, const SignalInput& input, std::int64_t now_ms, Events& events);
  void after_opening(Entry& entry, std::int64_t now_ms, EventKind kind, std::string detail,
                     Events& events);
  bool note_opening(Entry& entry, std::int64_t now_ms); // true: it just became flapping
  [[nodiscard]] std::string flapping_sentence() const;
  void resolve(Entry& entry, std::int64_t now_ms, std::string reason, Events& events);
  void index_open(Entry& entry);
  void unindex_open(const Entry& entry);
  // Into m_key: valid until the next call.
  const std::string& host_key(std::string_view agent, std::string_view fingerprint);

  // correlator_state.cpp: the entries' table, restore() and the accessors.
  void forget(IncidentId id); // a resolved incident only
  void keep_resolved_bounded();
  Entry* entry(IncidentId id);
  [[nodiscard]] const Entry* entry(IncidentId id) const;
  [[nodiscard]] bool is_open(IncidentId id) const;
  [[nodiscard]] std::vector<Incident> incidents_in(IncidentState state) const;
  void restore_keys(Entry& kept);
  void restore_fleet_members();

  // correlator_links.cpp: host groups, dependencies, fleets.
  [[nodiscard]] IncidentId host_group_root(const Entry& entry, std::int64_t now_ms) const;
  void regroup_under(const Entry& root, std::int64_t now_ms, Events& events);
  [[nodiscard]] std::string link_sentence(const Entry& entry) const;
  [[nodiscard]] IncidentId deepest_dependency(const Entry& entry) const;
  void relink_dependants(const std::string& service, Events& events);
  void track_fleet(Entry& member, AgentIndex agent, std::int64_t now_ms, Events& events);
  Entry* fleet_entry(const Entry& member, Entry* resolved_fleet, std::int64_t earliest_ms);
  void open_fleet(Entry& member, Entry* resolved_fleet, const FleetWindow& window,
                  std::int64_t now_ms, Events& events);
  bool join_fleet(Entry& fleet, Entry& member); // false: already a counted member
  bool relink(Entry& entry);
  void emit_link(const Entry& entry, Events& events);
  [[nodiscard]] bool fleet_reached(const FleetWindow& window, GroupIndex group) const;

  CorrelationConfig m_config;
  DependencyGraph m_graph;
  IncidentId m_next_id = 1;
  std::unordered_map<IncidentId, Entry> m_entries;      // open and resolved (node-stable)
  std::unordered_map<std::string, IncidentId> m_by_key; // host_key(agent, fingerprint)
  std::unordered_map<std::string, IncidentId> m_fleet_by_fingerprint;
  std::unordered_map<std::string, std::set<HostKey>> m_open_by_host;
  std::unordered_map<std::string, std::set<TimeKey>> m_open_by_service; // (opened, id)
  std::set<TimeKey> m_quiet;  // (deadline, id) of cleared open incidents
  std::set<TimeKey> m_forget; // (resolved, id) of resolved incidents
  std::unordered_map<std::string, FleetWindow> m_fleet_windows; // by fingerprint
  std::unordered_map<std::string, AgentIndex> m_agent_index;
  std::vector<AgentInfo> m_agents;
  std::unordered_map<std::string, GroupIndex> m_group_index;
  std::vector<std::uint32_t> m_group_sizes{0}; // by GroupIndex; 0 = no group
  std::size_t m_open = 0;
  std::uint64_t m_dropped = 0;
  std::string m_key; // reused by host_key(): no allocation per signal once grown
};

} // namespace medic::coordinator::correlate
