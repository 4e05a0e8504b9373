// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/glob_scan.hpp"

#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <climits>

namespace medic::agent::tail {

namespace {

// Frees what glob(3) allocated on every path out.
class GlobResult {
public:
  explicit GlobResult(const std::string& pattern) noexcept {
    m_status = ::glob(pattern.c_str(), GLOB_BRACE, nullptr, &m_glob);
  }
  GlobResult(const GlobResult&) = delete;
  GlobResult& operator=(const GlobResult&) = delete;
  ~GlobResult() { ::globfree(&m_glob); }

  [[nodiscard]] bool ok() const noexcept { return m_status == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return m_glob.gl_pathc; }
  [[nodiscard]] const char* operator[](std::size_t i) const noexcept { return m_glob.gl_pathv[i]; }

private:
  glob_t m_glob{};
  int m_status = GLOB_NOMATCH;
};

} // namespace

GlobScan scan_globs(const std::vector<GlobPattern>& patterns, std::size_t limit) {
  GlobScan scan;
  for (const GlobPattern& pattern : patterns) {
    const GlobResult found(pattern.pattern);
    if (!found.ok()) {
      continue;
    }
    for (std::size_t i = 0; i < found.size(); ++i) {
      const std::string_view path = found[i];
      struct stat info {};
      if (::stat(found[i], &info) != 0 || !S_ISREG(info.st_mode)) {
        continue;
      }
      const bool known = std::any_of(scan.hits.begin(), scan.hits.end(),
                                     [&](const GlobHit& hit) { return hit.path == path; });
      if (known) {
        continue;
      }
      if (scan.hits.size() >= limit) {
        ++scan.excess;
        continue;
      }
      scan.hits.push_back(GlobHit{std::string(path), pattern.source,
                                  static_cast<std::uint64_t>(info.st_dev),
                                  static_cast<std::uint64_t>(info.st_ino)});
    }
  }
  return scan;
}

bool glob_matches(std::string_view pattern, std::string_view path) {
  // Called on inotify events: NUL-terminated copies on the stack rather than two allocations.
  std::array<char, PATH_MAX> pattern_z{};
  std::array<char, PATH_MAX> path_z{};
  if (pattern.size() >= pattern_z.size() || path.size() >= path_z.size()) {
    return false;
  }
  std::copy(pattern.begin(), pattern.end(), pattern_z.begin());
  std::copy(path.begin(), path.end(), path_z.begin());
  return ::fnmatch(pattern_z.data(), path_z.data(), FNM_PATHNAME) == 0;
}

} // namespace medic::agent::tail
