// SPDX-License-Identifier: Apache-2.0
// The sensing keys: samplers, log sources, and rules merged with the built-in set.
#include <algorithm>

#include <catch2/catch.hpp>

#include "agent/config/agent_config.hpp"
#include "tests/support/temp_dir.hpp"

using namespace medic::agent::config;
namespace protocol = medic::protocol;

namespace {

medic::Result<void> load(AgentConfig& config, std::string_view yaml) {
  auto schema = make_schema(config);
  if (auto loaded = schema.load_text(yaml, "agent.yaml"); !loaded) {
    return loaded;
  }
  return finish(config);
}

std::string load_error(std::string_view yaml) {
  AgentConfig config;
  auto loaded = load(config, yaml);
  REQUIRE_FALSE(loaded);
  return loaded.error().message();
}

template <class Rule>
const Rule* find(const std::vector<Rule>& rules, std::string_view id) {
  const auto it =
      std::find_if(rules.begin(), rules.end(), [&](const Rule& rule) { return rule.id == id; });
  return it == rules.end() ? nullptr : &*it;
}

} // namespace

TEST_CASE("the built-in rules load and cover the shipped scenarios", "[config]") {
  AgentConfig config;
  REQUIRE(load(config, ""));
  const auto& rules = config.sensing.rules;
  const auto& log_rules = config.sensing.log_rules;
  CHECK(rules.size() >= 15);
  CHECK(log_rules.size() >= 12);
  for (const char* id : {"disk-almost-full", "disk-filling", "memory-high", "cpu-saturated",
                         "process-down", "process-memory-leak", "cpu-anomaly"}) {
    INFO(id);
    CHECK(find(rules, id) != nullptr);
  }
  for (const char* id : {"oom-killer", "segfault", "db-connection-failed", "db-auth-failed"}) {
    INFO(id);
    CHECK(find(log_rules, id) != nullptr);
  }
  const auto* disk = find(rules, "disk-almost-full");
  REQUIRE(disk != nullptr);
  CHECK(disk->severity == protocol::Severity::high);
  const auto& spec = std::get<medic::detect::ThresholdSpec>(disk->spec);
  CHECK(spec.fire_level == 90);
  CHECK(spec.clear_level == 85);
  CHECK(find(log_rules, "db-connection-failed")->count == 5);
}

TEST_CASE("configured rules add to the built-ins and replace one with the same id", "[config]") {
  AgentConfig config;
  REQUIRE(load(config,
               "rules:\n"
               "  - {id: disk-almost-full, metric: disk.used_pct, kind: threshold,\n"
               "     above: 80, clear: 75, severity: critical}\n"
               "  - {id: queue-growing, metric: app.queue, kind: rate, above: 5,\n"
               "     window: 2m, category: performance}\n"));
  const auto* disk = find(config.sensing.rules, "disk-almost-full");
  REQUIRE(disk != nullptr);
  CHECK(std::get<medic::detect::ThresholdSpec>(disk->spec).fire_level == 80);
  CHECK(disk->severity == protocol::Severity::critical);
  const auto* queue = find(config.sensing.rules, "queue-growing");
  REQUIRE(queue != nullptr);
  CHECK(std::get<medic::detect::RateSpec>(queue->spec).window == std::chrono::minutes(2));
  CHECK(std::count_if(config.sensing.rules.begin(), config.sensing.rules.end(),
                      [](const auto& r) { return r.id == "disk-almost-full"; }) == 1);

  AgentConfig bare;
  REQUIRE(load(bare,
               "default_rules: false\n"
               "log_rules: [{id: boom, pattern: BOOM}]\n"));
  CHECK(bare.sensing.rules.empty());
  REQUIRE(bare.sensing.log_rules.size() == 1);
}

TEST_CASE("samplers, probes, processes and log sources are read from the file", "[config]") {
  AgentConfig config;
  REQUIRE(load(config,
               "processes:\n"
               "  - {name: web, process_name: nginx}\n"
               "  - {name: db, pid_file: /run/postgresql/15-main.pid}\n"
               "probes:\n"
               "  - {name: api, kind: http, port: 8080, path: /health, timeout: 1s}\n"
               "files:\n"
               "  - {name: backup, path: /var/backups/last.tar}\n"
               "logs:\n"
               "  sources:\n"
               "    - {name: app, paths: ['/var/log/app/*.log'], continuation: '^\\s'}\n"
               "disk:\n"
               "  exclude_mounts: [/boot]\n"
               "log_rules:\n"
               "  - {id: app-panic, pattern: 'panic', sources: [app], count: 2}\n"));
  const auto& s = config.sensing;
  REQUIRE(s.processes.processes.size() == 2);
  CHECK(s.processes.processes[1].pid_file == "/run/postgresql/15-main.pid");
  REQUIRE(s.probes.probes.size() == 1);
  CHECK(s.probes.probes[0].timeout_ms == 1000);
  CHECK(s.probes.probes[0].port == 8080);
  REQUIRE(s.tail.sources.size() == 1);
  CHECK(s.tail.sources[0].continuation_pattern == "^\\s");
  CHECK(s.disk.filter.exclude_mounts == std::vector<std::string>{"/boot"});
  CHECK(s.files.files.size() == 1);
}

TEST_CASE("bad sensing config is refused with where and what", "[config]") {
  CHECK(load_error("rules:\n  - {id: x, metric: m, kind: threshold}\n")
            .find("rules[0] (line 2, column 5): a threshold rule needs exactly one of 'above' "
                  "and 'below'") != std::string::npos);
  CHECK(load_error("rules:\n  - {id: x, metric: m, kind: threshold, above: 5, clear: 9}\n")
            .find("rules[0]") != std::string::npos);
  CHECK(load_error("rules:\n  - {id: x, metric: m, kind: guess}\n")
            .find("'guess' is not one of threshold, rate, trend, leak, anomaly") !=
        std::string::npos);
  CHECK(load_error("log_rules:\n  - {id: y, pattern: z, sources: [nope]}\n")
            .find("names source 'nope', which logs.sources does not define") != std::string::npos);
  CHECK(load_error("probes:\n  - {name: p, kind: tcp, port: 70000}\n")
            .find("port must be 1..65535") != std::string::npos);
  CHECK(load_error("processes:\n  - {name: p}\n").find("processes[0]") != std::string::npos);
  CHECK(load_error("rules:\n  - {id: a, metric: m, kind: anomaly}\n  - {id: a, metric: n, "
                   "kind: anomaly}\n")
            .find("rule id 'a' is used twice") != std::string::npos);
}

TEST_CASE("docs/rules.md lists every built-in rule", "[config]") {
  const std::string doc =
      medic::test::read_file(std::string(MEDIC_FIXTURES_DIR) + "/../../docs/rules.md");
  REQUIRE_FALSE(doc.empty());
  AgentConfig config;
  REQUIRE(load(config, ""));
  for (const auto& rule : config.sensing.rules) {
    INFO(rule.id);
    CHECK(doc.find("`" + rule.id + "`") != std::string::npos);
  }
  for (const auto& rule : config.sensing.log_rules) {
    INFO(rule.id);
    CHECK(doc.find("`" + rule.id + "`") != std::string::npos);
  }
}

TEST_CASE("logs.read_interval sets how often followed files are read", "[config]") {
  AgentConfig defaults;
  REQUIRE(load(defaults, "logs:\n  sources:\n    - {name: app, paths: ['/var/log/a.log']}\n"));
  CHECK(defaults.sensing.tail.read_interval == std::chrono::milliseconds(1000));
  AgentConfig set;
  REQUIRE(load(set, "logs:\n  read_interval: 250ms\n"));
  CHECK(set.sensing.tail.read_interval == std::chrono::milliseconds(250));
  AgentConfig at_once;
  REQUIRE(load(at_once, "logs:\n  read_interval: 0s\n"));
  CHECK(at_once.sensing.tail.read_interval == std::chrono::milliseconds(0));
  CHECK(load_error("logs:\n  read_interval: 20s\n").find("'20s' is out of range 0s..10s") !=
        std::string::npos);
}

TEST_CASE("logs.kernel follows the kernel's log as the source 'kernel'", "[config][kmsg]") {
  AgentConfig defaults;
  REQUIRE(load(defaults, "logs:\n  sources:\n    - {name: app, paths: ['/var/log/a.log']}\n"));
  CHECK_FALSE(defaults.sensing.kernel_log);
  AgentConfig kernel;
  REQUIRE(load(kernel,
               "logs:\n  kernel: true\n"
               "log_rules:\n  - {id: k, pattern: 'BUG:', sources: [kernel]}\n"));
  CHECK(kernel.sensing.kernel_log);
  CHECK(kernel.sensing.kernel_log_path == "/dev/kmsg");
  CHECK(load_error("log_rules:\n  - {id: k, pattern: 'BUG:', sources: [kernel]}\n") ==
        "log_rules: rule 'k' names source 'kernel', which logs.sources does not define (the "
        "kernel's log needs logs.kernel: true)");
  CHECK(load_error("logs:\n  kernel: true\n  sources:\n"
                   "    - {name: kernel, paths: ['/var/log/kern.log']}\n") ==
        "logs.sources: the name 'kernel' is the kernel's log (logs.kernel: true); name this "
        "source otherwise");
  CHECK(load_error("logs:\n  kernel: maybe\n").find("logs.kernel") != std::string::npos);
}
