// SPDX-License-Identifier: Apache-2.0
// Expanding the sources' globs into the regular files they match. Runs glob(3) and stat(2), so
// it blocks: the tailer calls it from libuv's threadpool (uv_queue_work), never on the loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace medic::agent::tail {

struct GlobPattern {
  std::string pattern;
  std::size_t source = 0;
};

struct GlobHit {
  std::string path;
  std::size_t source = 0;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
};

struct GlobScan {
  std::vector<GlobHit> hits; // sorted within a pattern, first pattern first; no path twice
  std::size_t excess = 0;    // regular files matched beyond `limit`
};

// Any thread. Paths that are not regular files (after following symlinks) or vanish between
// glob and stat are left out; a pattern that matches nothing or cannot be read is not an error.
[[nodiscard]] GlobScan scan_globs(const std::vector<GlobPattern>& patterns, std::size_t limit);

// True when `path` matches the glob `pattern` (fnmatch with FNM_PATHNAME). No I/O.
[[nodiscard]] bool glob_matches(std::string_view pattern, std::string_view path);

} // namespace medic::agent::tail
