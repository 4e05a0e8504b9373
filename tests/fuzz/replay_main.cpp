// SPDX-License-Identifier: Apache-2.0
// A plain main for fuzz targets, so their corpora run as ordinary tests under g++ (which has
// no libFuzzer). Each argument is a file or a directory whose regular files are all run, in
// name order so a failure is reproducible. A broken property aborts inside the target; the
// last "running" line names the input. Exits 1 when there was nothing to run, so a mistyped
// corpus path cannot pass silently.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

// The fuzz target linked with this file; libFuzzer fixes its name.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool collect(const fs::path& path, std::vector<fs::path>& inputs) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path());
      }
    }
    if (error) {
      std::fprintf(stderr, "replay: %s: %s\n", path.c_str(), error.message().c_str());
      return false;
    }
    std::sort(files.begin(), files.end());
    inputs.insert(inputs.end(), files.begin(), files.end());
    return true;
  }
  if (fs::is_regular_file(path, error)) {
    inputs.push_back(path);
    return true;
  }
  std::fprintf(stderr, "replay: %s: %s\n", path.c_str(),
               error ? error.message().c_str() : "not a file or directory");
  return false;
}

bool run(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "replay: %s: cannot open\n", path.c_str());
    return false;
  }
  // An exactly sized heap copy, so a sanitizer build sees any read past the input's end.
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(file),
                                        std::istreambuf_iterator<char>()};
  if (file.bad()) {
    std::fprintf(stderr, "replay: %s: read error\n", path.c_str());
    return false;
  }
  std::printf("running %s (%zu bytes)\n", path.c_str(), bytes.size());
  std::fflush(stdout);
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
    return 1;
  }
  std::vector<fs::path> inputs;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    ok = collect(argv[i], inputs) && ok;
  }
  std::size_t ran = 0;
  for (const auto& input : inputs) {
    if (run(input)) {
      ++ran;
    } else {
      ok = false;
    }
  }
  std::printf("replay: ran %zu of %zu inputs\n", ran, inputs.size());
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  return ok ? 0 : 1;
}
