// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/log_matcher.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <unordered_set>
#include <utility>

#include <hs/hs.h>
#include <re2/re2.h>
#include <re2/set.h>

namespace medic::agent::detect {

namespace {

// Memory the fallback RE2::Set may use for its DFA; past it a line's scan fails and is counted.
constexpr std::int64_t k_re2_max_mem = std::int64_t{32} << 20;

struct ScratchDeleter {
  void operator()(hs_scratch_t* scratch) const noexcept { hs_free_scratch(scratch); }
};
struct CompileErrorDeleter {
  void operator()(hs_compile_error_t* error) const noexcept { hs_free_compile_error(error); }
};
using Database = BlockDatabase;
using Scratch = std::unique_ptr<hs_scratch_t, ScratchDeleter>;
using CompileError = std::unique_ptr<hs_compile_error_t, CompileErrorDeleter>;

RE2::Options re2_options() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  options.set_max_mem(k_re2_max_mem);
  return options;
}

// Case-insensitivity goes into the pattern text, because an RE2::Set has one Options for all.
std::string re2_text(const LogPattern& p) {
  return p.case_insensitive ? "(?i)" + p.pattern : p.pattern;
}

std::string describe(std::size_t index, const LogPattern& p) {
  return "pattern #" + std::to_string(index) + " (id " + std::to_string(p.id) + ") '" + p.pattern +
         "'";
}

Result<void> check_pattern(std::size_t index, const LogPattern& p) {
  if (p.pattern.empty()) {
    return fail(ErrorCode::invalid_argument, describe(index, p) + ": is empty");
  }
  if (p.pattern.find('\0') != std::string::npos) {
    return fail(ErrorCode::invalid_argument,
                describe(index, p) + ": holds a NUL byte (write \\x00 instead)");
  }
  const RE2 re(re2_text(p), re2_options());
  if (!re.ok()) {
    std::string message = describe(index, p) + ": " + re.error();
    if (!re.error_arg().empty() && re.error().find(re.error_arg()) == std::string::npos) {
      message += " at '" + re.error_arg() + "'";
    }
    return fail(ErrorCode::invalid_argument, std::move(message));
  }
  return {};
}

int on_hyperscan_match(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
                       unsigned int /*flags*/, void* context) {
  static_cast<MatchSet*>(context)->add(id);
  return 0;
}

} // namespace

struct LogMatcher::Impl {
  MatcherEngine engine = MatcherEngine::hyperscan;
  std::vector<LogPattern> patterns;
  Database database;
  Scratch scratch;
  std::unique_ptr<RE2::Set> fallback;
  std::vector<std::uint32_t> fallback_index; // RE2::Set index -> pattern index
  std::vector<int> fallback_hits;            // reused by every match()
  std::uint64_t scan_errors = 0;
};

namespace {

constexpr unsigned int k_line_flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;

// Compiles the patterns not already in `rejected`; a pattern Hyperscan refuses is added to
// `rejected` and the rest compiled again, so the database holds every pattern it can take.
Result<Database> compile_hyperscan(const std::vector<LogPattern>& patterns,
                                   std::vector<bool>& rejected, unsigned int mode_flags) {
  for (;;) {
    std::vector<const char*> expressions;
    std::vector<unsigned int> flags;
    std::vector<unsigned int> ids;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      if (rejected[i]) {
        continue;
      }
      expressions.push_back(patterns[i].pattern.c_str());
      flags.push_back(mode_flags | (patterns[i].case_insensitive ? HS_FLAG_CASELESS : 0U));
      ids.push_back(static_cast<unsigned int>(i));
    }
    if (expressions.empty()) {
      return Database{};
    }
    hs_database_t* raw = nullptr;
    hs_compile_error_t* raw_error = nullptr;
    const hs_error_t rc = hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                                           static_cast<unsigned int>(ids.size()), HS_MODE_BLOCK,
                                           nullptr, &raw, &raw_error);
    const CompileError error(raw_error);
    if (rc == HS_SUCCESS) {
      return Database(raw);
    }
    if (error == nullptr || error->expression < 0 ||
        static_cast<std::size_t>(error->expression) >= ids.size()) {
      return fail(ErrorCode::internal,
                  std::string("hyperscan: compiling the pattern set failed: ") +
                      (error != nullptr && error->message != nullptr ? error->message : "?"));
    }
    rejected[ids[static_cast<std::size_t>(error->expression)]] = true;
  }
}

std::atomic<CompileSite> g_compile_site{CompileSite::this_process};

// The child's side: compiles, and sends one byte per pattern (1: Hyperscan refused it) followed
// by the serialized database. Never returns. Only the forking thread exists in the child: it
// logs nothing and leaves through _exit, so no lock another thread held and no destructor runs.
[[noreturn]] void compile_in_child(int fd, const std::vector<LogPattern>& patterns,
                                   std::vector<bool> rejected, unsigned int mode_flags) noexcept {
  bool sent = false;
  try {
    auto database = compile_hyperscan(patterns, rejected, mode_flags);
    char* bytes = nullptr;
    std::size_t size = 0;
    if (database && (*database == nullptr ||
                     hs_serialize_database(database->get(), &bytes, &size) == HS_SUCCESS)) {
      std::string message(rejected.begin(), rejected.end());
      message.append(bytes == nullptr ? "" : bytes, size);
      std::free(bytes); // NOLINT: Hyperscan's allocator is malloc
      sent = true;
      for (std::size_t at = 0; sent && at < message.size();) {
        const ssize_t n = ::write(fd, message.data() + at, message.size() - at);
        sent = n > 0 || (n < 0 && errno == EINTR);
        at += n > 0 ? static_cast<std::size_t>(n) : 0;
      }
    }
  } catch (...) {
    sent = false;
  }
  ::_exit(sent ? 0 : 1);
}

// compile_hyperscan() in a forked child; nullopt when the child could not be used (the caller
// then compiles here).
std::optional<Database> compile_hyperscan_in_child(const std::vector<LogPattern>& patterns,
                                                   std::vector<bool>& rejected,
                                                   unsigned int mode_flags) {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return std::nullopt;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    compile_in_child(fds[1], patterns, rejected, mode_flags);
  }
  ::close(fds[1]);
  std::string message;
  char chunk[4096];
  for (ssize_t n = child > 0 ? 1 : 0; n != 0;) {
    n = ::read(fds[0], chunk, sizeof chunk);
    if (n > 0) {
      message.append(chunk, static_cast<std::size_t>(n));
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (child > 0 && ::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (child <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      message.size() < rejected.size()) {
    return std::nullopt;
  }
  const std::string_view serialized = std::string_view(message).substr(rejected.size());
  hs_database_t* raw = nullptr; // stays null when every pattern went to the fallback
  if (!serialized.empty() &&
      hs_deserialize_database(serialized.data(), serialized.size(), &raw) != HS_SUCCESS) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    rejected[i] = message[i] != 0;
  }
  return Database(raw);
}

// Where the compilation happens; see set_compile_site().
Result<Database> compile_hyperscan_at_site(const std::vector<LogPattern>& patterns,
                                           std::vector<bool>& rejected, unsigned int mode_flags) {
  if (g_compile_site.load() == CompileSite::child_process) {
    if (auto database = compile_hyperscan_in_child(patterns, rejected, mode_flags)) {
      return std::move(*database);
    }
    // fork refused, or the child failed: compiling here gives the real error, if any.
  }
  return compile_hyperscan(patterns, rejected, mode_flags);
}

Result<std::unique_ptr<RE2::Set>> compile_set(const std::vector<LogPattern>& patterns,
                                              const std::vector<bool>& in_set,
                                              std::vector<std::uint32_t>& index) {
  auto set = std::make_unique<RE2::Set>(re2_options(), RE2::UNANCHORED);
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!in_set[i]) {
      continue;
    }
    std::string error;
    if (set->Add(re2_text(patterns[i]), &error) < 0) {
      return fail(ErrorCode::invalid_argument, describe(i, patterns[i]) + ": " + error);
    }
    index.push_back(static_cast<std::uint32_t>(i));
  }
  if (index.empty()) {
    return std::unique_ptr<RE2::Set>{};
  }
  if (!set->Compile()) {
    return fail(ErrorCode::internal, "re2: compiling the pattern set ran out of memory");
  }
  return set;
}

} // namespace

Result<LogMatcher> LogMatcher::compile(std::span<const LogPattern> patterns, MatcherEngine engine) {
  if (patterns.empty()) {
    return fail(ErrorCode::invalid_argument, "log matcher: no pattern to compile");
  }
  auto impl = std::make_unique<Impl>();
  impl->engine = engine;
  impl->patterns.assign(patterns.begin(), patterns.end());
  std::unordered_set<std::uint32_t> ids;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!ids.insert(patterns[i].id).second) {
      return fail(ErrorCode::invalid_argument, describe(i, patterns[i]) + ": id " +
                                                   std::to_string(patterns[i].id) +
                                                   " is used by an earlier pattern");
    }
    if (auto checked = check_pattern(i, patterns[i]); !checked) {
      return fail(std::move(checked.error()));
    }
  }
  std::vector<bool> in_set(patterns.size(), engine == MatcherEngine::re2_set);
  if (engine == MatcherEngine::hyperscan) {
    auto database = compile_hyperscan_at_site(impl->patterns, in_set, k_line_flags);
    if (!database) {
      return fail(std::move(database.error()));
    }
    impl->database = std::move(*database);
  }
  auto set = compile_set(impl->patterns, in_set, impl->fallback_index);
  if (!set) {
    return fail(std::move(set.error()));
  }
  impl->fallback = std::move(*set);
  impl->fallback_hits.reserve(impl->fallback_index.size());
  if (impl->database != nullptr) {
    hs_scratch_t* scratch = nullptr;
    if (hs_alloc_scratch(impl->database.get(), &scratch) != HS_SUCCESS) {
      return fail(ErrorCode::internal, "hyperscan: allocating scratch space failed");
    }
    impl->scratch.reset(scratch);
  }
  return LogMatcher(std::move(impl));
}

LogMatcher::LogMatcher(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
LogMatcher::LogMatcher(LogMatcher&& other) noexcept = default;
LogMatcher& LogMatcher::operator=(LogMatcher&& other) noexcept = default;
LogMatcher::~LogMatcher() = default;

std::size_t LogMatcher::match(std::string_view line, MatchSet& out) {
  out.clear();
  Impl& impl = *m_impl;
  if (impl.database != nullptr) {
    // Hyperscan wants a non-null pointer even for an empty block, and a length in 32 bits.
    const char* data = line.empty() ? "" : line.data();
    const auto size = static_cast<unsigned int>(std::min<std::size_t>(line.size(), UINT_MAX));
    if (hs_scan(impl.database.get(), data, size, 0, impl.scratch.get(), on_hyperscan_match, &out) !=
        HS_SUCCESS) {
      ++impl.scan_errors;
    }
  }
  if (impl.fallback != nullptr) {
    RE2::Set::ErrorInfo info{};
    const re2::StringPiece text(line.data(), line.size());
    if (impl.fallback->Match(text, &impl.fallback_hits, &info)) {
      for (const int hit : impl.fallback_hits) {
        out.add(impl.fallback_index[static_cast<std::size_t>(hit)]);
      }
    } else if (info.kind != RE2::Set::kNoError) {
      ++impl.scan_errors;
    }
  }
  return out.indices().size();
}

std::size_t LogMatcher::pattern_count() const noexcept {
  return m_impl->patterns.size();
}
const LogPattern& LogMatcher::pattern(std::size_t index) const {
  return m_impl->patterns.at(index);
}
MatcherEngine LogMatcher::engine() const noexcept {
  return m_impl->engine;
}
std::size_t LogMatcher::fallback_count() const noexcept {
  return m_impl->engine == MatcherEngine::hyperscan ? m_impl->fallback_index.size() : 0;
}
std::uint64_t LogMatcher::scan_errors() const noexcept {
  return m_impl->scan_errors;
}

MatchSet::MatchSet(std::size_t pattern_count)
    : m_bits((pattern_count + 63) / 64), m_capacity(pattern_count) {
  m_indices.reserve(pattern_count);
}

void MatchSet::clear() noexcept {
  for (const std::uint32_t index : m_indices) {
    m_bits[index / 64] &= ~(std::uint64_t{1} << (index % 64));
  }
  m_indices.clear();
}

bool MatchSet::add(std::uint32_t index) noexcept {
  if (index >= m_capacity || contains(index)) {
    return false;
  }
  m_bits[index / 64] |= std::uint64_t{1} << (index % 64);
  m_indices.push_back(index);
  return true;
}

bool MatchSet::contains(std::uint32_t index) const noexcept {
  return index < m_capacity && (m_bits[index / 64] >> (index % 64) & 1U) != 0;
}

void BlockDatabaseDeleter::operator()(hs_database* database) const noexcept {
  hs_free_database(database);
}

Result<BlockDatabase> compile_block_database(std::span<const LogPattern> patterns) {
  const std::vector<LogPattern> list(patterns.begin(), patterns.end());
  std::vector<bool> rejected(list.size(), false);
  auto database = compile_hyperscan_at_site(list, rejected, HS_FLAG_MULTILINE);
  if (!database) {
    return fail(std::move(database.error()));
  }
  if (*database == nullptr || std::find(rejected.begin(), rejected.end(), true) != rejected.end()) {
    return fail(ErrorCode::invalid_argument,
                "hyperscan cannot scan these patterns a block at a time");
  }
  return std::move(*database);
}

void set_compile_site(CompileSite site) noexcept {
  g_compile_site.store(site);
}

std::string_view to_string(MatcherEngine engine) noexcept {
  return engine == MatcherEngine::hyperscan ? "hyperscan" : "re2_set";
}

} // namespace medic::agent::detect
