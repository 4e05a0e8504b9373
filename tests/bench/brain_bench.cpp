// SPDX-License-Identifier: Apache-2.0
// medic-brain-bench: the coordinator's brain under load (issue 6). A real engine::Engine on a
// real libuv loop, with a real SqliteStore in a temp dir reached through a real uv::Worker (the
// write-behind, one transaction a second), the shipped diagnosis rules, and N simulated agents
// introduced with HELLO (a catalog holding restart-service, risk low, param unit).
//
// A 1 ms uv timer feeds `--rate` agent turns a second, round-robin over the agents: each turn
// is one on_batch with one firing process-down signal — a new fingerprint (a new incident, a
// new restart-service COMMAND) or, in `--repeat-pct` of turns, the agent's last one again (it
// folds) — plus the `cleared` of the agent's previous incident once its RESULT is in, so
// incidents resolve after correlation.quiet_period like on a real fleet. Each COMMAND is
// answered `--answer-ms` later with a succeeded RESULT (post-condition passed) via on_result.
//
// Measured per COMMAND: steady-clock time from the on_batch call that carried its signal to
// send_command (what the engine adds), and from the turn's scheduled arrival (adds the time
// the turn waited for the loop: the engine's 1 s tick, the 1 ms feed timer). In process: no
// ZeroMQ, no CURVE, no msgpack decode and no batch storage (that is medic-ingest-bench).
//
// Prints Markdown to stdout; progress to stderr.

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>
#include <uv.h>

#include "coordinator/engine/engine.hpp"
#include "coordinator/engine/engine_config.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"
#include "shared/clock.hpp"
#include "shared/config/schema.hpp"
#include "shared/uv/handle.hpp"
#include "shared/uv/worker.hpp"

namespace medic::bench {

namespace {

namespace engine = coordinator::engine;
namespace server = coordinator::server;
using Steady = std::chrono::steady_clock;

struct Options {
  std::size_t agents = 1000;
  double rate = 1000; // agent turns (firing signals) a second
  double seconds = 20;
  double warmup = 2; // commands of the first seconds are not measured
  std::int64_t answer_ms = 100;
  std::uint32_t repeat_pct = 10;
  std::string rules; // a rules file; empty: the shipped rules
};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

[[noreturn]] void usage(const std::string& complaint) {
  std::fprintf(stderr,
               "medic-brain-bench: %s\n"
               "usage: medic-brain-bench [--agents=1000] [--rate=1000] [--seconds=20] "
               "[--warmup=2] [--answer-ms=100] [--repeat-pct=10] [--rules=FILE]\n",
               complaint.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    try {
      if (key == "--agents") {
        o.agents = std::stoul(value);
      } else if (key == "--rate") {
        o.rate = std::stod(value);
      } else if (key == "--seconds") {
        o.seconds = std::stod(value);
      } else if (key == "--warmup") {
        o.warmup = std::stod(value);
      } else if (key == "--answer-ms") {
        o.answer_ms = std::stoll(value);
      } else if (key == "--repeat-pct") {
        o.repeat_pct = static_cast<std::uint32_t>(std::stoul(value));
      } else if (key == "--rules") {
        o.rules = value;
      } else {
        usage("unknown option " + arg);
      }
    } catch (const std::logic_error&) {
      usage("bad value in " + arg);
    }
  }
  if (o.agents == 0 || o.agents > 100'000 || o.rate <= 0 || o.rate > 100'000 || o.seconds <= 0 ||
      o.seconds > 3600 || o.warmup < 0 || o.warmup >= o.seconds || o.answer_ms < 0 ||
      o.repeat_pct > 90) {
    usage("a value is out of range");
  }
  return o;
}

// The coordinator config the engine runs with: limits high enough never to hold a command back,
// and no settle delay (commands.settle, 1 s by default, deliberately holds a new incident's
// first plan so a fleet can form; this measures the engine's own path).
constexpr const char* k_config = R"(commands:
  settle: 0s
plan:
  max_concurrent: 10000
  max_per_host: 100
  max_per_action_per_day: 1000000
  cooldown: 0s
correlation:
  quiet_period: 1s
)";

engine::EngineConfig load_config(const Options& options) {
  engine::EngineConfig config;
  config::Schema schema("MEDIC_BENCH_");
  engine::add_engine_keys(schema, config);
  std::string text = k_config;
  if (!options.rules.empty()) {
    text += "diagnosis: {rules_file: '" + options.rules + "'}\n";
  }
  if (auto loaded = schema.load_text(text, "<brain-bench>"); !loaded) {
    usage(loaded.error().message());
  }
  if (auto finished = engine::finish_engine(config); !finished) {
    usage(finished.error().message());
  }
  return config;
}

struct AgentState {
  std::string id;
  std::uint64_t next_fingerprint = 0;
  std::string open_fingerprint;      // fired last, not cleared yet
  std::vector<std::string> to_clear; // answered: cleared in the next batch with a new signal
  std::int64_t pending_call = 0;     // on_batch call of the new signal awaiting its COMMAND
  std::int64_t pending_scheduled = 0;
};

struct Answer {
  std::int64_t at_ns = 0;
  std::size_t agent = 0;
  std::string command_id;
  std::string action;
  std::vector<protocol::Label> params;
};

struct Figures {
  std::vector<std::int64_t> from_call;      // ns, measured commands
  std::vector<std::int64_t> from_scheduled; // ns
  std::vector<std::int64_t> on_batch_ns;    // each call, after the warm-up
  std::vector<std::int64_t> on_result_ns;
  std::uint64_t commands = 0;
  std::uint64_t commands_outside_batch = 0; // sent by a tick or a RESULT, not by on_batch
  std::uint64_t turns = 0;
  std::uint64_t firing = 0;
  std::uint64_t cleared = 0;
  std::uint64_t repeats = 0;
  std::int64_t max_turn_lag = 0; // ns a turn waited past its scheduled time
};

// Records when each COMMAND is sent and queues its RESULT; the engine calls it on the loop.
class RecordingSender final : public server::CommandSender {
public:
  RecordingSender(std::vector<AgentState>& agents, Figures& figures, const Options& options)
      : m_agents(agents), m_figures(figures), m_answer_ns(options.answer_ms * 1'000'000) {
    for (std::size_t i = 0; i < agents.size(); ++i) {
      m_index.emplace(agents[i].id, i);
    }
  }
  // The engine pushes the maintenance policy at every HELLO; nothing to measure there.
  Result<void> send_policy(const std::string& /*agent_id*/,
                           const protocol::Policy& /*policy*/) noexcept override {
    return {};
  }
  Result<void> send_command(const std::string& agent_id,
                            const protocol::Command& command) noexcept override {
    const std::int64_t now = steady_ns();
    const auto it = m_index.find(agent_id);
    if (it == m_index.end()) {
      return fail(ErrorCode::not_found, "no agent " + agent_id);
    }
    AgentState& agent = m_agents[it->second];
    ++m_figures.commands;
    if (!m_in_batch) {
      ++m_figures.commands_outside_batch;
    }
    if (agent.pending_call != 0 && m_measuring) {
      m_figures.from_call.push_back(now - agent.pending_call);
      m_figures.from_scheduled.push_back(now - agent.pending_scheduled);
    }
    agent.pending_call = 0;
    m_answers.push_back(
        {now + m_answer_ns, it->second, command.id, command.action, command.params});
    return {};
  }
  std::deque<Answer>& answers() noexcept { return m_answers; }
  void set_in_batch(bool in_batch) noexcept { m_in_batch = in_batch; }
  void set_measuring(bool measuring) noexcept { m_measuring = measuring; }

private:
  std::vector<AgentState>& m_agents;
  Figures& m_figures;
  std::int64_t m_answer_ns;
  std::unordered_map<std::string, std::size_t> m_index;
  std::deque<Answer> m_answers; // in send order, so in answer order
  bool m_in_batch = false;
  bool m_measuring = false;
};

protocol::Hello hello_of(const AgentState& agent) {
  protocol::Hello hello;
  hello.host = agent.id;
  hello.agent_version = "bench";
  hello.labels = {{"role", "web"}};
  protocol::ParamSchema unit;
  unit.name = "unit";
  unit.type = "string";
  hello.actions.push_back({"restart-service", "low", {unit}});
  return hello;
}

protocol::Signal process_signal(const std::string& fingerprint, protocol::SignalState state,
                                std::int64_t now_ms) {
  protocol::Signal signal;
  signal.rule = "process-down";
  signal.state = state;
  signal.severity = protocol::Severity::high;
  signal.category = protocol::Category::resource;
  signal.fingerprint = fingerprint;
  signal.value = state == protocol::SignalState::firing ? 0 : 1;
  signal.time_ms = now_ms;
  signal.labels = {{"process", fingerprint.substr(fingerprint.find('/') + 1)}};
  signal.message = "process " + signal.labels[0].value + " is not running";
  return signal;
}

} // namespace

namespace {

struct Usage {
  double process_cpu_s = 0;
  double loop_cpu_s = 0;
};

double seconds_of(const timeval& user, const timeval& sys) {
  return static_cast<double>(user.tv_sec + sys.tv_sec) +
         static_cast<double>(user.tv_usec + sys.tv_usec) / 1e6;
}

Usage usage_now() {
  rusage self{};
  rusage thread{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_THREAD, &thread);
  return {seconds_of(self.ru_utime, self.ru_stime), seconds_of(thread.ru_utime, thread.ru_stime)};
}

// kB from /proc/self/status ("VmRSS", "VmHWM"); 0 when unreadable.
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::atol(line.c_str() + field.size() + 1);
    }
  }
  return 0;
}

// Drives the engine from one 1 ms timer: agent turns on schedule, RESULTs when due, then a
// drain (the last answers, the quiet period, a tick) before closing everything.
class Bench {
public:
  Bench(uv_loop_t& loop, const Options& options, engine::EngineConfig& config,
        coordinator::storage::Store& store)
      : m_loop(loop),
        m_options(options),
        m_agents(make_agents(options.agents)),
        m_worker(loop, "medic-storage", 1024 + 256),
        m_sender(m_agents, m_figures, options),
        m_engine(loop, m_clock, config, config.diagnose.rules, m_sender, m_worker, store) {}

  [[nodiscard]] Result<void> start() {
    if (auto restored = m_engine.restore(); !restored) {
      return restored;
    }
    m_engine.start();
    for (const auto& agent : m_agents) {
      m_engine.on_hello(agent.id, hello_of(agent), m_clock.now_unix_ms());
    }
    uv_timer_init(&m_loop, &m_timer);
    m_timer.data = this;
    m_start_ns = steady_ns();
    m_total_turns = static_cast<std::uint64_t>(m_options.rate * m_options.seconds);
    m_usage_start = usage_now();
    uv_timer_start(
        &m_timer, [](uv_timer_t* t) { static_cast<Bench*>(t->data)->on_timer(); }, 1, 1);
    return {};
  }

  void report() const;

private:
  static std::vector<AgentState> make_agents(std::size_t count) {
    std::vector<AgentState> agents(count);
    for (std::size_t i = 0; i < count; ++i) {
      char id[48];
      std::snprintf(id, sizeof id, "bench-%05zu.example.net", i);
      agents[i].id = id;
    }
    return agents;
  }

  void on_timer() noexcept {
    const std::int64_t now = steady_ns();
    const double elapsed_s = static_cast<double>(now - m_start_ns) / 1e9;
    m_measuring = elapsed_s >= m_options.warmup;
    m_sender.set_measuring(m_measuring);
    const auto due = std::min<std::uint64_t>(
        m_total_turns, static_cast<std::uint64_t>(elapsed_s * m_options.rate));
    for (; m_figures.turns < due; ++m_figures.turns) {
      const auto scheduled =
          m_start_ns +
          static_cast<std::int64_t>(static_cast<double>(m_figures.turns) * 1e9 / m_options.rate);
      m_figures.max_turn_lag = std::max(m_figures.max_turn_lag, steady_ns() - scheduled);
      turn(m_figures.turns, scheduled);
    }
    if (m_figures.turns == m_total_turns && m_usage_end.process_cpu_s == 0) {
      m_usage_end = usage_now();
      m_fed_ns = now - m_start_ns;
      m_drain_until = now + 3'000'000'000; // the last RESULTs, the 1 s quiet period, a tick
    }
    answer(now);
    if (m_drain_until != 0 && now >= m_drain_until && m_sender.answers().empty()) {
      finish();
    }
  }

  void turn(std::uint64_t index, std::int64_t scheduled) {
    AgentState& agent = m_agents[index % m_agents.size()];
    const std::int64_t now_ms = m_clock.now_unix_ms();
    protocol::Batch batch;
    const bool repeat =
        !agent.open_fingerprint.empty() && (index * 2654435761U) % 100 < m_options.repeat_pct;
    if (repeat) {
      batch.signals.push_back(
          process_signal(agent.open_fingerprint, protocol::SignalState::firing, now_ms));
      ++m_figures.repeats;
    } else {
      const std::size_t slot = static_cast<std::size_t>(&agent - m_agents.data());
      agent.open_fingerprint = "process-down/app-" + std::to_string(slot) + "-" +
                               std::to_string(agent.next_fingerprint++);
      batch.signals.push_back(
          process_signal(agent.open_fingerprint, protocol::SignalState::firing, now_ms));
      for (const auto& fingerprint : agent.to_clear) {
        batch.signals.push_back(
            process_signal(fingerprint, protocol::SignalState::cleared, now_ms));
        ++m_figures.cleared;
      }
      agent.to_clear.clear();
      agent.pending_scheduled = scheduled;
      agent.pending_call = steady_ns();
    }
    ++m_figures.firing;
    m_sender.set_in_batch(true);
    const std::int64_t called = steady_ns();
    m_engine.on_batch(agent.id, batch, now_ms);
    if (m_measuring) {
      m_figures.on_batch_ns.push_back(steady_ns() - called);
    }
    m_sender.set_in_batch(false);
  }

  // The agent's RESULT: restarted, post-condition passed; its detector clears next turn.
  void answer(std::int64_t now) {
    auto& answers = m_sender.answers();
    while (!answers.empty() && answers.front().at_ns <= now) {
      const Answer due = std::move(answers.front());
      answers.pop_front();
      AgentState& agent = m_agents[due.agent];
      protocol::CommandResult result;
      result.command_id = due.command_id;
      result.status = protocol::ResultStatus::succeeded;
      result.exit_code = 0;
      result.origin = "coordinator";
      result.action = due.action;
      result.params = due.params;
      result.post_check = "passed";
      result.started_ms = m_clock.now_unix_ms() - m_options.answer_ms;
      result.finished_ms = m_clock.now_unix_ms();
      for (const auto& p : due.params) {
        if (p.name == "unit") {
          agent.to_clear.push_back("process-down/" + p.value);
        }
      }
      const std::int64_t called = steady_ns();
      m_engine.on_result(agent.id, result, result.finished_ms);
      if (m_measuring) {
        m_figures.on_result_ns.push_back(steady_ns() - called);
      }
    }
  }

  void finish() noexcept {
    m_status = m_engine.status();
    m_rss_kb = status_kb("VmRSS");
    m_engine.close();
    m_worker.stop();
    uv::close_handle(m_timer);
  }

  uv_loop_t& m_loop;
  const Options& m_options;
  SystemClock m_clock;
  std::vector<AgentState> m_agents;
  Figures m_figures;
  uv::Worker m_worker;
  RecordingSender m_sender;
  engine::Engine m_engine;
  uv_timer_t m_timer{};
  std::int64_t m_start_ns = 0;
  std::int64_t m_fed_ns = 0;
  std::int64_t m_drain_until = 0;
  std::uint64_t m_total_turns = 0;
  Usage m_usage_start;
  Usage m_usage_end;
  nlohmann::json m_status;
  long m_rss_kb = 0;
  bool m_measuring = false;
};

double percentile_ms(std::vector<std::int64_t> values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto at = std::min(values.size() - 1, static_cast<std::size_t>(q * values.size()));
  return static_cast<double>(values[at]) / 1e6;
}

void Bench::report() const {
  const double fed_s = static_cast<double>(m_fed_ns) / 1e9;
  const double cpu = m_usage_end.process_cpu_s - m_usage_start.process_cpu_s;
  const double loop_cpu = m_usage_end.loop_cpu_s - m_usage_start.loop_cpu_s;
  std::printf(
      "## medic-brain-bench\n\n%zu agents, %.0f turns/s for %.1f s (fed in %.2f s), "
      "warm-up %.1f s, RESULT after %lld ms, %u %% repeats\n\n",
      m_agents.size(), m_options.rate, m_options.seconds, fed_s, m_options.warmup,
      static_cast<long long>(m_options.answer_ms), m_options.repeat_pct);
  std::printf(
      "| signals | firing | of which repeats | cleared | signals/s (all) |\n"
      "|---:|---:|---:|---:|---:|\n| %llu | %llu | %llu | %llu | %.0f |\n\n",
      static_cast<unsigned long long>(m_figures.firing + m_figures.cleared),
      static_cast<unsigned long long>(m_figures.firing),
      static_cast<unsigned long long>(m_figures.repeats),
      static_cast<unsigned long long>(m_figures.cleared),
      static_cast<double>(m_figures.firing + m_figures.cleared) / fed_s);
  std::printf(
      "| what (ms) | measured | p50 ms | p99 ms | p99.9 ms | max "
      "ms |\n|---|---:|---:|---:|---:|---:|\n");
  for (const auto& [name, values] :
       {std::pair{"received → COMMAND sent, from the on_batch call", &m_figures.from_call},
        std::pair{"received → COMMAND sent, from the turn's scheduled arrival",
                  &m_figures.from_scheduled},
        std::pair{"one on_batch call (any turn)", &m_figures.on_batch_ns},
        std::pair{"one on_result call", &m_figures.on_result_ns}}) {
    std::printf("| %s | %zu | %.3f | %.3f | %.3f | %.3f |\n", name, values->size(),
                percentile_ms(*values, 0.5), percentile_ms(*values, 0.99),
                percentile_ms(*values, 0.999), percentile_ms(*values, 1.0));
  }
  std::printf(
      "\n| commands sent | of them not from on_batch | incidents opened | verified | "
      "failed | not sent | open at end | escalations | audit lost | store errors | signals dropped "
      "|\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
      "| %llu | %llu | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n\n",
      static_cast<unsigned long long>(m_figures.commands),
      static_cast<unsigned long long>(m_figures.commands_outside_batch),
      m_status.value("incidents_opened", nlohmann::json()).dump().c_str(),
      m_status.value("recoveries_succeeded", nlohmann::json()).dump().c_str(),
      m_status.value("recoveries_failed", nlohmann::json()).dump().c_str(),
      m_status.value("commands_not_sent", nlohmann::json()).dump().c_str(),
      m_status.value("open_incidents", nlohmann::json()).dump().c_str(),
      m_status.value("escalations", nlohmann::json()).dump().c_str(),
      m_status.value("audit_lost", nlohmann::json()).dump().c_str(),
      m_status.value("store_errors", nlohmann::json()).dump().c_str(),
      m_status.value("signals_dropped", nlohmann::json()).dump().c_str());
  std::printf(
      "| CPU, whole process | CPU, loop thread | CPU of one core (process) | max turn "
      "lag ms | RSS at end MiB | peak RSS MiB |\n|---:|---:|---:|---:|---:|---:|\n"
      "| %.2f s | %.2f s | %.0f %% | %.1f | %.1f | %.1f |\n",
      cpu, loop_cpu, 100 * cpu / fed_s, static_cast<double>(m_figures.max_turn_lag) / 1e6,
      static_cast<double>(m_rss_kb) / 1024, static_cast<double>(status_kb("VmHWM")) / 1024);
}

int run(const Options& options) {
  auto config = load_config(options);
  char dir_template[] = "/tmp/medic-brain-bench-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) {
    std::fprintf(stderr, "medic-brain-bench: mkdtemp failed\n");
    return 1;
  }
  const std::filesystem::path db = std::filesystem::path(dir) / "medic.db";
  int status = 0;
  {
    auto store = coordinator::storage::open_sqlite_store(db);
    if (!store) {
      std::fprintf(stderr, "medic-brain-bench: %s\n", store.error().message().c_str());
      return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
      Bench bench(loop, options, config, **store);
      if (auto started = bench.start(); !started) {
        std::fprintf(stderr, "medic-brain-bench: %s\n", started.error().message().c_str());
        status = 1;
      } else {
        std::fprintf(stderr, "feeding %.0f turns/s for %.0f s ...\n", options.rate,
                     options.seconds);
        uv_run(&loop, UV_RUN_DEFAULT);
        bench.report();
      }
    }
    uv::close_loop(loop);
    std::error_code ignored;
    std::printf("\nSQLite file at the end: %.1f MiB (WAL included)\n",
                static_cast<double>(std::filesystem::file_size(db, ignored) +
                                    std::filesystem::file_size(db.string() + "-wal", ignored)) /
                    (1024.0 * 1024.0));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return status;
}

} // namespace

} // namespace medic::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  try {
    return medic::bench::run(medic::bench::parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medic-brain-bench: %s\n", e.what());
    return 1;
  }
}
