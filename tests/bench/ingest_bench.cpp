// SPDX-License-Identifier: Apache-2.0
// medic-ingest-bench: what the coordinator's ingest path costs, measured in one run (issue 3).
//
//   1. codec: encode and decode of one 50-sample batch, ns per operation (median of rounds);
//   2. plain: N DEALERs → 1 ROUTER over tcp loopback, no CURVE, no acks, the ROUTER decoding
//      every batch with protocol::decode: the ceiling the whole path is compared with;
//   3. whole: the real ingest (ZapHandler + IngestServer + uv::Worker on a libuv loop) with an
//      in-memory Store, N CURVE agents each keeping a window of unacked batches.
//   4. fleet (--rate=1 --store=URL --signals=2, issue 7): the same ingest on a real SQLite or
//      PostgreSQL store, each agent sending one batch per 1/rate s (50 distinct series and a few
//      signals), paced as real agents are: what a fleet of N agents costs the coordinator.
//
// The receiving side (plain ROUTER or coordinator) runs in its own process — this program run
// again with --role — so its CPU time and memory can be read from /proc apart from the
// simulated agents. Parent and child share one memfd-backed page of counters and keys. Every
// wait is bounded; a child dies with its parent (PR_SET_PDEATHSIG).
//
// The simulated agents run in this process, and beyond k_agents_per_process (5,000) also in
// forked helper processes (each agent needs two descriptors, and the hard descriptor limit may
// be 20,000); "agents CPU" is theirs together. A driver thread's cost is proportional to the
// work it does, not to its number of agents: epoll over the sockets' ZMQ_FD, a heap of due
// times (AckedDriver).
//
// Prints Markdown to stdout; progress and the child's logs go to stderr.

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>
#include <uv.h>
#include <zmq.hpp>

#include "coordinator/server/ingest_server.hpp"
#include "coordinator/server/zap_handler.hpp"
#include "coordinator/storage/store.hpp"
#include "coordinator/storage/store_factory.hpp"
#include "protocol/codec.hpp"
#include "protocol/message.hpp"
#include "shared/clock.hpp"
#include "coordinator/service/storage_housekeeping.hpp"
#include "shared/security/curve_keys.hpp"
#include "shared/uv/worker.hpp"

namespace medic::bench {

namespace {

using Steady = std::chrono::steady_clock;
namespace storage = coordinator::storage;
namespace server = coordinator::server;

constexpr std::size_t k_samples_per_batch = 50;
constexpr std::size_t k_key_chars = 41; // Z85 key and its NUL
constexpr std::size_t k_max_agents = 10'000;
constexpr std::size_t k_wait_buckets = 4'096;               // 1 ms each
constexpr std::size_t k_max_rtt_records = 4'000'000; // per run, across threads
// The real agent's ack timeout (agent/link/delivery.hpp): only batches the coordinator refused
// or lost are sent again, never one that is merely queued.
constexpr std::int64_t k_resend_after_ns = 10'000'000'000;
constexpr std::int64_t k_resend_scan_ns = 100'000'000;

// What the real agent sends today (agent/loop/agent_loop.cpp), cycled to 50 samples.
constexpr std::array<std::string_view, 9> k_sample_names = {
    "cpu.usage_pct", "cpu.user_pct", "cpu.system_pct",  "cpu.iowait_pct",     "cpu.steal_pct",
    "cpu.idle_pct",  "mem.used_pct", "mem.total_bytes", "mem.available_bytes"};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

std::int64_t unix_ms() {
  return SystemClock().now_unix_ms();
}

std::string agent_id(std::size_t index) {
  char text[48];
  std::snprintf(text, sizeof text, "bench-%04zu.example.net", index);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Options

enum class PathKind { plain, whole };

struct Options {
  std::vector<std::size_t> agent_counts{1, 100, 1000};
  std::vector<PathKind> paths{PathKind::plain, PathKind::whole};
  double seconds = 5;
  double warmup = 1;
  std::size_t window = 8;
  std::uint32_t storage_queue = 1024;   // the coordinator's default storage.queue
  std::uint32_t receive_queue = 10'000; // the coordinator's default agents.receive_queue
  int io_threads = 1;                   // the agents' context; the coordinator's is always 1
  std::size_t agents_per_thread = 500;  // simulated agents per driver thread
  int plain_hwm = 100; // plain path, both ends: per-connection queues are what bounds its memory
  bool codec = true;
  int retries = 2;       // extra tries of a scenario disturbed by other load
  double noisy_pct = 20; // "disturbed": others used more than this % of a core
  double rate = 0;             // batches per second per agent; 0: as fast as the window allows
  std::string store = "memory"; // or a storage URL (sqlite:///path, postgresql://...)
  std::size_t signals = 0;      // signals in every batch (fleet mode)
  std::string role;
  int shm_fd = -1;
};

std::vector<std::string> split(std::string_view text, char by) {
  std::vector<std::string> parts;
  std::stringstream stream{std::string(text)};
  for (std::string part; std::getline(stream, part, by);) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return parts;
}

[[noreturn]] void usage(const std::string& complaint) {
  std::fprintf(stderr,
               "medic-ingest-bench: %s\n"
               "usage: medic-ingest-bench [--agents=1,100,1000] [--paths=plain,whole] "
               "[--seconds=5] [--warmup=1]\n"
               "       [--window=8] [--storage-queue=1024] [--receive-queue=10000] "
               "[--io-threads=1] [--agents-per-thread=500] [--no-codec]\n"
               "       [--plain-hwm=100] [--retries=2] [--noisy-pct=20]\n"
               "       [--rate=HZ --store=memory|sqlite:///path|postgresql://... "
               "--signals=N]\n",
               complaint.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    try {
      if (key == "--agents") {
        options.agent_counts.clear();
        for (const auto& part : split(value, ',')) {
          options.agent_counts.push_back(std::stoul(part));
        }
      } else if (key == "--paths") {
        options.paths.clear();
        for (const auto& part : split(value, ',')) {
          if (part != "plain" && part != "whole") {
            usage("unknown path '" + part + "'");
          }
          options.paths.push_back(part == "plain" ? PathKind::plain : PathKind::whole);
        }
      } else if (key == "--seconds") {
        options.seconds = std::stod(value);
      } else if (key == "--warmup") {
        options.warmup = std::stod(value);
      } else if (key == "--window") {
        options.window = std::stoul(value);
      } else if (key == "--storage-queue") {
        options.storage_queue = static_cast<std::uint32_t>(std::stoul(value));
      } else if (key == "--receive-queue") {
        options.receive_queue = static_cast<std::uint32_t>(std::stoul(value));
      } else if (key == "--io-threads") {
        options.io_threads = std::stoi(value);
      } else if (key == "--agents-per-thread") {
        options.agents_per_thread = std::stoul(value);
      } else if (key == "--plain-hwm") {
        options.plain_hwm = std::stoi(value);
      } else if (key == "--retries") {
        options.retries = std::stoi(value);
      } else if (key == "--noisy-pct") {
        options.noisy_pct = std::stod(value);
      } else if (key == "--rate") {
        options.rate = std::stod(value);
      } else if (key == "--store") {
        options.store = value;
      } else if (key == "--signals") {
        options.signals = std::stoul(value);
      } else if (key == "--no-codec") {
        options.codec = false;
      } else if (key == "--role") {
        options.role = value;
      } else if (key == "--shm-fd") {
        options.shm_fd = std::stoi(value);
      } else {
        usage("unknown option " + arg);
      }
    } catch (const std::logic_error&) {
      usage("bad value in " + arg);
    }
  }
  for (const auto count : options.agent_counts) {
    if (count == 0 || count > k_max_agents) {
      usage("agent counts must be 1.." + std::to_string(k_max_agents));
    }
  }
  if (options.window == 0 || options.window > 1024 || options.seconds <= 0 ||
      options.seconds > 600 || options.warmup < 0 || options.warmup > 60 ||
      options.io_threads < 1 || options.agents_per_thread == 0 ||
      options.agents_per_thread > k_max_agents || options.retries < 0 || options.retries > 10 ||
      options.plain_hwm < 1 || options.rate < 0 || options.rate > 1000 || options.signals > 50 ||
      options.store.size() >= 512) {
    usage(
        "window 1..1024, seconds 0..600, warmup 0..60, io-threads >= 1, "
        "agents-per-thread 1..10000, retries 0..10, "
        "plain-hwm >= 1, rate 0..1000, signals 0..50, store URL < 512 bytes");
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// The page parent and child share. The parent fills the inputs before it starts the child;
// after that only atomics are written, so no locking is needed.

enum class ChildState : int { starting = 0, listening = 1, failed = 2 };

struct SharedRegion {
  // Inputs.
  std::uint32_t agent_count = 0;
  std::uint32_t storage_queue = 0;
  std::uint32_t receive_queue = 0;
  int plain_hwm = 0;
  char server_secret_key[k_key_chars]{};
  char store_url[512]{}; // "" or "memory": the in-memory store
  std::uint32_t signals = 0;
  char agent_public_keys[k_max_agents][k_key_chars]{};
  // Control.
  std::atomic<int> state{0};
  std::atomic<int> stop{0};
  char endpoint[128]{};
  char failure[256]{};
  // Counters: written by the child, read by the parent at any time.
  std::atomic<std::uint64_t> batches{0}; // stored (whole) or decoded (plain)
  std::atomic<std::uint64_t> samples{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> hellos{0};
  std::atomic<std::uint64_t> malformed{0};
  std::atomic<std::uint64_t> refused_busy{0};
  std::atomic<std::uint64_t> unauthorized{0};
  std::atomic<std::uint64_t> acks_sent{0};
  std::atomic<std::uint64_t> replies_failed{0};
  std::atomic<std::uint64_t> zap_admitted{0};
  std::atomic<std::uint64_t> zap_refused{0};
  std::atomic<std::uint64_t> peak_storage_queue{0};
  std::atomic<std::uint64_t> storage_errors{0};
  // The storing thread's jobs while measuring (zeroed when measuring starts): the longest batch
  // group and the longest roll-up flush, in µs, and how many groups took over 50 ms.
  std::atomic<std::uint64_t> longest_group_us{0};
  std::atomic<std::uint64_t> longest_flush_us{0};
  std::atomic<std::uint64_t> slow_groups{0};
  // Received by ingest -> its group committed, in whole ms (the last bucket: that or more), for
  // the batches stored while measuring: how much of the ack round trip is the storage queue and
  // the group's transaction.
  std::atomic<int> measuring{0};
  std::array<std::atomic<std::uint32_t>, k_wait_buckets> stored_after_ms{};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class SharedMemory {
public:
  SharedMemory() {
    m_fd = memfd_create("medic-ingest-bench", 0); // inherited by the child on purpose
    if (m_fd < 0 || ftruncate(m_fd, sizeof(SharedRegion)) != 0) {
      throw std::runtime_error(std::string("memfd: ") + std::strerror(errno));
    }
    void* memory = mmap(nullptr, sizeof(SharedRegion), PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 0);
    if (memory == MAP_FAILED) {
      throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
    }
    m_region = new (memory) SharedRegion();
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory() {
    munmap(m_region, sizeof(SharedRegion));
    ::close(m_fd);
  }
  [[nodiscard]] int fd() const noexcept { return m_fd; }
  [[nodiscard]] SharedRegion& region() noexcept { return *m_region; }

private:
  int m_fd = -1;
  SharedRegion* m_region = nullptr;
};

SharedRegion& attach_shared(int fd) {
  void* memory = mmap(nullptr, sizeof(SharedRegion), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) {
    std::fprintf(stderr, "child: mmap of fd %d failed: %s\n", fd, std::strerror(errno));
    std::exit(1);
  }
  return *static_cast<SharedRegion*>(memory);
}

void report_child_failure(SharedRegion& shared, const std::string& what) {
  std::snprintf(shared.failure, sizeof shared.failure, "%s", what.c_str());
  shared.state.store(static_cast<int>(ChildState::failed));
}

void publish_endpoint(SharedRegion& shared, const std::string& endpoint) {
  std::snprintf(shared.endpoint, sizeof shared.endpoint, "%s", endpoint.c_str());
  shared.state.store(static_cast<int>(ChildState::listening));
}

// ---------------------------------------------------------------------------------------------
// The batch every simulated agent sends: the real agent's sample names, fresh values and times.

class BatchEncoder {
public:
  // Fleet mode (signals > 0 or distinct): 50 different series, as a real host sends (per core,
  // per mount...), and `signals` signals that fire and clear in turn.
  explicit BatchEncoder(std::size_t signals = 0, bool distinct = false)
      : m_views(k_samples_per_batch), m_signal_views(signals), m_fleet(signals > 0 || distinct) {
    m_names.reserve(m_views.size() + signals * 2);
    for (std::size_t i = 0; i < m_views.size(); ++i) {
      std::string name(k_sample_names[i % k_sample_names.size()]);
      if (distinct && i >= k_sample_names.size()) {
        name += "." + std::to_string(i / k_sample_names.size());
      }
      m_names.push_back(std::move(name));
      m_views[i].name = m_names.back();
    }
    for (std::size_t i = 0; i < signals; ++i) {
      m_names.push_back("bench.rule_" + std::to_string(i));
      m_signal_views[i].rule = m_names.back();
      m_names.push_back("bench.fingerprint_" + std::to_string(i));
      m_signal_views[i].fingerprint = m_names.back();
      m_signal_views[i].message = "bench signal";
    }
  }
  // Encodes `envelope` with `seq` into the reused frame buffer.
  const std::string& encode(protocol::Envelope& envelope, std::uint64_t seq, std::int64_t now_ms) {
    envelope.seq = seq;
    envelope.sent_at_ms = now_ms;
    for (std::size_t i = 0; i < m_views.size(); ++i) {
      m_views[i].value = static_cast<double>(seq % 1000) + 0.25 * static_cast<double>(i);
      m_views[i].time_ms = now_ms;
    }
    m_frame.clear();
    if (!m_fleet) {
      protocol::encode_batch(m_frame, envelope, m_views);
      return m_frame;
    }
    for (auto& signal : m_signal_views) {
      signal.state = seq % 2 == 0 ? protocol::SignalState::cleared : protocol::SignalState::firing;
      signal.value = static_cast<double>(seq % 100);
      signal.time_ms = now_ms;
    }
    protocol::BatchView batch;
    batch.samples = m_views;
    batch.signals = m_signal_views;
    protocol::encode_batch(m_frame, envelope, batch);
    return m_frame;
  }

private:
  std::vector<std::string> m_names; // reserved up front: the views point into it
  std::vector<protocol::SampleView> m_views;
  std::vector<protocol::SignalView> m_signal_views;
  bool m_fleet = false;
  std::string m_frame;
};

// ---------------------------------------------------------------------------------------------
// Codec micro-benchmark.

struct CodecResult {
  std::size_t frame_bytes = 0;
  double encode_ns = 0, encode_min = 0, encode_max = 0;
  double decode_ns = 0, decode_min = 0, decode_max = 0;
  double reused_ns = 0, reused_min = 0, reused_max = 0; // decode_into a reused Message
};

template <class Op>
std::vector<double> time_rounds(int rounds, int iterations, Op&& op) {
  std::vector<double> per_op;
  for (int round = 0; round < rounds; ++round) {
    const auto start = steady_ns();
    for (int i = 0; i < iterations; ++i) {
      op(i);
    }
    per_op.push_back(static_cast<double>(steady_ns() - start) / iterations);
  }
  std::sort(per_op.begin(), per_op.end());
  return per_op;
}

CodecResult measure_codec() {
  constexpr int k_rounds = 7;
  BatchEncoder encoder;
  protocol::Envelope envelope;
  envelope.agent_id = agent_id(1);
  const std::int64_t now = unix_ms();
  CodecResult result;
  result.frame_bytes = encoder.encode(envelope, 1, now).size();
  std::uint64_t sink = 0;
  const auto encode = time_rounds(k_rounds, 400'000, [&](int i) {
    sink += encoder.encode(envelope, static_cast<std::uint64_t>(i) + 1, now).size();
  });
  const std::string frame = encoder.encode(envelope, 7, now);
  const auto decode = time_rounds(k_rounds, 100'000, [&](int) {
    auto message = protocol::decode(std::string_view(frame));
    sink += message ? std::get<protocol::Batch>(message->body).samples.size() : 1'000'000;
  });
  protocol::Message reused;
  const auto decode_into = time_rounds(k_rounds, 100'000, [&](int) {
    const bool ok = protocol::decode_into(reused, std::string_view(frame)).has_value();
    sink += ok ? std::get<protocol::Batch>(reused.body).samples.size() : 1'000'000;
  });
  if (sink == 0) {
    std::fprintf(stderr, "impossible\n"); // keeps the loops from being optimised away
  }
  result.reused_ns = decode_into[decode_into.size() / 2];
  result.reused_min = decode_into.front();
  result.reused_max = decode_into.back();
  result.encode_ns = encode[encode.size() / 2];
  result.encode_min = encode.front();
  result.encode_max = encode.back();
  result.decode_ns = decode[decode.size() / 2];
  result.decode_min = decode.front();
  result.decode_max = decode.back();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Child role "coordinator": the real ingest with a store that keeps nothing but dedup state.

std::uint64_t elapsed_us(std::chrono::steady_clock::time_point since) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - since)
                                        .count());
}

void raise_to(std::atomic<std::uint64_t>& peak, std::uint64_t value) {
  auto seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

// Dedups by (agent id, seq): per agent, every seq up to a contiguous mark plus a hash set of
// those above it, so memory stays bounded by the agents' windows rather than growing with
// every batch (which would make the RSS figure meaningless). Storage worker thread only.
// With a backend (fleet mode), HELLOs and batches go to that real store and are counted here;
// without one, batches are deduplicated in memory and kept nowhere.
class MemoryStore final : public storage::Store {
public:
  explicit MemoryStore(SharedRegion& shared, std::unique_ptr<storage::Store> backend = nullptr)
      : m_shared(shared), m_backend(std::move(backend)) {}

  Result<void> record_hello(const protocol::Envelope& envelope, const protocol::Hello& hello,
                            std::int64_t received_ms) override {
    m_shared.hellos.fetch_add(1, std::memory_order_relaxed);
    if (m_backend) {
      return m_backend->record_hello(envelope, hello, received_ms);
    }
    return {};
  }

  Result<storage::BatchOutcome> record_batch(const protocol::Envelope& envelope,
                                             const protocol::Batch& batch,
                                             std::int64_t received_ms) override {
    if (m_backend) {
      auto outcome = m_backend->record_batch(envelope, batch, received_ms);
      if (outcome && *outcome == storage::BatchOutcome::duplicate) {
        m_shared.duplicates.fetch_add(1, std::memory_order_relaxed);
      } else if (outcome) {
        m_shared.batches.fetch_add(1, std::memory_order_relaxed);
        m_shared.samples.fetch_add(batch.samples.size(), std::memory_order_relaxed);
      } else {
        m_shared.storage_errors.fetch_add(1, std::memory_order_relaxed);
        report_storage_error(outcome.error().message());
      }
      return outcome;
    }
    auto& seen = m_agents[envelope.agent_id];
    const std::uint64_t seq = envelope.seq;
    if (seq <= seen.contiguous || seen.above.contains(seq)) {
      m_shared.duplicates.fetch_add(1, std::memory_order_relaxed);
      return storage::BatchOutcome::duplicate;
    }
    if (seq != seen.contiguous + 1) {
      seen.above.insert(seq); // out of order: held until the gap below it fills
    } else {
      ++seen.contiguous; // the usual case, with no allocation
      while (seen.above.erase(seen.contiguous + 1) == 1) {
        ++seen.contiguous;
      }
    }
    m_shared.batches.fetch_add(1, std::memory_order_relaxed);
    m_shared.samples.fetch_add(batch.samples.size(), std::memory_order_relaxed);
    return storage::BatchOutcome::stored;
  }

  // As the coordinator does: the whole drain in one call (one transaction in the backend).
  std::vector<Result<storage::BatchOutcome>> record_batches(
      std::span<const BatchToStore> batches) override {
    if (!m_backend) {
      return Store::record_batches(batches);
    }
    const auto started = std::chrono::steady_clock::now();
    auto outcomes = m_backend->record_batches(batches);
    const auto took = elapsed_us(started);
    raise_to(m_shared.longest_group_us, took);
    if (took > 50'000) {
      m_shared.slow_groups.fetch_add(1, std::memory_order_relaxed);
    }
    if (m_shared.measuring.load(std::memory_order_relaxed) != 0) {
      const std::int64_t now_ms = unix_ms();
      for (const auto& one : batches) {
        const auto waited = std::clamp<std::int64_t>(now_ms - one.received_ms, 0,
                                                     static_cast<std::int64_t>(k_wait_buckets - 1));
        m_shared.stored_after_ms[static_cast<std::size_t>(waited)].fetch_add(
            1, std::memory_order_relaxed);
      }
    }
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const auto& outcome = outcomes[i];
      if (outcome && *outcome == storage::BatchOutcome::duplicate) {
        m_shared.duplicates.fetch_add(1, std::memory_order_relaxed);
      } else if (outcome) {
        m_shared.batches.fetch_add(1, std::memory_order_relaxed);
        m_shared.samples.fetch_add(batches[i].batch->samples.size(), std::memory_order_relaxed);
      } else {
        m_shared.storage_errors.fetch_add(1, std::memory_order_relaxed);
        report_storage_error(outcome.error().message());
      }
    }
    return outcomes;
  }

  Result<std::vector<storage::AgentRecord>> list_agents() override {
    std::vector<storage::AgentRecord> agents;
    for (const auto& [id, seen] : m_agents) {
      storage::AgentRecord record;
      record.id = id;
      record.last_seq = seen.contiguous;
      agents.push_back(std::move(record));
    }
    std::sort(agents.begin(), agents.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    return agents;
  }
  Result<std::vector<storage::SignalRecord>> recent_signals(const storage::EventQuery&) override {
    return std::vector<storage::SignalRecord>{};
  }
  Result<std::vector<storage::LogEventRecord>> recent_log_events(
      const storage::EventQuery&) override {
    return std::vector<storage::LogEventRecord>{};
  }
  Result<std::vector<storage::ResultRecord>> recent_results(const storage::EventQuery&) override {
    return std::vector<storage::ResultRecord>{};
  }
  Result<std::vector<storage::BudgetRecord>> list_budgets(std::string_view) override {
    return std::vector<storage::BudgetRecord>{};
  }
  Result<std::vector<storage::EvidenceRecord>> recent_evidence(
      const storage::EventQuery&) override {
    return std::vector<storage::EvidenceRecord>{};
  }
  Result<void> add_key(const storage::AgentKey&) override { return {}; }
  Result<std::vector<storage::AgentKey>> revoke_keys(std::string_view, std::int64_t) override {
    return std::vector<storage::AgentKey>{};
  }
  Result<std::vector<storage::AgentKey>> list_keys() override {
    return std::vector<storage::AgentKey>{};
  }
  // The brain's incidents and audit are not what this benchmark measures: kept nowhere.
  Result<void> save_incidents(std::span<const storage::IncidentRecord>,
                              std::span<const storage::AuditEntry>) override {
    return {};
  }
  Result<std::vector<storage::IncidentRecord>> list_incidents(
      const storage::IncidentQuery&) override {
    return std::vector<storage::IncidentRecord>{};
  }
  Result<std::optional<storage::IncidentRecord>> get_incident(std::uint64_t) override {
    return std::optional<storage::IncidentRecord>();
  }
  Result<std::uint64_t> max_incident_id() override { return std::uint64_t{0}; }
  Result<std::vector<storage::AuditEntry>> incident_audit(std::uint64_t, std::size_t) override {
    return std::vector<storage::AuditEntry>{};
  }
  Result<void> put_engine_state(std::string_view, std::string_view, std::int64_t) override {
    return {};
  }
  Result<std::optional<std::string>> get_engine_state(std::string_view) override {
    return std::optional<std::string>();
  }
  // Samples over time: the backend's, when there is one.
  Result<storage::RollupFlush> flush_rollups(std::int64_t closed_before_ms) override {
    if (!m_backend) {
      return storage::RollupFlush{};
    }
    const auto started = std::chrono::steady_clock::now();
    auto flushed = m_backend->flush_rollups(closed_before_ms);
    raise_to(m_shared.longest_flush_us, elapsed_us(started));
    return flushed;
  }
  Result<std::vector<storage::LatestSample>> read_samples(const storage::SeriesQuery&) override {
    return std::vector<storage::LatestSample>{};
  }
  Result<std::vector<storage::SeriesRollup>> read_rollups(storage::RollupPeriod,
                                                          const storage::SeriesQuery&) override {
    return std::vector<storage::SeriesRollup>{};
  }
  Result<storage::RetentionOutcome> apply_retention(const storage::RetentionPolicy&,
                                                    std::int64_t) override {
    return storage::RetentionOutcome{};
  }
  Result<void> put_daily_metrics(const storage::DailyHealingMetrics&) override { return {}; }
  Result<void> add_silence(const storage::SilenceRecord&) override { return {}; }
  Result<std::optional<storage::SilenceRecord>> expire_silence(std::string_view, std::string_view,
                                                               std::int64_t) override {
    return std::optional<storage::SilenceRecord>();
  }
  Result<std::vector<storage::SilenceRecord>> list_silences(bool, std::int64_t,
                                                            std::size_t) override {
    return std::vector<storage::SilenceRecord>{};
  }
  Result<std::vector<storage::DailyHealingMetrics>> list_daily_metrics(std::size_t) override {
    return std::vector<storage::DailyHealingMetrics>{};
  }

private:
  struct Seen {
    std::uint64_t contiguous = 0;
    std::unordered_set<std::uint64_t> above;
  };
  void report_storage_error(const std::string& what) {
    if (m_shared.storage_errors.load() <= 3) {
      std::fprintf(stderr, "child: storing a batch: %s\n", what.c_str());
    }
  }

  SharedRegion& m_shared;
  std::unique_ptr<storage::Store> m_backend;
  std::unordered_map<std::string, Seen> m_agents;
};

// Wires the ingest as coordinator_service.cpp does, and watches the stop flag from a timer.
class CoordinatorRole {
public:
  explicit CoordinatorRole(SharedRegion& shared)
      : m_shared(shared),
        m_worker(*init_loop(m_loop), "medic-storage", shared.storage_queue),
        m_zap(m_loop, m_context, m_clock),
        m_store(shared, open_backend(shared)),
        m_ingest(m_loop, m_context, m_clock, m_zap, m_worker, m_store,
                 {"tcp://127.0.0.1:*", static_cast<int>(shared.receive_queue),
                  shared.server_secret_key}),
        m_housekeeping(m_loop, m_clock, m_worker, m_store, {}) {}

  int run() {
    for (std::size_t i = 0; i < m_shared.agent_count; ++i) {
      m_zap.allow(m_shared.agent_public_keys[i], agent_id(i));
    }
    if (auto zap = m_zap.start(); !zap) {
      report_child_failure(m_shared, zap.error().message());
      return 1;
    }
    if (auto listening = m_ingest.start(); !listening) {
      report_child_failure(m_shared, listening.error().message());
      return 1;
    }
    // Roll-up and latest-value flushes, as the coordinator runs them (retention too, an hour
    // in: never within a bench run).
    m_housekeeping.start();
    uv_timer_init(&m_loop, &m_timer);
    m_timer.data = this;
    uv_timer_start(&m_timer, &CoordinatorRole::on_timer, 10, 10);
    publish_endpoint(m_shared, m_ingest.endpoint());
    uv_run(&m_loop, UV_RUN_DEFAULT);
    publish();
    return 0;
  }

  ~CoordinatorRole() { uv_loop_close(&m_loop); }

private:
  static std::unique_ptr<storage::Store> open_backend(const SharedRegion& shared) {
    const std::string url = shared.store_url;
    if (url.empty() || url == "memory") {
      return nullptr;
    }
    auto store = storage::open_store(url);
    if (!store) {
      throw std::runtime_error("opening " + url + ": " + store.error().message());
    }
    return std::move(*store);
  }

  static uv_loop_t* init_loop(uv_loop_t& loop) {
    uv_loop_init(&loop);
    return &loop;
  }

  static void on_timer(uv_timer_t* timer) noexcept {
    auto* self = static_cast<CoordinatorRole*>(timer->data);
    const auto queued = static_cast<std::uint64_t>(self->m_worker.queued());
    if (queued > self->m_shared.peak_storage_queue.load()) {
      self->m_shared.peak_storage_queue.store(queued);
    }
    self->publish();
    if (self->m_shared.stop.load() != 0) {
      // The service's shutdown order: stop reading, store and ack what is queued, close.
      self->m_ingest.stop_receiving();
      self->m_housekeeping.close();
      self->m_worker.stop();
      self->m_ingest.close();
      self->m_zap.close();
      uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
    }
  }

  void publish() noexcept {
    const auto& c = m_ingest.counters();
    m_shared.malformed.store(c.malformed);
    m_shared.refused_busy.store(c.refused_busy);
    m_shared.unauthorized.store(c.unauthorized);
    m_shared.acks_sent.store(c.acks_sent);
    m_shared.replies_failed.store(c.replies_failed);
    m_shared.zap_admitted.store(m_zap.counters().admitted);
    m_shared.zap_refused.store(m_zap.counters().refused);
  }

  SharedRegion& m_shared;
  uv_loop_t m_loop{};
  SystemClock m_clock;
  zmq::context_t m_context{1};
  uv::Worker m_worker;
  server::ZapHandler m_zap;
  MemoryStore m_store;
  server::IngestServer m_ingest;
  coordinator::service::StorageHousekeeping m_housekeeping;
  uv_timer_t m_timer{};
};

// Child role "plain": a bare ROUTER that decodes every batch and answers nothing.
int run_plain_role(SharedRegion& shared) {
  zmq::context_t context{1};
  zmq::socket_t router(context, zmq::socket_type::router);
  try {
    router.set(zmq::sockopt::rcvhwm, shared.plain_hwm);
    router.set(zmq::sockopt::linger, 0);
    router.bind("tcp://127.0.0.1:*");
  } catch (const zmq::error_t& e) {
    report_child_failure(shared, e.what());
    return 1;
  }
  publish_endpoint(shared, router.get(zmq::sockopt::last_endpoint));
  zmq::message_t routing_id;
  zmq::message_t payload;
  while (shared.stop.load(std::memory_order_relaxed) == 0) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(20));
    for (int i = 0; i < 4096 && router.recv(routing_id, zmq::recv_flags::dontwait); ++i) {
      if (!routing_id.more() || !router.recv(payload, zmq::recv_flags::dontwait)) {
        shared.malformed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto message = protocol::decode(payload.to_string_view());
      if (!message || message->envelope.type != protocol::MessageType::batch) {
        shared.malformed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      shared.batches.fetch_add(1, std::memory_order_relaxed);
      shared.samples.fetch_add(std::get<protocol::Batch>(message->body).samples.size(),
                               std::memory_order_relaxed);
    }
  }
  return 0;
}

int run_child(const Options& options) {
  SharedRegion& shared = attach_shared(options.shm_fd);
  spdlog::set_level(spdlog::level::warn); // one HELLO line per agent would drown the output
  try {
    if (options.role == "coordinator") {
      prctl(PR_SET_NAME, "coord-loop");
      CoordinatorRole role(shared);
      return role.run();
    }
    if (options.role == "plain") {
      prctl(PR_SET_NAME, "plain-router");
      return run_plain_role(shared);
    }
    report_child_failure(shared, "unknown role " + options.role);
  } catch (const std::exception& e) {
    report_child_failure(shared, e.what());
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
// /proc readings.

struct ProcCpu {
  double seconds = 0;                    // utime + stime of the whole process
  std::map<std::string, double> threads; // by thread name, summed over same-named threads
};

double ticks_to_seconds(unsigned long long ticks) {
  static const double k_ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return static_cast<double>(ticks) / k_ticks;
}

// utime + stime from a /proc/.../stat line; the name in parentheses may hold spaces.
std::optional<double> stat_cpu_seconds(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::string line;
  if (!std::getline(file, line)) {
    return std::nullopt;
  }
  const auto close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) { // the first field after ')' is number 3
    if (index == 14) {
      utime = std::stoull(field);
    } else if (index == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return ticks_to_seconds(utime + stime);
}

ProcCpu read_cpu(pid_t pid) {
  ProcCpu cpu;
  const std::filesystem::path base = "/proc/" + std::to_string(pid);
  cpu.seconds = stat_cpu_seconds(base / "stat").value_or(0);
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(base / "task", error)) {
    std::ifstream comm_file(task.path() / "comm");
    std::string name;
    std::getline(comm_file, name);
    cpu.threads[name] += stat_cpu_seconds(task.path() / "stat").value_or(0);
  }
  return cpu;
}

// CPU seconds the whole machine spent busy (not idle, not waiting for I/O), from /proc/stat.
double machine_busy_seconds() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  file >> cpu;
  unsigned long long total = 0, idle = 0, value = 0;
  for (int field = 0; field < 8 && file >> value; ++field) { // user .. steal
    total += value;
    if (field == 3 || field == 4) {
      idle += value;
    }
  }
  return ticks_to_seconds(total - idle);
}

// Connections the kernel dropped because a listener's accept queue was full (machine-wide).
std::uint64_t listen_overflows() {
  std::ifstream file("/proc/net/netstat");
  std::string names, values;
  while (std::getline(file, names) && std::getline(file, values)) {
    if (!names.starts_with("TcpExt:")) {
      continue;
    }
    std::istringstream name_fields(names), value_fields(values);
    std::string name, value;
    while (name_fields >> name && value_fields >> value) {
      if (name == "ListenOverflows") {
        return std::stoull(value);
      }
    }
  }
  return 0;
}

std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

struct ProcMemory {
  double rss_mb = 0;
  double hwm_mb = 0;
};

ProcMemory read_memory(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  ProcMemory memory;
  for (std::string line; std::getline(file, line);) {
    const auto kb = [&] { return std::stod(line.substr(line.find(':') + 1)) / 1024.0; };
    if (line.starts_with("VmRSS:")) {
      memory.rss_mb = kb();
    } else if (line.starts_with("VmHWM:")) {
      memory.hwm_mb = kb();
    }
  }
  return memory;
}

// ---------------------------------------------------------------------------------------------
// The child process: started by re-executing this program, waited for with deadlines.

class Child {
public:
  Child(const std::string& role, SharedMemory& shared) : m_shared(shared.region()) {
    const std::string role_arg = "--role=" + role;
    const std::string fd_arg = "--shm-fd=" + std::to_string(shared.fd());
    m_pid = fork();
    if (m_pid < 0) {
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (m_pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(STDERR_FILENO, STDOUT_FILENO); // stdout holds the tables only
      execl("/proc/self/exe", "medic-ingest-bench", role_arg.c_str(), fd_arg.c_str(), nullptr);
      _exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  [[nodiscard]] pid_t pid() const noexcept { return m_pid; }

  // The endpoint it listens on, once it does (10 s at most).
  std::string wait_listening() {
    const auto deadline = Steady::now() + std::chrono::seconds(10);
    while (Steady::now() < deadline) {
      const auto state = static_cast<ChildState>(m_shared.state.load());
      if (state == ChildState::listening) {
        return m_shared.endpoint;
      }
      if (state == ChildState::failed) {
        throw std::runtime_error(std::string("child failed: ") + m_shared.failure);
      }
      if (int status = 0; waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        throw std::runtime_error("child exited before listening");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    throw std::runtime_error("child did not listen within 10 s");
  }

  // Asks it to stop, waits 15 s at most, then kills it.
  void stop() noexcept {
    if (m_pid <= 0) {
      return;
    }
    m_shared.stop.store(1);
    const auto deadline = Steady::now() + std::chrono::seconds(15);
    int status = 0;
    while (Steady::now() < deadline) {
      if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fprintf(stderr, "child %d did not stop within 15 s: killing it\n", m_pid);
    kill(m_pid, SIGKILL);
    waitpid(m_pid, &status, 0);
    m_pid = -1;
  }

private:
  SharedRegion& m_shared;
  pid_t m_pid = -1;
};

// ---------------------------------------------------------------------------------------------
// Simulated agents.

struct Slot {
  std::uint64_t seq = 0;
  std::int64_t first_sent_ns = 0;
  std::int64_t last_sent_ns = 0;
  bool busy = false;
};

struct SimAgent {
  SimAgent(zmq::context_t& context, std::size_t index, std::size_t window)
      : socket(context, zmq::socket_type::dealer), slots(window) {
    envelope.agent_id = agent_id(index);
  }
  zmq::socket_t socket;
  protocol::Envelope envelope;
  std::vector<Slot> slots; // slot seq % window holds that seq while it is unacked
  std::uint64_t next_seq = 1;
  bool greeted = false; // HELLO went out (with ZMQ_IMMEDIATE it cannot before the handshake)
  bool acked_once = false;
  std::int64_t next_due_ns = 0;       // fleet mode: when the next batch is due
  std::int64_t scheduled_due_ns = -1; // fleet mode: the due time it has in the heap, if any
  bool ready_queued = false;          // on the driver's list of agents with input waiting
};

// Between the main thread and the driver threads.
struct DriverControl {
  std::atomic<bool> stop{false};
  std::atomic<bool> recording{false};
  // Fleet mode, set before the driver threads start.
  std::int64_t interval_ns = 0; // between one agent's batches; 0: as fast as the window allows
  std::size_t signals = 0;
};

struct DriverStats {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0}; // first ack of an outstanding batch
  std::atomic<std::uint64_t> resent{0};
  std::atomic<std::uint64_t> stray_acks{0}; // acks of batches no longer outstanding
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> agents_acked{0};
  // A slice of DriverArea::rtt, the thread's own; read by the main thread once it is joined.
  std::int64_t* rtt_ns = nullptr;
  std::size_t rtt_cap = 0;
  std::size_t rtt_count = 0;
};

// Control and statistics of every driver thread, in memory shared with the helper processes
// that drive part of the agents (fork without exec: the same addresses in all of them). One
// process cannot hold 10,000 agents: each needs two descriptors (its TCP connection and its
// socket's mailbox) and the hard RLIMIT_NOFILE here is 20,000 without CAP_SYS_RESOURCE.
constexpr std::size_t k_max_driver_threads = 64;
constexpr std::size_t k_agents_per_process = 5'000;

struct DriverArea {
  DriverControl control;
  std::atomic<int> helpers_done{0}; // helpers whose threads are joined (their stats final)
  std::atomic<int> helpers_failed{0};
  std::atomic<bool> release{false}; // helpers may close their sockets and exit
  std::array<DriverStats, k_max_driver_threads> stats;
  std::array<std::int64_t, k_max_rtt_records> rtt; // left uninitialised: mmap gives zeroes
};

class SharedDriverArea {
public:
  SharedDriverArea() {
    void* memory = mmap(nullptr, sizeof(DriverArea), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      throw std::runtime_error(std::string("mmap of the driver area: ") + std::strerror(errno));
    }
    m_area = new (memory) DriverArea; // default-initialised: the RTT pages stay untouched
  }
  SharedDriverArea(const SharedDriverArea&) = delete;
  SharedDriverArea& operator=(const SharedDriverArea&) = delete;
  ~SharedDriverArea() { munmap(m_area, sizeof(DriverArea)); }
  [[nodiscard]] DriverArea& area() noexcept { return *m_area; }

private:
  DriverArea* m_area = nullptr;
};

// Drives a share of the agents from one thread at a cost proportional to the work done, not to
// the number of agents: each socket's ZMQ_FD is in one epoll set (an agent wakes the thread only
// when something arrived for it), and in fleet mode the agents' due times are in a min-heap (the
// thread sleeps until the next one is due). ZMQ_FD is edge-like: it says "look at ZMQ_EVENTS",
// and any send or receive on the socket may consume that notice, so after draining or sending
// the socket's ZMQ_EVENTS is read again and an agent with input left goes on a ready list.
class AckedDriver {
public:
  AckedDriver(std::span<std::unique_ptr<SimAgent>> agents, DriverControl& control,
              DriverStats& stats)
      : m_agents(agents),
        m_control(control),
        m_stats(stats),
        m_encoder(control.signals, control.interval_ns > 0),
        m_epoll(epoll_create1(EPOLL_CLOEXEC)) {
    if (m_epoll < 0) {
      throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    }
    m_ready.reserve(m_agents.size());
    m_due_heap.reserve(2 * m_agents.size() + 16);
    const auto now = steady_ns();
    for (std::size_t i = 0; i < m_agents.size(); ++i) {
      auto& agent = *m_agents[i];
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      const int fd = agent.socket.get(zmq::sockopt::fd);
      if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
        const std::string error = std::strerror(errno);
        ::close(m_epoll);
        throw std::runtime_error("epoll_ctl(ADD, ZMQ_FD " + std::to_string(fd) + "): " + error);
      }
      // Spread over one interval, as real agents started at different times are.
      agent.next_due_ns = now + static_cast<std::int64_t>(i + 1) * control.interval_ns /
                                    static_cast<std::int64_t>(m_agents.size());
    }
  }
  AckedDriver(const AckedDriver&) = delete;
  AckedDriver& operator=(const AckedDriver&) = delete;
  ~AckedDriver() { ::close(m_epoll); }

  void run() {
    for (std::size_t i = 0; i < m_agents.size(); ++i) {
      greet(i);
    }
    std::array<epoll_event, k_max_events> events{};
    std::vector<std::size_t> ready;
    ready.reserve(m_agents.size());
    std::int64_t next_scan = steady_ns() + k_resend_scan_ns;
    while (!m_control.stop.load(std::memory_order_relaxed)) {
      const int count = epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()),
                                   wait_ms(steady_ns(), next_scan));
      if (count < 0 && errno != EINTR) {
        m_stats.errors.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::milliseconds(1)); // never spin on a failure
      }
      for (int e = 0; e < count; ++e) {
        const auto i = static_cast<std::size_t>(events[static_cast<std::size_t>(e)].data.u64);
        if (i < m_agents.size() && has_input(*m_agents[i])) {
          drain(i);
        }
      }
      // Agents left with input by a bounded drain or a send: this turn's list only, so a
      // socket that keeps receiving cannot starve the others.
      ready.swap(m_ready);
      for (const auto i : ready) {
        m_agents[i]->ready_queued = false;
      }
      for (const auto i : ready) {
        drain(i);
      }
      ready.clear();
      send_due(steady_ns());
      if (const auto now = steady_ns(); now >= next_scan) {
        resend_overdue(now);
        next_scan = now + k_resend_scan_ns;
      }
    }
  }

private:
  static constexpr std::size_t k_max_events = 256;        // per epoll_wait
  static constexpr int k_max_drain = 256;                 // messages per agent per turn
  static constexpr std::size_t k_max_due_per_turn = 1024; // due agents served per turn
  static constexpr std::int64_t k_max_wait_ns = 5'000'000;

  struct Due {
    std::int64_t at_ns;
    std::size_t index;
    bool operator>(const Due& other) const noexcept { return at_ns > other.at_ns; }
  };

  // Until the next due agent or resend scan, 5 ms at most; 0 while agents are ready.
  int wait_ms(std::int64_t now, std::int64_t next_scan) const {
    if (!m_ready.empty()) {
      return 0;
    }
    std::int64_t until = std::min(next_scan, now + k_max_wait_ns);
    if (!m_due_heap.empty()) {
      until = std::min(until, m_due_heap.front().at_ns);
    }
    if (until <= now) {
      return 0;
    }
    return static_cast<int>((until - now + 999'999) / 1'000'000); // rounded up: no busy wait
  }

  static bool has_input(SimAgent& agent) {
    return (agent.socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
  }

  // After a send (which may have consumed the ZMQ_FD notice of an arrival), or a bounded drain.
  void check_input(std::size_t i) {
    SimAgent& agent = *m_agents[i];
    if (!agent.ready_queued && has_input(agent)) {
      agent.ready_queued = true;
      m_ready.push_back(i);
    }
  }

  // Fleet mode: an agent with a batch due later has one entry in the heap at its due time. One
  // whose due time has passed but whose window is full has none: the ack that frees a slot
  // (drain → fill_window) sends and schedules it again.
  void schedule(std::size_t i, std::int64_t now) {
    SimAgent& agent = *m_agents[i];
    if (m_control.interval_ns <= 0 || !agent.greeted || agent.next_due_ns <= now ||
        agent.scheduled_due_ns == agent.next_due_ns) {
      return;
    }
    agent.scheduled_due_ns = agent.next_due_ns;
    m_due_heap.push_back({agent.next_due_ns, i});
    std::push_heap(m_due_heap.begin(), m_due_heap.end(), std::greater<>{});
  }

  void send_due(std::int64_t now) {
    for (std::size_t served = 0;
         served < k_max_due_per_turn && !m_due_heap.empty() && m_due_heap.front().at_ns <= now;
         ++served) {
      std::pop_heap(m_due_heap.begin(), m_due_heap.end(), std::greater<>{});
      const Due due = m_due_heap.back();
      m_due_heap.pop_back();
      SimAgent& agent = *m_agents[due.index];
      if (agent.scheduled_due_ns != due.at_ns) {
        continue; // stale: the agent was served (and scheduled again) before this came up
      }
      agent.scheduled_due_ns = -1;
      fill_window(due.index);
      check_input(due.index);
    }
  }

  bool send_hello(SimAgent& agent) {
    protocol::Envelope envelope = agent.envelope;
    envelope.seq = 0;
    envelope.sent_at_ms = unix_ms();
    m_frame.clear();
    protocol::Hello hello;
    hello.host = "bench-host";
    hello.agent_version = "bench";
    protocol::encode_hello(m_frame, envelope, hello);
    return agent.socket.send(zmq::buffer(m_frame), zmq::send_flags::dontwait).has_value();
  }

  // HELLO first, then the window; until the handshake is done every send fails (EAGAIN) and
  // the resend scan tries again.
  void greet(std::size_t i) {
    SimAgent& agent = *m_agents[i];
    agent.greeted = send_hello(agent);
    if (agent.greeted) {
      fill_window(i);
    }
    check_input(i);
  }

  bool send_batch(SimAgent& agent, std::uint64_t seq) {
    const auto& frame = m_encoder.encode(agent.envelope, seq, unix_ms());
    return agent.socket.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
  }

  // Sends what the window and (fleet mode) the pacing allow, then schedules the next one.
  void fill_window(std::size_t i) {
    SimAgent& agent = *m_agents[i];
    const std::size_t window = agent.slots.size();
    auto now = steady_ns();
    for (;;) {
      Slot& slot = agent.slots[agent.next_seq % window];
      if (slot.busy) {
        break;
      }
      now = steady_ns();
      if (m_control.interval_ns > 0) {
        if (now < agent.next_due_ns) {
          break;
        }
        // Paced like a real agent's sampling timer; after a long stall it does not burst.
        agent.next_due_ns = std::max(agent.next_due_ns + m_control.interval_ns,
                                     now - m_control.interval_ns);
      }
      // A send that fails (no connection yet) stays outstanding and goes with the resends.
      const bool sent = send_batch(agent, agent.next_seq);
      slot = {agent.next_seq, sent ? now : 0, sent ? now : 0, true};
      ++agent.next_seq;
      m_stats.sent.fetch_add(1, std::memory_order_relaxed);
    }
    schedule(i, now);
  }

  void drain(std::size_t i) {
    SimAgent& agent = *m_agents[i];
    zmq::message_t reply;
    for (int n = 0; n < k_max_drain && agent.socket.recv(reply, zmq::recv_flags::dontwait); ++n) {
      auto message = protocol::decode(reply.to_string_view());
      if (!message) {
        m_stats.errors.fetch_add(1, std::memory_order_relaxed);
      } else if (const auto* ack = std::get_if<protocol::Ack>(&message->body)) {
        on_ack(agent, ack->acked_seq);
      } else if (const auto* error = std::get_if<protocol::ErrorReply>(&message->body)) {
        m_stats.errors.fetch_add(1, std::memory_order_relaxed);
        if (error->code == "hello-required") {
          send_hello(agent);
        }
      }
    }
    if (agent.greeted) {
      fill_window(i);
    }
    check_input(i); // input left by the bound, or announced during the sends
  }

  void on_ack(SimAgent& agent, std::uint64_t seq) {
    Slot& slot = agent.slots[seq % agent.slots.size()];
    if (!slot.busy || slot.seq != seq) {
      m_stats.stray_acks.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    slot.busy = false;
    m_stats.acked.fetch_add(1, std::memory_order_relaxed);
    if (!agent.acked_once) {
      agent.acked_once = true;
      m_stats.agents_acked.fetch_add(1, std::memory_order_relaxed);
    }
    if (m_control.recording.load(std::memory_order_relaxed) &&
        m_stats.rtt_count < m_stats.rtt_cap) {
      m_stats.rtt_ns[m_stats.rtt_count++] = steady_ns() - slot.first_sent_ns;
    }
  }

  // A batch refused while the storage queue was full is never acked: send it again, as the
  // agent's spool would.
  void resend_overdue(std::int64_t now) {
    for (std::size_t i = 0; i < m_agents.size(); ++i) {
      auto& agent = *m_agents[i];
      if (!agent.greeted) {
        greet(i);
        continue;
      }
      bool any_sent = false;
      for (auto& slot : agent.slots) {
        const bool never_sent = slot.last_sent_ns == 0;
        if (!slot.busy || (!never_sent && now - slot.last_sent_ns <= k_resend_after_ns)) {
          continue;
        }
        if (send_batch(agent, slot.seq)) {
          any_sent = true;
          slot.first_sent_ns = never_sent ? now : slot.first_sent_ns;
          slot.last_sent_ns = now;
          if (!never_sent) {
            m_stats.resent.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
      if (any_sent) {
        check_input(i);
      }
    }
  }

  std::span<std::unique_ptr<SimAgent>> m_agents;
  DriverControl& m_control;
  DriverStats& m_stats;
  BatchEncoder m_encoder;
  std::string m_frame;
  int m_epoll = -1;
  std::vector<std::size_t> m_ready; // agents with input waiting; each at most once
  std::vector<Due> m_due_heap;      // min-heap on at_ns; at most ~2 entries per agent
};

// Plain path: every agent sends as fast as its socket takes batches; nothing comes back.
void drive_plain(std::span<std::unique_ptr<SimAgent>> agents, DriverControl& control,
                 DriverStats& stats) {
  constexpr int k_burst = 16; // per agent per turn, so one socket cannot hog the thread
  BatchEncoder encoder;
  std::vector<zmq::pollitem_t> items;
  for (auto& agent : agents) {
    items.push_back({agent->socket.handle(), 0, ZMQ_POLLOUT, 0});
  }
  while (!control.stop.load(std::memory_order_relaxed)) {
    std::size_t blocked = 0;
    for (auto& agent : agents) {
      for (int i = 0; i < k_burst; ++i) {
        const auto& frame = encoder.encode(agent->envelope, agent->next_seq, unix_ms());
        if (!agent->socket.send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
          ++blocked;
          break;
        }
        ++agent->next_seq;
        stats.sent.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (blocked == agents.size()) {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(5));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One scenario: a child, N agents, a warm-up and a measured window.

struct Keys {
  security::CurveKeyPair server;
  std::vector<security::CurveKeyPair> agents;
};

struct ScenarioResult {
  PathKind path = PathKind::plain;
  std::size_t agents = 0;
  double seconds = 0;
  double batches_per_s = 0; // acked by the agents (whole) or decoded by the ROUTER (plain)
  double stored_per_s = 0;  // counted by the receiving side
  double samples_per_s = 0;
  double coordinator_cpu_pct = 0;
  double agents_cpu_pct = 0;
  double others_cpu_pct = 0; // everything else the machine ran meanwhile (it is shared)
  std::map<std::string, double> thread_cpu_pct;
  ProcMemory memory;
  ProcMemory memory_before; // when measuring started: flat memory means the same at the end
  double rtt_p50_us = NAN;
  double rtt_p99_us = NAN;
  std::size_t rtt_count = 0;
  std::uint64_t connected = 0;
  int attempts = 1;
  double connect_seconds = NAN;       // from connecting until every agent had its first ack
  std::uint64_t listen_overflows = 0; // while connecting
  std::uint64_t resent = 0, stray_acks = 0, errors = 0;
  std::uint64_t refused_in_window = 0; // of refused_busy, while measuring
  std::uint64_t refused_busy = 0, duplicates = 0, malformed = 0, replies_failed = 0;
  std::uint64_t zap_admitted = 0, peak_storage_queue = 0, storage_errors = 0;
  double longest_group_ms = NAN, longest_flush_ms = NAN; // the storing thread's, while measuring
  std::uint64_t slow_groups = 0;                         // groups over 50 ms, while measuring
  double stored_p50_ms = NAN, stored_p99_ms = NAN;        // received by ingest -> committed
};

std::string fixed(double value, int decimals);

struct JoinOnExit {
  DriverControl& control;
  std::vector<std::thread>& threads;
  void join() const noexcept {
    control.stop.store(true);
    for (auto& thread : threads) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }
  ~JoinOnExit() { join(); }
};

struct Snapshot {
  std::int64_t at_ns = 0;
  ProcCpu child;
  ProcCpu self;
  double machine_busy = 0;
  std::uint64_t acked = 0;
  std::uint64_t batches = 0;
  std::uint64_t samples = 0;
  std::uint64_t refused_busy = 0;
};

// The simulated agents' CPU: this process and its helpers, threads summed by name.
ProcCpu read_agents_cpu(std::span<const pid_t> helpers) {
  ProcCpu cpu = read_cpu(getpid());
  for (const auto pid : helpers) {
    const ProcCpu helper = read_cpu(pid);
    cpu.seconds += helper.seconds;
    for (const auto& [name, seconds] : helper.threads) {
      cpu.threads[name] += seconds;
    }
  }
  return cpu;
}

Snapshot take_snapshot(pid_t child, const SharedRegion& shared, std::span<const DriverStats> stats,
                       std::span<const pid_t> helpers) {
  Snapshot snapshot;
  snapshot.at_ns = steady_ns();
  snapshot.child = read_cpu(child);
  snapshot.self = read_agents_cpu(helpers);
  snapshot.machine_busy = machine_busy_seconds();
  for (const auto& one : stats) {
    snapshot.acked += one.acked.load();
  }
  snapshot.batches = shared.batches.load();
  snapshot.samples = shared.samples.load();
  snapshot.refused_busy = shared.refused_busy.load();
  return snapshot;
}

void fill_shared_inputs(SharedRegion& shared, const Options& options, const Keys& keys,
                        std::size_t agents) {
  shared.agent_count = static_cast<std::uint32_t>(agents);
  shared.storage_queue = options.storage_queue;
  shared.receive_queue = options.receive_queue;
  shared.plain_hwm = options.plain_hwm;
  shared.signals = static_cast<std::uint32_t>(options.signals);
  std::snprintf(shared.store_url, sizeof shared.store_url, "%s", options.store.c_str());
  std::snprintf(shared.server_secret_key, k_key_chars, "%s", keys.server.secret_key.c_str());
  for (std::size_t i = 0; i < agents; ++i) {
    std::snprintf(shared.agent_public_keys[i], k_key_chars, "%s",
                  keys.agents[i].public_key.c_str());
  }
}

std::vector<std::unique_ptr<SimAgent>> connect_agents(zmq::context_t& context, PathKind path,
                                                      const std::string& endpoint, const Keys& keys,
                                                      std::size_t begin, std::size_t end,
                                                      const Options& options) {
  std::vector<std::unique_ptr<SimAgent>> agents;
  for (std::size_t i = begin; i < end; ++i) {
    auto agent = std::make_unique<SimAgent>(context, i, options.window);
    agent->socket.set(zmq::sockopt::linger, 0);
    // As agent/link/coordinator_link.cpp sets them.
    agent->socket.set(zmq::sockopt::immediate, 1);
    agent->socket.set(zmq::sockopt::reconnect_ivl, 200);
    agent->socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    if (path == PathKind::plain) {
      agent->socket.set(zmq::sockopt::sndhwm, options.plain_hwm);
    } else {
      agent->socket.set(zmq::sockopt::curve_serverkey, keys.server.public_key);
      agent->socket.set(zmq::sockopt::curve_publickey, keys.agents[i].public_key);
      agent->socket.set(zmq::sockopt::curve_secretkey, keys.agents[i].secret_key);
    }
    agent->socket.connect(endpoint);
    agents.push_back(std::move(agent));
  }
  return agents;
}

// Until every agent has had an ack (whole) or the ROUTER has decoded a batch per agent (plain);
// 30 s at most. Returns the seconds it took.
double wait_connected(PathKind path, std::size_t count, const SharedRegion& shared,
                      std::span<const DriverStats> stats) {
  const auto start = Steady::now();
  const auto deadline = start + std::chrono::seconds(30);
  while (Steady::now() < deadline) {
    std::uint64_t ready = 0;
    if (path == PathKind::whole) {
      for (const auto& one : stats) {
        ready += one.agents_acked.load();
      }
    } else {
      ready = shared.batches.load();
    }
    if (ready >= count) {
      return std::chrono::duration<double>(Steady::now() - start).count();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "  not every agent got through within 30 s; measuring anyway\n");
  return NAN;
}

void compute_rates(ScenarioResult& result, const Snapshot& a, const Snapshot& b) {
  const double seconds = static_cast<double>(b.at_ns - a.at_ns) / 1e9;
  result.seconds = seconds;
  const double stored = static_cast<double>(b.batches - a.batches);
  result.stored_per_s = stored / seconds;
  result.batches_per_s = result.path == PathKind::whole
                             ? static_cast<double>(b.acked - a.acked) / seconds
                             : result.stored_per_s;
  const double samples_per_batch =
      stored > 0 ? static_cast<double>(b.samples - a.samples) / stored : k_samples_per_batch;
  result.samples_per_s = result.batches_per_s * samples_per_batch;
  result.coordinator_cpu_pct = 100.0 * (b.child.seconds - a.child.seconds) / seconds;
  result.agents_cpu_pct = 100.0 * (b.self.seconds - a.self.seconds) / seconds;
  result.others_cpu_pct = 100.0 * (b.machine_busy - a.machine_busy) / seconds -
                          result.coordinator_cpu_pct - result.agents_cpu_pct;
  for (const auto& [name, cpu] : b.child.threads) {
    const auto before = a.child.threads.find(name);
    result.thread_cpu_pct[name] =
        100.0 * (cpu - (before == a.child.threads.end() ? 0 : before->second)) / seconds;
  }
}

// The 50th and 99th percentile of a histogram of whole milliseconds (NAN when it is empty).
std::pair<double, double> wait_percentiles(
    const std::array<std::atomic<std::uint32_t>, k_wait_buckets>& buckets) {
  std::uint64_t total = 0;
  for (const auto& bucket : buckets) {
    total += bucket.load();
  }
  if (total == 0) {
    return {NAN, NAN};
  }
  const auto at = [&](double fraction) {
    const auto rank = static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(total)));
    std::uint64_t seen = 0;
    for (std::size_t ms = 0; ms < buckets.size(); ++ms) {
      seen += buckets[ms].load();
      if (seen >= rank) {
        return static_cast<double>(ms);
      }
    }
    return static_cast<double>(buckets.size() - 1);
  };
  return {at(0.50), at(0.99)};
}

void compute_rtt(ScenarioResult& result, std::span<const DriverStats> stats) {
  std::vector<std::int64_t> all;
  for (const auto& one : stats) {
    all.insert(all.end(), one.rtt_ns, one.rtt_ns + one.rtt_count);
  }
  result.rtt_count = all.size();
  if (all.empty()) {
    return;
  }
  const auto at = [&](double q) {
    const auto index = std::min(all.size() - 1, static_cast<std::size_t>(q * all.size()));
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(index), all.end());
    return static_cast<double>(all[index]) / 1000.0;
  };
  result.rtt_p50_us = at(0.50);
  result.rtt_p99_us = at(0.99);
}

void collect_counters(ScenarioResult& result, const SharedRegion& shared,
                      std::span<const DriverStats> stats) {
  for (const auto& one : stats) {
    result.connected += one.agents_acked.load();
    result.resent += one.resent.load();
    result.stray_acks += one.stray_acks.load();
    result.errors += one.errors.load();
  }
  result.refused_busy = shared.refused_busy.load();
  result.duplicates = shared.duplicates.load();
  result.malformed = shared.malformed.load();
  result.replies_failed = shared.replies_failed.load();
  result.zap_admitted = shared.zap_admitted.load();
  result.peak_storage_queue = shared.peak_storage_queue.load();
  result.storage_errors = shared.storage_errors.load();
}

// Fleet mode starts every scenario on an empty database: the SQLite file is removed; on
// PostgreSQL the bench works in its own schema, dropped and created again.
std::string fresh_store(const std::string& url) {
  if (url.starts_with("sqlite:")) {
    auto path = storage::sqlite_path(url);
    if (!path) {
      throw std::runtime_error(path.error().message());
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(*path + suffix);
    }
    return url;
  }
  if (url.starts_with("postgres")) {
    {
      pqxx::connection connection(url);
      pqxx::work work(connection);
      work.exec("DROP SCHEMA IF EXISTS medic_bench CASCADE");
      work.exec("CREATE SCHEMA medic_bench");
      work.commit();
    }
    return url + (url.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3Dmedic_bench";
  }
  return url;
}

// Which driver thread drives which agents in which process: processes of at most
// k_agents_per_process agents (process 0 is this one), threads of about agents_per_thread.
struct DriverPlan {
  std::size_t process = 0;
  std::size_t begin = 0, end = 0; // agent indexes
};

std::vector<DriverPlan> plan_drivers(std::size_t count, std::size_t agents_per_thread) {
  const std::size_t processes = (count + k_agents_per_process - 1) / k_agents_per_process;
  std::vector<DriverPlan> plan;
  for (std::size_t p = 0; p < processes; ++p) {
    const std::size_t begin = p * count / processes;
    const std::size_t end = (p + 1) * count / processes;
    const std::size_t threads =
        std::clamp<std::size_t>((end - begin + agents_per_thread - 1) / agents_per_thread, 1,
                                k_max_driver_threads / processes);
    for (std::size_t t = 0; t < threads; ++t) {
      plan.push_back(
          {p, begin + t * (end - begin) / threads, begin + (t + 1) * (end - begin) / threads});
    }
  }
  return plan;
}

std::pair<std::size_t, std::size_t> process_range(std::span<const DriverPlan> plan,
                                                  std::size_t process) {
  std::size_t begin = SIZE_MAX, end = 0;
  for (const auto& one : plan) {
    if (one.process == process) {
      begin = std::min(begin, one.begin);
      end = std::max(end, one.end);
    }
  }
  return {begin, end};
}

// Starts this process's driver threads on `agents` (its share, from process_range's begin).
void start_drivers(std::vector<std::unique_ptr<SimAgent>>& agents, std::span<const DriverPlan> plan,
                   std::size_t process, DriverArea& area, PathKind path,
                   std::vector<std::thread>& threads) {
  const std::size_t first = process_range(plan, process).first;
  for (std::size_t t = 0; t < plan.size(); ++t) {
    if (plan[t].process != process) {
      continue;
    }
    std::span<std::unique_ptr<SimAgent>> mine(agents.data() + (plan[t].begin - first),
                                              plan[t].end - plan[t].begin);
    DriverStats& one = area.stats[t];
    DriverControl& control = area.control;
    threads.emplace_back([mine, path, &control, &one] {
      if (path == PathKind::whole) {
        AckedDriver(mine, control, one).run();
      } else {
        drive_plain(mine, control, one);
      }
    });
  }
}

// A forked helper process: connects and drives its share of the agents until told to stop,
// then keeps its connections until the receiver has stopped. Returns its exit status.
int run_agents_helper(const Options& options, PathKind path, const std::string& endpoint,
                      const Keys& keys, std::span<const DriverPlan> plan, std::size_t process,
                      DriverArea& area) noexcept {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_NAME, "agents-helper");
  try {
    const auto [begin, end] = process_range(plan, process);
    zmq::context_t context(options.io_threads, static_cast<int>(end - begin + 64));
    auto agents = connect_agents(context, path, endpoint, keys, begin, end, options);
    {
      std::vector<std::thread> threads;
      const JoinOnExit joiner{area.control, threads};
      start_drivers(agents, plan, process, area, path, threads);
      while (!area.control.stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    area.helpers_done.fetch_add(1);
    const auto deadline = Steady::now() + std::chrono::seconds(60);
    while (!area.release.load() && Steady::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    agents.clear();
    context.close();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agents helper %zu: %s\n", process, e.what());
  }
  area.helpers_failed.fetch_add(1);
  area.control.stop.store(true); // a scenario without part of its agents means nothing
  return 1;
}

// The helper processes of one scenario; killed if the scenario ends by an exception.
struct Helpers {
  std::vector<pid_t> pids;

  // Until every helper has joined its threads (15 s at most).
  void wait_done(const DriverArea& area) const {
    const auto deadline = Steady::now() + std::chrono::seconds(15);
    while (static_cast<std::size_t>(area.helpers_done.load() + area.helpers_failed.load()) <
               pids.size() &&
           Steady::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (area.helpers_failed.load() > 0) {
      throw std::runtime_error(std::to_string(area.helpers_failed.load()) +
                               " agents helper(s) failed");
    }
  }
  // Waits 15 s at most for them to exit, then kills them.
  void reap() noexcept {
    const auto deadline = Steady::now() + std::chrono::seconds(15);
    while (!pids.empty()) {
      int status = 0;
      if (waitpid(pids.back(), &status, WNOHANG) == pids.back()) {
        pids.pop_back();
      } else if (Steady::now() >= deadline) {
        std::fprintf(stderr, "agents helper %d did not exit within 15 s: killing it\n",
                     pids.back());
        kill(pids.back(), SIGKILL);
        waitpid(pids.back(), &status, 0);
        pids.pop_back();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }
  ~Helpers() {
    for (const auto pid : pids) {
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }
};

ScenarioResult run_scenario(const Options& options, PathKind path, std::size_t count,
                            const Keys& keys) {
  ScenarioResult result;
  result.path = path;
  result.agents = count;
  SharedMemory memory;
  SharedRegion& shared = memory.region();
  fill_shared_inputs(shared, options, keys, count);
  const std::string store_url = fresh_store(options.store);
  std::snprintf(shared.store_url, sizeof shared.store_url, "%s", store_url.c_str());
  Child child(path == PathKind::whole ? "coordinator" : "plain", memory);
  const std::string endpoint = child.wait_listening();
  std::fprintf(stderr, "  %s, %zu agents: receiver pid %d on %s\n",
               path == PathKind::whole ? "whole" : "plain", count, child.pid(), endpoint.c_str());

  const std::uint64_t overflows_before = listen_overflows();
  SharedDriverArea area_memory;
  DriverArea& area = area_memory.area();
  DriverControl& control = area.control;
  control.interval_ns = options.rate > 0 ? static_cast<std::int64_t>(1e9 / options.rate) : 0;
  control.signals = options.signals;
  const auto plan = plan_drivers(count, options.agents_per_thread);
  const std::span<DriverStats> stats(area.stats.data(), plan.size());
  for (std::size_t t = 0; t < plan.size(); ++t) {
    stats[t].rtt_cap = k_max_rtt_records / plan.size();
    stats[t].rtt_ns = area.rtt.data() + t * stats[t].rtt_cap;
  }
  // Helpers first, while this process has no thread to lose in the fork.
  Helpers helpers;
  const std::size_t processes = plan.back().process + 1;
  for (std::size_t process = 1; process < processes; ++process) {
    const pid_t pid = fork();
    if (pid < 0) {
      throw std::runtime_error(std::string("fork of an agents helper: ") + std::strerror(errno));
    }
    if (pid == 0) {
      _exit(run_agents_helper(options, path, endpoint, keys, plan, process, area));
    }
    helpers.pids.push_back(pid);
  }
  const auto [begin, end] = process_range(plan, 0);
  zmq::context_t context(options.io_threads, static_cast<int>(end - begin + 64));
  auto agents = connect_agents(context, path, endpoint, keys, begin, end, options);
  std::vector<std::thread> threads;
  const JoinOnExit joiner{control, threads}; // before `agents` go, whatever is thrown
  start_drivers(agents, plan, 0, area, path, threads);

  result.connect_seconds = wait_connected(path, count, shared, stats);
  result.listen_overflows = listen_overflows() - overflows_before;
  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup));
  const Snapshot before = take_snapshot(child.pid(), shared, stats, helpers.pids);
  result.memory_before = read_memory(child.pid());
  shared.longest_group_us.store(0);
  shared.longest_flush_us.store(0);
  shared.slow_groups.store(0);
  for (auto& bucket : shared.stored_after_ms) {
    bucket.store(0);
  }
  shared.measuring.store(1);
  control.recording.store(true);
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
  control.recording.store(false);
  const Snapshot after = take_snapshot(child.pid(), shared, stats, helpers.pids);
  result.memory = read_memory(child.pid());
  result.longest_group_ms = static_cast<double>(shared.longest_group_us.load()) / 1000.0;
  result.longest_flush_ms = static_cast<double>(shared.longest_flush_us.load()) / 1000.0;
  result.slow_groups = shared.slow_groups.load();
  shared.measuring.store(0);
  std::tie(result.stored_p50_ms, result.stored_p99_ms) = wait_percentiles(shared.stored_after_ms);

  joiner.join();
  helpers.wait_done(area);
  child.stop(); // while the agents are still connected, so what it acks on the way out arrives
  area.release.store(true);
  agents.clear();
  context.close();
  helpers.reap();
  compute_rates(result, before, after);
  std::string simulator_threads; // stderr only: the drivers against ZeroMQ's I/O (CURVE) thread
  for (const auto& [name, cpu] : after.self.threads) {
    const auto earlier = before.self.threads.find(name);
    const double pct = 100.0 *
                       (cpu - (earlier == before.self.threads.end() ? 0 : earlier->second)) /
                       result.seconds;
    if (pct >= 0.5) {
      simulator_threads += " " + name + " " + fixed(pct, 0) + " %";
    }
  }
  std::fprintf(stderr, "    simulated agents' CPU by thread:%s\n", simulator_threads.c_str());
  result.refused_in_window = after.refused_busy - before.refused_busy;
  compute_rtt(result, stats);
  collect_counters(result, shared, stats);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report.

std::string with_commas(double value) {
  const auto whole = static_cast<long long>(std::llround(value));
  const std::string digits = std::to_string(whole < 0 ? -whole : whole);
  std::string text = whole < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      text += ',';
    }
    text += digits[i];
  }
  return text;
}

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) {
    return "–";
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string milliseconds(double micros) {
  return fixed(micros / 1000.0, micros < 10'000 ? 3 : 1);
}

std::string first_line(const std::string& path, const std::string& prefix) {
  std::ifstream file(path);
  for (std::string line; std::getline(file, line);) {
    if (line.starts_with(prefix)) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "?";
}

void print_header(const Options& options, const CodecResult* codec, std::size_t frame_bytes,
                  const std::string& load_at_start) {
  utsname name{};
  uname(&name);
  std::printf("## medic-ingest-bench\n\n");
  std::printf("- machine: %u CPUs online (%s), Linux %s, libzmq %d.%d.%d, libuv %s\n",
              std::thread::hardware_concurrency(),
              first_line("/proc/cpuinfo", "model name").c_str(), name.release, ZMQ_VERSION_MAJOR,
              ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH, uv_version_string());
  std::printf("- batch: %zu samples, %zu bytes encoded\n", k_samples_per_batch, frame_bytes);
  std::printf(
      "- whole path: window of %zu unacked batches per agent, storage queue %u, receive "
      "queue %u; plain path: HWM %d at both ends; agents' ZeroMQ io_threads %d, %zu agents "
      "per driver thread\n",
      options.window, options.storage_queue, options.receive_queue, options.plain_hwm,
      options.io_threads, options.agents_per_thread);
  std::printf(
      "- each figure: %.1f s measured after connecting and a %.1f s warm-up; load "
      "average %s at the start, %s at the end\n\n",
      options.seconds, options.warmup, load_at_start.c_str(), load_average().c_str());
  if (codec != nullptr) {
    std::printf("### Codec, one %zu-sample batch (median of 7 rounds)\n\n", k_samples_per_batch);
    std::printf("| operation | ns/op | fastest–slowest round |\n|---|---:|---:|\n");
    std::printf("| encode_batch (SampleView → msgpack) | %s | %s–%s |\n",
                fixed(codec->encode_ns, 0).c_str(), fixed(codec->encode_min, 0).c_str(),
                fixed(codec->encode_max, 0).c_str());
    std::printf("| decode (msgpack → Message with Batch) | %s | %s–%s |\n",
                fixed(codec->decode_ns, 0).c_str(), fixed(codec->decode_min, 0).c_str(),
                fixed(codec->decode_max, 0).c_str());
    std::printf("| decode_into (a reused Message, as ingest does) | %s | %s–%s |\n\n",
                fixed(codec->reused_ns, 0).c_str(), fixed(codec->reused_min, 0).c_str(),
                fixed(codec->reused_max, 0).c_str());
  }
}

const ScenarioResult* find_plain(const std::vector<ScenarioResult>& results, std::size_t agents) {
  for (const auto& result : results) {
    if (result.path == PathKind::plain && result.agents == agents) {
      return &result;
    }
  }
  return nullptr;
}

void print_results(const std::vector<ScenarioResult>& results) {
  std::printf("### Ingest path\n\n");
  std::printf(
      "| agents | path | batches/s | samples/s | receiver CPU %% | receiver RSS / peak MB "
      "| agents CPU %% | ack p50 ms | ack p99 ms | whole/plain |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results) {
    const auto* plain = r.path == PathKind::whole ? find_plain(results, r.agents) : nullptr;
    const std::string ratio = plain != nullptr && plain->samples_per_s > 0
                                  ? fixed(100.0 * r.samples_per_s / plain->samples_per_s, 0) + " %"
                                  : "–";
    std::printf("| %zu | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |\n", r.agents,
                r.path == PathKind::whole ? "whole (CURVE, acks)" : "plain",
                with_commas(r.batches_per_s).c_str(), with_commas(r.samples_per_s).c_str(),
                fixed(r.coordinator_cpu_pct, 0).c_str(), fixed(r.memory.rss_mb, 1).c_str(),
                fixed(r.memory.hwm_mb, 1).c_str(), fixed(r.agents_cpu_pct, 0).c_str(),
                milliseconds(r.rtt_p50_us).c_str(), milliseconds(r.rtt_p99_us).c_str(),
                ratio.c_str());
  }
  std::printf(
      "\nCPU %% is of one core (the machine has %u); \"receiver\" is the plain ROUTER "
      "process or the coordinator process.\n\n",
      std::thread::hardware_concurrency());
}

// Fleet mode: what N paced agents cost the coordinator with a real store.
void print_fleet(const Options& options, const std::vector<ScenarioResult>& results) {
  std::printf("### Fleet: %g batch/s per agent, %zu samples and %zu signals each, store %s\n\n",
              options.rate, k_samples_per_batch, options.signals,
              options.store.starts_with("postgres") ? "PostgreSQL" : options.store.c_str());
  std::printf(
      "| agents | batches/s stored | samples/s stored | signals/s | coordinator CPU %% "
      "| RSS at start → end of measuring, MB | peak storage queue | ack p50 ms | ack p99 ms "
      "| received → stored p50 / p99 ms | resent | storage errors | longest group / flush ms "
      "| groups over 50 ms |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results) {
    std::printf("| %zu | %s | %s | %s | %s | %s → %s | %llu | %s | %s | %s / %s | %llu | %llu "
                "| %s / %s | %llu |\n",
                r.agents, with_commas(r.stored_per_s).c_str(),
                with_commas(r.samples_per_s).c_str(),
                with_commas(r.stored_per_s * static_cast<double>(options.signals)).c_str(),
                fixed(r.coordinator_cpu_pct, 0).c_str(), fixed(r.memory_before.rss_mb, 1).c_str(),
                fixed(r.memory.rss_mb, 1).c_str(),
                static_cast<unsigned long long>(r.peak_storage_queue),
                milliseconds(r.rtt_p50_us).c_str(), milliseconds(r.rtt_p99_us).c_str(),
                fixed(r.stored_p50_ms, 0).c_str(), fixed(r.stored_p99_ms, 0).c_str(),
                static_cast<unsigned long long>(r.resent),
                static_cast<unsigned long long>(r.storage_errors),
                fixed(r.longest_group_ms, 1).c_str(), fixed(r.longest_flush_ms, 1).c_str(),
                static_cast<unsigned long long>(r.slow_groups));
  }
  std::printf("\n");
}

// CPU time per batch that got through, in µs: what extrapolates to other rates and machines.
double micros_per_batch(double cpu_pct, double batches_per_s) {
  return batches_per_s > 0 ? cpu_pct / 100.0 / batches_per_s * 1e6 : NAN;
}

void print_threads(const std::vector<ScenarioResult>& results) {
  std::printf(
      "### Where the CPU goes: µs of CPU per batch (CPU %% of one core)\n\n"
      "| agents | path | receiver total | receiver threads | agents total |\n"
      "|---:|---|---:|---|---:|\n");
  for (const auto& r : results) {
    std::string threads;
    for (const auto& [name, pct] : r.thread_cpu_pct) {
      if (pct < 0.5) {
        continue; // the reaper
      }
      threads += (threads.empty() ? "" : ", ") + name + " " +
                 fixed(micros_per_batch(pct, r.batches_per_s), 1) + " (" + fixed(pct, 0) + " %)";
    }
    std::printf("| %zu | %s | %s (%s %%) | %s | %s (%s %%) |\n", r.agents,
                r.path == PathKind::whole ? "whole" : "plain",
                fixed(micros_per_batch(r.coordinator_cpu_pct, r.batches_per_s), 1).c_str(),
                fixed(r.coordinator_cpu_pct, 0).c_str(), threads.c_str(),
                fixed(micros_per_batch(r.agents_cpu_pct, r.batches_per_s), 1).c_str(),
                fixed(r.agents_cpu_pct, 0).c_str());
  }
  std::printf("\n");
}

void print_health(const std::vector<ScenarioResult>& results) {
  std::printf(
      "### Health of each run\n\n"
      "| agents | path | other CPU %% (tries) | agents acked / ZAP admitted | all acked after s "
      "| listen overflows | stored/s | RTT samples | resent | stray acks | errors "
      "| refused busy (while measuring) | duplicates | peak storage queue | replies failed |\n"
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  const auto n = [](std::uint64_t value) { return static_cast<unsigned long long>(value); };
  for (const auto& r : results) {
    const std::string others = fixed(r.others_cpu_pct, 0) + " (" + std::to_string(r.attempts) + ")";
    if (r.path == PathKind::plain) {
      std::printf(
          "| %zu | plain | %s | – | – | %llu | %s | – | – | – | %llu malformed "
          "| – | – | – | – |\n",
          r.agents, others.c_str(), n(r.listen_overflows), with_commas(r.stored_per_s).c_str(),
          n(r.malformed));
      continue;
    }
    std::printf(
        "| %zu | whole | %s | %llu / %llu | %s | %llu | %s | %zu | %llu | %llu | %llu "
        "| %llu (%llu) | %llu | %llu | %llu |\n",
        r.agents, others.c_str(), n(r.connected), n(r.zap_admitted),
        fixed(r.connect_seconds, 2).c_str(), n(r.listen_overflows),
        with_commas(r.stored_per_s).c_str(), r.rtt_count, n(r.resent), n(r.stray_acks), n(r.errors),
        n(r.refused_busy), n(r.refused_in_window), n(r.duplicates), n(r.peak_storage_queue),
        n(r.replies_failed));
  }
  std::printf(
      "\n\"other CPU\" is what the rest of the machine used meanwhile (it is shared): "
      "busy time from /proc/stat minus the receiver and the agents (whole ticks, so ±15); a "
      "scenario over the noise limit is run again and the quietest try kept. \"listen "
      "overflows\": connection attempts the kernel dropped while the agents connected "
      "(TcpExt ListenOverflows, machine-wide).\n\n");
}

// ---------------------------------------------------------------------------------------------

void raise_fd_limit(std::size_t agents) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  // A simulator process (at most k_agents_per_process agents): a TCP connection and a mailbox
  // per agent; the receiver: a connection per agent.
  const rlim_t wanted =
      static_cast<rlim_t>(std::max(std::min(agents, k_agents_per_process) * 2, agents)) + 256;
  if (limit.rlim_cur < wanted) {
    // Root with CAP_SYS_RESOURCE may raise the hard limit too.
    if (limit.rlim_max < wanted && geteuid() == 0) {
      limit.rlim_max = wanted;
    }
    limit.rlim_cur = std::min(limit.rlim_max, std::max(wanted, limit.rlim_cur));
    setrlimit(RLIMIT_NOFILE, &limit); // inherited by the children
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < wanted) {
    std::fprintf(stderr, "warning: only %llu file descriptors for %zu agents\n",
                 static_cast<unsigned long long>(limit.rlim_cur), agents);
  }
}

Keys generate_keys(std::size_t count) {
  Keys keys;
  auto server = security::generate_keypair();
  if (!server) {
    throw std::runtime_error(server.error().message());
  }
  keys.server = *server;
  for (std::size_t i = 0; i < count; ++i) {
    auto pair = security::generate_keypair();
    if (!pair) {
      throw std::runtime_error(pair.error().message());
    }
    keys.agents.push_back(*pair);
  }
  return keys;
}

// The machine is shared: a scenario during which something else took more than
// --noisy-pct of a core is run again (--retries times at most), and the quietest try is kept.
ScenarioResult run_quietest(const Options& options, PathKind path, std::size_t count,
                            const Keys& keys) {
  std::optional<ScenarioResult> best;
  for (int attempt = 1; attempt <= options.retries + 1; ++attempt) {
    auto result = run_scenario(options, path, count, keys);
    result.attempts = attempt;
    std::fprintf(
        stderr, "    %s batches/s, %s samples/s, receiver CPU %.0f %%, other CPU %.0f %%\n",
        with_commas(result.batches_per_s).c_str(), with_commas(result.samples_per_s).c_str(),
        result.coordinator_cpu_pct, result.others_cpu_pct);
    if (!best || result.others_cpu_pct < best->others_cpu_pct) {
      best = std::move(result);
    }
    if (best->others_cpu_pct <= options.noisy_pct) {
      break;
    }
  }
  return *best;
}

int run_parent(const Options& options) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::size_t most =
      *std::max_element(options.agent_counts.begin(), options.agent_counts.end());
  raise_fd_limit(most);
  const std::string load_at_start = load_average();
  // Before any thread exists (ZeroMQ contexts start some): the children are forked from here.
  const Keys keys = generate_keys(most);
  std::optional<CodecResult> codec;
  if (options.codec) {
    std::fprintf(stderr, "codec...\n");
    codec = measure_codec();
  }
  std::vector<ScenarioResult> results;
  for (const auto count : options.agent_counts) {
    for (const auto path : options.paths) {
      results.push_back(run_quietest(options, path, count, keys));
    }
  }
  BatchEncoder encoder;
  protocol::Envelope envelope;
  envelope.agent_id = agent_id(1);
  print_header(options, codec ? &*codec : nullptr, encoder.encode(envelope, 1, unix_ms()).size(),
               load_at_start);
  if (options.rate > 0) {
    print_fleet(options, results);
  }
  print_results(results);
  print_threads(results);
  print_health(results);
  return 0;
}

} // namespace

} // namespace medic::bench

int main(int argc, char** argv) {
  try {
    const auto options = medic::bench::parse_options(argc, argv);
    if (!options.role.empty()) {
      return medic::bench::run_child(options);
    }
    return medic::bench::run_parent(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medic-ingest-bench: %s\n", e.what());
    return 1;
  }
}
