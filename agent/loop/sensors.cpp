// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/sensors.hpp"

#include <filesystem>

namespace medic::agent::loop {

namespace {

// /sys sits beside /proc in a test's fake root ("<root>/proc" and "<root>/sys").
std::filesystem::path sys_root_for(const std::string& proc_root) {
  const std::filesystem::path proc(proc_root);
  return proc == "/proc" ? std::filesystem::path("/sys") : proc.parent_path() / "sys";
}

template <class Opened>
Result<void> named(std::string_view sampler, Opened opened) {
  if (!opened) {
    return fail(std::move(opened).error().context(std::string(sampler) + " sampler"));
  }
  return {};
}

} // namespace

Sensors::Sensors(const config::AgentConfig& config)
    : m_cpu(config.proc_root, config.sensing.cpu),
      m_memory(config.proc_root),
      m_load(config.proc_root),
      m_disk(config.sensing.disk, config.proc_root),
      m_disk_io(config.sensing.disk_io, config.proc_root, sys_root_for(config.proc_root)),
      m_network(config.sensing.network, config.proc_root),
      m_processes(config.sensing.processes, config.proc_root),
      m_probes(config.sensing.probes),
      m_files(config.sensing.files) {}

Result<void> Sensors::open(uv_loop_t& loop) {
  if (auto r = named("cpu", m_cpu.open()); !r) {
    return r;
  }
  if (auto r = named("memory", m_memory.open()); !r) {
    return r;
  }
  if (auto r = named("load", m_load.open()); !r) {
    return r;
  }
  if (auto r = named("disk", m_disk.open(loop)); !r) {
    return r;
  }
  if (auto r = named("disk_io", m_disk_io.open()); !r) {
    return r;
  }
  if (auto r = named("network", m_network.open()); !r) {
    return r;
  }
  if (auto r = named("processes", m_processes.open()); !r) {
    return r;
  }
  if (auto r = named("probes", m_probes.open(loop)); !r) {
    return r;
  }
  return named("files", m_files.open(loop));
}

void Sensors::sample(sample::SampleSink& sink, std::int64_t now_ms) noexcept {
  const auto run = [&](std::string_view source, Result<void> done) {
    if (!done) {
      sink.error(source, done.error());
    }
  };
  run("cpu", m_cpu.sample(sink, now_ms));
  run("memory", m_memory.sample(sink, now_ms));
  run("load", m_load.sample(sink, now_ms));
  run("disk", m_disk.sample(sink, now_ms));
  run("disk_io", m_disk_io.sample(sink, now_ms));
  run("network", m_network.sample(sink, now_ms));
  run("processes", m_processes.sample(sink, now_ms));
  run("probes", m_probes.sample(sink, now_ms));
  run("files", m_files.sample(sink, now_ms));
}

void Sensors::close() noexcept {
  m_disk.close();
  m_probes.close();
  m_files.close();
}

} // namespace medic::agent::loop
