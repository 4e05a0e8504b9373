// SPDX-License-Identifier: Apache-2.0
// Many regular expressions compiled once into one multi-pattern matcher, asked per log line
// which of them match. Hyperscan (block mode, one scratch allocated at compile time) is the
// default engine: on the benchmark (tests/bench/log_match_bench.cpp) it is several times faster
// than RE2::Set with the same 20 patterns, and it does not allocate per line (RE2::Set::Match
// allocates a set the size of the pattern list on every call that reports which matched).
//
// Syntax and semantics are RE2's, over bytes: every pattern is first checked by RE2 (Latin-1,
// so `.` is one byte and invalid UTF-8 or NUL bytes in a line are ordinary bytes), and the
// error names the pattern and the offending fragment. A pattern that RE2 accepts but Hyperscan
// cannot compile (e.g. \pL classes without UTF-8 mode, or a bounded repeat too large for it)
// is matched by an RE2::Set fallback holding only those patterns; fallback_count() says how
// many. The RE2 engine puts every pattern in the RE2::Set.
//
// Not thread-safe: the scratch space belongs to the thread that calls match() (the agent's
// loop). Moving a matcher is fine; copying is not allowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

struct hs_database; // NOLINT: Hyperscan's hs_database_t

namespace medic::agent::detect {

struct LogPattern {
  std::uint32_t id = 0; // the caller's id, reported back through pattern(index).id
  std::string pattern;  // RE2 syntax, unanchored (add ^ or $ to anchor)
  bool case_insensitive = false;
};

enum class MatcherEngine {
  hyperscan, // Hyperscan for every pattern it accepts, RE2::Set for the rest
  re2_set,   // RE2::Set for every pattern (the comparison baseline)
};

// Which patterns matched one line, by index into the compile list. Sized once for a matcher
// (make_match_set) so that filling it never allocates.
class MatchSet {
public:
  explicit MatchSet(std::size_t pattern_count);

  void clear() noexcept;
  // False when the index is out of range or already present.
  bool add(std::uint32_t index) noexcept;
  [[nodiscard]] bool contains(std::uint32_t index) const noexcept;
  [[nodiscard]] std::span<const std::uint32_t> indices() const noexcept { return m_indices; }
  [[nodiscard]] bool empty() const noexcept { return m_indices.empty(); }

private:
  std::vector<std::uint64_t> m_bits;
  std::vector<std::uint32_t> m_indices; // capacity = pattern count, never grows
  std::size_t m_capacity = 0;
};

class LogMatcher {
public:
  // Fails with invalid_argument on an empty list, a duplicate id, or a pattern that does not
  // compile: "pattern #3 (id 17) 'a(b': missing ): a(b". Hyperscan failing on the whole set
  // (e.g. out of memory) fails with internal.
  [[nodiscard]] static Result<LogMatcher> compile(std::span<const LogPattern> patterns,
                                                  MatcherEngine engine = MatcherEngine::hyperscan);

  LogMatcher(LogMatcher&& other) noexcept;
  LogMatcher& operator=(LogMatcher&& other) noexcept;
  LogMatcher(const LogMatcher&) = delete;
  LogMatcher& operator=(const LogMatcher&) = delete;
  ~LogMatcher();

  // Fills `out` (cleared first) with the indices of the patterns found in the line and returns
  // how many. Any bytes are accepted. No allocation with the Hyperscan engine when no pattern
  // fell back to RE2. A scan error (the fallback DFA running out of its memory budget) loses
  // that line's fallback matches and is counted in scan_errors().
  std::size_t match(std::string_view line, MatchSet& out);

  [[nodiscard]] MatchSet make_match_set() const { return MatchSet(pattern_count()); }
  [[nodiscard]] std::size_t pattern_count() const noexcept;
  [[nodiscard]] const LogPattern& pattern(std::size_t index) const;
  [[nodiscard]] MatcherEngine engine() const noexcept;
  [[nodiscard]] std::size_t fallback_count() const noexcept;
  [[nodiscard]] std::uint64_t scan_errors() const noexcept;

private:
  struct Impl;
  explicit LogMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// Where LogMatcher::compile() runs Hyperscan's compiler. Compiling touches megabytes that the
// matcher never needs again: the compiler's code and tables, and a heap that peaks at several
// MiB for the default rules. In a forked child (child_process) all of that is the child's: this
// process only maps the serialized database it gets back (hs_deserialize_database), so its RSS
// and peak RSS stay small. If fork fails or the child does not deliver, the compilation runs
// here after all. Process-wide; the agent's main() chooses child_process, the default is
// this_process (tests, benchmarks). Set it before compiling, from the main thread.
enum class CompileSite { this_process, child_process };
void set_compile_site(CompileSite site) noexcept;

// Patterns compiled for one Hyperscan scan of a whole block of lines (a read chunk) instead of
// one scan per line: ^ and $ match at line breaks and every match is reported with its end
// offset. Compiled where set_compile_site() says. Fails when any pattern cannot be compiled that
// way (e.g. it can match the empty string); the caller then scans line by line.
struct BlockDatabaseDeleter {
  void operator()(hs_database* database) const noexcept;
};
using BlockDatabase = std::unique_ptr<hs_database, BlockDatabaseDeleter>;
[[nodiscard]] Result<BlockDatabase> compile_block_database(std::span<const LogPattern> patterns);

[[nodiscard]] std::string_view to_string(MatcherEngine engine) noexcept;

} // namespace medic::agent::detect
