// SPDX-License-Identifier: Apache-2.0
// medicctl: the operator's command line for a running coordinator, over its admin socket.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "coordinator/cli/admin_client.hpp"
#include "coordinator/cli/agent_cli.hpp"
#include "coordinator/cli/incident_cli.hpp"
#include "coordinator/cli/rules_cli.hpp"
#include "coordinator/cli/silence_cli.hpp"
#include "coordinator/cli/table.hpp"
#include "coordinator/config/coordinator_config.hpp"
#include "shared/build_info.hpp"
#include "shared/security/curve_keys.hpp"

namespace {

using namespace medic;
using nlohmann::json;

constexpr int k_exit_ok = 0;
constexpr int k_exit_refused = 1; // the coordinator answered with an error
constexpr int k_exit_usage = 2;
constexpr int k_exit_unreachable = 3; // no coordinator at the socket

constexpr const char* k_usage =
    "Usage: medicctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND\n"
    "\n"
    "Commands:\n"
    "  status    the coordinator's version, listen address and ingest counters\n"
    "  agents    every agent with its state, last contact and latest CPU and memory\n"
    "  agent show ID                  one agent in full: state, counters, latest samples,\n"
    "                                 keys, open incidents, action catalog, budgets\n"
    "  signals [AGENT]                the newest detector signals (fire and clear)\n"
    "  actions [AGENT]                the newest action outcomes (commands and the agents'\n"
    "                                 own healing) and the agents' remediation budgets\n"
    "  logs [AGENT]                   the newest log events agents shipped (lines and gaps)\n"
    "  keys list                      enrolled agent keys, active and revoked\n"
    "  keys add AGENT_ID KEY|FILE     admit an agent's CURVE public key (or its agent.key.pub)\n"
    "  keys revoke AGENT_ID|KEY       refuse the key from now on and cut the agent off\n"
    "  incidents [--open] [--host H] [--severity S] [--since 2h]\n"
    "                                 incidents, newest first, with their diagnosis\n"
    "  incident show ID               an incident and its whole timeline (the audit trail)\n"
    "  explain ID                     why each decision about an incident was taken\n"
    "  incident false ID              mark an incident as a false positive\n"
    "  approvals                      recoveries waiting for a person\n"
    "  approve ID | deny ID           let a waiting recovery run, or refuse it\n"
    "  run ACTION --host H [--param K=V]... [--incident ID]\n"
    "                                 run a catalog action on a host now (audited)\n"
    "  dry-run on|off                 decide and record, but send no command\n"
    "  maintenance add [--host H]... [--group G]... [--service S]... (--for 2h | --until WHEN)\n"
    "        [--start WHEN] [--reason TEXT] [--notify]\n"
    "                                 no remediation (nor escalation, unless --notify) there\n"
    "  maintenance list | remove ID   the windows and the freeze; end a window now\n"
    "  freeze on [--for 2h] [--reason TEXT] | freeze off\n"
    "                                 stop (or resume) every remediation in the fleet\n"
    "  silence add [--host H] [--service S] [--rule R] [--category C] [--severity S]\n"
    "        [--label K=V|K!=V|K=~RE|K!~RE]... (--duration 2h | --until WHEN) [--start WHEN]\n"
    "        --comment TEXT           no escalation notifications for matching incidents\n"
    "                                 (remediation goes on); ~H makes host/service/rule a regex\n"
    "  silence list [--all] | silence expire ID\n"
    "                                 active and pending silences (--all: expired too); end one\n"
    "  stats                          MTTD, MTTR, recovery and escalation rates\n"
    "  reload                         read the coordinator's config file again (as SIGHUP);\n"
    "                                 a bad one is refused and the running config stays\n"
    "  rules check FILE               load and validate a candidate diagnosis rule set\n"
    "  rules test --rules FILE [--since 2h|ISO|UNIX-MS] [--until ...] [--limit N] [--assume 5s]\n"
    "                                 backtest: replay the period's stored signals (default\n"
    "                                 the last day, at most 100000) through FILE and show what\n"
    "                                 would have opened, run and escalated; changes nothing\n"
    "                                 (long periods: add --timeout 60)\n"
    "\n"
    "Options:\n"
    "  --socket PATH      admin socket (default: $MEDIC_SOCKET, else admin.socket from\n"
    "                     /etc/medic/coordinator.yaml, else /run/medic/coordinator.sock)\n"
    "  --json             print the coordinator's JSON answer instead of a table\n"
    "  --timeout SECONDS  give up waiting after this long (default 5)\n"
    "  -h, --help         show this help\n"
    "  -V, --version      show the version\n"
    "\n"
    "Exit status: 0 done, 1 the coordinator refused, 2 bad usage, 3 coordinator unreachable.\n";

struct Options {
  std::optional<std::string> socket;
  bool json_output = false;
  int timeout_s = 5;
  std::vector<std::string> command;
};

std::string default_socket() {
  if (const char* env = std::getenv("MEDIC_SOCKET"); env != nullptr && *env != '\0') {
    return env;
  }
  coordinator::config::CoordinatorConfig config;
  auto schema = coordinator::config::make_schema(config);
  std::error_code ec;
  if (std::filesystem::exists(coordinator::config::k_default_path, ec) &&
      schema.load_file(coordinator::config::k_default_path)) {
    return config.admin_socket;
  }
  return coordinator::config::k_default_admin_socket;
}

double latest_value(const json& agent, std::string_view name) {
  for (const auto& sample : agent.value("latest", json::array())) {
    if (sample.value("name", "") == name && sample.value("labels", "").empty()) {
      return sample.value("value", -1.0);
    }
  }
  return -1.0;
}

std::string percent(double value) {
  if (value < 0) {
    return "-";
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

void print_agents(const json& answer) {
  coordinator::cli::Table table(
      {"ID", "HOST", "VERSION", "STATE", "LAST SEEN", "CPU%", "MEM%", "BATCHES"});
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const auto& agent : answer.value("agents", json::array())) {
    table.add_row(
        {agent.value("id", ""), agent.value("host", ""), agent.value("version", ""),
         agent.value("state", ""),
         coordinator::cli::format_age(agent.value("last_seen_ms", std::int64_t{0}), now_ms),
         percent(latest_value(agent, "cpu.usage_pct")),
         percent(latest_value(agent, "mem.used_pct")),
         std::to_string(agent.value("batches", std::uint64_t{0}))});
  }
  std::fputs(table.render().c_str(), stdout);
  if (answer.value("agents", json::array()).empty()) {
    std::puts("(no agents have reported yet)");
  }
}

void print_status(const json& answer) {
  std::printf("version          %s\n", answer.value("version", "").c_str());
  std::printf("agents on        %s\n", answer.value("listen", "").c_str());
  const json ingest = answer.value("ingest", json::object());
  for (const auto& [key, value] : ingest.items()) {
    std::printf("%-16s %s\n", key.c_str(), value.dump().c_str());
  }
}

std::optional<Options> parse(int argc, char** argv, int& exit_code) {
  Options options;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done) {
      options.command.push_back(arg);
    } else if ((arg == "--socket" || arg == "--timeout") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--socket") {
        options.socket = value;
      } else {
        options.timeout_s = std::atoi(value.c_str());
        if (options.timeout_s <= 0 || options.timeout_s > 3600) {
          std::fprintf(stderr, "medicctl: --timeout needs 1 to 3600 seconds\n");
          exit_code = k_exit_usage;
          return std::nullopt;
        }
      }
    } else if (arg == "--json") {
      options.json_output = true;
    } else if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(k_usage, stdout);
      exit_code = k_exit_ok;
      return std::nullopt;
    } else if (arg == "--version" || arg == "-V") {
      std::printf("medicctl %s\n", build_info::k_version);
      exit_code = k_exit_ok;
      return std::nullopt;
    } else if (arg == "--") {
      options_done = true;
    } else if (arg.starts_with("-") && options.command.empty()) {
      // After the command, a word starting with '-' is an argument: Z85 keys may start so.
      std::fprintf(stderr, "medicctl: unknown option '%s' (try --help)\n", arg.c_str());
      exit_code = k_exit_usage;
      return std::nullopt;
    } else {
      options.command.push_back(arg);
    }
  }
  if (options.command.empty()) {
    std::fprintf(stderr, "medicctl: no command given\n\n%s", k_usage);
    exit_code = k_exit_usage;
    return std::nullopt;
  }
  return options;
}

// The admin request for a command line, or an error message for bad usage.
std::variant<json, std::string> build_request(const std::vector<std::string>& words) {
  const auto& verb = words[0];
  if ((verb == "status" || verb == "agents" || verb == "reload") && words.size() == 1) {
    return json{{"cmd", verb}};
  }
  if ((verb == "signals" || verb == "logs" || verb == "actions") && words.size() <= 2) {
    json request{{"cmd", verb}, {"limit", 50}};
    if (words.size() == 2) {
      request["agent"] = words[1];
    }
    return request;
  }
  if (verb == "keys" && words.size() == 2 && words[1] == "list") {
    return json{{"cmd", "keys.list"}};
  }
  if (verb == "keys" && words.size() == 4 && words[1] == "add") {
    // The key may be given as the key itself or as the agent's agent.key.pub file.
    auto key = security::resolve_public_key(words[3]);
    if (!key) {
      return key.error().message();
    }
    return json{{"cmd", "keys.add"}, {"agent", words[2]}, {"key", *key}};
  }
  if (verb == "keys" && words.size() == 3 && words[1] == "revoke") {
    return json{{"cmd", "keys.revoke"}, {"agent_or_key", words[2]}};
  }
  if (auto incident = coordinator::cli::build_incident_request(words)) {
    return std::move(*incident);
  }
  if (auto rules = coordinator::cli::build_rules_request(words)) {
    return std::move(*rules);
  }
  if (auto agent = coordinator::cli::build_agent_request(words)) {
    return std::move(*agent);
  }
  if (auto silence = coordinator::cli::build_silence_request(
          words, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count())) {
    return std::move(*silence);
  }
  std::string line;
  for (const auto& word : words) {
    line += (line.empty() ? "" : " ") + word;
  }
  return "unknown command '" + line + "' (try --help)";
}

std::string clock_time(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof(text), "%H:%M:%S", &local);
  return text;
}

void print_signals(const json& answer) {
  coordinator::cli::Table table(
      {"TIME", "AGENT", "RULE", "STATE", "SEVERITY", "CATEGORY", "VALUE", "MESSAGE"});
  for (const auto& signal : answer.value("signals", json::array())) {
    char value[32];
    std::snprintf(value, sizeof(value), "%.4g", signal.value("value", 0.0));
    table.add_row({clock_time(signal.value("time_ms", std::int64_t{0})), signal.value("agent", ""),
                   signal.value("rule", ""), signal.value("state", ""),
                   signal.value("severity", ""), signal.value("category", ""), value,
                   signal.value("message", "").substr(0, 60)});
  }
  std::fputs(table.render().c_str(), stdout);
}

void print_logs(const json& answer) {
  coordinator::cli::Table table({"TIME", "AGENT", "SOURCE", "RULE", "TEXT"});
  for (const auto& event : answer.value("logs", json::array())) {
    std::string text = event.value("text", "");
    if (event.value("kind", "") == "gap") {
      text = "[gap: " + std::to_string(event.value("bytes", std::uint64_t{0})) + " bytes " + text +
             " at offset " + std::to_string(event.value("offset", std::uint64_t{0})) + "]";
    }
    table.add_row({clock_time(event.value("time_ms", std::int64_t{0})), event.value("agent", ""),
                   event.value("source", ""), event.value("rule", ""), text.substr(0, 80)});
  }
  std::fputs(table.render().c_str(), stdout);
}

void print_actions(const json& answer) {
  coordinator::cli::Table table(
      {"TIME", "AGENT", "ORIGIN", "ACTION", "STATUS", "POST-CHECK", "ROLLBACK", "REASON"});
  for (const auto& r : answer.value("results", json::array())) {
    std::string rollback = r.value("rollback", "");
    if (!rollback.empty()) {
      rollback += ": " + r.value("rollback_status", "");
    }
    table.add_row({clock_time(r.value("started_ms", std::int64_t{0})), r.value("agent", ""),
                   r.value("origin", ""), r.value("action", ""), r.value("status", ""),
                   r.value("post_check", ""), rollback, r.value("reason", "").substr(0, 60)});
  }
  std::fputs(table.render().c_str(), stdout);
  const auto budgets = answer.value("budgets", json::array());
  if (budgets.empty()) {
    return;
  }
  coordinator::cli::Table budget_table({"AGENT", "TARGET", "ACTION", "ATTEMPTS", "NEEDS PERSON"});
  for (const auto& b : budgets) {
    budget_table.add_row({b.value("agent", ""), b.value("target", ""), b.value("action", ""),
                          std::to_string(b.value("attempts", std::uint64_t{0})),
                          b.value("needs_person", false) ? "yes" : "no"});
  }
  std::fputs("\n", stdout);
  std::fputs(budget_table.render().c_str(), stdout);
}

void print_keys(const json& answer, const char* field) {
  coordinator::cli::Table table({"AGENT", "KEY", "STATE"});
  for (const auto& key : answer.value(field, json::array())) {
    table.add_row({key.value("agent", ""), key.value("key", ""), key.value("state", "")});
  }
  std::fputs(table.render().c_str(), stdout);
}

int run(int argc, char** argv) {
  int exit_code = k_exit_ok;
  const auto options = parse(argc, argv, exit_code);
  if (!options) {
    return exit_code;
  }
  const std::string socket = options->socket.value_or(default_socket());
  auto request = build_request(options->command);
  if (const auto* usage = std::get_if<std::string>(&request)) {
    std::fprintf(stderr, "medicctl: %s\n", usage->c_str());
    return k_exit_usage;
  }
  const std::string command = std::get<json>(request).value("cmd", "");
  auto answer = coordinator::cli::admin_request(socket, std::get<json>(request),
                                                std::chrono::seconds(options->timeout_s));
  if (!answer) {
    std::fprintf(stderr, "medicctl: %s\n", answer.error().message().c_str());
    return k_exit_unreachable;
  }
  if (!answer->value("ok", false)) {
    const json error = answer->value("error", json::object());
    std::fprintf(stderr, "medicctl: %s: %s\n", error.value("code", "error").c_str(),
                 error.value("message", "the coordinator refused").c_str());
    if (options->json_output) {
      std::puts(answer->dump(2).c_str());
    }
    return k_exit_refused;
  }
  if (options->json_output) {
    std::puts(answer->dump(2, ' ', false, json::error_handler_t::replace).c_str());
  } else if (command == "agents") {
    print_agents(*answer);
  } else if (command == "signals") {
    print_signals(*answer);
  } else if (command == "logs") {
    print_logs(*answer);
  } else if (command == "actions") {
    print_actions(*answer);
  } else if (command == "keys.list") {
    print_keys(*answer, "keys");
  } else if (command == "keys.revoke") {
    print_keys(*answer, "revoked");
  } else if (coordinator::cli::print_incident_answer(command, *answer)) {
    // printed
  } else if (coordinator::cli::print_rules_answer(command, *answer)) {
    // printed
  } else if (coordinator::cli::print_agent_answer(command, *answer) ||
             coordinator::cli::print_silence_answer(command, *answer)) {
    // printed
  } else if (command == "reload") {
    std::printf("%s\n", answer->value("summary", "reloaded").c_str());
  } else if (command == "keys.add") {
    std::printf("enrolled agent %s\n", answer->at("key").value("agent", "").c_str());
  } else {
    print_status(*answer);
  }
  return k_exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medicctl: fatal: %s\n", e.what());
    return 1;
  }
}
