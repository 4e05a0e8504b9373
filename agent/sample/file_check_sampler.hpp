// SPDX-License-Identifier: Apache-2.0
// Checks of watched files: whether each exists, how old its last change is, its size and how
// fast it grows (a log that stopped moving, a dump that keeps growing, a heartbeat file that went
// stale). stat(2) may block on a slow disk, so a round runs as one job on the libuv threadpool
// that stats every file in turn; its completion (on the loop) adds the samples. One round in
// flight at most; a tick that finds the previous round still running is skipped and counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <uv.h>

#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

struct FileCheckConfig {
  std::string name; // the `file` label value
  std::string path; // absolute
};

struct FileChecksConfig {
  std::vector<FileCheckConfig> files;
  std::int64_t interval_ms = 10'000;

  [[nodiscard]] Result<void> validate() const;
};

class FileCheckSampler {
public:
  explicit FileCheckSampler(FileChecksConfig config);
  FileCheckSampler(const FileCheckSampler&) = delete;
  FileCheckSampler& operator=(const FileCheckSampler&) = delete;

  // Validates the config. Loop thread.
  [[nodiscard]] Result<void> open(uv_loop_t& loop);

  // Loop thread. Starts a round when `interval_ms` passed since the last one started and none
  // is in flight. Each file gets file.exists; an existing one also file.age_s (`now_ms` minus
  // its mtime; negative when the mtime is in the future), file.size_bytes and, from the second
  // round on, file.growth_bytes_per_s (negative when it was truncated or rotated). A stat that
  // fails for another reason than "no such file" goes to sink.error() instead. `sink` must stay
  // valid until the round completes or until close().
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

  // As DiskSpaceSampler::close(): cancels a queued round; a running one reports nothing. The
  // object must outlive the loop's final run.
  void close() noexcept;

  [[nodiscard]] bool in_flight() const noexcept { return m_in_flight; }
  [[nodiscard]] std::uint64_t rounds_skipped() const noexcept { return m_rounds_skipped; }

private:
  struct Check {
    // Written by the threadpool during a round.
    int error_number = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ms = 0;
    // Loop thread only.
    std::int64_t previous_size = 0;
    std::int64_t previous_ms = 0;
    bool has_previous = false;
  };

  static void work(uv_work_t* request) noexcept;
  static void after_work(uv_work_t* request, int status) noexcept;
  void report(const FileCheckConfig& file, Check& check) noexcept;

  FileChecksConfig m_config;
  std::vector<Check> m_checks;
  uv_loop_t* m_loop = nullptr;
  uv_work_t m_work{};
  SampleSink* m_sink = nullptr;
  std::int64_t m_round_ms = 0;
  std::int64_t m_last_start_ms = 0;
  bool m_started_once = false;
  bool m_in_flight = false;
  bool m_closed = false;
  std::uint64_t m_rounds_skipped = 0;
};

} // namespace medic::agent::sample
