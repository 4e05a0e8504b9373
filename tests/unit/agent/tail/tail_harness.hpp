// SPDX-License-Identifier: Apache-2.0
// Test helpers for the tailer: a loop with a tailer on it that keeps copies of every record and
// gap, a writer that appends numbered lines ("line 000123 ...") through its own descriptor the
// way a logging process does, and checks on the line numbers seen.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <uv.h>
#include <catch2/catch.hpp>

#include "agent/tail/tailer.hpp"
#include "shared/uv/handle.hpp"

namespace medic::test::tail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using agent::tail::TailCursor;
using agent::tail::TailerOptions;
using agent::tail::TailSource;

struct SeenRecord {
  std::string source;
  std::string path;
  std::string text;
  std::uint64_t offset = 0;
  std::uint64_t end_offset = 0;
  bool truncated = false;
};

struct SeenGap {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  agent::tail::GapReason reason{};
  std::size_t after_records = 0; // how many records had been seen when it came
};

// "line 000042 ..." → 42; -1 when the text does not start that way.
inline int line_number(const std::string& text) {
  if (text.size() < 11 || text.compare(0, 5, "line ") != 0) {
    return -1;
  }
  return std::stoi(text.substr(5, 6));
}

inline std::string numbered_line(int number, std::string_view filler = "the quick brown fox") {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "line %06d ", number);
  return std::string(prefix) + std::string(filler) + "\n";
}

inline std::string numbered_lines(int first, int last) {
  std::string text;
  for (int i = first; i <= last; ++i) {
    text += numbered_line(i);
  }
  return text;
}

// Appends through one descriptor kept open, like a logging process.
class Writer {
public:
  explicit Writer(const fs::path& path) { reopen(path); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { close(); }

  void reopen(const fs::path& path) {
    close();
    m_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (m_fd < 0) {
      throw std::runtime_error("cannot open " + path.string());
    }
  }
  void write(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(m_fd, text.data(), text.size());
      if (n <= 0) {
        throw std::runtime_error("write failed");
      }
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void lines(int first, int last) { write(numbered_lines(first, last)); }
  void close() {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

private:
  int m_fd = -1;
};

// Options fast enough for tests: a poll every 50 ms, globs every 200 ms.
inline TailerOptions test_options(const std::string& glob,
                                  agent::tail::StartAt start_at = agent::tail::StartAt::beginning) {
  TailerOptions options;
  TailSource source;
  source.name = "app";
  source.globs = {glob};
  source.start_at = start_at;
  options.sources.push_back(source);
  options.poll_interval = 50ms;
  options.glob_interval = 200ms;
  options.idle_flush = 200ms;
  options.rotate_wait = 1000ms;
  return options;
}

// `count` writers on dir/<stem>0.log, dir/<stem>1.log, ...
inline std::vector<std::unique_ptr<Writer>> writers_in(const fs::path& dir, const std::string& stem,
                                                       int count) {
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < count; ++i) {
    writers.push_back(std::make_unique<Writer>(dir / (stem + std::to_string(i) + ".log")));
  }
  return writers;
}

class Harness {
public:
  Harness() { uv_loop_init(&m_loop); }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;
  ~Harness() {
    stop();
    m_tailer.reset();
    uv::close_loop(m_loop);
  }

  void start(TailerOptions options, const std::vector<TailCursor>& cursors = {}) {
    auto tailer = agent::tail::Tailer::create(
        m_loop, std::move(options),
        {[this](const agent::tail::TailRecord& r) {
           records.push_back(SeenRecord{std::string(r.source_name), std::string(r.path),
                                        std::string(r.text), r.offset, r.end_offset, r.truncated});
           if (after_record) {
             after_record();
           }
         },
         [this](const agent::tail::TailGap& g) {
           gaps.push_back(
               SeenGap{std::string(g.path), g.offset, g.bytes, g.reason, records.size()});
         },
         {}});
    REQUIRE(tailer);
    m_tailer = std::move(*tailer);
    REQUIRE(m_tailer->restore(cursors));
    REQUIRE(m_tailer->start());
  }

  // Stops the tailer and runs the loop until its last request is back.
  std::vector<TailCursor> stop() {
    if (!m_tailer) {
      return {};
    }
    m_tailer->stop();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!m_tailer->is_stopped() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&m_loop, UV_RUN_NOWAIT);
    }
    auto cursors = m_tailer->cursors();
    m_tailer.reset();
    uv_run(&m_loop, UV_RUN_NOWAIT); // close callbacks
    return cursors;
  }

  // Runs the loop until `condition` holds or `timeout` passes; true when it held.
  template <class Condition>
  bool run_until(Condition&& condition, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      uv_run(&m_loop, UV_RUN_ONCE); // the tailer's tick timer bounds the wait
    }
    return true;
  }

  // Runs the loop for `duration` whatever happens.
  void run_for(std::chrono::milliseconds duration) {
    (void)run_until([] { return false; }, duration);
  }

  bool run_until_line(int number, std::chrono::milliseconds timeout = 10s) {
    return run_until([&] { return !records.empty() && line_number(records.back().text) >= number; },
                     timeout);
  }

  [[nodiscard]] std::vector<int> numbers() const {
    std::vector<int> out;
    for (const SeenRecord& record : records) {
      out.push_back(line_number(record.text));
    }
    return out;
  }

  agent::tail::Tailer& tailer() { return *m_tailer; }
  uv_loop_t& loop() { return m_loop; }

  std::vector<SeenRecord> records;
  std::vector<SeenGap> gaps;
  std::function<void()> after_record; // runs inside on_record

private:
  uv_loop_t m_loop{};
  std::unique_ptr<agent::tail::Tailer> m_tailer;
};

inline std::vector<int> range(int first, int last) {
  std::vector<int> out;
  for (int i = first; i <= last; ++i) {
    out.push_back(i);
  }
  return out;
}

inline std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Descriptors of this process open on deleted files under `dir`.
inline std::vector<std::string> deleted_handles(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(entry.path(), ec);
    const std::string text = target.string();
    if (!ec && text.starts_with(dir.string()) && text.ends_with("(deleted)")) {
      out.push_back(text);
    }
  }
  return out;
}

} // namespace medic::test::tail
