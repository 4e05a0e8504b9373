// SPDX-License-Identifier: Apache-2.0
// An action of the agent's local catalog: the only things a COMMAND or a fallback rule may run.
// Value types only; catalog.hpp loads and validates them, params.hpp binds a request's
// parameters to an action's schema, runner.hpp runs a bound action.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace re2 {
class RE2;
}

namespace medic::agent::act {

enum class ActionKind : std::uint8_t { exec, service, signal, clean, http, rollback };
enum class Risk : std::uint8_t { low, medium, high, critical };
enum class ParamType : std::uint8_t { string, integer, enumeration, path, duration };

[[nodiscard]] std::string_view to_string(ActionKind kind) noexcept;
[[nodiscard]] std::string_view to_string(Risk risk) noexcept;
[[nodiscard]] std::string_view to_string(ParamType type) noexcept; // "string", "int", "enum", ...
[[nodiscard]] std::optional<ActionKind> parse_action_kind(std::string_view text) noexcept;
[[nodiscard]] std::optional<Risk> parse_risk(std::string_view text) noexcept;
[[nodiscard]] std::optional<ParamType> parse_param_type(std::string_view text) noexcept;

// One declared parameter. Every value, whatever its type, is a single line of printable UTF-8
// without NUL; the type narrows it further (see params.hpp).
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::string;
  bool required = true;
  std::optional<std::string> default_value; // used when an optional parameter is absent
  std::vector<std::string> allowed;         // enumeration: the values accepted
  std::string pattern;                      // string: an RE2 the whole value must match
  std::optional<std::int64_t> min;          // integer; duration in milliseconds
  std::optional<std::int64_t> max;
  std::size_t max_length = 256;             // bytes, any type
  std::string base_dir;                     // path: the value must name something under it
  // Set by Catalog::build (prepare_action): the string type's pattern, declared or default,
  // compiled once and shared by copies; RE2 matching is thread-safe.
  std::shared_ptr<const re2::RE2> compiled_pattern = {};
};

// What must be healthy within `within` after the action for it to count as a success.
struct PostCondition {
  enum class Kind : std::uint8_t {
    probe,   // the configured probe `target` answers (up)
    rule,    // the detector rule `target` is not firing (for the action's target labels)
    process, // the watched process `target` is up
  };
  Kind kind = Kind::probe;
  std::string target;
  std::chrono::milliseconds within{30'000};
};

// Strings in the kind specs may be templates: an element that is exactly "{param}" is replaced
// by that parameter's value, as one whole argument. Nothing is ever parsed by a shell.
struct ExecSpec {
  std::vector<std::string> argv;              // argv[0] an absolute path
  std::string user;                           // run as (empty: the agent's user)
  std::string group;                          // (empty: the user's primary group)
  std::vector<std::string> env_allow;         // variables passed on from the agent's environment
  std::map<std::string, std::string> env_set; // variables set (values may be "{param}")
  std::string cwd = "/";
  std::string sha256; // hex; when set, a binary whose digest differs is refused
};

struct ServiceSpec {
  std::string unit;                       // literal or "{param}"
  std::string operation = "restart";      // start, stop, restart, reload; or "{param}"
  std::string systemctl = "/bin/systemctl";
  std::string init_script;                // used when systemd is not running: "<path> <operation>"
};

struct SignalSpec {
  // Exactly one selects the processes, as the process sampler matches them; each may be "{param}".
  std::string process_name;
  std::string pid_file;
  std::string cmdline; // RE2
  std::string pid;     // a single pid, e.g. "{pid}"
  int signal = 15;     // SIGTERM
};

struct CleanSpec {
  std::string directory;                   // absolute; nothing outside it is touched
  std::chrono::milliseconds older_than{0}; // 0: no age condition
  std::uint64_t max_total_bytes = 0;       // 0: no size bound; else delete oldest until under it
  std::string name_glob;                   // empty: every regular file
  bool recursive = false;                  // never follows a symlink, in or out
};

struct HttpSpec {
  std::string method = "POST";
  std::string host = "127.0.0.1"; // loopback only
  std::uint16_t port = 0;
  std::string path = "/";          // may contain "{param}" segments (values are URL-escaped)
  int expected_status = 0;         // 0: any 2xx
};

struct RollbackSpec {
  std::string releases_dir;              // holds one directory per release
  std::string current_link;              // the `current` symlink into releases_dir
  std::vector<std::string> reload_argv;  // run after the switch (empty: none)
};

// An action undone by its inverse after a while (a block, a throttle); repeat offenders wait
// longer: duration * factor^(repeats), at most max_duration; repeats are forgotten after
// forget_after without one.
struct TemporarySpec {
  std::string undo_action; // a catalog action run with the same parameters
  std::chrono::milliseconds duration{600'000};
  double factor = 2;
  std::chrono::milliseconds max_duration{86'400'000};
  std::chrono::milliseconds forget_after{86'400'000};
};

using KindSpec = std::variant<ExecSpec, ServiceSpec, SignalSpec, CleanSpec, HttpSpec, RollbackSpec>;

struct Action {
  std::string name;
  ActionKind kind = ActionKind::exec;
  Risk risk = Risk::medium;
  std::string description;
  std::vector<ParamSpec> params;
  std::chrono::milliseconds timeout{30'000};
  std::optional<PostCondition> post_condition;
  std::string rollback; // a catalog action run when the post-condition fails (same params)
  std::chrono::milliseconds cooldown{60'000};
  double expected_success = 0.8; // the declared success rate: the learner's prior
  bool diagnostic = false;       // may run as a diagnostic hook (read-only commands)
  std::optional<TemporarySpec> temporary;
  KindSpec spec;
};

// A request's parameters after validation against an action's schema: every declared parameter
// that has a value (given or default), in declaration order.
struct BoundParams {
  std::vector<std::pair<std::string, std::string>> values;

  [[nodiscard]] const std::string* find(std::string_view name) const noexcept {
    for (const auto& [key, value] : values) {
      if (key == name) {
        return &value;
      }
    }
    return nullptr;
  }
  [[nodiscard]] std::string_view value_or(std::string_view name,
                                          std::string_view fallback) const noexcept {
    const std::string* value = find(name);
    return value != nullptr ? std::string_view(*value) : fallback;
  }
};

} // namespace medic::agent::act
