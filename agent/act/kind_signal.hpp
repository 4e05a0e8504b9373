// SPDX-License-Identifier: Apache-2.0
// The `signal` kind: processes chosen as the process sampler matches them (comm or executable
// name, pid file, command-line RE2 over the arguments joined by spaces) or by a pid. Never pid 1,
// never the agent itself, never a kernel thread or a zombie; at most k_max_signal_targets.
//
// The /proc scan runs in the threadpool; for each match it opens a pidfd and reads the process's
// start time again, so the signal sent later on the loop (pidfd_send_signal) reaches the process
// that matched even if its pid was reused meanwhile. Where pidfds are not available (kernel
// before 5.3), kill(pid) is used.
#pragma once

#include <string>
#include <vector>

#include "agent/act/action.hpp"
#include "agent/act/kind_common.hpp"

namespace medic::agent::act {

inline constexpr std::size_t k_max_signal_targets = 256;

// Threadpool.
[[nodiscard]] Prepared prepare_signal(const SignalSpec& spec, const BoundParams& params,
                                      const PrepareContext& ctx);

struct SignalResult {
  std::vector<pid_t> signalled;
  std::vector<pid_t> gone; // exited between the scan and the signal
  std::string errors;      // "pid 12: Operation not permitted; ..."
};

// Loop thread: sends prepared.signal to prepared.targets and closes their pidfds.
[[nodiscard]] SignalResult send_signals(Prepared& prepared) noexcept;

// "12, 34, 56" (at most 32 pids, then "... (N in all)").
[[nodiscard]] std::string pid_list(const std::vector<pid_t>& pids);

} // namespace medic::agent::act
