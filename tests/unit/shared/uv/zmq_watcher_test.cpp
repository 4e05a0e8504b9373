// SPDX-License-Identifier: Apache-2.0
// Real ZeroMQ sockets on loopback driven by a real libuv loop: every message must arrive even
// though ZMQ_FD is edge-triggered and sends happen inside the read handler.
#include <thread>

#include <uv.h>
#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "shared/uv/handle.hpp"
#include "shared/uv/worker.hpp"
#include "shared/uv/zmq_watcher.hpp"

namespace {

constexpr int k_messages = 2000;

struct EchoPair {
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  zmq::socket_t dealer{context, zmq::socket_type::dealer};

  // Connected over loopback on a port the ROUTER picks.
  EchoPair() {
    router.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::linger, 0);
    router.bind("tcp://127.0.0.1:*");
    dealer.connect(router.get(zmq::sockopt::last_endpoint));
  }
};

// Runs the loop until `stop` (a timer on it) fires `ms` from now.
void run_for(uv_loop_t& loop, uv_timer_t& stop, std::uint64_t ms) {
  uv_timer_start(
      &stop, [](uv_timer_t* t) { uv_stop(t->loop); }, ms, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
}

} // namespace

TEST_CASE("a ROUTER echoes every DEALER message back through libuv-driven watchers") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  EchoPair pair;

  int echoed = 0;
  int received = 0;
  bool in_order = true;
  medic::uv::ZmqWatcher* router_watcher = nullptr;
  medic::uv::ZmqWatcher router_side(loop, pair.router, [&] {
    zmq::message_t peer;
    zmq::message_t body;
    if (!pair.router.recv(peer, zmq::recv_flags::dontwait)) {
      return;
    }
    (void)pair.router.recv(body, zmq::recv_flags::dontwait);
    pair.router.send(peer, zmq::send_flags::sndmore);
    pair.router.send(body, zmq::send_flags::none);
    ++echoed;
    router_watcher->kick();
  });
  router_watcher = &router_side;
  medic::uv::ZmqWatcher dealer_side(loop, pair.dealer, [&] {
    zmq::message_t body;
    if (pair.dealer.recv(body, zmq::recv_flags::dontwait)) {
      in_order = in_order && body.to_string() == std::to_string(received);
      ++received;
      if (received == k_messages) {
        uv_stop(&loop);
      }
    }
  });
  REQUIRE(router_side.start());
  REQUIRE(dealer_side.start());

  // Send everything up front, so many messages share one ZMQ_FD edge.
  for (int i = 0; i < k_messages; ++i) {
    pair.dealer.send(zmq::buffer(std::to_string(i)), zmq::send_flags::none);
  }
  dealer_side.kick();

  uv_timer_t deadline;
  uv_timer_init(&loop, &deadline);
  uv_timer_start(
      &deadline, [](uv_timer_t* t) { uv_stop(t->loop); }, 10'000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  CHECK(echoed == k_messages);
  CHECK(received == k_messages);
  CHECK(in_order);
  router_side.close();
  dealer_side.close();
  medic::uv::close_loop(loop);
}

TEST_CASE("a worker runs jobs off the loop and completions back on it, bounded") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  const auto loop_thread = std::this_thread::get_id();
  int completions = 0;
  bool jobs_off_loop = true;
  bool completions_on_loop = true;
  {
    medic::uv::Worker worker(loop, "test-worker", 4);
    std::atomic<bool> release{false};
    // The first job blocks the worker so the queue fills behind it.
    REQUIRE(worker.try_submit([&]() -> medic::uv::Worker::Completion {
      while (!release) {
        std::this_thread::yield();
      }
      return [&] { ++completions; };
    }));
    int accepted = 1;
    for (int i = 0; i < 10; ++i) {
      accepted += worker.try_submit([&]() -> medic::uv::Worker::Completion {
        jobs_off_loop = jobs_off_loop && std::this_thread::get_id() != loop_thread;
        return [&] {
          completions_on_loop = completions_on_loop && std::this_thread::get_id() == loop_thread;
          ++completions;
        };
      })
                      ? 1
                      : 0;
    }
    CHECK(accepted <= 6); // one running (maybe not yet taken) + at most 4 queued
    CHECK(worker.rejected() == static_cast<std::uint64_t>(11 - accepted));
    release = true;
    uv_timer_t deadline;
    uv_timer_init(&loop, &deadline);
    deadline.data = &completions;
    run_for(loop, deadline, 500);
    worker.stop();
    CHECK(completions == accepted);
    medic::uv::close_handle(deadline);
    // Handles live in this scope: let their close callbacks run before it ends.
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(jobs_off_loop);
  CHECK(completions_on_loop);
  medic::uv::close_loop(loop);
}

TEST_CASE("a paused watcher reads nothing until resumed, then everything") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  EchoPair pair;
  int read = 0;
  medic::uv::ZmqWatcher watcher(loop, pair.router, [&] {
    zmq::message_t peer;
    zmq::message_t body;
    if (pair.router.recv(peer, zmq::recv_flags::dontwait)) {
      (void)pair.router.recv(body, zmq::recv_flags::dontwait);
      ++read;
    }
  });
  REQUIRE(watcher.start());
  watcher.pause();
  for (int i = 0; i < 100; ++i) {
    pair.dealer.send(zmq::buffer(std::to_string(i)), zmq::send_flags::none);
  }
  uv_timer_t step;
  uv_timer_init(&loop, &step);
  run_for(loop, step, 300);
  CHECK(read == 0);
  CHECK(watcher.paused());

  watcher.resume();
  run_for(loop, step, 300);
  CHECK(read == 100);
  watcher.close();
  medic::uv::close_handle(step);
  medic::uv::close_loop(loop);
}

namespace {

struct Bursts {
  EchoPair pair;
  uv_timer_t next{};
  int sent = 0;
  static constexpr int k_burst = 50;
  static constexpr int k_total = 1000;

  void send_burst() {
    for (int i = 0; i < k_burst; ++i, ++sent) {
      pair.dealer.send(zmq::buffer(std::to_string(sent)), zmq::send_flags::none);
    }
  }
};

} // namespace

TEST_CASE("an until-empty watcher gets every burst including those that arrive after it slept") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Bursts bursts;
  int echoed = 0;
  int received = 0;
  int drains = 0;
  bool in_order = true;
  medic::uv::ZmqWatcher* router_watcher = nullptr;
  // Reads until EAGAIN; ZMQ_EVENTS is asked only then. The next burst is sent from a timer, once
  // the previous one came back, so the ROUTER's watcher has gone to sleep on ZMQ_FD each time.
  medic::uv::ZmqWatcher router_side(
      loop, bursts.pair.router, medic::uv::ZmqWatcher::until_empty, [&]() -> bool {
        zmq::message_t peer;
        zmq::message_t body;
        if (!bursts.pair.router.recv(peer, zmq::recv_flags::dontwait)) {
          return false;
        }
        (void)bursts.pair.router.recv(body, zmq::recv_flags::dontwait);
        bursts.pair.router.send(peer, zmq::send_flags::sndmore);
        bursts.pair.router.send(body, zmq::send_flags::none);
        ++echoed;
        router_watcher->kick();
        return true;
      });
  router_watcher = &router_side;
  router_side.set_on_drained([&] { ++drains; });
  bursts.next.data = &bursts;
  uv_timer_init(&loop, &bursts.next);
  medic::uv::ZmqWatcher dealer_side(loop, bursts.pair.dealer, [&] {
    zmq::message_t body;
    if (!bursts.pair.dealer.recv(body, zmq::recv_flags::dontwait)) {
      return;
    }
    in_order = in_order && body.to_string() == std::to_string(received);
    ++received;
    if (received == Bursts::k_total) {
      uv_stop(&loop);
    } else if (received == bursts.sent) {
      uv_timer_start(
          &bursts.next, [](uv_timer_t* t) { static_cast<Bursts*>(t->data)->send_burst(); }, 2, 0);
    }
  });
  REQUIRE(router_side.start());
  REQUIRE(dealer_side.start());
  bursts.send_burst();

  uv_timer_t deadline;
  uv_timer_init(&loop, &deadline);
  uv_timer_start(
      &deadline, [](uv_timer_t* t) { uv_stop(t->loop); }, 10'000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  CHECK(echoed == Bursts::k_total);
  CHECK(received == Bursts::k_total);
  CHECK(in_order);
  CHECK(drains >= Bursts::k_total / Bursts::k_burst); // at least one drain per burst
  CHECK(router_side.handler_failures() == 0);
  router_side.close();
  dealer_side.close();
  medic::uv::close_handle(bursts.next);
  medic::uv::close_handle(deadline);
  medic::uv::close_loop(loop);
}

TEST_CASE("a paused until-empty watcher reads nothing until resumed and then everything") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  EchoPair pair;
  int read = 0;
  medic::uv::ZmqWatcher watcher(loop, pair.router, medic::uv::ZmqWatcher::until_empty, [&] {
    zmq::message_t peer;
    zmq::message_t body;
    if (!pair.router.recv(peer, zmq::recv_flags::dontwait)) {
      return false;
    }
    (void)pair.router.recv(body, zmq::recv_flags::dontwait);
    ++read;
    return true;
  });
  REQUIRE(watcher.start());
  watcher.pause();
  // More than one drain's budget, so reading must also continue across loop turns.
  constexpr int k_count = 3 * medic::uv::ZmqWatcher::k_budget + 7;
  for (int i = 0; i < k_count; ++i) {
    pair.dealer.send(zmq::buffer(std::to_string(i)), zmq::send_flags::none);
  }
  uv_timer_t step;
  uv_timer_init(&loop, &step);
  run_for(loop, step, 300);
  CHECK(read == 0);
  CHECK(watcher.paused());

  watcher.resume();
  run_for(loop, step, 500);
  CHECK(read == k_count);
  watcher.close();
  medic::uv::close_handle(step);
  medic::uv::close_loop(loop);
}
