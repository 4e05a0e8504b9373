// SPDX-License-Identifier: Apache-2.0
// Delivery's group commit against a real spool file and a real libuv loop: what one loop turn
// submits is one spool transaction, acks ride with the next one, and nothing is sent before it
// is committed.
#include "agent/link/delivery.hpp"

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "shared/clock.hpp"
#include "shared/sqlite/database.hpp"
#include "shared/uv/handle.hpp"
#include "tests/support/temp_dir.hpp"

using medic::Clock;
using medic::Result;
using medic::agent::link::Delivery;
using medic::agent::link::DeliverySettings;
using medic::agent::link::Spool;
using medic::agent::link::SpoolClass;
using medic::agent::link::SpoolLimits;
using medic::test::TempDir;

namespace {

class ManualClock final : public Clock {
public:
  [[nodiscard]] std::int64_t now_unix_ms() const noexcept override {
    return 1'700'000'000'000 + m_ms;
  }
  [[nodiscard]] std::int64_t monotonic_ms() const noexcept override { return m_ms; }
  void advance(std::int64_t ms) noexcept { m_ms += ms; }

private:
  std::int64_t m_ms = 1000;
};

struct Harness {
  explicit Harness(const TempDir& dir) : path(dir / "spool.db") {
    uv_loop_init(&loop);
    auto spool = Spool::open(path, SpoolLimits{});
    REQUIRE(spool);
    REQUIRE(spool->database().exec("CREATE TABLE state (value INTEGER)"));
    delivery.emplace(loop, clock, std::move(*spool), DeliverySettings{},
                     [this](std::string_view frame) {
                       sent.emplace_back(frame);
                       return true;
                     });
  }
  ~Harness() {
    delivery->stop();
    medic::uv::close_loop(loop); // runs the close callbacks while the handles still exist
    delivery.reset();
  }

  // Runs the loop until `done` or 10 s pass.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  // Lets the loop run for a while (for things that must not happen).
  void run_for(std::chrono::milliseconds span) {
    const auto until = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < until) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::uint64_t submit(SpoolClass kind) {
    const std::uint64_t seq = delivery->take_seq();
    delivery->submit(seq, kind, 1, "frame-" + std::to_string(seq));
    return seq;
  }

  [[nodiscard]] std::uint64_t commits() const { return delivery->counters().spool_commits; }

  std::filesystem::path path;
  uv_loop_t loop{};
  ManualClock clock;
  std::vector<std::string> sent;
  std::optional<Delivery> delivery;
};

medic::agent::link::SpoolWrite write_state(int value) {
  return [value](medic::sqlite::Database& db) -> Result<void> {
    return db.exec("INSERT INTO state (value) VALUES (" + std::to_string(value) + ")");
  };
}

} // namespace

TEST_CASE(
    "Delivery commits the batches and state of one loop turn and the acks before them "
    "in one transaction",
    "[agent][link][delivery]") {
  TempDir dir;
  std::uint64_t last = 0;
  {
    Harness h(dir);
    h.delivery->on_link_up();
    const std::uint64_t first = h.submit(SpoolClass::samples);
    h.submit(SpoolClass::events);
    REQUIRE(h.delivery->save_state(write_state(1)));
    h.submit(SpoolClass::events);
    CHECK(h.sent.empty()); // nothing leaves before it is committed
    REQUIRE(h.run_until([&] { return h.sent.size() == 3; }));
    CHECK(h.commits() == 1);
    CHECK(h.delivery->spool_stats().batches == 3);
    CHECK(h.sent[0] == "frame-" + std::to_string(first));

    // Acks alone make no transaction of their own...
    for (std::uint64_t seq = first; seq < first + 3; ++seq) {
      h.delivery->on_ack(seq);
    }
    h.run_for(std::chrono::milliseconds(100));
    CHECK(h.commits() == 1);
    CHECK(h.delivery->spool_stats().batches == 3);

    // ...they ride with the next batch.
    last = h.submit(SpoolClass::samples);
    REQUIRE(h.run_until([&] { return h.sent.size() == 4; }));
    CHECK(h.commits() == 2);
    CHECK(h.delivery->spool_stats().batches == 1);
    CHECK(h.delivery->spool_stats().first_seq == last);
    CHECK(h.delivery->counters().spool_errors == 0);
  }
  auto reopened = Spool::open(dir / "spool.db", SpoolLimits{});
  REQUIRE(reopened);
  CHECK(reopened->stats().batches == 1);
  CHECK(reopened->stats().first_seq == last);
  CHECK(reopened->next_seq() == last + 1);
  auto rows = reopened->database().prepare("SELECT COUNT(*) FROM state WHERE value = 1");
  REQUIRE(rows);
  auto row = rows->step();
  REQUIRE(row);
  REQUIRE(*row);
  CHECK(rows->column_int(0) == 1);
}

TEST_CASE("Delivery removes acked batches on their own after they waited 10 s",
          "[agent][link][delivery]") {
  TempDir dir;
  Harness h(dir);
  h.delivery->on_link_up();
  const std::uint64_t seq = h.submit(SpoolClass::events);
  REQUIRE(h.run_until([&] { return h.sent.size() == 1; }));
  REQUIRE(h.commits() == 1);
  h.delivery->on_ack(seq);
  h.clock.advance(9'000);
  h.delivery->tick();
  h.run_for(std::chrono::milliseconds(100));
  CHECK(h.commits() == 1);
  CHECK(h.delivery->spool_stats().batches == 1);
  h.clock.advance(1'000);
  h.delivery->tick();
  REQUIRE(h.run_until([&] { return h.delivery->spool_stats().batches == 0; }));
  CHECK(h.commits() == 2);
}

TEST_CASE("Delivery writes waiting acks before it reads the spool to resend",
          "[agent][link][delivery]") {
  TempDir dir;
  Harness h(dir);
  h.delivery->on_link_up();
  const std::uint64_t first = h.submit(SpoolClass::events);
  const std::uint64_t second = h.submit(SpoolClass::events);
  REQUIRE(h.run_until([&] { return h.sent.size() == 2; }));
  h.delivery->on_ack(first);
  h.delivery->on_link_down();
  h.delivery->on_link_up(); // resends what is unacked: only the second batch
  REQUIRE(h.run_until([&] { return h.sent.size() == 3; }));
  h.run_for(std::chrono::milliseconds(100));
  CHECK(h.sent.size() == 3);
  CHECK(h.sent[2] == "frame-" + std::to_string(second));
  CHECK(h.delivery->spool_stats().batches == 1);
}

TEST_CASE("Delivery sends a batch from memory once committed, and reads the spool only to resend",
          "[agent][link][delivery]") {
  TempDir dir;
  Harness h(dir);
  h.delivery->on_link_up();
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 3; ++i) {
    seqs.push_back(h.submit(SpoolClass::samples));
    REQUIRE(h.run_until([&] { return h.sent.size() == seqs.size(); }));
  }
  CHECK(h.commits() == 3);
  CHECK(h.delivery->counters().spool_reads == 0); // each went from memory after its commit
  CHECK(h.sent[2] == "frame-" + std::to_string(seqs[2]));

  // The first is acked; the link goes down and up: the two others come from the spool.
  h.delivery->on_ack(seqs[0]);
  h.delivery->on_link_down();
  h.delivery->on_link_up();
  REQUIRE(h.run_until([&] { return h.sent.size() == 5; }));
  CHECK(h.delivery->counters().spool_reads == 1);
  CHECK(h.sent[3] == "frame-" + std::to_string(seqs[1]));
  CHECK(h.sent[4] == "frame-" + std::to_string(seqs[2]));

  // Caught up again: the next batch goes from memory, in order, once.
  const std::uint64_t next = h.submit(SpoolClass::events);
  REQUIRE(h.run_until([&] { return h.sent.size() == 6; }));
  h.run_for(std::chrono::milliseconds(100));
  CHECK(h.sent.size() == 6);
  CHECK(h.sent[5] == "frame-" + std::to_string(next));
  CHECK(h.delivery->counters().spool_reads == 1);
  CHECK(h.delivery->counters().sent == 6);
}

TEST_CASE(
    "Delivery keeps a batch committed while the link is down in the spool, and sends it in "
    "order when the link is back",
    "[agent][link][delivery]") {
  TempDir dir;
  Harness h(dir);
  const std::uint64_t first = h.submit(SpoolClass::samples); // the link is not up yet
  h.run_for(std::chrono::milliseconds(100));
  CHECK(h.sent.empty());
  h.delivery->on_link_up();
  const std::uint64_t second = h.submit(SpoolClass::samples);
  REQUIRE(h.run_until([&] { return h.sent.size() == 2; }));
  h.run_for(std::chrono::milliseconds(100));
  REQUIRE(h.sent.size() == 2);
  CHECK(h.sent[0] == "frame-" + std::to_string(first));
  CHECK(h.sent[1] == "frame-" + std::to_string(second));
}
