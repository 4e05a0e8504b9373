// SPDX-License-Identifier: Apache-2.0
// The shipped packaging/config/diagnosis.yaml diagnoses the seeds' scenarios — built from the
// signals the agent's built-in rules emit (docs/rules.md) — to the right root cause, automation
// level and candidate actions of the agent's shipped catalog (docs/actions.md).
#include <catch2/catch.hpp>

#include "tests/unit/coordinator/diagnose/diagnose_inputs.hpp"

namespace dx = medic::coordinator::diagnose;
namespace protocol = medic::protocol;
using medic::test::diagnose::incident_input;
using protocol::Category;
using protocol::ResultStatus;
using protocol::Severity;

namespace {

const dx::RuleSet& shipped() {
  static const dx::RuleSet rules = [] {
    auto loaded = dx::load_rules_file(std::string(MEDIC_FIXTURES_DIR) +
                                      "/../../packaging/config/diagnosis.yaml");
    INFO((loaded ? std::string() : loaded.error().message()));
    REQUIRE(loaded);
    return std::move(*loaded);
  }();
  return rules;
}

std::vector<std::string> actions(const dx::Diagnosis& diagnosis) {
  std::vector<std::string> names;
  for (const auto& candidate : diagnosis.candidates) {
    names.push_back(candidate.action);
  }
  return names;
}

std::string param(const dx::Candidate& candidate, std::string_view name) {
  for (const auto& label : candidate.params) {
    if (label.name == name) {
      return label.value;
    }
  }
  return "<none>";
}

using Names = std::vector<std::string>;

} // namespace

TEST_CASE("default diagnosis: a crashed service is restarted automatically", "[diagnose]") {
  // process-down on a watched process `web` (label process), host labelled service=shop.
  auto input = incident_input("process-down", Category::integration, Severity::critical,
                              {{"process", "web"}});
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.rule_id == "crashed-service");
  CHECK(diagnosis.root_cause == "crashed-service");
  CHECK(diagnosis.automation == dx::Automation::auto_);
  REQUIRE(actions(diagnosis) == Names{"restart-service"});
  CHECK(param(diagnosis.candidates[0], "unit") == "web");
  CHECK(diagnosis.candidates[0].risk == "low");
  input.incident.labels.push_back({"service", "shop"});
  CHECK(param(dx::diagnose(shipped(), input).candidates.at(0), "unit") == "shop");
}

TEST_CASE("default diagnosis: a failed deployment is rolled back after approval", "[diagnose]") {
  auto input = incident_input("process-down", Category::integration, Severity::critical,
                              {{"process", "web"}});
  const std::int64_t now = input.incident.last_seen_ms;
  input.recent_recoveries = {{"restart-service", ResultStatus::failed, now - 30'000},
                             {"restart-service", ResultStatus::timed_out, now - 120'000}};
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.rule_id == "failed-deployment");
  CHECK(diagnosis.root_cause == "failed-deployment");
  CHECK(diagnosis.automation == dx::Automation::approve);
  CHECK(actions(diagnosis) == Names{"rollback-release", "restart-service"});
  // A crash loop systemd keeps restarting, with a configuration error in the logs.
  input = incident_input("process-restarting", Category::integration, Severity::medium,
                         {{"process", "web"}});
  diagnosis = dx::diagnose(shipped(), input);
  CHECK(diagnosis.root_cause == "failed-deployment");
  CHECK(diagnosis.automation == dx::Automation::approve);
  CHECK(actions(diagnosis) == Names{"rollback-release"});
}

TEST_CASE("default diagnosis: authentication failures are only observed", "[diagnose]") {
  for (const std::string rule : {"db-auth-failed", "mysql-access-denied", "ssh-auth-failures"}) {
    auto input = incident_input(rule, Category::authentication, Severity::high,
                                {{"source", "auth"}, {"user", "app"}, {"source_ip", "10.0.0.9"}});
    const auto diagnosis = dx::diagnose(shipped(), input);
    INFO(rule << ": " << diagnosis.explanation);
    CHECK(diagnosis.automation == dx::Automation::observe);
    CHECK(diagnosis.candidates.empty());
    CHECK(diagnosis.root_cause ==
          (rule == "ssh-auth-failures" ? "ssh-brute-force" : "database-credentials-rejected"));
  }
}

TEST_CASE("default diagnosis: database connection failures", "[diagnose]") {
  auto input = incident_input("db-connection-failed", Category::database, Severity::high,
                              {{"source", "app"}, {"service", "postgresql"}});
  input.incident.message = "psql: could not connect to server: Connection refused";
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.rule_id == "database-connection-failures");
  CHECK(diagnosis.root_cause == "database-connection-failure");
  CHECK(diagnosis.automation == dx::Automation::approve);
  REQUIRE(actions(diagnosis) == Names{"restart-service"});
  CHECK(param(diagnosis.candidates[0], "unit") == "postgresql");
  input.incident.message = "FATAL:  sorry, too many clients already";
  CHECK(dx::diagnose(shipped(), input).root_cause == "database-connections-exhausted");
}

TEST_CASE("default diagnosis: API endpoint failures", "[diagnose]") {
  auto input = incident_input("endpoint-down", Category::api, Severity::high,
                              {{"probe", "api"}, {"target", "127.0.0.1:8080"}});
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.root_cause == "api-endpoint-failure");
  CHECK(diagnosis.automation == dx::Automation::auto_);
  REQUIRE(actions(diagnosis) == Names{"restart-service"});
  CHECK(param(diagnosis.candidates[0], "unit") == "api");
  input = incident_input("http-5xx", Category::api, Severity::high,
                         {{"source", "nginx"}, {"service", "shop"}});
  diagnosis = dx::diagnose(shipped(), input);
  CHECK(diagnosis.rule_id == "api-server-errors");
  CHECK(diagnosis.automation == dx::Automation::approve);
  CHECK(param(diagnosis.candidates.at(0), "unit") == "shop");
}

TEST_CASE("default diagnosis: memory leak, restarted at once when memory runs out", "[diagnose]") {
  auto input = incident_input("process-memory-leak", Category::performance, Severity::high,
                              {{"process", "java"}});
  input.metrics = {{"mem.used_pct", "", 72}};
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.root_cause == "memory-leak");
  CHECK(diagnosis.automation == dx::Automation::approve);
  REQUIRE(actions(diagnosis) == Names{"restart-service"});
  CHECK(param(diagnosis.candidates[0], "unit") == "java");
  input.metrics = {{"mem.used_pct", "", 95}};
  diagnosis = dx::diagnose(shipped(), input);
  CHECK(diagnosis.rule_id == "memory-leak-exhausting");
  CHECK(diagnosis.automation == dx::Automation::auto_);
  CHECK(actions(diagnosis) == Names{"restart-service"});
}

TEST_CASE("default diagnosis: CPU spike", "[diagnose]") {
  auto input = incident_input("cpu-saturated", Category::performance, Severity::medium,
                              {{"service", "batch"}});
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.root_cause == "cpu-spike");
  CHECK(diagnosis.automation == dx::Automation::approve);
  // The host-wide signal names no process: terminate-process is dropped, and said so.
  CHECK(actions(diagnosis) == Names{"restart-service"});
  CHECK(diagnosis.explanation.find("terminate-process dropped") != std::string::npos);
  input.recent_incidents = 4;
  diagnosis = dx::diagnose(shipped(), input);
  CHECK(diagnosis.root_cause == "cpu-capacity");
  CHECK(diagnosis.candidates.empty());
}

TEST_CASE("default diagnosis: disk filling, cleaned automatically by mount", "[diagnose]") {
  auto input = incident_input("disk-almost-full", Category::resource, Severity::high,
                              {{"mount", "/tmp"}, {"device", "sda3"}, {"fstype", "ext4"}});
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.root_cause == "disk-filling");
  CHECK(diagnosis.automation == dx::Automation::auto_);
  CHECK(actions(diagnosis) == Names{"clean-tmp"});
  input.incident.labels.at(0).value = "/var";
  CHECK(actions(dx::diagnose(shipped(), input)) ==
        Names{"rotate-log", "clean-apt-cache", "clean-tmp"});
  input.incident.rule = "disk-filling";
  input.incident.labels.at(0).value = "/";
  CHECK(actions(dx::diagnose(shipped(), input)) ==
        Names{"clean-tmp", "clean-apt-cache", "rotate-log"});
  for (int i = 0; i < 3; ++i) {
    input.recent_recoveries.push_back({"clean-tmp", ResultStatus::succeeded, 0});
  }
  diagnosis = dx::diagnose(shipped(), input);
  CHECK(diagnosis.rule_id == "disk-filling-recurring");
  CHECK(diagnosis.automation == dx::Automation::observe);
}

TEST_CASE("default diagnosis: performance degradation", "[diagnose]") {
  auto input = incident_input("endpoint-slow", Category::performance, Severity::medium,
                              {{"probe", "api"}, {"target", "127.0.0.1:8080"}});
  auto diagnosis = dx::diagnose(shipped(), input);
  INFO(diagnosis.explanation);
  CHECK(diagnosis.root_cause == "performance-degradation");
  CHECK(diagnosis.automation == dx::Automation::approve);
  CHECK(actions(diagnosis) == Names{"restart-service"});
  input.metrics = {{"swap.used_pct", "", 70}};
  CHECK(dx::diagnose(shipped(), input).root_cause == "memory-exhaustion");
  input = incident_input("disk-io-saturated", Category::performance, Severity::medium,
                         {{"device", "sda"}});
  diagnosis = dx::diagnose(shipped(), input);
  CHECK(diagnosis.root_cause == "io-bottleneck");
  CHECK(diagnosis.automation == dx::Automation::observe);
  CHECK(diagnosis.candidates.empty());
}

TEST_CASE("default diagnosis: every built-in agent rule gets a diagnosis", "[diagnose]") {
  // The ids and categories of docs/rules.md; none should fall through to needs-review.
  const std::vector<std::pair<std::string, Category>> rules = {
      {"disk-almost-full", Category::resource},
      {"disk-full", Category::resource},
      {"disk-filling", Category::resource},
      {"inodes-almost-full", Category::resource},
      {"memory-high", Category::resource},
      {"memory-exhaustion-predicted", Category::resource},
      {"swap-heavy", Category::resource},
      {"cpu-saturated", Category::performance},
      {"cpu-iowait-high", Category::performance},
      {"cpu-steal-high", Category::performance},
      {"cpu-anomaly", Category::performance},
      {"disk-io-saturated", Category::performance},
      {"disk-io-slow-writes", Category::performance},
      {"net-errors", Category::network},
      {"net-drops", Category::network},
      {"process-down", Category::integration},
      {"process-restarting", Category::integration},
      {"process-memory-leak", Category::performance},
      {"endpoint-down", Category::api},
      {"endpoint-slow", Category::performance},
      {"oom-killer", Category::resource},
      {"segfault", Category::resource},
      {"disk-full-error", Category::resource},
      {"io-error", Category::resource},
      {"too-many-open-files", Category::resource},
      {"db-connection-failed", Category::database},
      {"db-auth-failed", Category::authentication},
      {"mysql-access-denied", Category::authentication},
      {"ssh-auth-failures", Category::authentication},
      {"db-deadlock", Category::database},
      {"network-unreachable", Category::network},
      {"upstream-timeout", Category::network},
      {"http-5xx", Category::api},
      {"tls-failure", Category::network},
      {"config-error", Category::configuration},
      {"app-exception", Category::integration},
  };
  for (const auto& [rule, category] : rules) {
    const auto diagnosis = dx::diagnose(shipped(), incident_input(rule, category, Severity::high));
    INFO(rule << ": " << diagnosis.explanation);
    CHECK(diagnosis.rule_id != dx::k_needs_review);
    // Nothing security-related or unexplained runs on its own.
    if (category == Category::authentication) {
      CHECK(diagnosis.automation == dx::Automation::observe);
    }
  }
  CHECK(dx::diagnose(shipped(),
                     incident_input("new-error-template", Category::integration, Severity::medium))
            .rule_id == dx::k_needs_review);
}
