// SPDX-License-Identifier: Apache-2.0
// Space and inodes of the mounted file systems. statvfs(2) can block (a slow disk, a network
// file system whose server is away), so it never runs on the loop: each round is one job on the
// libuv threadpool that measures every selected mount in turn, and its completion (on the loop)
// adds the samples. Only one round is in flight at a time; a tick that finds the previous round
// still running is skipped and counted. The agent's threadpool has two threads
// (agent/loop/agent_loop.cpp), so a round that hangs leaves one for the file checks and the
// tailer's reads; network file systems are left out by default all the same.
//
// The kernel says when the mount table changed: /proc/self/mounts polls as POLLPRI (with
// POLLERR) once after each mount or unmount in the agent's mount namespace since the last poll.
// So a round starts with a poll(2) of the open file, timeout 0, and reads the table again (on the
// loop) only when it says so: the poll took 0.17 us here, generating and reading a table of 20
// mounts 19 us (more with every mount). A mount table that is not a proc file (a test's fixture
// proc root) is read at the start of every round instead. Either way it is parsed again only
// when its text changed.
//
// Not a uv_poll watch: epoll polls a file once more when it adds it, and for this file that
// poll takes the change it reports, so a mount between the table's first read and libuv's
// deferred EPOLL_CTL_ADD would be missed until the next one.
#pragma once

#include <sys/statvfs.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <uv.h>

#include "agent/sample/mount_table.hpp"
#include "agent/sample/proc_file.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

struct DiskSpaceConfig {
  MountFilter filter;
  // Space changes slowly; a round every 10 s catches a filling disk in time.
  std::int64_t interval_ms = 10'000;
  // At most this many mounts are measured (in mount table order, after the filter).
  std::size_t max_mounts = 64;

  [[nodiscard]] Result<void> validate() const;
};

class DiskSpaceSampler {
public:
  explicit DiskSpaceSampler(DiskSpaceConfig config, std::filesystem::path proc_root = "/proc");
  DiskSpaceSampler(const DiskSpaceSampler&) = delete;
  DiskSpaceSampler& operator=(const DiskSpaceSampler&) = delete;
  ~DiskSpaceSampler() = default;

  // Validates the config and opens <proc_root>/self/mounts, checking it parses. Loop thread.
  [[nodiscard]] Result<void> open(uv_loop_t& loop);

  // Loop thread. Starts a round when `interval_ms` passed since the last one started and none
  // is in flight; its samples (stamped `now_ms`) and per-mount errors go to `sink` when it
  // completes, so `sink` must stay valid until then or until close(). Errors returned here are
  // the mount table's (unreadable, unparsable).
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

  // Loop thread. Cancels a round still queued; a running one finishes on the threadpool and
  // reports nothing. The object must outlive the loop's final run (uv_run until no request is
  // left), like a handle.
  void close() noexcept;

  [[nodiscard]] bool in_flight() const noexcept { return m_in_flight; }
  [[nodiscard]] std::uint64_t rounds_skipped() const noexcept { return m_rounds_skipped; }
  // Whether the kernel reports mount table changes (else it is read every round).
  [[nodiscard]] bool polls_mount_table() const noexcept { return m_pollable; }
  // How often the mount table was read so far (tests).
  [[nodiscard]] std::uint64_t mount_table_reads() const noexcept { return m_file.preads(); }
  // The mounts measured by the next round (valid until the next sample()).
  [[nodiscard]] std::vector<const MountEntry*> selected_mounts() const;

private:
  struct Measure {
    int error_number = 0;
    struct statvfs stats {};
  };

  [[nodiscard]] Result<void> refresh_mounts();
  [[nodiscard]] bool mount_table_changed() noexcept;
  static void work(uv_work_t* request) noexcept;
  static void after_work(uv_work_t* request, int status) noexcept;
  void report() noexcept;
  void report_mount(const MountEntry& mount, const Measure& measure) noexcept;

  DiskSpaceConfig m_config;
  std::filesystem::path m_proc_root;
  uv_loop_t* m_loop = nullptr;
  ProcFile m_file;
  std::string m_mounts_text; // the table last parsed, to skip parsing when it did not change
  std::vector<MountEntry> m_mounts;
  std::vector<std::size_t> m_selected; // indexes into m_mounts
  std::vector<Measure> m_measures;     // one per selected mount; written by the threadpool
  uv_work_t m_work{};
  SampleSink* m_sink = nullptr;
  std::int64_t m_round_ms = 0;
  std::int64_t m_last_start_ms = 0;
  bool m_started_once = false;
  bool m_pollable = false;   // m_file is a proc file that polls POLLPRI on a change
  bool m_read_again = false; // the last read failed: read the table again next round
  bool m_in_flight = false;
  bool m_closed = false;
  std::uint64_t m_rounds_skipped = 0;
};

} // namespace medic::agent::sample
