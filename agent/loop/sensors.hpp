// SPDX-License-Identifier: Apache-2.0
// Every sampler of the agent, opened together and sampled together each round. The sync ones
// read /proc on the loop (buffers kept open, no allocation); disk space, probes and file checks
// run their I/O in libuv's threadpool and report into the same sink when done. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>

#include "agent/config/agent_config.hpp"
#include "agent/sample/cpu_sampler.hpp"
#include "agent/sample/disk_io_sampler.hpp"
#include "agent/sample/disk_space_sampler.hpp"
#include "agent/sample/file_check_sampler.hpp"
#include "agent/sample/load_sampler.hpp"
#include "agent/sample/memory_sampler.hpp"
#include "agent/sample/network_sampler.hpp"
#include "agent/sample/probe_sampler.hpp"
#include "agent/sample/process_sampler.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::loop {

class Sensors {
public:
  explicit Sensors(const config::AgentConfig& config);

  // Fails naming the sampler when a /proc file cannot be opened or parsed.
  [[nodiscard]] Result<void> open(uv_loop_t& loop);
  // One round. Errors of one sampler go to sink.error() and do not stop the others.
  void sample(sample::SampleSink& sink, std::int64_t now_ms) noexcept;
  // Stops the async samplers (pending threadpool requests finish on their own).
  void close() noexcept;

private:
  sample::CpuSampler m_cpu;
  sample::MemorySampler m_memory;
  sample::LoadSampler m_load;
  sample::DiskSpaceSampler m_disk;
  sample::DiskIoSampler m_disk_io;
  sample::NetworkSampler m_network;
  sample::ProcessSampler m_processes;
  sample::ProbeSampler m_probes;
  sample::FileCheckSampler m_files;
};

} // namespace medic::agent::loop
