// SPDX-License-Identifier: Apache-2.0
// Load averages and task counts from /proc/loadavg ("0.52 0.58 0.59 2/870 12345"). Loop thread;
// reads into a buffer allocated at open() and parses without allocating.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "agent/sample/proc_file.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

struct LoadAverage {
  double load_1 = 0;
  double load_5 = 0;
  double load_15 = 0;
  std::uint64_t runnable = 0; // tasks runnable now (the kernel counts the reader itself)
  std::uint64_t tasks = 0;    // all tasks (threads) on the machine

  friend bool operator==(const LoadAverage&, const LoadAverage&) = default;
};

// Needs the first four fields; the last-pid field is ignored. Errors say which field is wrong.
[[nodiscard]] Result<LoadAverage> parse_loadavg(std::string_view text);

class LoadSampler {
public:
  explicit LoadSampler(std::filesystem::path proc_root = "/proc");

  // Opens <proc_root>/loadavg and checks it parses.
  [[nodiscard]] Result<void> open();

  // Loop thread. Adds load.1, load.5, load.15, load.runnable, load.tasks. Errors name the file.
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);
  [[nodiscard]] Result<LoadAverage> read();

private:
  std::filesystem::path m_proc_root;
  ProcFile m_file;
};

} // namespace medic::agent::sample
