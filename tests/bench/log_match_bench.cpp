// SPDX-License-Identifier: Apache-2.0
// medic-log-match-bench: what the agent's log path costs per line (issue 4).
//
//   1. matchers: the same 20 rule patterns per line with Hyperscan (LogMatcher, block mode,
//      scratch allocated once) and with RE2::Set, plus Hyperscan over the whole buffer in one
//      call (multiline mode) for reference;
//   2. the template miner alone, on the message part of each line;
//   3. the whole rule path (LogRules::process: miner + matcher + 20 count-in-window rules, one
//      with named-group labels), as the agent runs it.
//
// Two corpora: synthetic syslog lines generated deterministically (a fixed seed), and the Loghub
// 2k samples of 11 systems repeated to volume (message part cut by each system's header format).
// Figures are thread CPU time (the machine is shared), median of --rounds rounds. Allocations
// are counted by replacing operator new in this program. Prints Markdown to stdout.

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <hs/hs.h>

#include "agent/detect/log_matcher.hpp"
#include "agent/detect/log_rules.hpp"
#include "shared/logs/template_miner.hpp"
#include "tests/unit/shared/logs/loghub_sample.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
} // namespace

// Replacement allocation functions that count; GCC cannot see that malloc/free pair up here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace medic::bench {

namespace {

using agent::detect::LogLine;
using agent::detect::LogMatcher;
using agent::detect::LogPattern;
using agent::detect::LogRule;
using agent::detect::LogRules;
using agent::detect::MatcherEngine;

struct Options {
  std::size_t lines = 1'000'000; // per corpus
  int rounds = 3;
};

struct Corpus {
  std::string name;
  std::string buffer;                     // synthetic: the lines joined by '\n'
  std::vector<std::string> owned;         // Loghub: raw lines and messages
  std::vector<std::string_view> lines;    // matched
  std::vector<std::string_view> messages; // mined
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// 20 patterns of the kind rules are written with: literals, alternations, classes, anchors,
// a few case-insensitive, one with named groups.
std::vector<LogPattern> rule_patterns() {
  return {
      {1, "Connection refused", false},
      {2, "out of memory", true},
      {3, R"(segfault at [0-9a-f]+ ip [0-9a-f]+)", false},
      {4, R"(\b(ERROR|FATAL|CRIT)\b)", false},
      {5, R"(Failed password for (invalid user )?(?P<user>\S+) from (?P<ip>\d+\.\d+\.\d+\.\d+))",
       false},
      {6, R"(I/O error, dev \w+, sector \d+)", false},
      {7, R"(timed? ?out\b)", true},
      {8, "No space left on device", false},
      {9, "Too many open files", false},
      {10, R"(kernel: .*Call Trace)", false},
      {11, R"(oom-killer|Killed process \d+)", false},
      {12, R"(\bpanic\b)", true},
      {13, "authentication failure", false},
      {14, R"(HTTP/1\.[01]" 5\d\d )", false},
      {15, "upstream timed out", false},
      {16, R"([Ee]xception\b)", false},
      {17, R"(certificate (has )?expired)", true},
      {18, R"(EXT4-fs error)", false},
      {19, R"(link is down|Link down)", false},
      {20, R"(^\S+ \d+ [\d:]+ \S+ systemd\[1\]: Failed to start )", false},
  };
}

std::uint64_t next(std::uint64_t& state) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return state >> 33;
}

// Messages of a busy host, one drawn per line. Placeholders: {p} pid, {u} user, {a} {b} 0-255,
// {n} 0-59999, {x} 8 hex digits, {l} ERROR one time in four else WARN, {s} 502 one time in
// fifty else 200. About 5% of the lines match a rule, as on a healthy host.
constexpr std::array<std::string_view, 20> k_messages = {
    "sshd[{p}]: Failed password for {u} from 10.0.{a}.{b} port {n} ssh2",
    "kernel: [{p}.{n}] EXT4-fs (sda{a}): mounted filesystem with ordered data mode",
    "nginx[{p}]: 10.1.{a}.{b} - - \"GET /api/v1/items/{n} HTTP/1.1\" {s} {n} \"-\" \"curl/7.88\"",
    "CRON[{p}]: ({u}) CMD (/usr/local/bin/backup.sh --incremental {a})",
    "systemd[1]: Started Session {n} of user {u}.",
    "sshd[{p}]: Accepted publickey for {u} from 10.0.{a}.{b} port {n} ssh2: RSA SHA256:{x}{x}",
    "app[{p}]: INFO request id={x}-{a} path=/orders/{n} took {a}ms status=200",
    "app[{p}]: {l} connect to db-{a}:5432: Connection refused (attempt {b})",
    "kernel: [{p}.{n}] IPv4: martian source 10.2.{a}.{b} from 10.2.{a}.1, on dev eth{b}",
    "dockerd[{p}]: time=\"2024-11-23T01:{a}:{b}.{n}Z\" level=info msg=\"container {x}{x} healthy\"",
    "postgres[{p}]: [{a}-1] LOG:  checkpoint complete: wrote {n} buffers ({a}.{b}%); 0 WAL added",
    "kernel: [{p}.{n}] java invoked oom-killer: gfp_mask=0x{x}, order=0, oom_score_adj=0",
    "systemd-resolved[{p}]: Using degraded feature set UDP instead of UDP+EDNS0 for 10.0.0.{a}.",
    "app[{p}]: WARN slow query on table orders_{a}: {n} rows in {a}.{b}s",
    "kubelet[{p}]: I1123 01:{a}:{b}.{n} {p} pod_workers.go:{a}] \"SyncPod\" "
    "pod=\"default/web-{x}\"",
    "sshd[{p}]: pam_unix(sshd:session): session closed for user {u}",
    "app[{p}]: java.lang.IllegalStateException: order {n} already shipped",
    "ntpd[{p}]: adjusting local clock by -{a}.{n}s",
    "kernel: [{p}.{n}] e1000e: eth{a} NIC Link is Up 1000 Mbps Full Duplex",
    "rsyslogd[{p}]: imjournal: {n} messages lost due to rate-limiting ({a} allowed within {b} s)",
};

void expand(std::uint64_t& s, std::string_view pattern, std::string& out) {
  static constexpr std::array<std::string_view, 6> users = {"root",  "admin", "deploy",
                                                            "alice", "bob",   "postgres"};
  char number[24];
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{' || i + 2 >= pattern.size() || pattern[i + 2] != '}') {
      out.push_back(pattern[i]);
      continue;
    }
    const char key = pattern[i + 1];
    i += 2;
    const std::uint64_t r = next(s);
    int n = 0;
    switch (key) {
    case 'p': n = std::snprintf(number, sizeof number, "%u", unsigned(r % 60000 + 100)); break;
    case 'a':
    case 'b': n = std::snprintf(number, sizeof number, "%u", unsigned(r % 256)); break;
    case 'n': n = std::snprintf(number, sizeof number, "%u", unsigned(r % 60000)); break;
    case 'x': n = std::snprintf(number, sizeof number, "%08x", unsigned(r)); break;
    case 'u': out.append(users[r % users.size()]); continue;
    case 'l': out.append(r % 4 == 0 ? "ERROR" : "WARN"); continue;
    case 's': out.append(r % 50 == 0 ? "502" : "200"); continue;
    default: continue;
    }
    out.append(number, static_cast<std::size_t>(n));
  }
}

// One syslog line: "<Mon> <day> <hh:mm:ss> <host> <prog>[<pid>]: <message>"; message_at is
// where the message starts (after the program's ": ").
void synthetic_line(std::uint64_t& s, std::string& out, std::size_t& message_at) {
  static constexpr std::array<std::string_view, 5> months = {"Jan", "Feb", "Mar", "Nov", "Dec"};
  char head[64];
  const int n = std::snprintf(head, sizeof head, "%s %2u %02u:%02u:%02u web-%02u ",
                              months[next(s) % months.size()].data(), unsigned(next(s) % 28 + 1),
                              unsigned(next(s) % 24), unsigned(next(s) % 60),
                              unsigned(next(s) % 60), unsigned(next(s) % 40));
  out.assign(head, static_cast<std::size_t>(n));
  const std::size_t program_at = out.size();
  expand(s, k_messages[next(s) % k_messages.size()], out);
  const std::size_t colon = out.find(": ", program_at);
  message_at = colon == std::string::npos ? program_at : colon + 2;
}

Corpus synthetic(std::size_t lines) {
  Corpus c;
  c.name = "synthetic syslog";
  // Half the lines are unique; the corpus is them twice, to keep memory down.
  const std::size_t unique = std::max<std::size_t>(lines / 2, 1);
  std::vector<std::pair<std::size_t, std::size_t>> spans; // line start, message offset
  std::uint64_t seed = 0x5eed;
  std::string line;
  for (std::size_t i = 0; i < unique; ++i) {
    std::size_t message_at = 0;
    synthetic_line(seed, line, message_at);
    spans.emplace_back(c.buffer.size(), message_at);
    c.buffer += line;
    c.buffer += '\n';
  }
  const std::string_view all(c.buffer);
  while (c.lines.size() < lines) {
    for (std::size_t i = 0; i < spans.size() && c.lines.size() < lines; ++i) {
      const std::size_t end = i + 1 < spans.size() ? spans[i + 1].first - 1 : all.size() - 1;
      const std::string_view l = all.substr(spans[i].first, end - spans[i].first);
      c.lines.push_back(l);
      c.messages.push_back(l.substr(spans[i].second));
    }
  }
  return c;
}

Corpus loghub_corpus(std::size_t lines) {
  Corpus c;
  c.name = "Loghub 11 systems";
  const auto dir = test::loghub::data_dir();
  if (!std::filesystem::exists(dir / "formats.tsv")) {
    return c;
  }
  for (const auto& [system, format] : test::loghub::formats(dir)) {
    if (auto sample = test::loghub::load(dir, system, format)) {
      for (std::size_t i = 0; i < sample->lines.size(); ++i) {
        c.owned.push_back(sample->lines[i]);
        c.owned.push_back(sample->contents[i]);
        c.buffer += sample->lines[i];
        c.buffer += '\n';
      }
    }
  }
  for (std::size_t i = 0; c.owned.size() >= 2 && c.lines.size() < lines;
       i = (i + 2) % c.owned.size()) {
    c.lines.push_back(c.owned[i]);
    c.messages.push_back(c.owned[i + 1]);
  }
  return c;
}

struct Figure {
  double seconds = 0;
  std::uint64_t allocations = 0;
  std::uint64_t result = 0;
};

// Median CPU time of the rounds; the allocation count is the last round's.
Figure measure(int rounds, const std::function<std::uint64_t()>& body) {
  std::vector<double> times;
  Figure f;
  for (int r = 0; r < rounds; ++r) {
    const std::uint64_t before = g_allocations.load();
    const double t0 = cpu_seconds();
    f.result = body();
    times.push_back(cpu_seconds() - t0);
    f.allocations = g_allocations.load() - before;
  }
  std::sort(times.begin(), times.end());
  f.seconds = times[times.size() / 2];
  return f;
}

void row(const char* what, const Corpus& c, std::size_t bytes, const Figure& f, const char* note) {
  const double n = static_cast<double>(c.lines.size());
  std::printf("| %s | %s | %.0f | %.2f | %.0f | %.3f | %s |\n", c.name.c_str(), what, n / f.seconds,
              static_cast<double>(bytes) / f.seconds / 1e6, f.seconds * 1e9 / n,
              static_cast<double>(f.allocations) / n, note);
  std::fflush(stdout);
}

class CountingSink final : public agent::detect::LogSink {
public:
  void on_signal(const agent::detect::LogSignal& /*signal*/) noexcept override { ++signals; }
  void on_event(const agent::detect::LogEvent& /*event*/) noexcept override { ++events; }
  std::uint64_t signals = 0;
  std::uint64_t events = 0;
};

int hs_count(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  ++*static_cast<std::uint64_t*>(ctx);
  return 0;
}

// Hyperscan over the whole buffer at once: every match of every pattern, ^ at line starts.
Figure whole_buffer(const Corpus& c, int rounds) {
  std::vector<std::string> texts;
  std::vector<const char*> expressions;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  for (const LogPattern& p : rule_patterns()) {
    texts.push_back(p.pattern);
    flags.push_back(HS_FLAG_MULTILINE | (p.case_insensitive ? HS_FLAG_CASELESS : 0U));
    ids.push_back(p.id);
  }
  for (const std::string& t : texts) {
    expressions.push_back(t.c_str());
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), 20, HS_MODE_BLOCK, nullptr,
                       &db, &error) != HS_SUCCESS) {
    std::fprintf(stderr, "whole-buffer compile failed: %s\n", error->message);
    hs_free_compile_error(error);
    return {};
  }
  hs_scratch_t* scratch = nullptr;
  (void)hs_alloc_scratch(db, &scratch);
  // The buffer holds each distinct line once; scan it as often as the lines repeat.
  const auto distinct = static_cast<double>(std::count(c.buffer.begin(), c.buffer.end(), '\n'));
  const auto scans = static_cast<std::size_t>(
      std::max(1.0, std::round(static_cast<double>(c.lines.size()) / distinct)));
  const Figure f = measure(rounds, [&] {
    std::uint64_t matches = 0;
    for (std::size_t r = 0; r < scans; ++r) {
      (void)hs_scan(db, c.buffer.data(), static_cast<unsigned int>(c.buffer.size()), 0, scratch,
                    hs_count, &matches);
    }
    return matches;
  });
  hs_free_scratch(scratch);
  hs_free_database(db);
  return f;
}

void run_corpus(const Corpus& c, const Options& o) {
  std::fprintf(stderr, "%s: %zu lines\n", c.name.c_str(), c.lines.size());
  std::size_t bytes = 0;
  std::size_t message_bytes = 0;
  for (std::size_t i = 0; i < c.lines.size(); ++i) {
    bytes += c.lines[i].size() + 1;
    message_bytes += c.messages[i].size() + 1;
  }
  const auto patterns = rule_patterns();
  for (const MatcherEngine engine : {MatcherEngine::hyperscan, MatcherEngine::re2_set}) {
    auto matcher = LogMatcher::compile(patterns, engine);
    if (!matcher) {
      std::fprintf(stderr, "%s\n", matcher.error().message().c_str());
      std::exit(1);
    }
    auto set = matcher->make_match_set();
    const Figure f = measure(o.rounds, [&] {
      std::uint64_t matched = 0;
      for (const std::string_view line : c.lines) {
        matched += matcher->match(line, set);
      }
      return matched;
    });
    const std::string note = std::to_string(f.result) + " matches";
    row(engine == MatcherEngine::hyperscan ? "Hyperscan, per line" : "RE2::Set, per line", c, bytes,
        f, note.c_str());
  }
  const Figure whole = whole_buffer(c, o.rounds);
  row("Hyperscan, whole buffer (reference)", c, bytes, whole,
      (std::to_string(whole.result) + " matches, not per line").c_str());

  auto miner = logs::TemplateMiner::create({});
  for (const std::string_view m : c.messages) { // warm: every template known
    (void)miner->add(m);
  }
  const Figure mined = measure(o.rounds, [&] {
    std::uint64_t sum = 0;
    for (const std::string_view m : c.messages) {
      sum += miner->add(m).template_id;
    }
    return sum;
  });
  row("template miner alone (messages)", c, message_bytes, mined,
      (std::to_string(miner->template_count()) + " templates").c_str());

  std::vector<LogRule> rules;
  for (const LogPattern& p : patterns) {
    LogRule rule;
    rule.id = p.id;
    rule.pattern = p.pattern;
    rule.case_insensitive = p.case_insensitive;
    rule.count = 5;
    rules.push_back(rule);
  }
  const agent::detect::LogRulesOptions rule_options;
  auto engine = LogRules::create(rules, rule_options);
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.error().message().c_str());
    std::exit(1);
  }
  CountingSink sink;
  std::int64_t t_ms = 0;
  const Figure whole_path = measure(o.rounds, [&] {
    for (std::size_t i = 0; i < c.lines.size(); ++i) {
      t_ms += (i % 1000 == 0) ? 1 : 0; // ~1M lines/s of simulated time
      (void)engine->process(LogLine{"bench", c.lines[i], c.messages[i], -1, t_ms}, sink);
    }
    return sink.events;
  });
  row("LogRules::process (miner + Hyperscan + 20 rules)", c, bytes, whole_path,
      (std::to_string(engine->counters().matches) + " rule matches, " +
       std::to_string(engine->miner()->template_count()) + " templates")
          .c_str());
}

} // namespace

} // namespace medic::bench

int main(int argc, char** argv) {
  medic::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--lines=")) {
      options.lines = std::strtoull(argv[i] + 8, nullptr, 10);
    } else if (arg.starts_with("--rounds=")) {
      options.rounds = std::max(1, std::atoi(argv[i] + 9));
    } else {
      std::fprintf(stderr,
                   "usage: medic-log-match-bench [--lines=1000000] [--rounds=3]\n"
                   "  Loghub samples from MEDIC_LOGHUB_DIR (default "
                   "/work/shared/data/loghub)\n");
      return 2;
    }
  }
  std::printf(
      "| corpus | stage | lines/s | MB/s | ns/line | allocations/line | notes |\n"
      "|---|---|---|---|---|---|---|\n");
  medic::bench::run_corpus(medic::bench::synthetic(options.lines), options);
  const auto loghub = medic::bench::loghub_corpus(options.lines);
  if (!loghub.lines.empty()) {
    medic::bench::run_corpus(loghub, options);
  }
  return 0;
}
