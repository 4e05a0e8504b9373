// SPDX-License-Identifier: Apache-2.0
// Runs bound catalog actions on the agent's loop, never blocking it.
//
// A run goes through one of `max_concurrent` slots (made at construction); runs beyond that wait
// in a queue of at most `max_queued`, and run() refuses more. In a slot, the blocking part of an
// action is prepared in libuv's threadpool (uv_queue_work): resolving user and group, hashing a
// pinned executable, the whole `clean` kind, the `rollback` symlink switch, the /proc scan of the
// `signal` kind, checking for systemd. Back on the loop the slot spawns the child (spawn.hpp),
// sends the signals or makes the HTTP request (kind_http.hpp), with the action's timeout.
//
// With settings.dry_run everything is prepared read-only and described in RunOutcome::plan, and
// nothing is executed, deleted, switched or signalled (status dry_run).
//
// Loop thread only, except where said. The object must outlive the loop turn that runs the close
// callbacks after close().
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/act/action.hpp"
#include "shared/clock.hpp"
#include "shared/error.hpp"

namespace medic::agent::act {

enum class RunStatus : std::uint8_t { succeeded, failed, timed_out, refused, dry_run };

[[nodiscard]] std::string_view to_string(RunStatus status) noexcept;

struct RunOutcome {
  RunStatus status = RunStatus::failed;
  std::int64_t exit_code = -1; // -1 when it did not exit normally
  int term_signal = 0;         // the signal that ended it, else 0
  std::int64_t started_ms = 0; // Unix ms (Clock::now_unix_ms): when a slot took the run
  std::int64_t finished_ms = 0;
  std::string output; // stdout+stderr interleaved, first max_output bytes
  std::uint64_t output_dropped = 0;
  std::string reason; // for people: why it failed / was refused
  std::string plan;   // what was (or in dry-run would have been) done, e.g. argv
};

struct RunnerSettings {
  std::size_t max_concurrent = 4;
  std::size_t max_queued = 16;
  std::size_t max_output = 4096;
  std::chrono::milliseconds kill_grace{2000}; // SIGTERM to the group, then SIGKILL after this
  bool dry_run = false;
  std::string proc_root = "/proc";
  std::string systemd_marker = "/run/systemd/system"; // exists: systemctl; else init_script
};

class RunSlot;

class ActionRunner {
public:
  // Makes the slots (their timers and buffers) and takes a copy of the agent's environment,
  // from which `env_allow` variables are passed on.
  ActionRunner(uv_loop_t& loop, const Clock& clock, RunnerSettings settings);
  ActionRunner(const ActionRunner&) = delete;
  ActionRunner& operator=(const ActionRunner&) = delete;
  ~ActionRunner();

  using Done = std::function<void(const RunOutcome&)>; // on the loop thread, exactly once

  // Queues the run (starts it at once when a slot is free). Fails only when the queue is full
  // (ErrorCode::busy) or after close(). `action` is copied (a catalog reload while the run is in
  // flight is harmless). `done` may call run().
  [[nodiscard]] Result<void> run(const Action& action, BoundParams params, Done done);
  [[nodiscard]] std::size_t running() const noexcept;
  [[nodiscard]] std::size_t queued() const noexcept;

  // Kills whatever runs (SIGKILL to each group), calls pending Done with failed "agent stopping",
  // closes its handles. The loop must then run until the handles are closed (a preparation
  // already in the threadpool finishes first; nothing runs after it).
  void close() noexcept;

  [[nodiscard]] const RunnerSettings& settings() const noexcept { return m_settings; }

private:
  struct Queued {
    Action action;
    BoundParams params;
    Done done;
  };

  void pump() noexcept;
  void on_slot_free() noexcept;

  uv_loop_t& m_loop;
  const Clock& m_clock;
  RunnerSettings m_settings;
  std::vector<std::string> m_environment; // "NAME=value", taken at construction
  std::vector<std::unique_ptr<RunSlot>> m_slots;
  std::deque<Queued> m_queue;
  bool m_closed = false;
  bool m_pumping = false;
};

} // namespace medic::agent::act
