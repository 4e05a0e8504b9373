// SPDX-License-Identifier: Apache-2.0
// The coordinator's POLICY as the agent's own healing sees it: a fleet-wide freeze and the
// maintenance windows that apply to this host. While either holds, fallback healing (including
// `always` rules) runs no action; COMMANDs are not affected (the coordinator decides those).
// The policy is kept only when newer than the one held, and saved in the spool database so an
// agent restarted while cut off still honours it. Loop thread for the object; the static
// persistence calls do disk I/O and run on the spool worker (or before the loop starts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "shared/error.hpp"
#include "shared/sqlite/database.hpp"

namespace medic::agent::heal {

// Why a fallback run may not start now.
struct MaintenanceHold {
  enum class Kind : std::uint8_t { none, freeze, window };
  Kind kind = Kind::none;
  std::string_view window_id; // Kind::window; points into the held policy until the next accept
  [[nodiscard]] explicit operator bool() const noexcept { return kind != Kind::none; }
};
// "fleet freeze" or "maintenance window <id>": the reason reported for a held run.
[[nodiscard]] std::string describe(const MaintenanceHold& hold);

class Maintenance {
public:
  // Keeps `policy` when its version is above the one held (a replayed or delayed POLICY never
  // undoes a newer one). Returns whether it was kept.
  bool accept(protocol::Policy policy);
  [[nodiscard]] const protocol::Policy& policy() const noexcept { return m_policy; }

  // Whether the freeze or a window holds back a run answering a signal with `labels` through
  // an action with `params` (filled in) at now_ms. A window without services holds everything;
  // one with services holds a run whose signal's service, process or unit label, or any of
  // whose parameter values, equals one of them. The freeze is reported before any window.
  // Allocates nothing.
  [[nodiscard]] MaintenanceHold holds(const std::vector<protocol::Label>& labels,
                                      const std::vector<protocol::Label>& params,
                                      std::int64_t now_ms) const noexcept;
  // Whether the freeze is in force at now_ms.
  [[nodiscard]] bool frozen(std::int64_t now_ms) const noexcept;
  // "version V, freeze on|off, N windows": for the log line when a policy is kept.
  [[nodiscard]] std::string summary() const;

  // heal_policy: one row holding the encoded POLICY frame last kept. Safe on every start.
  [[nodiscard]] static Result<void> create_table(sqlite::Database& db);
  [[nodiscard]] static Result<void> save(sqlite::Database& db, const protocol::Policy& policy);
  // The saved policy, or nullopt when none was ever saved. A saved row that no longer decodes
  // is an error naming the table (the spool was damaged).
  [[nodiscard]] static Result<std::optional<protocol::Policy>> load(sqlite::Database& db);

private:
  protocol::Policy m_policy; // version 0: none received yet
};

} // namespace medic::agent::heal
