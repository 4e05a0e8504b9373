// SPDX-License-Identifier: Apache-2.0
#include "shared/uv/worker.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include "shared/uv/handle.hpp"

namespace medic::uv {

Worker::Worker(uv_loop_t& loop, std::string name, std::size_t capacity)
    : m_name(std::move(name)), m_capacity(capacity == 0 ? 1 : capacity) {
  uv_async_init(&loop, &m_async, &Worker::on_async);
  m_async.data = this;
  m_thread = std::thread([this] { run(); });
  pthread_setname_np(m_thread.native_handle(), m_name.substr(0, 15).c_str());
}

Worker::~Worker() {
  stop();
}

bool Worker::try_submit(Job job) {
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping || m_jobs.size() >= m_capacity) {
      ++m_rejected;
      return false;
    }
    m_jobs.push_back(std::move(job));
  }
  m_wake.notify_one();
  return true;
}

std::size_t Worker::queued() const {
  std::lock_guard lock(m_mutex);
  return m_jobs.size();
}

void Worker::run() noexcept {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [this] { return m_stopping || !m_jobs.empty(); });
      if (m_jobs.empty()) {
        return; // stopping, and nothing left to do
      }
      job = std::move(m_jobs.front());
      m_jobs.pop_front();
    }
    Completion completion;
    try {
      completion = job();
    } catch (const std::exception& e) {
      spdlog::error("{}: job failed: {}", m_name, e.what());
    }
    if (completion) {
      {
        std::lock_guard lock(m_mutex);
        m_completions.push_back(std::move(completion));
      }
      uv_async_send(&m_async);
    }
  }
}

void Worker::on_async(uv_async_t* handle) noexcept {
  static_cast<Worker*>(handle->data)->run_completions();
}

void Worker::run_completions() noexcept {
  std::deque<Completion> ready;
  {
    std::lock_guard lock(m_mutex);
    ready.swap(m_completions);
  }
  for (auto& completion : ready) {
    try {
      completion();
    } catch (const std::exception& e) {
      spdlog::error("{}: completion failed: {}", m_name, e.what());
    }
  }
}

void Worker::stop() noexcept {
  if (m_stopped) {
    return;
  }
  m_stopped = true;
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_one();
  if (m_thread.joinable()) {
    m_thread.join();
  }
  run_completions();
  close_handle(m_async);
}

} // namespace medic::uv
