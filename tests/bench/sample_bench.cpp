// SPDX-License-Identifier: Apache-2.0
// medic-sample-bench: CPU time of the agent's host samplers on this machine's real /proc and
// /sys. Each sampler runs `cycles` times (default 2000) and the thread CPU time per call is
// reported; async ones (disk space, file check, TCP probe) run one round per call through a libuv
// loop and are charged the process CPU time (loop plus threadpool). The process sampler tracks
// a child `sleep` by name and by command line; its discovery (a full /proc scan) is measured
// apart, and the full cycle adds it amortised over its default 10 s interval.
//
// Usage: medic-sample-bench [cycles]. Prints Markdown to stdout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <uv.h>

#include "agent/sample/cpu_sampler.hpp"
#include "agent/sample/disk_io_sampler.hpp"
#include "agent/sample/disk_space_sampler.hpp"
#include "agent/sample/file_check_sampler.hpp"
#include "agent/sample/load_sampler.hpp"
#include "agent/sample/memory_sampler.hpp"
#include "agent/sample/network_sampler.hpp"
#include "agent/sample/probe_sampler.hpp"
#include "agent/sample/process_sampler.hpp"

using namespace medic::agent::sample;

namespace {

class CountingSink final : public SampleSink {
public:
  void add(std::string_view, double, std::int64_t,
           std::span<const medic::protocol::LabelView>) noexcept override {
    ++samples;
  }
  std::size_t samples = 0;
};

double cpu_us(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

struct Row {
  std::string name;
  double us_per_call = 0;
  double samples_per_call = 0;
};

Row measure(const std::string& name, int cycles, clockid_t clock,
            const std::function<void(std::int64_t)>& call, CountingSink& sink) {
  call(0); // prime
  call(1);
  sink.samples = 0;
  const double start = cpu_us(clock);
  for (int i = 0; i < cycles; ++i) {
    call(2 + i);
  }
  const double took = cpu_us(clock) - start;
  return Row{name, took / cycles, static_cast<double>(sink.samples) / cycles};
}

void check(const medic::Result<void>& result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", what, result.error().message().c_str());
    std::exit(1);
  }
}

pid_t spawn_sleep(const std::string& seconds) {
  const std::string path = "/bin/sleep";
  char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>(seconds.c_str()), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  return pid;
}

int listen_local(std::uint16_t& port) {
  // Non-blocking: the bench drains what the probes queued with accept4 until EAGAIN.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 1024) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::size_t count_processes() {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    count += !name.empty() && name.front() >= '1' && name.front() <= '9' ? 1 : 0;
  }
  return count;
}

void sync_rows(int cycles, const std::string& tag, CountingSink& sink, std::vector<Row>& rows) {
  CpuSampler cpu;
  MemorySampler memory;
  LoadSampler load;
  DiskIoSampler disk_io;
  NetworkSampler network;
  check(cpu.open(), "cpu");
  check(memory.open(), "memory");
  check(load.open(), "load");
  check(disk_io.open(), "diskio");
  check(network.open(), "net");
  const ProcessMatchConfig by_name{"sleep", "sleep", "", "", 32};
  const ProcessMatchConfig by_cmdline{"sleeper", "", "", "sleep " + tag, 32};
  ProcessSampler processes(ProcessConfig{{by_name, by_cmdline}, 10'000});
  check(processes.open(), "process");

  const clockid_t thread = CLOCK_THREAD_CPUTIME_ID;
  const auto every_second = [&](const char* name, auto& sampler) {
    rows.push_back(measure(
        name, cycles, thread, [&](std::int64_t i) { check(sampler.sample(sink, i * 1000), name); },
        sink));
  };
  every_second("cpu (total + per core)", cpu);
  every_second("memory", memory);
  every_second("load", load);
  every_second("disk io (diskstats)", disk_io);
  every_second("network (net/dev)", network);
  // 1 ms apart: the whole run stays inside one discovery interval.
  rows.push_back(measure(
      "process (2 matchers, tick)", cycles, thread,
      [&](std::int64_t i) { check(processes.sample(sink, 100 + i), "proc"); }, sink));
  ProcessSampler scanning(ProcessConfig{{by_name, by_cmdline}, 1000});
  check(scanning.open(), "process");
  rows.push_back(measure(
      "process discovery (/proc scan)", cycles / 10, thread,
      [&](std::int64_t i) { check(scanning.sample(sink, i * 1000), "scan"); }, sink));
}

void drain(int listening) {
  // The kernel queues the probes' connections on the listening socket; accept and drop them.
  for (int fd = ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC); fd >= 0;
       fd = ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC)) {
    ::close(fd);
  }
}

void async_rows(int cycles, CountingSink& sink, std::vector<Row>& rows) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::uint16_t port = 0;
  const int listening = listen_local(port);
  DiskSpaceSampler disk({});
  FileCheckSampler files(FileChecksConfig{{{"bench", "/proc/self/stat"}}, 1000});
  ProbeConfig probe_config;
  probe_config.name = "bench";
  probe_config.port = port;
  ProbeSampler probes(ProbesConfig{{probe_config}});
  check(disk.open(loop), "disk");
  check(files.open(loop), "files");
  check(probes.open(loop), "probe");
  const auto round = [&](const char* name, auto& sampler) {
    rows.push_back(measure(
        name, cycles, CLOCK_PROCESS_CPUTIME_ID,
        [&](std::int64_t i) {
          check(sampler.sample(sink, i * 10'000), name);
          uv_run(&loop, UV_RUN_DEFAULT);
          drain(listening);
        },
        sink));
  };
  round("disk space (1 round, threadpool)", disk);
  round("file check (1 file, threadpool)", files);
  round("tcp probe (connect + close)", probes);
  disk.close();
  files.close();
  probes.close();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  ::close(listening);
}

void print(const std::vector<Row>& rows, int cycles) {
  std::printf("## Host samplers: CPU per call (%d calls, %zu processes, %ld CPUs)\n\n", cycles,
              count_processes(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("| sampler | us CPU per call | samples per call |\n|---|---:|---:|\n");
  for (const Row& row : rows) {
    std::printf("| %s | %.1f | %.1f |\n", row.name.c_str(), row.us_per_call, row.samples_per_call);
  }
  // Every second: rows 0-5 (cpu, memory, load, disk io, network, process tick). Every 10 s (the
  // default intervals): row 6 (discovery) and rows 7-9 (disk space, file check, probe).
  double every_second = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    every_second += rows[i].us_per_call;
  }
  double every_ten = 0;
  for (std::size_t i = 6; i < 10; ++i) {
    every_ten += rows[i].us_per_call;
  }
  std::printf(
      "\nEvery-second samplers: %.1f us per cycle; with discovery and the 10 s rounds "
      "amortised: %.1f us per 1 s cycle.\n",
      every_second, every_second + every_ten / 10);
}

} // namespace

int main(int argc, char** argv) {
  const int cycles = argc > 1 ? std::atoi(argv[1]) : 2000;
  const std::string tag = "3600." + std::to_string(::getpid());
  const pid_t child = spawn_sleep(tag);
  CountingSink sink;
  std::vector<Row> rows;
  sync_rows(cycles, tag, sink, rows);
  async_rows(cycles, sink, rows);
  print(rows, cycles);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return 0;
}
