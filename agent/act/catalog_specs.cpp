// SPDX-License-Identifier: Apache-2.0
#include "agent/act/catalog_specs.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include <re2/re2.h>

#include "agent/act/params.hpp"

namespace medic::agent::act {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t k_max_name = 64;
constexpr int k_max_signal = 64;
constexpr std::int64_t k_max_pid = 4'194'304; // PID_MAX_LIMIT on 64-bit Linux

// A clean action must never be pointed at the system itself.
constexpr std::array<std::string_view, 20> k_protected_dirs = {
    "/bin",  "/boot", "/dev", "/etc",  "/home", "/lib", "/lib32", "/lib64", "/libx32",  "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv",  "/sys", "/usr",   "/var",   "/var/lib", "/snap"};
constexpr std::array<std::string_view, 4> k_operations = {"start", "stop", "restart", "reload"};
constexpr std::array<std::string_view, 6> k_methods = {"GET",   "POST",   "PUT",
                                                       "PATCH", "DELETE", "HEAD"};

bool alnum(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& words, std::string_view word) noexcept {
  return std::find(words.begin(), words.end(), word) != words.end();
}

Error spec_error(std::string_view field, std::string_view message) {
  return Error(ErrorCode::config, std::string(field) + ": " + std::string(message));
}

// nullptr for a literal; the declared parameter for "{name}"; an error when it is not declared.
Result<const ParamSpec*> reference(const Action& action, std::string_view field,
                                   std::string_view element) {
  const auto name = param_reference(element);
  if (!name) {
    if (element.find('\0') != std::string_view::npos) {
      return fail(spec_error(field, "contains a NUL byte"));
    }
    return nullptr;
  }
  for (const auto& param : action.params) {
    if (param.name == *name) {
      return &param;
    }
  }
  return fail(spec_error(field, "'{" + std::string(*name) + "}' names no declared parameter"));
}

// A parameter reference of one of `types`, or a literal passing `literal` (may be empty).
template <class LiteralCheck>
Result<void> check_slot(const Action& action, std::string_view field, std::string_view value,
                        std::initializer_list<ParamType> types, LiteralCheck literal) {
  auto param = reference(action, field, value);
  if (!param) {
    return fail(std::move(param).error());
  }
  if (*param == nullptr) {
    return literal();
  }
  if (std::find(types.begin(), types.end(), (*param)->type) == types.end()) {
    return fail(spec_error(field, "parameter '" + (*param)->name + "' has type " +
                                      std::string(to_string((*param)->type)) +
                                      ", which does not fit here"));
  }
  return {};
}

Result<void> check_argv(const Action& action, std::string_view field,
                        const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return fail(spec_error(field, "needs at least the program"));
  }
  if (param_reference(argv.front())) {
    return fail(spec_error(field, "the program (first element) must be a literal path"));
  }
  if (auto program = check_absolute(field, argv.front(), RootAllowed::no); !program) {
    return program;
  }
  for (const auto& element : argv) {
    if (auto ref = reference(action, field, element); !ref) {
      return fail(std::move(ref).error());
    }
  }
  return {};
}

bool is_env_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= k_max_name && (name[0] < '0' || name[0] > '9') &&
         std::all_of(name.begin(), name.end(), [](char c) { return alnum(c) || c == '_'; });
}

bool is_account(std::string_view name) noexcept {
  return name.size() <= 32 && (name.empty() || name[0] != '-') &&
         std::all_of(name.begin(), name.end(),
                     [](char c) { return alnum(c) || c == '_' || c == '-' || c == '.'; });
}

Result<void> check_exec(const Action& action, ExecSpec& spec) {
  if (auto argv = check_argv(action, "argv", spec.argv); !argv) {
    return argv;
  }
  if (!is_account(spec.user) || !is_account(spec.group)) {
    return fail(spec_error(is_account(spec.user) ? "group" : "user", "not a valid account name"));
  }
  for (const auto& name : spec.env_allow) {
    if (!is_env_name(name)) {
      return fail(spec_error("env_allow", quote_value(name) + " is not a variable name"));
    }
  }
  for (const auto& [name, value] : spec.env_set) {
    if (!is_env_name(name)) {
      return fail(spec_error("env", quote_value(name) + " is not a variable name"));
    }
    if (auto ref = reference(action, "env", value); !ref) {
      return fail(std::move(ref).error());
    }
  }
  if (auto cwd = check_absolute("cwd", spec.cwd, RootAllowed::yes); !cwd) {
    return cwd;
  }
  const bool hex =
      spec.sha256.size() == 64 && std::all_of(spec.sha256.begin(), spec.sha256.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      });
  if (!spec.sha256.empty() && !hex) {
    return fail(spec_error("sha256", "must be 64 hexadecimal digits"));
  }
  std::transform(spec.sha256.begin(), spec.sha256.end(), spec.sha256.begin(),
                 [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c + 32) : c; });
  return {};
}

Result<void> check_operation(const Action& action, const std::string& operation) {
  auto param = reference(action, "operation", operation);
  if (!param) {
    return fail(std::move(param).error());
  }
  if (*param == nullptr) {
    return one_of(k_operations, operation)
               ? Result<void>()
               : fail(spec_error("operation", "must be start, stop, restart or reload"));
  }
  const ParamSpec& spec = **param;
  const bool fits = spec.type == ParamType::enumeration &&
                    std::all_of(spec.allowed.begin(), spec.allowed.end(),
                                [](const std::string& v) { return one_of(k_operations, v); });
  return fits ? Result<void>()
              : fail(spec_error("operation", "parameter '" + spec.name +
                                                 "' must be an enum of start, stop, restart, "
                                                 "reload"));
}

Result<void> check_service(const Action& action, const ServiceSpec& spec) {
  auto unit = check_slot(
      action, "unit", spec.unit, {ParamType::string, ParamType::enumeration},
      [&]() -> Result<void> {
        const bool valid = !spec.unit.empty() && spec.unit.size() <= 256 && spec.unit[0] != '-' &&
                           std::all_of(spec.unit.begin(), spec.unit.end(), [](char c) {
                             return alnum(c) || c == '@' || c == '.' || c == '_' || c == '-' ||
                                    c == ':' || c == '\\';
                           });
        return valid ? Result<void>() : fail(spec_error("unit", "not a unit name"));
      });
  if (!unit) {
    return unit;
  }
  if (auto operation = check_operation(action, spec.operation); !operation) {
    return operation;
  }
  if (auto systemctl = check_absolute("systemctl", spec.systemctl, RootAllowed::no); !systemctl) {
    return systemctl;
  }
  return spec.init_script.empty()
             ? Result<void>()
             : check_absolute("init_script", spec.init_script, RootAllowed::no);
}

Result<void> check_pid(const Action& action, const std::string& pid) {
  auto param = reference(action, "pid", pid);
  if (!param) {
    return fail(std::move(param).error());
  }
  if (*param != nullptr) {
    const ParamSpec& spec = **param;
    return (spec.type == ParamType::integer && spec.min && *spec.min >= 2)
               ? Result<void>()
               : fail(spec_error("pid", "parameter '" + spec.name +
                                            "' must be an int with min 2 or more (0, 1 and "
                                            "negative pids reach init or whole groups)"));
  }
  std::int64_t number = 0;
  const bool digits =
      !pid.empty() && pid.size() <= 7 &&
      std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    number = std::stoll(pid);
  }
  return (digits && number >= 2 && number <= k_max_pid)
             ? Result<void>()
             : fail(spec_error("pid", "must be a process id of 2 or more"));
}

Result<void> check_signal(const Action& action, const SignalSpec& spec) {
  const int selectors =
      static_cast<int>(!spec.process_name.empty()) + static_cast<int>(!spec.pid_file.empty()) +
      static_cast<int>(!spec.cmdline.empty()) + static_cast<int>(!spec.pid.empty());
  if (selectors != 1) {
    return fail(ErrorCode::config, "set exactly one of process_name, pid_file, cmdline, pid");
  }
  if (spec.signal < 1 || spec.signal > k_max_signal) {
    return fail(spec_error("signal", "must be 1 to 64"));
  }
  const auto any = [] { return Result<void>(); };
  if (!spec.pid.empty()) {
    return check_pid(action, spec.pid);
  }
  if (!spec.pid_file.empty()) {
    return check_slot(action, "pid_file", spec.pid_file, {ParamType::path},
                      [&] { return check_absolute("pid_file", spec.pid_file, RootAllowed::no); });
  }
  if (!spec.process_name.empty()) {
    return check_slot(action, "process_name", spec.process_name,
                      {ParamType::string, ParamType::enumeration}, any);
  }
  return check_slot(action, "cmdline", spec.cmdline, {ParamType::string}, [&]() -> Result<void> {
    re2::RE2::Options options;
    options.set_log_errors(false);
    const re2::RE2 pattern(spec.cmdline, options);
    return pattern.ok() ? Result<void>() : fail(spec_error("cmdline", pattern.error()));
  });
}

Result<void> check_clean(const Action& action, const CleanSpec& spec) {
  auto directory =
      check_slot(action, "directory", spec.directory, {ParamType::path}, [&]() -> Result<void> {
        if (one_of(k_protected_dirs, spec.directory)) {
          return fail(spec_error("directory", spec.directory + " is a system directory"));
        }
        return check_absolute("directory", spec.directory, RootAllowed::no);
      });
  if (!directory) {
    return directory;
  }
  if (const auto name = param_reference(spec.directory)) {
    const auto* param = action.params.data();
    while (param->name != *name) {
      ++param; // declared: check_slot found it
    }
    if (param->base_dir.empty() || param->base_dir == "/") {
      return fail(spec_error("directory", "parameter '" + param->name + "' needs a base_dir"));
    }
  }
  if (spec.older_than < 0ms || (spec.older_than == 0ms && spec.max_total_bytes == 0)) {
    return fail(ErrorCode::config, "set older_than and/or max_total_bytes (else every file goes)");
  }
  if (spec.name_glob.size() > 255 ||
      spec.name_glob.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    return fail(spec_error("name_glob", "must be a file name pattern without '/'"));
  }
  return {};
}

bool is_loopback(const std::string& host) noexcept {
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return host == "localhost";
}

Result<void> check_http(const Action& action, const HttpSpec& spec) {
  if (!one_of(k_methods, spec.method)) {
    return fail(spec_error("method", "must be GET, POST, PUT, PATCH, DELETE or HEAD"));
  }
  if (!is_loopback(spec.host)) {
    return fail(spec_error("host", "must be a loopback address (127.0.0.0/8, ::1, localhost)"));
  }
  if (spec.port == 0) {
    return fail(spec_error("port", "is required"));
  }
  const bool plain = std::all_of(spec.path.begin(), spec.path.end(),
                                 [](char c) { return c > ' ' && c < 0x7F && c != '#'; });
  if (spec.path.empty() || spec.path[0] != '/' || !plain) {
    return fail(
        spec_error("path", "must start with '/' and hold printable ASCII, no space or '#'"));
  }
  for (std::size_t start = 0; start <= spec.path.size();) {
    const std::size_t slash = std::min(spec.path.find('/', start), spec.path.size());
    if (auto ref = reference(action, "path", spec.path.substr(start, slash - start)); !ref) {
      return fail(std::move(ref).error());
    }
    start = slash + 1;
  }
  if (spec.expected_status != 0 && (spec.expected_status < 100 || spec.expected_status > 599)) {
    return fail(spec_error("expected_status", "must be 100 to 599 (0: any 2xx)"));
  }
  return {};
}

Result<void> check_rollback(const Action& action, const RollbackSpec& spec) {
  if (auto dir = check_absolute("releases_dir", spec.releases_dir, RootAllowed::no); !dir) {
    return dir;
  }
  if (auto link = check_absolute("current_link", spec.current_link, RootAllowed::no); !link) {
    return link;
  }
  if (spec.current_link == spec.releases_dir) {
    return fail(spec_error("current_link", "must not be releases_dir itself"));
  }
  return spec.reload_argv.empty() ? Result<void>()
                                  : check_argv(action, "reload_argv", spec.reload_argv);
}

} // namespace

bool is_action_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= k_max_name && alnum(name[0]) &&
         std::all_of(name.begin(), name.end(),
                     [](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool is_param_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= k_max_name && (name[0] < '0' || name[0] > '9') &&
         std::all_of(name.begin(), name.end(), [](char c) { return alnum(c) || c == '_'; });
}

Result<void> check_absolute(std::string_view field, std::string_view path, RootAllowed root) {
  if (path.empty()) {
    return fail(spec_error(field, "is required"));
  }
  if (path == "/") {
    return root == RootAllowed::yes ? Result<void>()
                                    : fail(spec_error(field, "must not be the root directory"));
  }
  ParamSpec as_path;
  as_path.type = ParamType::path;
  as_path.max_length = k_max_param_length;
  if (auto checked = check_value(as_path, path); !checked) {
    return fail(spec_error(field, checked.error().message()));
  }
  return {};
}

Result<void> check_kind_spec(Action& action) {
  struct Visitor {
    Action& action;
    Result<void> operator()(ExecSpec& spec) const { return check_exec(action, spec); }
    Result<void> operator()(ServiceSpec& spec) const { return check_service(action, spec); }
    Result<void> operator()(SignalSpec& spec) const { return check_signal(action, spec); }
    Result<void> operator()(CleanSpec& spec) const { return check_clean(action, spec); }
    Result<void> operator()(HttpSpec& spec) const { return check_http(action, spec); }
    Result<void> operator()(RollbackSpec& spec) const { return check_rollback(action, spec); }
  };
  return std::visit(Visitor{action}, action.spec);
}

} // namespace medic::agent::act
