// SPDX-License-Identifier: Apache-2.0
// medic-log-pipeline-bench: the agent's whole log path following one file (issue 4). It runs
// agent::loop::LogPipeline as agent/loop/agent.cpp wires it: Tailer (reads in libuv's
// threadpool, 2 threads as agent_loop.cpp sets) -> LogRules (20 rule patterns in one
// Hyperscan matcher, the template miner off or on) -> protocol views -> a BatchBuilder that is
// emptied every 100 ms (batch.event_delay) with a new per-flush event budget. Encoding and
// spooling of the batches are not included.
//
//   medic-log-pipeline-bench --print-patterns             the 20 patterns, one per line
//   medic-log-pipeline-bench --write=FILE [--lines=2000000] deterministic syslog-like lines
//   medic-log-pipeline-bench --file=FILE [--lines=2000000] [--mining=off|on] [--timeout=600]
//       follows FILE from its beginning (it may still be growing), prints "ready" once the file
//       is open, then one JSON line once --lines records went through: wall and CPU seconds
//       from "ready" (loop and threadpool threads), seconds spent waiting for a CPU, lines,
//       bytes, rule matches, signals, events.
// tests/bench/agent_bench.py drives it (pinned to one CPU) next to tail -F | grep -E and
// collectd, and prints the Markdown tables; see BENCHMARKS.md, "Agent (issue 4)".
//
// The patterns are written so that RE2, GNU grep -E and glibc regcomp (collectd, monit) read
// them the same way: no \d, no named groups, no case-insensitive flag.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "agent/link/batch_builder.hpp"
#include "agent/loop/log_pipeline.hpp"
#include "shared/clock.hpp"
#include "shared/uv/handle.hpp"

namespace {

namespace fs = std::filesystem;
namespace agent = medic::agent;
using Seconds = std::chrono::duration<double>;

const std::vector<std::string>& patterns() {
  static const std::vector<std::string> k_patterns = {
      "Connection refused",
      "[Oo]ut of [Mm]emory",
      "segfault at [0-9a-f]+ ip [0-9a-f]+",
      R"(\b(ERROR|FATAL|CRIT)\b)",
      R"(Failed password for (invalid user )?[^ ]+ from [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)",
      "I/O error, dev [a-z0-9]+, sector [0-9]+",
      R"([Tt]imed? ?[Oo]ut\b)",
      "No space left on device",
      "Too many open files",
      "kernel: .*Call Trace",
      "oom-killer|Killed process [0-9]+",
      R"(\b[Pp]anic\b)",
      "authentication failure",
      R"(HTTP/1\.[01]" 5[0-9][0-9] )",
      "upstream timed out",
      R"([Ee]xception\b)",
      "[Cc]ertificate (has )?expired",
      "EXT4-fs error",
      "link is down|Link down",
      R"(^[^ ]+ +[0-9]+ [0-9:]+ [^ ]+ systemd\[1\]: Failed to start )",
  };
  return k_patterns;
}

std::uint64_t next(std::uint64_t& state) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return state >> 33;
}

// The varying parts of one line.
struct Fields {
  unsigned pid, a, b, port, x;
  const char* user;
};

using Shape = int (*)(char*, std::size_t, const Fields&);

// 16 message shapes; 0, 1 and one in eight of shape 2 match a pattern (about 7 % of lines).
// One entry of k_shapes: a printf format and its arguments taken from `f`.
#define MEDIC_BENCH_SHAPE(...) \
  [](char* m, std::size_t n, const Fields& f) { return std::snprintf(m, n, __VA_ARGS__); }

const Shape k_shapes[] = {
    MEDIC_BENCH_SHAPE("sshd[%u]: Failed password for %s from 10.0.%u.%u port %u ssh2", f.pid,
                      f.user, f.a, f.b, f.port),
    MEDIC_BENCH_SHAPE("app[%u]: ERROR connect to db-%u:5432: Connection refused", f.pid, f.a % 3),
    MEDIC_BENCH_SHAPE("nginx[%u]: 10.1.%u.%u - - \"GET /api/v1/items/%u HTTP/1.1\" %s %u "
                      "\"-\" \"curl/7.88\"",
                      f.pid, f.a, f.b, f.port, f.x % 8 == 0 ? "502" : "200", f.port * 3),
    MEDIC_BENCH_SHAPE("CRON[%u]: (%s) CMD (/usr/local/bin/backup.sh --incremental %u)", f.pid,
                      f.user, f.a),
    MEDIC_BENCH_SHAPE("systemd[1]: Started Session %u of user %s.", f.port, f.user),
    MEDIC_BENCH_SHAPE(
        "sshd[%u]: Accepted publickey for %s from 10.0.%u.%u port %u ssh2: RSA SHA256:%08x", f.pid,
        f.user, f.a, f.b, f.port, f.x),
    MEDIC_BENCH_SHAPE("app[%u]: INFO request id=%08x path=/orders/%u took %ums status=200", f.pid,
                      f.x, f.port, f.a + f.b),
    MEDIC_BENCH_SHAPE(
        "kernel: [%u.%06u] IPv4: martian source 10.2.%u.%u from 10.2.%u.1, on dev eth%u", f.pid,
        f.port, f.a, f.b, f.a, f.b % 2),
    MEDIC_BENCH_SHAPE("dockerd[%u]: time=\"2024-11-23T01:%02u:%02u.%09uZ\" level=info "
                      "msg=\"container %08x health status healthy\"",
                      f.pid, f.a % 60, f.b % 60, f.port * 7, f.x),
    MEDIC_BENCH_SHAPE("postgres[%u]: [%u-1] LOG: checkpoint complete: wrote %u buffers (%u.%u%%)",
                      f.pid, f.a, f.port, f.a % 100, f.b % 10),
    MEDIC_BENCH_SHAPE("systemd-resolved[%u]: Using degraded feature set UDP instead of "
                      "UDP+EDNS0 for DNS server 10.0.0.%u.",
                      f.pid, f.a),
    MEDIC_BENCH_SHAPE("app[%u]: WARN slow query on table orders_%u: %u rows in %u.%03us", f.pid,
                      f.a % 12, f.port, f.a % 9, f.b),
    MEDIC_BENCH_SHAPE("kubelet[%u]: I1123 01:%02u:%02u.%06u %u pod_workers.go:%u] "
                      "\"SyncPod\" pod=\"default/web-%x\"",
                      f.pid, f.a % 60, f.b % 60, f.port, f.pid, f.a + 100, f.x),
    MEDIC_BENCH_SHAPE("sshd[%u]: pam_unix(sshd:session): session closed for user %s", f.pid,
                      f.user),
    MEDIC_BENCH_SHAPE("ntpd[%u]: adjusting local clock by %d.%06us", f.pid, int(f.a) - 128, f.port),
    MEDIC_BENCH_SHAPE("rsyslogd[%u]: imjournal: %u messages lost due to rate-limiting (%u "
                      "allowed within %u seconds)",
                      f.pid, f.port, f.a * 100, f.b % 30 + 1),
};
#undef MEDIC_BENCH_SHAPE

// "Nov  3 01:02:03 web-07 prog[pid]: message\n"; shapes 2..15 are drawn twice as often as 0, 1.
std::string line_at(std::uint64_t& s) {
  static const char* const k_months[] = {"Jan", "Feb", "Mar", "Nov", "Dec"};
  static const char* const k_users[] = {"root", "admin", "deploy", "alice", "bob", "postgres"};
  Fields f{};
  f.pid = unsigned(next(s) % 60000 + 100);
  f.a = unsigned(next(s) % 256);
  f.b = unsigned(next(s) % 256);
  f.port = unsigned(next(s) % 60000 + 1024);
  f.x = unsigned(next(s));
  f.user = k_users[next(s) % 6];
  const char* month = k_months[next(s) % 5];
  const unsigned day = unsigned(next(s) % 28 + 1);
  const unsigned hour = unsigned(next(s) % 24);
  const unsigned host = unsigned(next(s) % 40);
  const std::uint64_t pick = next(s) % 30;
  const std::size_t shape = pick < 2 ? pick : 2 + (pick - 2) / 2;
  char buf[400];
  const int head = std::snprintf(buf, sizeof buf, "%s %2u %02u:%02u:%02u web-%02u ", month, day,
                                 hour, f.a % 60, f.b % 60, host);
  const int body = k_shapes[shape](buf + head, sizeof buf - std::size_t(head), f);
  std::string line(buf, std::size_t(head + body));
  line += '\n';
  return line;
}

std::uint64_t write_lines(const fs::path& path, std::uint64_t lines) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::uint64_t state = 42;
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 0; i < lines; ++i) {
    const std::string line = line_at(state);
    bytes += std::fwrite(line.data(), 1, line.size(), out);
  }
  std::fclose(out);
  return bytes;
}

// CPU seconds of this process (loop and threadpool threads), and seconds its live threads
// waited for a CPU (schedstat run delay): on a shared machine wall time is CPU + waiting.
struct Usage {
  double cpu_s = 0;
  double wait_s = 0;
};

Usage usage() {
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  const auto seconds = [](const timeval& tv) { return double(tv.tv_sec) + tv.tv_usec / 1e6; };
  Usage now{seconds(self.ru_utime) + seconds(self.ru_stime), 0};
  std::error_code ignored;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ignored)) {
    unsigned long long run = 0;
    unsigned long long wait = 0;
    if (std::FILE* f = std::fopen((task.path() / "schedstat").c_str(), "r")) {
      if (std::fscanf(f, "%llu %llu", &run, &wait) == 2) {
        now.wait_s += double(wait) / 1e9;
      }
      std::fclose(f);
    }
  }
  return now;
}

agent::config::SensingConfig sensing(const fs::path& file, bool mining) {
  agent::config::SensingConfig config;
  config.default_rules = false;
  config.mine_templates = mining;
  config.new_error_templates = mining;
  for (std::size_t i = 0; i < patterns().size(); ++i) {
    agent::config::LogRuleConfig rule;
    rule.id = "bench-" + std::to_string(i + 1);
    rule.pattern = patterns()[i];
    config.log_rules.push_back(std::move(rule));
  }
  config.tail.sources.push_back(agent::tail::TailSource{
      "bench", {file.string()}, "", std::size_t{16} * 1024, agent::tail::StartAt::beginning});
  return config;
}

// A LogPipeline on its own loop, its output going into a BatchBuilder that a 100 ms timer
// empties (as the agent's event flush would), with the rules ticked every second.
class PipelineRun {
public:
  PipelineRun(const fs::path& file, bool mining) {
    uv_loop_init(&m_loop);
    agent::loop::LogOutput output;
    output.signal = [this](const medic::protocol::SignalView& signal) {
      ++m_signals;
      if (!m_batch.add_signal(signal)) {
        m_batch.clear_events(); // the agent would flush here
        (void)m_batch.add_signal(signal);
      }
    };
    output.event = [this](const medic::protocol::LogEventView& event) {
      ++m_events;
      if (!m_batch.add_log(event)) {
        m_batch.clear_events();
        (void)m_batch.add_log(event);
      }
    };
    auto created = agent::loop::LogPipeline::create(m_loop, sensing(file, mining), m_clock, output);
    if (!created) {
      std::fprintf(stderr, "%s\n", created.error().message().c_str());
      std::exit(1);
    }
    m_pipeline = std::move(*created);
    uv_timer_init(&m_loop, &m_timer);
    m_timer.data = this;
    uv_timer_start(&m_timer, &PipelineRun::on_timer, 100, 100);
  }
  PipelineRun(const PipelineRun&) = delete;
  PipelineRun& operator=(const PipelineRun&) = delete;
  ~PipelineRun() {
    m_pipeline->stop();
    medic::uv::close_handle(m_timer);
    m_pipeline.reset();
    medic::uv::close_loop(m_loop);
  }

  // Starts following; returns once the file is open (or the deadline passed).
  void start(std::chrono::steady_clock::time_point deadline) {
    if (auto started = m_pipeline->start(); !started) {
      std::fprintf(stderr, "%s\n", started.error().message().c_str());
      std::exit(1);
    }
    run_while([this] { return m_pipeline->tail_stats()->files_open == 0; }, deadline);
  }
  // Runs until `lines` records went through; false at the deadline.
  bool follow(std::uint64_t lines, std::chrono::steady_clock::time_point deadline) {
    run_while([&] { return m_pipeline->tail_stats()->records < lines; }, deadline);
    return m_pipeline->tail_stats()->records >= lines;
  }

  void print_json(double wall_s, Usage used, bool complete) const {
    const auto& stats = *m_pipeline->tail_stats();
    const long long done_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    std::printf(
        "{\"complete\":%s,\"lines\":%llu,\"bytes\":%llu,\"wall_s\":%.6f,\"cpu_s\":%.6f,"
        "\"wait_s\":%.6f,"
        "\"done_unix_ns\":%lld,\"matches\":%llu,\"signals\":%llu,\"events\":%llu}\n",
        complete ? "true" : "false", static_cast<unsigned long long>(stats.records),
        static_cast<unsigned long long>(stats.bytes), wall_s, used.cpu_s, used.wait_s, done_ns,
        static_cast<unsigned long long>(m_pipeline->rule_counters().matches),
        static_cast<unsigned long long>(m_signals), static_cast<unsigned long long>(m_events));
  }

private:
  static void on_timer(uv_timer_t* timer) noexcept {
    auto* self = static_cast<PipelineRun*>(timer->data);
    self->m_batch.clear_events();
    self->m_pipeline->new_flush_window();
    if (++self->m_ticks % 10 == 0) {
      self->m_pipeline->tick();
    }
  }
  template <class Condition>
  void run_while(Condition condition, std::chrono::steady_clock::time_point deadline) {
    while (condition() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&m_loop, UV_RUN_ONCE); // the 100 ms timer bounds each wait
    }
  }

  uv_loop_t m_loop{};
  uv_timer_t m_timer{};
  medic::SystemClock m_clock;
  agent::link::BatchBuilder m_batch{agent::link::BatchLimits{}};
  std::unique_ptr<agent::loop::LogPipeline> m_pipeline;
  std::uint64_t m_signals = 0;
  std::uint64_t m_events = 0;
  unsigned m_ticks = 0;
};

struct Args {
  std::uint64_t lines = 2'000'000;
  std::string write;
  std::string file;
  bool mining = false;
  bool print_patterns = false;
  double timeout_s = 600;
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&](std::string_view key) -> std::optional<std::string> {
      if (arg.starts_with(key)) {
        return std::string(arg.substr(key.size()));
      }
      return std::nullopt;
    };
    if (auto lines = value("--lines=")) {
      args.lines = std::stoull(*lines);
    } else if (auto write = value("--write=")) {
      args.write = *write;
    } else if (auto file = value("--file=")) {
      args.file = *file;
    } else if (auto mining = value("--mining=")) {
      args.mining = *mining == "on";
    } else if (auto timeout = value("--timeout=")) {
      args.timeout_s = std::stod(*timeout);
    } else if (arg == "--print-patterns") {
      args.print_patterns = true;
    } else {
      std::fprintf(stderr,
                   "unknown argument %s; usage at the top of "
                   "tests/bench/log_pipeline_bench.cpp\n",
                   argv[i]);
      std::exit(2);
    }
  }
  return args;
}

} // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  ::setenv("UV_THREADPOOL_SIZE", "2", 0); // as agent/loop/agent_loop.cpp; read at the first use
  if (args.print_patterns) {
    for (const auto& pattern : patterns()) {
      std::printf("%s\n", pattern.c_str());
    }
    return 0;
  }
  if (!args.write.empty()) {
    std::printf("%llu\n", static_cast<unsigned long long>(write_lines(args.write, args.lines)));
    return 0;
  }
  if (args.file.empty()) {
    std::fprintf(stderr, "give --file=FILE (see the top of log_pipeline_bench.cpp)\n");
    return 2;
  }
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(Seconds(args.timeout_s));
  PipelineRun run(args.file, args.mining);
  run.start(deadline);
  std::printf("ready\n");
  std::fflush(stdout);
  const Usage before = usage();
  const auto start = std::chrono::steady_clock::now();
  const bool complete = run.follow(args.lines, deadline);
  const double wall_s = Seconds(std::chrono::steady_clock::now() - start).count();
  const Usage after = usage();
  run.print_json(wall_s, {after.cpu_s - before.cpu_s, after.wait_s - before.wait_s}, complete);
  return complete ? 0 : 1;
}
