// SPDX-License-Identifier: Apache-2.0
#include "agent/act/catalog_config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <csignal>

#include "shared/config/units.hpp"

namespace medic::agent::act {

namespace {

using config::FieldKind;
using config::Record;
using config::RecordField;

struct KindField {
  std::string_view field;
  ActionKind kind;
};

// The fields that belong to one kind only; anything else is common to all.
constexpr std::array<KindField, 29> k_kind_fields = {{
    {"argv", ActionKind::exec},
    {"user", ActionKind::exec},
    {"group", ActionKind::exec},
    {"env_allow", ActionKind::exec},
    {"env", ActionKind::exec},
    {"cwd", ActionKind::exec},
    {"sha256", ActionKind::exec},
    {"unit", ActionKind::service},
    {"operation", ActionKind::service},
    {"systemctl", ActionKind::service},
    {"init_script", ActionKind::service},
    {"process_name", ActionKind::signal},
    {"pid_file", ActionKind::signal},
    {"cmdline", ActionKind::signal},
    {"pid", ActionKind::signal},
    {"signal", ActionKind::signal},
    {"directory", ActionKind::clean},
    {"older_than", ActionKind::clean},
    {"max_total_bytes", ActionKind::clean},
    {"name_glob", ActionKind::clean},
    {"recursive", ActionKind::clean},
    {"method", ActionKind::http},
    {"host", ActionKind::http},
    {"port", ActionKind::http},
    {"path", ActionKind::http},
    {"expected_status", ActionKind::http},
    {"releases_dir", ActionKind::rollback},
    {"current_link", ActionKind::rollback},
    {"reload_argv", ActionKind::rollback},
}};

std::vector<RecordField> param_fields() {
  return {
      {"name", FieldKind::text, true, "the parameter's name, as a COMMAND gives it", {}},
      {"type",
       FieldKind::choice,
       false,
       "default string",
       {"string", "int", "enum", "path", "duration"}},
      {"required", FieldKind::boolean, false, "default: true unless a default is given", {}},
      {"default", FieldKind::text, false, "the value when absent", {}},
      {"allowed", FieldKind::text_list, false, "enum: the values accepted", {}},
      {"pattern", FieldKind::text, false, "string: an RE2 the whole value must match", {}},
      {"min", FieldKind::text, false, "int: a number; duration: e.g. 1s", {}},
      {"max", FieldKind::text, false, "int: a number; duration: e.g. 1h", {}},
      {"max_length", FieldKind::integer, false, "bytes (default 256)", {}},
      {"base_dir", FieldKind::text, false, "path: values must lie under it", {}},
  };
}

std::vector<RecordField> common_fields() {
  return {
      {"name", FieldKind::text, true, "what COMMANDs and heal rules call it", {}},
      {"kind",
       FieldKind::choice,
       true,
       "what it does",
       {"exec", "service", "signal", "clean", "http", "rollback"}},
      {"risk", FieldKind::choice, false, "default medium", {"low", "medium", "high", "critical"}},
      {"description", FieldKind::text, false, "for people", {}},
      {"timeout", FieldKind::duration, false, "killed after (default 30s)", {}},
      {"cooldown", FieldKind::duration, false, "between two runs (default 1m)", {}},
      {"expected_success", FieldKind::number, false, "prior success rate (default 0.8)", {}},
      {"diagnostic", FieldKind::boolean, false, "a read-only command diagnostic hooks may run", {}},
      {"params", FieldKind::record_list, false, "its parameters", {}, param_fields()},
      {"post_condition",
       FieldKind::record,
       false,
       "must be healthy after it",
       {},
       {{"kind", FieldKind::choice, true, "what is checked", {"probe", "rule", "process"}},
        {"target", FieldKind::text, true, "the probe, rule or process name", {}},
        {"within", FieldKind::duration, false, "default 30s", {}}}},
      {"rollback", FieldKind::text, false, "the action run when the post-condition fails", {}},
      {"temporary",
       FieldKind::record,
       false,
       "undone after a while",
       {},
       {{"undo", FieldKind::text, true, "the inverse action (same parameters)", {}},
        {"duration", FieldKind::duration, false, "default 10m", {}},
        {"factor", FieldKind::number, false, "repeat offenders: duration * factor^n (2)", {}},
        {"max_duration", FieldKind::duration, false, "default 1d", {}},
        {"forget_after", FieldKind::duration, false, "repeats forgotten after (1d)", {}}}},
  };
}

std::vector<RecordField> action_fields() {
  std::vector<RecordField> fields = common_fields();
  const std::vector<RecordField> kind_fields = {
      {"argv", FieldKind::text_list, false, "exec: program and arguments; '{param}' elements", {}},
      {"user", FieldKind::text, false, "exec: run as this user", {}},
      {"group", FieldKind::text, false, "exec: and group", {}},
      {"env_allow", FieldKind::text_list, false, "exec: variables passed on", {}},
      {"env", FieldKind::text_map, false, "exec: variables set", {}},
      {"cwd", FieldKind::text, false, "exec: working directory (default /)", {}},
      {"sha256", FieldKind::text, false, "exec: the program's pinned digest", {}},
      {"unit", FieldKind::text, false, "service: the unit or '{param}'", {}},
      {"operation", FieldKind::text, false, "service: start, stop, restart, reload", {}},
      {"systemctl", FieldKind::text, false, "service: default /bin/systemctl", {}},
      {"init_script", FieldKind::text, false, "service: without systemd", {}},
      {"process_name", FieldKind::text, false, "signal: by comm / executable name", {}},
      {"pid_file", FieldKind::text, false, "signal: the pid in this file", {}},
      {"cmdline", FieldKind::text, false, "signal: an RE2 on the command line", {}},
      {"pid", FieldKind::text, false, "signal: one pid, e.g. '{pid}'", {}},
      {"signal",
       FieldKind::text,
       false,
       "signal: TERM, KILL, HUP, INT, QUIT, USR1, USR2 or a "
       "number",
       {}},
      {"directory", FieldKind::text, false, "clean: nothing outside it is touched", {}},
      {"older_than", FieldKind::duration, false, "clean: files older than this", {}},
      {"max_total_bytes", FieldKind::size, false, "clean: oldest first until under this", {}},
      {"name_glob", FieldKind::text, false, "clean: only these file names", {}},
      {"recursive", FieldKind::boolean, false, "clean: into subdirectories", {}},
      {"method", FieldKind::text, false, "http: default POST", {}},
      {"host", FieldKind::text, false, "http: a loopback address (127.0.0.1)", {}},
      {"port", FieldKind::integer, false, "http: required", {}},
      {"path", FieldKind::text, false, "http: may hold '{param}' segments", {}},
      {"expected_status", FieldKind::integer, false, "http: default any 2xx", {}},
      {"releases_dir", FieldKind::text, false, "rollback: one directory per release", {}},
      {"current_link", FieldKind::text, false, "rollback: the symlink switched back", {}},
      {"reload_argv", FieldKind::text_list, false, "rollback: run after the switch", {}},
  };
  fields.insert(fields.end(), kind_fields.begin(), kind_fields.end());
  return fields;
}

Result<void> check_kind_fields(const Record& r, ActionKind kind) {
  for (const auto& name : r.given()) {
    std::optional<ActionKind> owner;
    for (const auto& entry : k_kind_fields) {
      if (entry.field == name) {
        owner = entry.kind;
      }
    }
    if (owner && *owner != kind) {
      return fail(r.error("field '" + name + "' belongs to " + std::string(to_string(*owner)) +
                          " actions, not " + std::string(to_string(kind))));
    }
  }
  return {};
}

Result<std::optional<std::int64_t>> read_bound(const Record& r, std::string_view field,
                                               ParamType type) {
  if (!r.has(field)) {
    return std::nullopt;
  }
  const std::string text = r.text(field);
  if (type == ParamType::duration) {
    auto ms = config::parse_duration(text);
    if (!ms) {
      return fail(r.error(std::string(field) + ": " + ms.error().message()));
    }
    return ms->count();
  }
  std::int64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (type != ParamType::integer || ec != std::errc() || end != text.data() + text.size()) {
    return fail(r.error(
        std::string(field) + ": '" + text + "' is not " +
        (type == ParamType::integer ? "a whole number" : "allowed (int and duration only)")));
  }
  return number;
}

Result<ParamSpec> read_param(const Record& r) {
  ParamSpec spec;
  spec.name = r.text("name");
  spec.type = parse_param_type(r.text("type", "string")).value_or(ParamType::string);
  if (r.has("default")) {
    spec.default_value = r.text("default");
  }
  spec.required = r.boolean("required", !spec.default_value);
  spec.allowed = r.text_list("allowed");
  spec.pattern = r.text("pattern");
  const std::int64_t max_length = r.integer("max_length", 256);
  if (max_length < 1 || max_length > 4096) {
    return fail(r.error("max_length must be 1 to 4096"));
  }
  spec.max_length = static_cast<std::size_t>(max_length);
  spec.base_dir = r.text("base_dir");
  auto min = read_bound(r, "min", spec.type);
  auto max = min ? read_bound(r, "max", spec.type) : min;
  if (!max) {
    return fail(std::move(max).error());
  }
  spec.min = *min;
  spec.max = *max;
  return spec;
}

Result<int> parse_signal(const Record& r) {
  static constexpr std::array<std::pair<std::string_view, int>, 7> k_signals = {{
      {"TERM", SIGTERM},
      {"KILL", SIGKILL},
      {"HUP", SIGHUP},
      {"INT", SIGINT},
      {"QUIT", SIGQUIT},
      {"USR1", SIGUSR1},
      {"USR2", SIGUSR2},
  }};
  std::string text = r.text("signal", "TERM");
  const std::string_view name = std::string_view(text).starts_with("SIG")
                                    ? std::string_view(text).substr(3)
                                    : std::string_view(text);
  for (const auto& [word, number] : k_signals) {
    if (word == name) {
      return number;
    }
  }
  int number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size() || number < 1 || number > 64) {
    return fail(
        r.error("signal '" + text + "' is not TERM, KILL, HUP, INT, QUIT, USR1, USR2 or 1 to 64"));
  }
  return number;
}

Result<KindSpec> read_spec(const Record& r, ActionKind kind) {
  switch (kind) {
  case ActionKind::exec:
    return ExecSpec{r.text_list("argv"),      r.text("user"),    r.text("group"),
                    r.text_list("env_allow"), r.text_map("env"), r.text("cwd", "/"),
                    r.text("sha256")};
  case ActionKind::service:
    return ServiceSpec{r.text("unit"), r.text("operation", "restart"),
                       r.text("systemctl", "/bin/systemctl"), r.text("init_script")};
  case ActionKind::signal: {
    auto signal = parse_signal(r);
    if (!signal) {
      return fail(std::move(signal).error());
    }
    return SignalSpec{r.text("process_name"), r.text("pid_file"), r.text("cmdline"), r.text("pid"),
                      *signal};
  }
  case ActionKind::clean:
    return CleanSpec{r.text("directory"), r.duration("older_than"), r.size("max_total_bytes"),
                     r.text("name_glob"), r.boolean("recursive")};
  case ActionKind::http: {
    const std::int64_t port = r.integer("port");
    const std::int64_t status = r.integer("expected_status");
    if (port < 0 || port > 65535 || status < 0 || status > 599) {
      return fail(r.error("port must be 1 to 65535 and expected_status 100 to 599"));
    }
    return HttpSpec{r.text("method", "POST"), r.text("host", "127.0.0.1"),
                    static_cast<std::uint16_t>(port), r.text("path", "/"),
                    static_cast<int>(status)};
  }
  case ActionKind::rollback:
    return RollbackSpec{r.text("releases_dir"), r.text("current_link"), r.text_list("reload_argv")};
  }
  return fail(r.error("unknown kind"));
}

Result<void> read_follow_ups(const Record& r, Action& action) {
  if (const auto post = r.record("post_condition")) {
    const std::string kind = post->text("kind");
    action.post_condition = PostCondition{
        kind == "rule"      ? PostCondition::Kind::rule
        : kind == "process" ? PostCondition::Kind::process
                            : PostCondition::Kind::probe,
        post->text("target"), post->duration("within", std::chrono::milliseconds(30'000))};
  }
  action.rollback = r.text("rollback");
  if (const auto temporary = r.record("temporary")) {
    const TemporarySpec defaults;
    action.temporary =
        TemporarySpec{temporary->text("undo"), temporary->duration("duration", defaults.duration),
                      temporary->number("factor", defaults.factor),
                      temporary->duration("max_duration", defaults.max_duration),
                      temporary->duration("forget_after", defaults.forget_after)};
  }
  for (const auto& param : r.records("params")) {
    auto spec = read_param(param);
    if (!spec) {
      return fail(std::move(spec).error());
    }
    action.params.push_back(std::move(*spec));
  }
  return {};
}

Result<Action> read_action(const Record& r) {
  Action action;
  action.name = r.text("name");
  action.kind = parse_action_kind(r.text("kind")).value_or(ActionKind::exec);
  action.risk = parse_risk(r.text("risk", "medium")).value_or(Risk::medium);
  action.description = r.text("description");
  action.timeout = r.duration("timeout", action.timeout);
  action.cooldown = r.duration("cooldown", action.cooldown);
  action.expected_success = r.number("expected_success", action.expected_success);
  action.diagnostic = r.boolean("diagnostic");
  auto checked =
      check_kind_fields(r, action.kind).and_then([&] { return read_follow_ups(r, action); });
  if (!checked) {
    return fail(std::move(checked).error());
  }
  auto spec = read_spec(r, action.kind);
  if (!spec) {
    return fail(std::move(spec).error());
  }
  action.spec = std::move(*spec);
  if (auto prepared = prepare_action(action); !prepared) {
    return fail(r.error(prepared.error().message()));
  }
  return action;
}

void merge_action(std::vector<Action>& merged, Action action) {
  const auto same = std::find_if(merged.begin(), merged.end(),
                                 [&](const Action& a) { return a.name == action.name; });
  if (same == merged.end()) {
    merged.push_back(std::move(action));
  }
}

} // namespace

void add_action_keys(config::Schema& schema, ActionsConfig& config) {
  schema.add_bool("default_actions", config.default_actions,
                  "Start from the shipped action catalog (an action of the same name replaces "
                  "a shipped one)");
  schema.add_records("actions", action_fields(),
                     "The local action catalog: the only things a COMMAND or a heal rule may run",
                     [&config](const std::vector<Record>& records) -> Result<void> {
                       std::vector<Action> actions;
                       for (const auto& r : records) {
                         auto action = read_action(r);
                         if (!action) {
                           return fail(std::move(action).error());
                         }
                         actions.push_back(std::move(*action));
                       }
                       config.actions = std::move(actions);
                       return {};
                     });
}

Result<Catalog> finish_actions(ActionsConfig& config) {
  if (config.default_actions) {
    ActionsConfig shipped;
    config::Schema schema("MEDIC_AGENT_");
    add_action_keys(schema, shipped);
    if (auto loaded = schema.load_text(default_catalog_yaml(), "shipped actions"); !loaded) {
      return fail(std::move(loaded).error()); // a bug in default_catalog.cpp; a unit test loads it
    }
    for (auto& action : shipped.actions) {
      merge_action(config.actions, std::move(action));
    }
    config.default_actions = false; // merged: finishing twice must not merge again
  }
  auto catalog = Catalog::build(config.actions);
  if (!catalog) {
    return fail(std::move(catalog).error().context("actions"));
  }
  return catalog;
}

} // namespace medic::agent::act
