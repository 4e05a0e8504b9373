// SPDX-License-Identifier: Apache-2.0
// The `exec` and `service` kinds, and the pieces the `rollback` kind's reload shares: turning a
// spec and bound parameters into a SpawnRequest. Threadpool: user and group names are resolved
// through NSS (may read files or ask a directory service) and a pinned executable is hashed.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/act/action.hpp"
#include "agent/act/kind_common.hpp"
#include "shared/error.hpp"

namespace medic::agent::act {

// Given to every child that does not set PATH itself.
inline constexpr std::string_view k_default_path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

struct Identity {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string text; // "nobody(65534):nogroup(65534)", or "agent's user" when both are empty
};

// Empty user: the agent's; empty group: the user's primary group (or the agent's when no user).
// Fails when a name is unknown.
[[nodiscard]] Result<Identity> resolve_identity(const std::string& user, const std::string& group);

// The child's whole environment: `allow` variables copied from `agent_env` when set there, then
// `set` (values expanded, replacing an allowed one of the same name), then k_default_path when
// PATH is still missing. Fails on a name that is empty or holds '='.
[[nodiscard]] Result<std::vector<std::string>> child_environment(
    const std::vector<std::string>& allow, const std::map<std::string, std::string>& set,
    const BoundParams& params, const std::vector<std::string>* agent_env);

// Threadpool.
[[nodiscard]] Prepared prepare_exec(const ExecSpec& spec, const BoundParams& params,
                                    const PrepareContext& ctx);
// Threadpool (checks for the systemd marker).
[[nodiscard]] Prepared prepare_service(const ServiceSpec& spec, const BoundParams& params,
                                       const PrepareContext& ctx);

// A unit name systemctl cannot read as an option: [A-Za-z0-9:_.@\-], not starting with '-'.
[[nodiscard]] bool valid_unit_name(std::string_view unit) noexcept;

} // namespace medic::agent::act
