// SPDX-License-Identifier: Apache-2.0
#include "agent/act/kind_exec.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "agent/act/digest.hpp"
#include "agent/act/params.hpp"

namespace medic::agent::act {

namespace {

constexpr std::size_t k_first_nss_buffer = std::size_t{16} * 1024;
constexpr std::size_t k_max_nss_buffer = std::size_t{1024} * 1024;
constexpr std::array<std::string_view, 4> k_operations = {"start", "stop", "restart", "reload"};

// getpwnam_r / getgrnam_r with a buffer that grows on ERANGE (large groups), up to a bound.
template <class Entry, class Lookup>
Result<std::optional<Entry>> nss_lookup(const std::string& name, std::string_view what,
                                        Lookup lookup) {
  std::vector<char> buffer(k_first_nss_buffer);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    const int rc = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < k_max_nss_buffer) {
      buffer.resize(buffer.size() * 4);
      continue;
    }
    if (rc != 0) {
      return fail(ErrorCode::io,
                  errno_text("looking up " + std::string(what) + " '" + name + "'", rc));
    }
    if (found == nullptr) {
      return std::optional<Entry>();
    }
    return std::optional<Entry>(entry); // only the ids are read after the buffer is gone
  }
}

std::string quote_argv(const std::vector<std::string>& argv) {
  return describe_argv(argv);
}

} // namespace

Result<Identity> resolve_identity(const std::string& user, const std::string& group) {
  Identity identity;
  std::string user_text = "agent's user";
  std::string group_text;
  if (!user.empty()) {
    auto entry = nss_lookup<passwd>(user, "user", &getpwnam_r);
    if (!entry) {
      return fail(std::move(entry).error());
    }
    if (!*entry) {
      return fail(ErrorCode::not_found, "user '" + user + "' does not exist");
    }
    identity.uid = (*entry)->pw_uid;
    identity.gid = (*entry)->pw_gid;
    user_text = user + "(" + std::to_string(*identity.uid) + ")";
    group_text = std::to_string(*identity.gid);
  }
  if (!group.empty()) {
    auto entry = nss_lookup<struct group>(group, "group", &getgrnam_r);
    if (!entry) {
      return fail(std::move(entry).error());
    }
    if (!*entry) {
      return fail(ErrorCode::not_found, "group '" + group + "' does not exist");
    }
    identity.gid = (*entry)->gr_gid;
    group_text = group + "(" + std::to_string(*identity.gid) + ")";
  }
  identity.text = group_text.empty() ? user_text : user_text + ":" + group_text;
  return identity;
}

Result<std::vector<std::string>> child_environment(const std::vector<std::string>& allow,
                                                   const std::map<std::string, std::string>& set,
                                                   const BoundParams& params,
                                                   const std::vector<std::string>* agent_env) {
  std::vector<std::string> env;
  const auto bad_name = [](const std::string& name) {
    return name.empty() || name.find('=') != std::string::npos;
  };
  for (const std::string& name : allow) {
    if (bad_name(name)) {
      return fail(ErrorCode::invalid_argument, "env_allow: invalid variable name '" + name + "'");
    }
    if (agent_env == nullptr) {
      continue;
    }
    const std::string prefix = name + "=";
    const auto found = std::find_if(agent_env->begin(), agent_env->end(),
                                    [&](const auto& entry) { return entry.starts_with(prefix); });
    if (found != agent_env->end()) {
      env.push_back(*found);
    }
  }
  for (const auto& [name, value] : set) {
    if (bad_name(name)) {
      return fail(ErrorCode::invalid_argument, "env_set: invalid variable name '" + name + "'");
    }
    const std::string prefix = name + "=";
    std::erase_if(env, [&](const std::string& entry) { return entry.starts_with(prefix); });
    env.push_back(prefix + expand_value(value, params));
  }
  if (std::none_of(env.begin(), env.end(),
                   [](const std::string& entry) { return entry.starts_with("PATH="); })) {
    env.emplace_back(k_default_path);
  }
  return env;
}

Prepared prepare_exec(const ExecSpec& spec, const BoundParams& params, const PrepareContext& ctx) {
  std::vector<std::string> argv = expand_argv(spec.argv, params);
  if (argv.empty() || argv.front().empty() || argv.front().front() != '/') {
    return Prepared::refused("exec: argv[0] must be an absolute path");
  }
  auto identity = resolve_identity(spec.user, spec.group);
  if (!identity) {
    return Prepared::refused("exec: " + identity.error().message());
  }
  auto env = child_environment(spec.env_allow, spec.env_set, params, ctx.environment);
  if (!env) {
    return Prepared::refused("exec: " + env.error().message());
  }
  if (!spec.sha256.empty()) {
    auto digest = sha256_file(argv.front());
    if (!digest) {
      return Prepared::refused("exec: cannot check the sha256 of " + argv.front() + ": " +
                               digest.error().message());
    }
    std::string pinned = spec.sha256;
    std::transform(pinned.begin(), pinned.end(), pinned.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (*digest != pinned) {
      return Prepared::refused("exec: " + argv.front() + " has sha256 " + *digest +
                               " but the catalog pins " + pinned + ": the binary changed");
    }
  }
  Prepared prepared;
  prepared.next = NextStep::spawn;
  prepared.plan = "exec " + quote_argv(argv) + " as " + identity->text + " in " + spec.cwd;
  prepared.spawn.argv = std::move(argv);
  prepared.spawn.env = std::move(*env);
  prepared.spawn.cwd = spec.cwd;
  prepared.spawn.uid = identity->uid;
  prepared.spawn.gid = identity->gid;
  return prepared;
}

bool valid_unit_name(std::string_view unit) noexcept {
  if (unit.empty() || unit.size() > 256 || unit.front() == '-') {
    return false;
  }
  return std::all_of(unit.begin(), unit.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view(":_.@\\-").find(c) != std::string_view::npos;
  });
}

Prepared prepare_service(const ServiceSpec& spec, const BoundParams& params,
                         const PrepareContext& ctx) {
  const std::string operation = expand_value(spec.operation, params);
  if (std::find(k_operations.begin(), k_operations.end(), operation) == k_operations.end()) {
    return Prepared::refused("service: operation " + quote_value(operation) +
                             " is not one of start, stop, restart, reload");
  }
  struct stat marker {};
  const bool systemd =
      !ctx.systemd_marker.empty() && ::stat(ctx.systemd_marker.c_str(), &marker) == 0;
  Prepared prepared;
  prepared.next = NextStep::spawn;
  if (systemd) {
    const std::string unit = expand_value(spec.unit, params);
    if (!valid_unit_name(unit)) {
      return Prepared::refused("service: unit " + quote_value(unit) + " is not a unit name");
    }
    prepared.spawn.argv = {spec.systemctl, operation, unit};
    prepared.plan = "service (systemd): ";
  } else if (!spec.init_script.empty()) {
    prepared.spawn.argv = {spec.init_script, operation};
    prepared.plan = "service (no systemd: " + ctx.systemd_marker + " missing, init script): ";
  } else {
    return Prepared::refused("service: systemd is not running (" + ctx.systemd_marker +
                             " missing) and the action names no init_script");
  }
  if (prepared.spawn.argv.front().empty() || prepared.spawn.argv.front().front() != '/') {
    return Prepared::refused("service: " + quote_argv({prepared.spawn.argv.front()}) +
                             " is not an absolute path");
  }
  prepared.plan += quote_argv(prepared.spawn.argv);
  prepared.spawn.env = {std::string(k_default_path)};
  return prepared;
}

} // namespace medic::agent::act
