// SPDX-License-Identifier: Apache-2.0
// Maintenance windows and the fleet-wide freeze: when medic must keep its hands off. A window
// covers hosts, host groups and/or services for a time; during it nothing it covers is
// remediated, and nothing is escalated unless the window says `notify`. The freeze stops every
// remediation in the fleet (escalation goes on: people still want to know). Both are pushed to
// agents (POLICY) so their offline fallback healing honours them too. Pure: no I/O, no clock;
// loop thread only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shared/error.hpp"

namespace medic::coordinator::maintenance {

struct Window {
  std::string id; // "mw-<n>", given by add()
  std::vector<std::string> hosts;
  std::vector<std::string> groups;   // values of the agents' group label
  std::vector<std::string> services; // narrows the window to these services (labels, params)
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0; // exclusive
  bool notify = false;     // escalate as usual during the window
  std::string reason;
  std::string actor;
  std::int64_t created_ms = 0;
  friend bool operator==(const Window&, const Window&) = default;
};

struct Freeze {
  bool on = false;
  std::int64_t until_ms = 0; // 0: until lifted
  std::string reason;
  std::string actor;
  std::int64_t since_ms = 0;
  friend bool operator==(const Freeze&, const Freeze&) = default;
};

// What a window is matched against: an incident's host and group, and the service names it
// concerns (its service/process/unit labels, the bound parameter values of the action).
struct Target {
  std::string_view host;
  std::string_view group;
  std::span<const std::string> services;
};

inline constexpr std::size_t k_max_windows = 256;
inline constexpr std::size_t k_max_names = 32;      // hosts, groups or services of one window
inline constexpr std::size_t k_max_name_bytes = 64; // as PROTOCOL.md allows for a service
inline constexpr std::size_t k_max_reason_bytes = 256;
inline constexpr std::int64_t k_max_length_ms = 366LL * 24 * 3600 * 1000;

class Maintenance {
public:
  // Validates (a scope, names and reason within bounds, end after start and after now, at most
  // a year long, room left) and keeps the window; returns its id.
  [[nodiscard]] Result<std::string> add(Window window, std::int64_t now_ms);
  [[nodiscard]] Result<Window> remove(std::string_view id, std::int64_t now_ms);
  [[nodiscard]] Result<void> set_freeze(Freeze freeze, std::int64_t now_ms);

  [[nodiscard]] bool frozen(std::int64_t now_ms) const noexcept;
  [[nodiscard]] const Freeze& freeze() const noexcept { return m_freeze; }
  // The first window in force now that applies to the target; nullptr when none.
  [[nodiscard]] const Window* covering(const Target& target, std::int64_t now_ms) const;
  // The windows not yet ended, by start.
  [[nodiscard]] const std::vector<Window>& windows() const noexcept { return m_windows; }
  // The windows an agent on `host` in `group` must know of (whole host or some of its
  // services), not yet ended.
  [[nodiscard]] std::vector<const Window*> windows_for(std::string_view host,
                                                       std::string_view group) const;
  // Drops ended windows and a freeze past its until; true when something changed.
  bool expire(std::int64_t now_ms);
  // Grows with every change (Unix ms of the change, at least the last version + 1), so agents
  // can tell a newer policy from a stale one.
  [[nodiscard]] std::uint64_t version() const noexcept { return m_version; }

  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] static Result<Maintenance> from_json(const nlohmann::json& document);

private:
  void changed(std::int64_t now_ms) noexcept;

  std::vector<Window> m_windows;
  Freeze m_freeze;
  std::uint64_t m_next_id = 1;
  std::uint64_t m_version = 0;
};

[[nodiscard]] nlohmann::json window_json(const Window& window);

} // namespace medic::coordinator::maintenance
