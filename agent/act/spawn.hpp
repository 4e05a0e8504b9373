// SPDX-License-Identifier: Apache-2.0
// One child process of an action, on the agent's loop: spawned with uv_spawn as the leader of
// its own process group (UV_PROCESS_DETACHED: setsid), stdin on /dev/null, stdout and stderr
// into one pipe read on the loop (the first `max_output` bytes kept, the rest read and only
// counted), reaped by libuv's exit callback (never waitpid here).
//
// Timeout: SIGTERM to the whole group, SIGKILL to the group `kill_grace` later. When a run timed
// out, the group gets SIGKILL again as soon as the leader is reaped, so children that ignored
// SIGTERM do not outlive the leader. A child still not reaped `kill_grace` after SIGKILL (stuck in
// uninterruptible sleep) is abandoned: reported and its handles closed, so a run always ends.
// After a normal exit the output is drained until end of file or for at most k_drain_ms (a
// background child of a normal run may hold the pipe open; it is left alone).
//
// Loop thread only. One ChildRun runs one child at a time; its buffers and timer are set up at
// construction and reused.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace medic::agent::act {

struct SpawnRequest {
  std::vector<std::string> argv; // argv[0] an absolute path (never searched in PATH)
  std::vector<std::string> env;  // "NAME=value", the child's whole environment
  std::string cwd = "/";
  std::optional<uid_t> uid; // set: setgroups(0), setgid, setuid in the child (libuv)
  std::optional<gid_t> gid;
};

struct SpawnLimits {
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds kill_grace{2000};
};

enum class ChildEnding : std::uint8_t {
  exited,       // the leader exited or was killed by a signal, within the timeout
  timed_out,    // the timeout passed: the group was terminated
  spawn_failed, // uv_spawn refused (no such file, setuid failed, ...)
  abandoned,    // not reaped even after SIGKILL and a grace period
  stopped,      // kill() was called (agent stopping)
};

struct ChildResult {
  ChildEnding ending = ChildEnding::exited;
  std::int64_t exit_code = -1; // -1 unless it exited normally
  int term_signal = 0;
  pid_t pid = 0;
  std::string output; // at most max_output bytes, stdout and stderr interleaved
  std::uint64_t output_dropped = 0;
  std::string reason; // spawn error text; empty otherwise
};

// "a b 'c d'": an argv as one readable line for plans and logs (quotes only where needed).
[[nodiscard]] std::string describe_argv(const std::vector<std::string>& argv);

class ChildRun {
public:
  using Finished = std::function<void(ChildResult&&)>;
  static constexpr std::int64_t k_drain_ms = 200;

  ChildRun(uv_loop_t& loop, std::size_t max_output);
  ChildRun(const ChildRun&) = delete;
  ChildRun& operator=(const ChildRun&) = delete;
  ~ChildRun();

  // Starts the child. `finished` runs exactly once, on the loop, after the child was reaped (or
  // abandoned) and the per-run handles closed; it may call start() again. Must not be called
  // while busy().
  void start(const SpawnRequest& request, SpawnLimits limits, Finished finished);
  [[nodiscard]] bool busy() const noexcept { return m_state != State::idle; }

  // SIGKILL to the group of a running child; the run ends as `stopped` once it is reaped (or
  // abandoned after kill_grace). No-op when idle.
  void kill() noexcept;
  // Closes the timer for good; call once, when idle or after kill(). The loop must then run
  // until the handles are closed.
  void close() noexcept;

private:
  enum class State : std::uint8_t { idle, running, terminating, killing, draining, closing };

  static void on_exit(uv_process_t* process, std::int64_t status, int signal) noexcept;
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_handle_closed(uv_handle_t* handle) noexcept;

  [[nodiscard]] int open_pipe(uv_file& write_fd);
  [[nodiscard]] int spawn(const SpawnRequest& request, int write_fd);
  void signal_group(int signal) noexcept;
  void start_timer(std::chrono::milliseconds delay) noexcept;
  void maybe_finish() noexcept;
  void finish() noexcept;
  void deliver() noexcept;

  uv_loop_t& m_loop;
  std::size_t m_max_output;
  std::unique_ptr<char[]> m_output;  // max_output bytes
  std::unique_ptr<char[]> m_scratch; // reads past the bound land here and are only counted
  uv_timer_t m_timer{};
  uv_process_t m_process{};
  uv_pipe_t m_pipe{};
  State m_state = State::idle;
  bool m_closed = false;
  bool m_process_open = false;
  bool m_pipe_open = false;
  bool m_exited = false;
  bool m_eof = false;
  bool m_timed_out = false;
  bool m_stopped = false;
  int m_open_handles = 0;
  SpawnLimits m_limits;
  std::size_t m_length = 0;
  ChildResult m_result;
  Finished m_finished;
};

} // namespace medic::agent::act
