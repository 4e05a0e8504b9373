// SPDX-License-Identifier: Apache-2.0
// medic-store-bench: the coordinator's storage alone, no sockets. N simulated agents each store
// one batch a simulated second (50 series, half of them labelled as a real host's per-core and
// per-mount series are, and 2 signals), in groups as the storage worker drains them; the
// housekeeping flush (latest values, minute roll-ups; a bounded number of rows each) runs four
// times every simulated second, as StorageHousekeeping does. Prints CPU µs per batch of the storing
// thread, what bounds how many agents one coordinator can hold (issue 7), without the cost of
// simulating them, and of the threads beside it (the WAL checkpoints).
//
//   medic-store-bench --store=sqlite:///tmp/b/medic.db --agents=10000 --rounds=60 --group=64
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/storage/store_factory.hpp"
#include "protocol/message.hpp"

namespace {

using namespace medic;
using coordinator::storage::Store;

constexpr std::size_t k_samples = 50;
constexpr std::int64_t k_start_ms = 1'790'000'000'000;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Every thread's: the storing one plus what works beside it (SQLite's checkpoint thread).
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double wall_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Options {
  std::string store = "sqlite:///tmp/medic-store-bench/medic.db";
  std::size_t agents = 1000;
  std::size_t rounds = 60; // simulated seconds
  std::size_t group = 64;  // batches per record_batches call
};

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    const auto eq = arg.find('=');
    if (eq == std::string_view::npos) {
      return false;
    }
    const auto key = arg.substr(0, eq);
    const std::string value(arg.substr(eq + 1));
    if (key == "--store") {
      options.store = value;
    } else if (key == "--agents") {
      options.agents = std::strtoul(value.c_str(), nullptr, 10);
    } else if (key == "--rounds") {
      options.rounds = std::strtoul(value.c_str(), nullptr, 10);
    } else if (key == "--group") {
      options.group = std::strtoul(value.c_str(), nullptr, 10);
    } else {
      return false;
    }
  }
  return options.agents >= 1 && options.agents <= 100'000 && options.rounds >= 1 &&
         options.rounds <= 100'000 && options.group >= 1 && options.group <= 4096;
}

// One agent's batch, rewritten in place every round (names and labels stay, as a host's do).
protocol::Batch make_batch() {
  static constexpr std::string_view k_names[] = {"cpu.usage_pct", "cpu.iowait_pct", "disk.used_pct",
                                                 "net.rx_bytes_per_s", "mem.used_pct"};
  protocol::Batch batch;
  for (std::size_t i = 0; i < k_samples; ++i) {
    protocol::Sample sample;
    sample.name = std::string(k_names[i % std::size(k_names)]);
    if (i % 2 == 0) {
      sample.labels.push_back({i % 4 == 0 ? "core" : "mount", std::to_string(i / 4)});
    } else {
      sample.name += "." + std::to_string(i);
    }
    batch.samples.push_back(std::move(sample));
  }
  for (int i = 0; i < 2; ++i) {
    protocol::Signal signal;
    signal.rule = "bench.rule_" + std::to_string(i);
    signal.fingerprint = "bench.fingerprint_" + std::to_string(i);
    signal.message = "bench signal";
    batch.signals.push_back(std::move(signal));
  }
  return batch;
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: medic-store-bench [--store=URL] [--agents=1..100000]"
                 " [--rounds=1..100000] [--group=1..4096]\n");
    return 2;
  }
  auto opened = coordinator::storage::open_store(options.store);
  if (!opened) {
    std::fprintf(stderr, "store-bench: %s\n", opened.error().message().c_str());
    return 1;
  }
  Store& store = **opened;
  std::vector<protocol::Envelope> envelopes(options.agents);
  std::vector<protocol::Batch> batches(options.agents, make_batch());
  for (std::size_t a = 0; a < options.agents; ++a) {
    envelopes[a].agent_id = "bench-agent-" + std::to_string(a);
    protocol::Hello hello;
    hello.host = "bench-host-" + std::to_string(a);
    hello.agent_version = "bench";
    if (auto ok = store.record_hello(envelopes[a], hello, k_start_ms); !ok) {
      std::fprintf(stderr, "store-bench: %s\n", ok.error().message().c_str());
      return 1;
    }
  }
  std::vector<Store::BatchToStore> group;
  std::size_t stored = 0;
  std::size_t failed = 0;
  double first_round_cpu = 0;
  double first_round_process_cpu = 0;
  double longest_flush_s = 0; // latest values and minute roll-ups, every round
  const double cpu0 = thread_cpu_s();
  const double process_cpu0 = process_cpu_s();
  const double wall0 = wall_s();
  for (std::size_t round = 0; round < options.rounds; ++round) {
    const std::int64_t now_ms = k_start_ms + static_cast<std::int64_t>(round) * 1000;
    for (std::size_t a = 0; a < options.agents; a += options.group) {
      group.clear();
      const std::size_t end = std::min(options.agents, a + options.group);
      for (std::size_t i = a; i < end; ++i) {
        envelopes[i].seq = round + 1;
        envelopes[i].sent_at_ms = now_ms;
        auto& batch = batches[i];
        for (std::size_t s = 0; s < batch.samples.size(); ++s) {
          batch.samples[s].value = static_cast<double>((round * 7 + s + i) % 100);
          batch.samples[s].time_ms = now_ms;
        }
        for (auto& signal : batch.signals) {
          signal.state =
              round % 2 == 0 ? protocol::SignalState::firing : protocol::SignalState::cleared;
          signal.time_ms = now_ms;
        }
        group.push_back({&envelopes[i], &batch, now_ms});
      }
      for (const auto& outcome : store.record_batches(group)) {
        outcome ? ++stored : ++failed;
      }
    }
    for (int flush = 0; flush < 4; ++flush) {
      const double flush_start = wall_s();
      if (auto flushed = store.flush_rollups(now_ms - 30'000); !flushed) {
        std::fprintf(stderr, "store-bench: %s\n", flushed.error().message().c_str());
        return 1;
      }
      longest_flush_s = std::max(longest_flush_s, wall_s() - flush_start);
    }
    if (round == 0) {
      first_round_cpu = thread_cpu_s() - cpu0; // new series: not the steady state
      first_round_process_cpu = process_cpu_s() - process_cpu0;
    }
  }
  const double cpu = thread_cpu_s() - cpu0 - first_round_cpu;
  const double beside = process_cpu_s() - process_cpu0 - first_round_process_cpu - cpu;
  const double wall = wall_s() - wall0;
  const auto steady_batches = static_cast<double>(options.agents * (options.rounds - 1));
  std::printf(
      "| store | agents | group | batches | failed | first round µs/batch |"
      " steady µs/batch (CPU) | other threads µs/batch | batches/s (wall) |"
      " longest flush ms |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| %s | %zu | %zu | %zu | %zu | %.1f | %.1f | %.1f | %.0f | %.0f |\n",
              options.store.substr(0, options.store.find(':')).c_str(), options.agents,
              options.group, stored, failed,
              first_round_cpu * 1e6 / static_cast<double>(options.agents),
              options.rounds > 1 ? cpu * 1e6 / steady_batches : 0.0,
              options.rounds > 1 ? beside * 1e6 / steady_batches : 0.0,
              static_cast<double>(stored) / wall, longest_flush_s * 1e3);
  return failed == 0 ? 0 : 1;
}
