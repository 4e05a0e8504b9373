// SPDX-License-Identifier: Apache-2.0
// medicctl against a real coordinator: every command with good and bad arguments (wrong arity,
// unknown flags, bad values, unknown ids), the exit codes docs/admin-protocol.md documents, JSON
// output that parses for every read command, --help listing every command, and the admin
// socket refusing a uid that is not allowed (SO_PEERCRED).
#include <sys/stat.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/fleet_fixture.hpp"

using medic::test::CommandResult;
using medic::test::Fleet;
using medic::test::k_medicctl_bin;
using medic::test::run_command;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_refused = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_unreachable = 3;

struct BadCall {
  std::vector<std::string> words;
  int exit_code;
  std::string says; // a part of the error: what is wrong or what to type instead
};

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) {
    text += (text.empty() ? "" : " ") + word;
  }
  return text;
}

void check_bad_calls(const Fleet& fleet, const std::vector<BadCall>& calls) {
  for (const auto& call : calls) {
    const CommandResult result = fleet.ctl_words(call.words);
    INFO("medicctl " << joined(call.words) << "\nstdout: " << result.output
                     << "\nstderr: " << result.errors);
    CHECK(result.status.exited_with(call.exit_code));
    CHECK(result.errors.find("medicctl: ") == 0);
    CHECK(result.errors.find(call.says) != std::string::npos);
  }
}

} // namespace

TEST_CASE("medicctl --help lists every command and the exit codes") {
  const auto help = run_command({k_medicctl_bin, "--help"});
  REQUIRE(help.status.exited_with(k_exit_ok));
  for (const char* command : {"status",           "agents",      "signals",
                              "actions",          "logs",        "keys list",
                              "keys add",         "keys revoke", "incidents",
                              "incident show",    "explain",     "incident false",
                              "approvals",        "approve",     "deny",
                              "run ACTION",       "dry-run",     "maintenance add",
                              "maintenance list", "freeze",      "stats",
                              "rules check",      "rules test",  "reload"}) {
    INFO(command);
    CHECK(help.output.find(std::string(" ") + command) != std::string::npos);
  }
  CHECK(help.output.find("Exit status: 0 done, 1 the coordinator refused, 2 bad usage, 3 "
                         "coordinator unreachable") != std::string::npos);
  CHECK(run_command({k_medicctl_bin, "help"}).output == help.output);
  const auto version = run_command({k_medicctl_bin, "--version"});
  CHECK(version.status.exited_with(k_exit_ok));
  CHECK(version.output.find("medicctl ") == 0);
}

TEST_CASE("medicctl: bad command lines exit 2 and say what to type") {
  Fleet fleet;
  fleet.start_coordinator();
  INFO(fleet.logs());
  check_bad_calls(
      fleet,
      {
          {{}, k_exit_usage, "no command given"},
          {{"--bogus", "status"}, k_exit_usage, "unknown option '--bogus' (try --help)"},
          {{"--timeout", "0", "status"}, k_exit_usage, "--timeout needs 1 to 3600 seconds"},
          {{"--timeout", "soon", "status"}, k_exit_usage, "--timeout needs 1 to 3600 seconds"},
          {{"frobnicate"}, k_exit_usage, "unknown command 'frobnicate' (try --help)"},
          {{"status", "now"}, k_exit_usage, "unknown command 'status now'"},
          {{"agents", "extra"}, k_exit_usage, "unknown command 'agents extra'"},
          {{"signals", "a", "b"}, k_exit_usage, "unknown command 'signals a b'"},
          {{"logs", "a", "b"}, k_exit_usage, "unknown command"},
          {{"actions", "a", "b"}, k_exit_usage, "unknown command"},
          {{"keys"}, k_exit_usage, "unknown command 'keys'"},
          {{"keys", "list", "all"}, k_exit_usage, "unknown command"},
          {{"keys", "add", "web-1"}, k_exit_usage, "unknown command"},
          {{"keys", "add", "web-1", "not-a-key"}, k_exit_usage, "not-a-key"},
          {{"keys", "revoke"}, k_exit_usage, "unknown command"},
          {{"incidents", "--colour", "red"},
           k_exit_usage,
           "incidents takes --open, --host HOST, --severity LEVEL and --since DURATION"},
          {{"incidents", "--since", "yesterday"}, k_exit_usage, "--since: "},
          {{"incidents", "--host"}, k_exit_usage, "not '--host'"},
          {{"incident"}, k_exit_usage, "incident show|false ID"},
          {{"incident", "show"}, k_exit_usage, "incident show|false ID"},
          {{"incident", "show", "abc"}, k_exit_usage, "incident show|false ID"},
          {{"incident", "close", "1"}, k_exit_usage, "incident show|false ID"},
          {{"incident", "show", "1", "2"}, k_exit_usage, "incident show|false ID"},
          {{"explain"}, k_exit_usage, "explain ID (a number from medicctl incidents)"},
          {{"explain", "-1"}, k_exit_usage, "explain ID"},
          {{"approvals", "all"}, k_exit_usage, "unknown command"},
          {{"approve"}, k_exit_usage, "approve ID (a number from medicctl approvals)"},
          {{"approve", "x"}, k_exit_usage, "approve ID"},
          {{"deny", "1", "2"}, k_exit_usage, "deny ID (a number from medicctl approvals)"},
          {{"run"}, k_exit_usage, "run ACTION --host HOST"},
          {{"run", "restart-service"}, k_exit_usage, "run needs --host HOST"},
          {{"run", "restart-service", "--host"}, k_exit_usage, "'--host' needs a value"},
          {{"run", "restart-service", "--host", "h", "--param", "noequals"},
           k_exit_usage,
           "--param takes NAME=VALUE, not 'noequals'"},
          {{"run", "restart-service", "--host", "h", "--incident", "x"},
           k_exit_usage,
           "--incident takes an incident number"},
          {{"run", "restart-service", "--host", "h", "--force", "yes"},
           k_exit_usage,
           "run takes --host, --param and --incident; not '--force'"},
          {{"dry-run"}, k_exit_usage, "dry-run on|off"},
          {{"dry-run", "maybe"}, k_exit_usage, "dry-run on|off"},
          {{"maintenance"}, k_exit_usage, "maintenance add ...|list|remove ID"},
          {{"maintenance", "remove"}, k_exit_usage, "maintenance add ...|list|remove ID"},
          {{"maintenance", "add", "--host", "a", "--for", "forever"}, k_exit_usage, "--for: "},
          {{"maintenance", "add", "--bogus", "x", "--for", "1h"},
           k_exit_usage,
           "unknown option '--bogus'"},
          {{"freeze", "maybe"}, k_exit_usage, "freeze on [--for 2h] [--reason TEXT] | freeze off"},
          {{"stats", "today"}, k_exit_usage, "unknown command"},
          {{"rules"}, k_exit_usage, "rules check FILE | rules test --rules FILE"},
          {{"rules", "check"}, k_exit_usage, "rules check FILE"},
          {{"rules", "check", (fleet.dir() / "missing.yaml").string()},
           k_exit_usage,
           "missing.yaml"},
          {{"rules", "test"}, k_exit_usage, "rules test needs --rules FILE"},
          {{"rules", "test", "--rules"}, k_exit_usage, "'--rules' needs a value"},
          {{"reload", "now"}, k_exit_usage, "unknown command 'reload now'"},
      });
}

TEST_CASE("medicctl: requests the coordinator refuses exit 1 with why") {
  Fleet fleet;
  fleet.start_coordinator();
  INFO(fleet.logs());
  const std::string rules = (fleet.dir() / "bad-rules.yaml").string();
  write_file(rules, "rules:\n  - id: x\n    when: {nonsense: 1}\n");
  check_bad_calls(
      fleet,
      {
          {{"incident", "show", "999"}, k_exit_refused, "999"},
          {{"explain", "999"}, k_exit_refused, "999"},
          {{"incident", "false", "999"}, k_exit_refused, "999"},
          {{"approve", "999"}, k_exit_refused, "999"},
          {{"deny", "999"}, k_exit_refused, "999"},
          {{"keys", "revoke", "nobody-here"}, k_exit_refused, "nobody-here"},
          {{"run", "restart-service", "--host", "no-such-host"}, k_exit_refused, "no-such-host"},
          {{"maintenance", "remove", "mw-404"}, k_exit_refused, "mw-404"},
          {{"incidents", "--severity", "apocalyptic"}, k_exit_refused, "apocalyptic"},
          {{"rules", "check", rules}, k_exit_refused, "bad-rules.yaml"},
      });
  // A refusal with --json still prints the coordinator's answer, which parses.
  const auto refused = fleet.ctl_words({"--json", "incident", "show", "999"});
  CHECK(refused.status.exited_with(k_exit_refused));
  const auto answer = nlohmann::json::parse(refused.output, nullptr, false);
  REQUIRE_FALSE(answer.is_discarded());
  CHECK(answer.value("ok", true) == false);
}

TEST_CASE("medicctl: every read command's --json output parses") {
  Fleet fleet;
  fleet.start_coordinator();
  INFO(fleet.logs());
  const std::vector<std::vector<std::string>> reads = {
      {"status"},
      {"agents"},
      {"signals"},
      {"signals", "web-1"},
      {"actions"},
      {"logs"},
      {"keys", "list"},
      {"incidents"},
      {"incidents", "--open", "--host", "web-1", "--severity", "high", "--since", "2h"},
      {"approvals"},
      {"stats"},
      {"maintenance", "list"},
      {"freeze"},
  };
  for (const auto& words : reads) {
    std::vector<std::string> argv{"--json"};
    argv.insert(argv.end(), words.begin(), words.end());
    const auto result = fleet.ctl_words(argv);
    INFO("medicctl " << joined(argv) << "\n" << result.output << result.errors);
    CHECK(result.status.exited_with(k_exit_ok));
    const auto answer = nlohmann::json::parse(result.output, nullptr, false);
    REQUIRE_FALSE(answer.is_discarded());
    CHECK(answer.value("ok", false));
  }
  // And the tables print without error.
  for (const auto& words : reads) {
    const auto result = fleet.ctl_words(words);
    INFO("medicctl " << joined(words) << "\n" << result.errors);
    CHECK(result.status.exited_with(k_exit_ok));
    CHECK_FALSE(result.output.empty());
  }
}

TEST_CASE("medicctl: good writes succeed and are visible") {
  Fleet fleet;
  fleet.start_coordinator();
  INFO(fleet.logs());
  const std::string key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  REQUIRE(fleet.ctl_words({"keys", "add", "web-9", key}).status.exited_with(k_exit_ok));
  const auto keys = fleet.ctl_words({"--json", "keys", "list"});
  REQUIRE(keys.status.exited_with(k_exit_ok));
  CHECK(keys.output.find("web-9") != std::string::npos);
  CHECK(fleet.ctl_words({"keys", "revoke", "web-9"}).status.exited_with(k_exit_ok));
  CHECK(fleet.ctl_words({"dry-run", "on"}).status.exited_with(k_exit_ok));
  const auto stats = fleet.ctl("stats");
  REQUIRE(stats.has_value());
  CHECK(stats->at("stats").value("dry_run", false));
  CHECK(fleet.ctl_words({"dry-run", "off"}).status.exited_with(k_exit_ok));
  const auto added = fleet.ctl_words({"maintenance", "add", "--host", "web-9", "--for", "1h"});
  CHECK(added.status.exited_with(k_exit_ok));
  CHECK(fleet.ctl_words({"freeze", "on", "--for", "1h"}).status.exited_with(k_exit_ok));
  CHECK(fleet.ctl_words({"freeze", "off"}).status.exited_with(k_exit_ok));
  const auto reload = fleet.ctl_words({"reload"});
  CHECK(reload.status.exited_with(k_exit_ok));
  CHECK(reload.output.find("no key changed") != std::string::npos);
}

TEST_CASE("medicctl: no coordinator at the socket exits 3 and says what to check") {
  TempDir dir;
  const auto result =
      run_command({k_medicctl_bin, "--socket", (dir / "none.sock").string(), "status"});
  CHECK(result.status.exited_with(k_exit_unreachable));
  CHECK(result.errors.find("pass --socket PATH") != std::string::npos);
}

TEST_CASE(
    "the admin socket refuses a uid that is neither root nor the coordinator's nor its "
    "group's") {
  Fleet fleet;
  // The admin group is nogroup (65534): nobody with that primary group is admitted.
  fleet.start_coordinator("tcp://127.0.0.1:*", "admin.group: nogroup\n");
  INFO(fleet.logs());
  // Other users must reach the socket's directory to try at all.
  REQUIRE(::chmod(fleet.dir().path().c_str(), 0755) == 0);
  const std::string socket = fleet.socket_path();
  const auto as = [&](const std::string& gid) {
    return run_command({"/usr/bin/setpriv", "--reuid=65534", "--regid=" + gid, "--clear-groups",
                        k_medicctl_bin, "--socket", socket, "--json", "status"});
  };

  SECTION("in the admin group: answered") {
    const auto allowed = as("65534");
    INFO(allowed.errors);
    CHECK(allowed.status.exited_with(k_exit_ok));
    CHECK(nlohmann::json::parse(allowed.output).value("ok", false));
  }
  SECTION("another group, the socket's mode stops it: exit 3 with what to do") {
    const auto denied = as("1");
    CHECK(denied.status.exited_with(k_exit_unreachable));
    CHECK(denied.errors.find("Permission denied") != std::string::npos);
    CHECK(denied.errors.find("member of the medic group") != std::string::npos);
  }
  SECTION("another group on a world-writable socket: SO_PEERCRED refuses it") {
    REQUIRE(::chmod(socket.c_str(), 0666) == 0);
    const auto refused = as("1");
    INFO(refused.output << refused.errors);
    CHECK(refused.status.exited_with(k_exit_refused));
    CHECK(refused.errors.find("permission: not allowed on this admin socket") != std::string::npos);
    CHECK(refused.errors.find("admin.group") != std::string::npos);
    const auto status = fleet.ctl("status");
    CHECK(status.has_value()); // root still is
  }
}
