// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/tail_types.hpp"

#include <set>
#include <string>

#include <re2/re2.h>

namespace medic::agent::tail {

namespace {

using std::chrono::milliseconds;

constexpr std::size_t k_min_record_bytes = 64;
constexpr std::size_t k_max_record_bytes = std::size_t{1024} * 1024;
constexpr std::size_t k_min_chunk = std::size_t{4} * 1024;
constexpr std::size_t k_max_chunk = std::size_t{16} * 1024 * 1024;
constexpr std::size_t k_max_files = 4096;
constexpr std::size_t k_max_inflight = 64;

Result<void> check_range(std::string_view what, milliseconds value, milliseconds low,
                         milliseconds high) {
  if (value < low || value > high) {
    return fail(ErrorCode::config, std::string(what) + " is " + std::to_string(value.count()) +
                                       " ms, must be within " + std::to_string(low.count()) + ".." +
                                       std::to_string(high.count()) + " ms");
  }
  return {};
}

Result<void> check_range(std::string_view what, std::size_t value, std::size_t low,
                         std::size_t high) {
  if (value < low || value > high) {
    return fail(ErrorCode::config, std::string(what) + " is " + std::to_string(value) +
                                       ", must be within " + std::to_string(low) + ".." +
                                       std::to_string(high));
  }
  return {};
}

Result<void> check_source(const TailSource& source) {
  if (source.globs.empty()) {
    return fail(ErrorCode::config, "no globs");
  }
  for (const std::string& glob : source.globs) {
    if (glob.empty() || glob.front() != '/') {
      return fail(ErrorCode::config, "glob '" + glob + "' is not an absolute path");
    }
  }
  if (auto bytes = check_range("max_record_bytes", source.max_record_bytes, k_min_record_bytes,
                               k_max_record_bytes);
      !bytes) {
    return bytes;
  }
  if (!source.continuation_pattern.empty()) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    const re2::RE2 pattern(source.continuation_pattern, options);
    if (!pattern.ok()) {
      return fail(ErrorCode::config,
                  "continuation_pattern '" + source.continuation_pattern + "': " + pattern.error());
    }
  }
  return {};
}

Result<void> check_limits(const TailerOptions& options) {
  const Result<void> checks[] = {
      check_range("glob_interval", options.glob_interval, milliseconds(100),
                  milliseconds(3'600'000)),
      check_range("poll_interval", options.poll_interval, milliseconds(10), milliseconds(60'000)),
      check_range("stat_interval", options.stat_interval, milliseconds(10),
                  milliseconds(3'600'000)),
      check_range("read_interval", options.read_interval, milliseconds(0), milliseconds(10'000)),
      check_range("idle_flush", options.idle_flush, milliseconds(10), milliseconds(60'000)),
      check_range("rotate_wait", options.rotate_wait, milliseconds(0), milliseconds(3'600'000)),
      check_range("max_files", options.max_files, 1, k_max_files),
      check_range("read_chunk_bytes", options.read_chunk_bytes, k_min_chunk, k_max_chunk),
      check_range("max_inflight", options.max_inflight, 1, k_max_inflight),
  };
  for (const Result<void>& check : checks) {
    if (!check) {
      return fail(check.error().context("tail"));
    }
  }
  return {};
}

} // namespace

std::string_view to_string(GapReason reason) noexcept {
  switch (reason) {
  case GapReason::truncated: return "truncated";
  case GapReason::rotated_away: return "rotated_away";
  case GapReason::deleted: return "deleted";
  case GapReason::unreadable: return "unreadable";
  }
  return "unknown";
}

Result<void> validate(const TailerOptions& options) {
  if (auto limits = check_limits(options); !limits) {
    return limits;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < options.sources.size(); ++i) {
    const TailSource& source = options.sources[i];
    if (source.name.empty()) {
      return fail(ErrorCode::config, "tail source #" + std::to_string(i + 1) + " has no name");
    }
    if (!names.insert(source.name).second) {
      return fail(ErrorCode::config, "tail source '" + source.name + "' is defined twice");
    }
    if (auto checked = check_source(source); !checked) {
      return fail(std::move(checked).error().context("tail source '" + source.name + "'"));
    }
  }
  return {};
}

} // namespace medic::agent::tail
