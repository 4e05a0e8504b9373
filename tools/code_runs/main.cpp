// SPDX-License-Identifier: Apache-2.0
// medic-code-runs BINARY ORDER-FILE: writes into BINARY's medic_code_runs table the page runs of
// the functions ORDER-FILE lists (agent/loop/code_fence.hpp). Run after the static agent's link.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tools/code_runs/code_runs.hpp"

namespace {

bool slurp(const char* path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  out = std::move(bytes).str();
  return static_cast<bool>(in) || in.eof();
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: medic-code-runs BINARY ORDER-FILE\n");
    return 2;
  }
  std::string elf;
  std::string order;
  if (!slurp(argv[1], elf)) {
    std::fprintf(stderr, "medic-code-runs: cannot read %s\n", argv[1]);
    return 1;
  }
  if (!slurp(argv[2], order)) {
    std::fprintf(stderr, "medic-code-runs: cannot read %s\n", argv[2]);
    return 1;
  }
  const auto listed = medic::tools::read_order_file(order);
  auto runs = medic::tools::listed_code_runs(elf, listed);
  if (runs) {
    if (auto written = medic::tools::write_code_runs(elf, *runs); !written) {
      runs = tl::unexpected(std::move(written).error());
    }
  }
  if (!runs) {
    std::fprintf(stderr, "medic-code-runs: %s: %s\n", argv[1], runs.error().message().c_str());
    return 1;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::in | std::ios::out);
  out.write(elf.data(), static_cast<std::streamsize>(elf.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "medic-code-runs: cannot write %s\n", argv[1]);
    return 1;
  }
  std::uint64_t kib[2] = {0, 0};
  for (const auto& run : *runs) {
    kib[run.kind == medic::tools::CodeKind::start_up ? 1 : 0] += run.pages * 4;
  }
  std::printf(
      "medic-code-runs: %zu steady-state and %zu start-up functions listed: %zu runs, "
      "%llu + %llu KiB fenced in %s\n",
      listed.steady.size(), listed.start_up.size(), runs->size(),
      static_cast<unsigned long long>(kib[0]), static_cast<unsigned long long>(kib[1]), argv[1]);
  return 0;
}
