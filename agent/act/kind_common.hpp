// SPDX-License-Identifier: Apache-2.0
// What the preparation of a run hands back to the loop. Each kind has a prepare function that
// runs in libuv's threadpool (it may block: NSS lookups, hashing, directory walks, /proc scans)
// and returns either a finished result (clean, a refusal, dry-run) or the next step the loop
// takes: spawn a child, send signals, or make an HTTP request.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/act/action.hpp"
#include "agent/act/runner.hpp"
#include "agent/act/spawn.hpp"

namespace medic::agent::act {

// Read-only inputs of a preparation; copied into the work item, so any thread may read them.
struct PrepareContext {
  bool dry_run = false;
  std::string proc_root = "/proc";
  std::string systemd_marker = "/run/systemd/system";
  const std::vector<std::string>* environment = nullptr; // the agent's, "NAME=value"
  pid_t self = 0;                                        // the agent's pid: never signalled
  std::int64_t now_unix_ms = 0;                          // for the age of files to clean
  std::size_t max_output = 4096;
};

enum class NextStep : std::uint8_t { done, spawn, signal, http };

// A process chosen by the signal kind. `pidfd` (when >= 0) was opened after the process was
// matched and checked again, so the signal reaches that process even if the pid is reused.
struct SignalTarget {
  pid_t pid = 0;
  int pidfd = -1;
};

struct HttpTarget {
  sockaddr_storage address{};
  std::string request; // the bytes sent
  std::string url;     // for plans: "POST http://127.0.0.1:8080/reset"
  int expected_status = 0;
};

class Prepared {
public:
  Prepared() = default;
  Prepared(Prepared&& other) noexcept;
  Prepared& operator=(Prepared&& other) noexcept;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  ~Prepared(); // closes pidfds not used

  // A run that ends here: refused, failed, dry_run, or (clean, rollback) done in the threadpool.
  [[nodiscard]] static Prepared finished(RunStatus status, std::string plan, std::string reason);
  [[nodiscard]] static Prepared refused(std::string reason) {
    return finished(RunStatus::refused, {}, std::move(reason));
  }
  void close_targets() noexcept;

  NextStep next = NextStep::done;
  RunStatus status = RunStatus::failed; // when next == done
  std::string plan;
  std::string reason;
  std::string output;
  std::uint64_t output_dropped = 0;
  SpawnRequest spawn;                // next == spawn
  std::vector<SignalTarget> targets; // next == signal
  int signal = 0;
  HttpTarget http; // next == http
};

// Threadpool (or any thread): the preparation of one run. Never throws: an exception becomes a
// failed result. With ctx.dry_run a next step is turned into a dry_run result describing it.
[[nodiscard]] Prepared prepare_run(const Action& action, const BoundParams& params,
                                   const PrepareContext& ctx) noexcept;

// Appends `text` to `output` while it stays within `max_output`; counts the rest in `dropped`.
void append_bounded(std::string& output, std::uint64_t& dropped, std::string_view text,
                    std::size_t max_output);

} // namespace medic::agent::act
