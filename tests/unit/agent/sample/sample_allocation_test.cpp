// SPDX-License-Identifier: Apache-2.0
// The samplers run every second on the agent's loop and must not allocate in the steady state.
// Allocations are counted with tests/support/allocation_counter.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/sample/cpu_sampler.hpp"
#include "agent/sample/disk_io_sampler.hpp"
#include "agent/sample/disk_space_sampler.hpp"
#include "agent/sample/file_check_sampler.hpp"
#include "agent/sample/load_sampler.hpp"
#include "agent/sample/memory_sampler.hpp"
#include "agent/sample/network_sampler.hpp"
#include "agent/sample/probe_sampler.hpp"
#include "agent/sample/process_sampler.hpp"
#include "tests/support/allocation_counter.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

using medic::test::AllocationCount;

namespace {

bool counter_works() {
  return medic::test::allocation_counting_works();
}

} // namespace

using namespace medic::agent::sample;
using medic::test::CountingSink;

TEST_CASE("sync samplers do not allocate in the steady state", "[sample][alloc][real]") {
  if (!counter_works()) {
    WARN("operator new is replaced elsewhere in this executable: allocation counts skipped");
    return;
  }
  CpuSampler cpu;
  MemorySampler memory;
  LoadSampler load;
  DiskIoSampler disk_io;
  NetworkConfig net_config;
  net_config.exclude_interfaces = {};
  NetworkSampler network(net_config);
  REQUIRE(cpu.open());
  REQUIRE(memory.open());
  REQUIRE(load.open());
  REQUIRE(disk_io.open());
  REQUIRE(network.open());

  medic::test::TempDir dir;
  const std::string tag = "3599." + std::to_string(::getpid());
  const medic::test::Process child({"/bin/sleep", tag}, dir / "log");
  ProcessConfig process_config;
  ProcessMatchConfig by_cmdline;
  by_cmdline.name = "sleeper";
  by_cmdline.cmdline = "sleep " + tag;
  ProcessMatchConfig by_name;
  by_name.name = "sleep";
  by_name.process_name = "sleep";
  process_config.processes = {by_cmdline, by_name};
  ProcessSampler processes(process_config);
  REQUIRE(processes.open());

  CountingSink sink;
  std::int64_t now_ms = 1'000'000;
  // No Catch assertion inside the counted region: reporting one (with -s) allocates.
  bool ok = true;
  const auto all = [&] {
    ok = cpu.sample(sink, now_ms).has_value() && ok;
    ok = memory.sample(sink, now_ms).has_value() && ok;
    ok = load.sample(sink, now_ms).has_value() && ok;
    ok = disk_io.sample(sink, now_ms).has_value() && ok;
    ok = network.sample(sink, now_ms).has_value() && ok;
    ok = processes.sample(sink, now_ms).has_value() && ok;
    now_ms += 100; // below the process discovery interval for the whole run
  };
  all(); // prime the deltas
  all();
  const std::uint64_t scans_before = processes.scans();
  const AllocationCount count;
  for (int i = 0; i < 50; ++i) {
    all();
  }
  const std::size_t allocations = count.count();
  CHECK(ok);
  CHECK(allocations == 0);
  CHECK(processes.scans() == scans_before);
  CHECK(sink.samples > std::size_t{50} * 20);
}

TEST_CASE("async samplers do not allocate per round", "[sample][alloc][real]") {
  if (!counter_works()) {
    WARN("operator new is replaced elsewhere in this executable: allocation counts skipped");
    return;
  }
  medic::test::TempDir dir;
  medic::test::write_file(dir / "watched", "x");
  uv_loop_t loop;
  uv_loop_init(&loop);

  // A listening socket for the TCP probe.
  const int listening = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listening, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listening, 64) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listening, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ProbeConfig probe;
  probe.name = "local";
  probe.port = ntohs(address.sin_port);
  probe.interval_ms = 1000;

  std::size_t allocations = 0;
  {
    DiskSpaceSampler disk({});
    FileCheckSampler files(FileChecksConfig{{{"watched", (dir / "watched").string()}}, 1000});
    ProbeSampler probes(ProbesConfig{{probe}});
    REQUIRE(disk.open(loop));
    REQUIRE(files.open(loop));
    REQUIRE(probes.open(loop));
    CountingSink sink;
    std::int64_t now_ms = 0;
    bool ok = true;
    const auto round = [&] {
      ok = disk.sample(sink, now_ms).has_value() && ok;
      ok = files.sample(sink, now_ms).has_value() && ok;
      ok = probes.sample(sink, now_ms).has_value() && ok;
      uv_run(&loop, UV_RUN_DEFAULT);
      now_ms += 10'000;
    };
    round();
    round();
    {
      const AllocationCount count;
      for (int i = 0; i < 20; ++i) {
        round();
      }
      allocations = count.count();
    }
    CHECK(ok);
    CHECK(sink.samples > std::size_t{20} * 5);
    disk.close();
    files.close();
    probes.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  ::close(listening);
  CHECK(uv_loop_close(&loop) == 0);
  CHECK(allocations == 0);
}
