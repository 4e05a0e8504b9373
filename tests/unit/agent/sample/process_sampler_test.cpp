// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/process_sampler.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

namespace fs = std::filesystem;
using namespace medic::agent::sample;
using medic::test::Process;
using medic::test::read_file;
using medic::test::RecordingSink;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

const fs::path k_pid_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc" / "pid";

std::map<std::string, std::string> process(const std::string& name) {
  return {{"process", name}};
}

// A stat line of a fake process: utime/stime ticks, start ticks, rss pages.
std::string stat_line(int pid, const std::string& comm, char state, int utime, int stime, int start,
                      int rss) {
  return std::to_string(pid) + " (" + comm + ") " + state + " 1 " + std::to_string(pid) + " " +
         std::to_string(pid) + " 0 -1 4194560 10 0 0 0 " + std::to_string(utime) + " " +
         std::to_string(stime) + " 0 0 20 0 1 0 " + std::to_string(start) + " 1000000 " +
         std::to_string(rss) + " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";
}

void fake_process(const TempDir& root, int pid, const std::string& stat, const std::string& cmdline,
                  int fds) {
  const fs::path dir = root / std::to_string(pid);
  fs::create_directories(dir / "fd");
  write_file(dir / "stat", stat);
  write_file(dir / "cmdline", cmdline);
  for (int fd = 0; fd < fds; ++fd) {
    write_file(dir / "fd" / std::to_string(fd), "");
  }
}

ProcessMatchConfig by_name(std::string name, std::string process_name) {
  ProcessMatchConfig match;
  match.name = std::move(name);
  match.process_name = std::move(process_name);
  return match;
}

ProcessMatchConfig by_cmdline(std::string name, std::string pattern) {
  ProcessMatchConfig match;
  match.name = std::move(name);
  match.cmdline = std::move(pattern);
  return match;
}

ProcessMatchConfig by_pid_file(std::string name, std::string path) {
  ProcessMatchConfig match;
  match.name = std::move(name);
  match.pid_file = std::move(path);
  return match;
}

// A copy of /bin/sleep under a name no other process on the machine has.
fs::path unique_sleep(const TempDir& dir, const std::string& prefix) {
  fs::path path = dir / (prefix + std::to_string(::getpid()));
  fs::copy_file("/bin/sleep", path);
  return path;
}

// True once /proc/PID/cmdline ends with `tail`: the child has exec'd and its argv is visible.
// posix_spawn's parent resumes when the exec swaps the address space, which is before the kernel
// has set up the new argv: for a moment comm is new and cmdline is empty.
bool shows_command_line(pid_t pid, const std::string& tail) {
  return medic::test::wait_until(
      [&] {
        std::string text;
        try {
          text = read_file(fs::path("/proc") / std::to_string(pid) / "cmdline");
        } catch (const std::exception&) {
          return false;
        }
        while (!text.empty() && text.back() == '\0') {
          text.pop_back();
        }
        return text.size() >= tail.size() &&
               text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
      },
      std::chrono::seconds(5));
}

double page_bytes() {
  return static_cast<double>(::sysconf(_SC_PAGESIZE));
}

} // namespace

TEST_CASE("parse_proc_stat", "[sample][process]") {
  // The views point into the text: keep it alive.
  const std::string real_text = read_file(k_pid_fixtures / "stat.real");
  const auto real = parse_proc_stat(real_text);
  REQUIRE(real);
  CHECK(real->comm == "cat");
  CHECK(real->state == 'R');
  CHECK(real->start_ticks == 1020757);
  CHECK(real->rss_pages == 394);
  CHECK_FALSE(is_kernel_thread(*real));

  const std::string odd_text = read_file(k_pid_fixtures / "stat.parens");
  const auto odd = parse_proc_stat(odd_text);
  REQUIRE(odd);
  CHECK(odd->comm == "my (odd) name");
  CHECK(odd->utime_ticks == 77);
  CHECK(odd->stime_ticks == 23);
  CHECK(odd->start_ticks == 123456);
  CHECK(odd->rss_pages == 321);

  const std::string kthread_text = read_file(k_pid_fixtures / "stat.kthread");
  const auto kthread = parse_proc_stat(kthread_text);
  REQUIRE(kthread);
  CHECK(is_kernel_thread(*kthread));

  CHECK_THAT(parse_proc_stat(read_file(k_pid_fixtures / "stat.short")).error().message(),
             Catch::Contains("at least 24"));
  CHECK_THAT(parse_proc_stat("1 x S").error().message(), Catch::Contains("no '(comm)'"));

  char raw[] = "/usr/bin/python3\0app.py\0--flag\0";
  CHECK(command_line_text(std::span<char>(raw, sizeof raw - 1)) ==
        "/usr/bin/python3 app.py --flag");
  CHECK(executable_name("/usr/sbin/nginx (deleted)") == "nginx");
  CHECK(executable_name("nginx") == "nginx");
}

TEST_CASE("ProcessConfig validation names the field", "[sample][process]") {
  ProcessConfig config;
  config.processes = {by_name("web", "nginx"), by_cmdline("app", "worker(")};
  CHECK_THAT(config.validate().error().message(),
             Catch::Contains("processes[1].cmdline: 'worker(' is not a valid RE2 pattern"));
  config.processes = {by_name("web", "nginx"), by_name("web", "httpd")};
  CHECK_THAT(config.validate().error().message(), Catch::Contains("'web' is used twice"));
  auto both = by_name("x", "nginx");
  both.pid_file = "/run/nginx.pid";
  config.processes = {both};
  CHECK_THAT(config.validate().error().message(),
             Catch::Contains("processes[0]: set exactly one of"));
  config.processes = {by_pid_file("x", "run/x.pid")};
  CHECK_THAT(config.validate().error().message(), Catch::Contains("is not absolute"));
  config.processes = {by_name("x", "a/b")};
  CHECK_THAT(config.validate().error().message(), Catch::Contains("process_name"));
  config.processes = {by_name("", "nginx")};
  CHECK_THAT(config.validate().error().message(), Catch::Contains("processes[0].name"));
  config.processes = {};
  config.discovery_interval_ms = 10;
  CHECK_THAT(config.validate().error().message(), Catch::Contains("discovery_interval"));
}

TEST_CASE("ProcessSampler on a fixture /proc", "[sample][process]") {
  TempDir root;
  fake_process(root, 100, stat_line(100, "web server", 'S', 250, 50, 5000, 2500),
               std::string("/usr/bin/web\0--port\0"
                           "8080\0",
                           25),
               3);
  fake_process(root, 200, stat_line(200, "python3", 'S', 10, 0, 6000, 100),
               std::string("python3\0/opt/app/worker.py\0", 27), 4);
  fake_process(root, 201, stat_line(201, "python3", 'S', 20, 0, 6001, 200),
               std::string("python3\0/opt/app/worker.py\0", 27), 5);
  fake_process(root, 300, read_file(k_pid_fixtures / "stat.kthread"), "", 0);
  ProcessConfig config;
  config.processes = {by_name("web", "web server"), by_cmdline("worker", R"(app/worker\.py)"),
                      by_name("absent", "nothing")};
  ProcessSampler sampler(config, root.path());
  REQUIRE(sampler.open());
  CHECK(sampler.tracked_pids(0) == std::vector<pid_t>{100});
  CHECK(sampler.tracked_pids(1).size() == 2);

  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1000));
  CHECK(sink.value("proc.up", process("web")) == 1);
  CHECK(sink.value("proc.count", process("worker")) == 2);
  CHECK(sink.value("proc.rss_bytes", process("worker")) == 300 * page_bytes());
  CHECK(sink.value("proc.open_fds", process("worker")) == 9);
  CHECK(sink.value("proc.up", process("absent")) == 0);
  CHECK(sink.value("proc.count", process("absent")) == 0);
  CHECK(sink.value("proc.restarts", process("web")) == 0);
  CHECK(sink.count("proc.cpu_pct") == 0); // needs a second reading

  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  write_file(root / "100" / "stat", stat_line(100, "web server", 'S', 300, 100, 5000, 2600));
  sink.clear();
  REQUIRE(sampler.sample(sink, 3000));
  // 100 ticks in 2 s.
  CHECK(sink.value("proc.cpu_pct", process("web")) == Approx(100 / ticks / 2 * 100));
  CHECK(sink.value("proc.cpu_pct", process("worker")) == 0);
  CHECK(sink.value("proc.rss_bytes", process("web")) == 2600 * page_bytes());
  CHECK(sampler.scans() == 1); // no discovery between the 10 s intervals

  SECTION("a process that dies is replaced by a new one: a restart") {
    write_file(root / "100" / "stat", stat_line(100, "web server", 'Z', 300, 100, 5000, 0));
    fake_process(root, 101, stat_line(101, "web server", 'S', 1, 1, 9000, 1000), "", 2);
    sink.clear();
    REQUIRE(sampler.sample(sink, 4000));
    CHECK(sampler.scans() == 2); // the vanished process triggered a discovery at once
    CHECK(sampler.tracked_pids(0) == std::vector<pid_t>{101});
    CHECK(sink.value("proc.up", process("web")) == 1);
    CHECK(sink.value("proc.restarts", process("web")) == 1);
  }
  SECTION("a pid reused by another process is not the tracked one") {
    write_file(root / "100" / "stat", stat_line(100, "web server", 'S', 1, 1, 7777, 10));
    sink.clear();
    REQUIRE(sampler.sample(sink, 4000));
    // Start time changed: the old one is gone; the new one matches by name and is tracked.
    CHECK(sink.value("proc.restarts", process("web")) == 1);
    CHECK(sink.value("proc.count", process("web")) == 1);
  }
  SECTION("max_processes bounds what is tracked") {
    config.processes[1].max_processes = 1;
    ProcessSampler bounded(config, root.path());
    REQUIRE(bounded.open());
    CHECK(bounded.tracked_pids(1).size() == 1);
  }
}

TEST_CASE("ProcessSampler open errors", "[sample][process]") {
  ProcessSampler missing({}, "/no/such/proc");
  const auto opened = missing.open();
  REQUIRE_FALSE(opened);
  CHECK_THAT(opened.error().message(), Catch::Contains("listing /no/such/proc"));
  ProcessConfig bad;
  bad.processes = {by_cmdline("x", "(")};
  ProcessSampler invalid(bad);
  CHECK_FALSE(invalid.open());
}

TEST_CASE("ProcessSampler follows real processes by name and restart", "[sample][process][real]") {
  TempDir dir;
  const fs::path sleeper = unique_sleep(dir, "mdslp");
  ProcessConfig config;
  config.processes = {by_name("sleeper", sleeper.filename().string())};
  auto first =
      std::make_unique<Process>(std::vector<std::string>{sleeper.string(), "1000"}, dir / "log");
  ProcessSampler sampler(config);
  REQUIRE(sampler.open());
  CHECK(sampler.tracked_pids(0) == std::vector<pid_t>{first->pid()});

  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1000));
  CHECK(sink.value("proc.up", process("sleeper")) == 1);
  CHECK(sink.value("proc.count", process("sleeper")) == 1);
  // A child sampled right after its exec may not have mapped its pages yet (seen under ASan on
  // a loaded machine): give it a bounded moment.
  for (int tries = 0; tries < 20 && !(sink.value("proc.rss_bytes", process("sleeper")) > 0);
       ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sink.clear();
    REQUIRE(sampler.sample(sink, 1000 + tries + 1));
  }
  CHECK(sink.value("proc.rss_bytes", process("sleeper")) > 0);
  CHECK(sink.value("proc.open_fds", process("sleeper")) >= 3);

  first->signal(SIGKILL);
  REQUIRE(first->wait_for(std::chrono::seconds(5)));
  sink.clear();
  REQUIRE(sampler.sample(sink, 2000));
  CHECK(sink.value("proc.up", process("sleeper")) == 0);
  CHECK(sink.value("proc.count", process("sleeper")) == 0);
  CHECK(sink.value("proc.restarts", process("sleeper")) == 0);

  const Process second({sleeper.string(), "1000"}, dir / "log");
  sink.clear();
  REQUIRE(sampler.sample(sink, 2500)); // the first rescan comes 1 s after the vanishing
  CHECK(sink.value("proc.up", process("sleeper")) == 0);
  CHECK(sampler.scans() == 2);
  sink.clear();
  REQUIRE(sampler.sample(sink, 3000));
  CHECK(sampler.scans() == 3);
  CHECK(sink.value("proc.up", process("sleeper")) == 1);
  CHECK(sink.value("proc.restarts", process("sleeper")) == 1);
  CHECK(sampler.tracked_pids(0) == std::vector<pid_t>{second.pid()});
  // Replaced: back to the discovery interval.
  REQUIRE(sampler.sample(sink, 5000));
  CHECK(sampler.scans() == 3);
  REQUIRE(sampler.sample(sink, 13'000));
  CHECK(sampler.scans() == 4);
}

TEST_CASE("ProcessSampler matches a long executable name, a command line, a pid file",
          "[sample][process][real]") {
  TempDir dir;
  const fs::path sleeper = unique_sleep(dir, "medic-long-sleeper-");
  const std::string tag = "3600." + std::to_string(::getpid());
  ProcessConfig config;
  config.processes = {by_name("long", sleeper.filename().string()),
                      by_cmdline("args", "sleeper-[0-9]+ " + tag + "$"),
                      by_pid_file("pidfile", (dir / "service.pid").string())};
  auto a = std::make_unique<Process>(std::vector<std::string>{sleeper.string(), tag}, dir / "log");
  const Process b({sleeper.string(), tag}, dir / "log");
  REQUIRE(shows_command_line(a->pid(), tag));
  REQUIRE(shows_command_line(b.pid(), tag));
  write_file(dir / "service.pid", std::to_string(a->pid()) + "\n");
  ProcessSampler sampler(config);
  REQUIRE(sampler.open());

  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1000));
  CHECK(sink.value("proc.count", process("long")) == 2); // comm is cut at 15 bytes
  CHECK(sink.value("proc.count", process("args")) == 2);
  CHECK(sink.value("proc.count", process("pidfile")) == 1);

  // The service is restarted: a new pid in the pid file.
  a->signal(SIGKILL);
  REQUIRE(a->wait_for(std::chrono::seconds(5)));
  const Process c({sleeper.string(), "1000"}, dir / "log");
  REQUIRE(shows_command_line(c.pid(), "1000"));
  write_file(dir / "service.pid", std::to_string(c.pid()) + "\n");
  sink.clear();
  REQUIRE(sampler.sample(sink, 2000));
  CHECK(sink.value("proc.up", process("pidfile")) == 1);
  CHECK(sink.value("proc.restarts", process("pidfile")) == 1);
  CHECK(sampler.tracked_pids(2) == std::vector<pid_t>{c.pid()});
  CHECK(sink.value("proc.count", process("args")) == 1); // c has other arguments
  CHECK(sink.value("proc.count", process("long")) == 2);
  CHECK(sink.value("proc.restarts", process("long")) == 1);
}
