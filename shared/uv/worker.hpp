// SPDX-License-Identifier: Apache-2.0
// One background thread with a bounded job queue, for work that must never run on the loop
// (database calls, fsync). A job runs on the worker and returns a completion that runs back on
// the loop thread (posted with uv_async). The completion queue needs no bound of its own: each
// queued or running job yields at most one completion, so it never holds more than capacity + 1.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <uv.h>

namespace medic::uv {

class Worker {
public:
  using Completion = std::function<void()>;
  using Job = std::function<Completion()>;

  Worker(uv_loop_t& loop, std::string name, std::size_t capacity);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Loop thread. False when the queue is full or the worker stopped; the caller decides what
  // to do with the work it could not hand over (and counts it).
  [[nodiscard]] bool try_submit(Job job);

  // Loop thread, at shutdown: runs every queued job to its end, joins the thread, runs the
  // remaining completions here, and closes the async handle. Blocks until the queue is empty.
  void stop() noexcept;

  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] std::uint64_t rejected() const noexcept { return m_rejected; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

private:
  static void on_async(uv_async_t* handle) noexcept;
  void run() noexcept;
  void run_completions() noexcept;

  std::string m_name;
  std::size_t m_capacity;
  uv_async_t m_async{};
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Job> m_jobs;
  std::deque<Completion> m_completions;
  bool m_stopping = false;
  bool m_stopped = false;
  std::uint64_t m_rejected = 0;
  std::thread m_thread;
};

} // namespace medic::uv
