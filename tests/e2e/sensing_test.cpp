// SPDX-License-Identifier: Apache-2.0
// Issue 4 end to end: a real process writes error lines and grows a file; the agent follows the
// log, samples the file and watches the process; the coordinator receives the signals and the
// matched lines. Restarting the agent in between neither loses nor repeats a line.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/fleet_fixture.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using nlohmann::json;

namespace {

// A workload: appends `count` error lines numbered from `first` to the log, growing the data
// file by 64 KiB with each, then stays alive until killed.
std::vector<std::string> writer_argv(const std::filesystem::path& log,
                                     const std::filesystem::path& data, int first, int count) {
  const std::string script =
      "import sys, time\n"
      "log, data, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
      "for n in range(first, first + count):\n"
      "    with open(log, 'a') as f:\n"
      "        f.write('2026-11-23T01:02:03Z db1 app[42]: ERROR could not connect to server: "
      "Connection refused line=%04d\\n' % n)\n"
      "    with open(data, 'ab') as f:\n"
      "        f.write(b'x' * 65536)\n"
      "    time.sleep(0.05)\n"
      "time.sleep(3600)\n";
  return {"/usr/bin/python3",   "-c", script, log.string(), data.string(), std::to_string(first),
          std::to_string(count)};
}

std::string agent_extra(const std::filesystem::path& dir) {
  return "logs:\n"
         "  sources:\n"
         "    - {name: app, paths: ['" +
         (dir / "app*.log").string() +
         "'], start_at: beginning}\n"
         "files:\n"
         "  - {name: data, path: " +
         (dir / "data.bin").string() +
         "}\n"
         "processes:\n"
         "  - {name: writer, cmdline: 'medic-e2e-writer'}\n"
         "rules:\n"
         "  - {id: data-file-large, metric: file.size_bytes, kind: threshold, above: 500000,\n"
         "     severity: high, category: resource}\n"
         "sample:\n"
         "  file_check_ms: 1000\n"
         "  process_discovery_ms: 1000\n";
}

std::optional<json> ctl_json(const Fleet& fleet, const std::string& verb, const std::string& arg) {
  const auto result = fleet.ctl_words({"--json", verb, arg});
  if (!result.status.exited_with(0)) {
    return std::nullopt;
  }
  auto parsed = json::parse(result.output, nullptr, false);
  return parsed.is_discarded() ? std::nullopt : std::optional<json>(parsed);
}

bool has_signal(const json& answer, const std::string& rule, const std::string& state) {
  for (const auto& signal : answer.value("signals", json::array())) {
    if (signal.value("rule", "") == rule && signal.value("state", "") == state) {
      return true;
    }
  }
  return false;
}

// Line numbers of the shipped log events for the rule, each as often as it was stored.
std::multiset<int> shipped_lines(const json& answer) {
  std::multiset<int> lines;
  for (const auto& event : answer.value("logs", json::array())) {
    const std::string text = event.value("text", "");
    const auto at = text.find("line=");
    if (event.value("rule", "") == "db-connection-failed" && at != std::string::npos) {
      lines.insert(std::stoi(text.substr(at + 5)));
    }
  }
  return lines;
}

std::ptrdiff_t newlines_in(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
}

std::string received_summary(const std::multiset<int>& lines, bool answered,
                             bool coordinator_running, bool agent_running) {
  std::string text = "logs answered: " + std::string(answered ? "yes" : "no") +
                     ", coordinator running: " + (coordinator_running ? "yes" : "no") +
                     ", agent running: " + (agent_running ? "yes" : "no") + ", lines:";
  for (const int line : lines) {
    text += " " + std::to_string(line);
  }
  return text;
}

} // namespace

TEST_CASE(
    "error lines and a growing file become signals at the coordinator, a restarted agent "
    "neither loses nor repeats a line") {
  Fleet fleet;
  fleet.start_coordinator();
  const auto dir = fleet.dir().path();
  const auto log = dir / "app.log";
  const auto data = dir / "data.bin";
  std::ofstream(log).flush();
  auto writer_args = writer_argv(log, data, 1, 12);
  writer_args.push_back("medic-e2e-writer"); // for the cmdline matcher
  medic::test::Process writer(writer_args, dir / "writer.log");
  auto* agent = &fleet.start_agent("sensing-1", true, agent_extra(dir));

  std::optional<json> signals;
  const bool fired = medic::test::wait_until(
      [&] {
        signals = ctl_json(fleet, "signals", "sensing-1");
        return signals && has_signal(*signals, "db-connection-failed", "firing") &&
               has_signal(*signals, "data-file-large", "firing");
      },
      20s, 200ms);
  if (!fired) {
    FAIL("the signals did not fire within 20 s\n" << fleet.logs());
  }
  for (const auto& signal : signals->at("signals")) {
    if (signal.value("rule", "") == "db-connection-failed") {
      CHECK(signal.value("category", "") == "database");
      CHECK(signal.value("severity", "") == "high");
      CHECK(signal.value("value", 0.0) >= 5);
      CHECK(signal.at("labels").value("source", "") == "app");
    }
  }

  // The process dies (once its twelve lines are written: the signals may fire before that, on
  // a loaded machine the writer may not have finished): process-down fires for it.
  REQUIRE(medic::test::wait_until([&] { return newlines_in(log) == 12; }, 10s, 50ms));
  writer.signal(SIGKILL);
  REQUIRE(writer.wait_for(5s));
  REQUIRE(medic::test::wait_until(
      [&] {
        signals = ctl_json(fleet, "signals", "sensing-1");
        return signals && has_signal(*signals, "process-down", "firing");
      },
      20s, 200ms));

  // Every line 1..12 shipped once; then the agent stops, more lines come, it resumes.
  REQUIRE(medic::test::wait_until(
      [&] {
        const auto logs = ctl_json(fleet, "logs", "sensing-1");
        return logs && shipped_lines(*logs).size() == 12;
      },
      10s, 200ms));
  agent->signal(SIGTERM);
  REQUIRE(agent->wait_for(5s));
  medic::test::Process more(writer_argv(log, data, 13, 8), dir / "writer2.log");
  REQUIRE(medic::test::wait_until([&] { return newlines_in(log) == 20; }, 10s, 50ms));
  more.signal(SIGKILL);
  agent = &fleet.start_agent("sensing-1", false, agent_extra(dir));
  std::multiset<int> lines;
  bool answered = false;
  const bool all = medic::test::wait_until(
      [&] {
        const auto logs = ctl_json(fleet, "logs", "sensing-1");
        answered = logs.has_value();
        lines = logs ? shipped_lines(*logs) : std::multiset<int>{};
        return lines.size() >= 20;
      },
      15s, 200ms);
  // What matters first (a CI excerpt may show only the start): what arrived, who still runs.
  INFO(received_summary(lines, answered, fleet.coordinator().running(), agent->running()));
  INFO(fleet.logs());
  REQUIRE(all);
  for (int n = 1; n <= 20; ++n) {
    INFO("line " << n);
    CHECK(lines.count(n) == 1);
  }
  CHECK(lines.size() == 20);
}

TEST_CASE("a kernel log line (logs.kernel) becomes a signal and a log event at the coordinator") {
  Fleet fleet;
  fleet.start_coordinator();
  // Tagged: other kernel messages, and other tests writing to /dev/kmsg, match nothing here.
  const std::string tag = "medic-e2e-kmsg-" + std::to_string(::getpid());
  fleet.start_agent("kernel-1", true,
                    "logs:\n"
                    "  kernel: true\n"
                    "log_rules:\n"
                    "  - {id: kernel-e2e, pattern: '" +
                        tag +
                        " test failure', sources: [kernel], severity: high, category: resource}\n");
  const auto logged = [&](const std::string& answer_key, const auto& matches) {
    const auto answer = ctl_json(fleet, answer_key, "kernel-1");
    if (!answer) {
      return false;
    }
    for (const auto& item : answer->value(answer_key, json::array())) {
      if (matches(item)) {
        return true;
      }
    }
    return false;
  };
  // Written again until seen: the agent may still be starting when the first line goes.
  const bool fired = medic::test::wait_until(
      [&] {
        {
          std::ofstream kmsg("/dev/kmsg");
          kmsg << "<3>" << tag << " test failure, dev sdz, sector 42\n";
        }
        return logged("signals", [](const json& signal) {
          return signal.value("rule", "") == "kernel-e2e" &&
                 signal.value("state", "") == "firing" &&
                 signal.at("labels").value("source", "") == "kernel";
        });
      },
      20s, 500ms);
  INFO(fleet.logs());
  REQUIRE(fired);
  CHECK(medic::test::wait_until(
      [&] {
        return logged("logs", [&](const json& event) {
          return event.value("rule", "") == "kernel-e2e" &&
                 event.value("text", "").find(tag + " test failure, dev sdz") == 0;
        });
      },
      10s, 200ms));
}
