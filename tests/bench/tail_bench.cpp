// SPDX-License-Identifier: Apache-2.0
// How fast the log tailer reads: a file of syslog-like lines (200 MB by default) is written to a
// temporary directory (so it is in the page cache), then a Tailer on a libuv loop with
// UV_THREADPOOL_SIZE=1 reads it from the beginning with a callback that only counts. (The agent
// runs two pool threads, agent/loop/agent_loop.cpp; one file is read one pass at a time either
// way, and the figures in BENCHMARKS.md were taken with one.) Prints a Markdown table: MB/s,
// lines/s and CPU seconds per configuration.
//
//   medic-tail-bench [--mb=200] [--dir=/tmp]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <uv.h>

#include "agent/tail/tailer.hpp"
#include "shared/uv/handle.hpp"

namespace {

namespace fs = std::filesystem;
namespace tail = medic::agent::tail;
using namespace std::chrono_literals;

struct Args {
  std::size_t mb = 200;
  std::string dir = "/tmp";
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--mb=")) {
      args.mb = std::stoul(std::string(arg.substr(5)));
    } else if (arg.starts_with("--dir=")) {
      args.dir = std::string(arg.substr(6));
    } else {
      std::fprintf(stderr, "usage: medic-tail-bench [--mb=200] [--dir=/tmp]\n");
      std::exit(2);
    }
  }
  return args;
}

// Syslog-like lines of varied length (about 110 bytes on average).
std::uint64_t write_log(const fs::path& path, std::size_t megabytes, std::uint64_t& lines) {
  static const char* const k_programs[] = {"sshd[1234]", "kernel", "systemd[1]", "cron[998]",
                                           "nginx[4321]"};
  static const char* const k_messages[] = {
      "Accepted publickey for deploy from 10.0.3.17 port 53422 ssh2: RSA SHA256:Qm9vYmFy",
      "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
      "Started Session 4211 of user deploy.", "(root) CMD (run-parts --report /etc/cron.hourly)",
      "upstream timed out (110: Connection timed out) while reading response header"};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string line;
  const std::uint64_t target = std::uint64_t{megabytes} * 1024 * 1024;
  std::uint64_t written = 0;
  for (lines = 0; written < target; ++lines) {
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "Nov 23 01:%02llu:%02llu host-%03llu ",
                  static_cast<unsigned long long>(lines / 60 % 60),
                  static_cast<unsigned long long>(lines % 60),
                  static_cast<unsigned long long>(lines % 997));
    line.assign(prefix);
    line += k_programs[lines % 5];
    line += ": ";
    line += k_messages[(lines / 3) % 5];
    line += " seq=" + std::to_string(lines) + "\n";
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    written += line.size();
  }
  return written;
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Figures {
  double seconds = 0;
  double cpu = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

Figures run(const fs::path& path, std::uint64_t size, std::size_t chunk,
            const std::string& continuation) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  tail::TailerOptions options;
  options.sources.push_back(tail::TailSource{
      "bench", {path.string()}, continuation, std::size_t{16} * 1024, tail::StartAt::beginning});
  options.read_chunk_bytes = chunk;
  std::uint64_t records = 0;
  auto tailer =
      tail::Tailer::create(loop, options, {[&](const tail::TailRecord&) { ++records; }, {}, {}});
  if (!tailer) {
    std::fprintf(stderr, "%s\n", tailer.error().message().c_str());
    std::exit(1);
  }
  const double cpu_before = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  (void)(*tailer)->start();
  while ((*tailer)->stats().bytes < size) {
    uv_run(&loop, UV_RUN_ONCE);
  }
  Figures figures;
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  figures.cpu = cpu_seconds() - cpu_before;
  figures.records = records;
  figures.bytes = (*tailer)->stats().bytes;
  (*tailer)->stop();
  while (!(*tailer)->is_stopped()) {
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  tailer->reset();
  medic::uv::close_loop(loop);
  return figures;
}

} // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  ::setenv("UV_THREADPOOL_SIZE", "1", 1); // see the note at the top; read at the first use
  std::string dir_template = args.dir + "/medic-tail-bench-XXXXXX";
  if (::mkdtemp(dir_template.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path dir = dir_template;
  const fs::path log = dir / "syslog";
  std::uint64_t lines = 0;
  const std::uint64_t size = write_log(log, args.mb, lines);
  std::fprintf(stderr, "wrote %llu bytes, %llu lines\n", static_cast<unsigned long long>(size),
               static_cast<unsigned long long>(lines));

  std::printf("| read chunk | continuation | MB/s | lines/s | CPU s | MB per CPU s | records |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|\n");
  struct Config {
    std::size_t chunk;
    const char* continuation;
  };
  for (const Config config : {Config{64 * 1024, ""}, Config{128 * 1024, ""}, Config{256 * 1024, ""},
                              Config{128 * 1024, "^\\s"}}) {
    const Figures f = run(log, size, config.chunk, config.continuation);
    const double megabytes = static_cast<double>(f.bytes) / 1e6;
    std::printf("| %zu KiB | %s | %.0f | %.0f | %.2f | %.0f | %llu |\n", config.chunk / 1024,
                *config.continuation != '\0' ? "`^\\s`" : "none", megabytes / f.seconds,
                static_cast<double>(f.records) / f.seconds, f.cpu, megabytes / f.cpu,
                static_cast<unsigned long long>(f.records));
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
