// SPDX-License-Identifier: Apache-2.0
// The chunk prefilter of the log pipeline: never drops a line a rule matches on its own. The
// log context: a ring of recent lines per source, and the evidence a firing rule gets from it.
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/config/agent_config.hpp"
#include "agent/detect/log_matcher.hpp"
#include "agent/loop/log_pipeline.hpp"
#include "shared/uv/handle.hpp"
#include "tests/support/allocation_counter.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using medic::agent::config::LogRuleConfig;
using medic::agent::detect::LogMatcher;
using medic::agent::detect::LogPattern;
using medic::agent::loop::LinePrefilter;

namespace {

std::vector<LogRuleConfig> rules_of(const std::vector<std::pair<std::string, bool>>& patterns) {
  std::vector<LogRuleConfig> rules;
  for (const auto& [pattern, ignore_case] : patterns) {
    LogRuleConfig rule;
    rule.id = "r" + std::to_string(rules.size());
    rule.pattern = pattern;
    rule.ignore_case = ignore_case;
    rules.push_back(rule);
  }
  return rules;
}

} // namespace

TEST_CASE("the chunk prefilter keeps every line a pattern matches on its own", "[logrules]") {
  const std::vector<std::pair<std::string, bool>> patterns = {
      {"Connection refused", false},
      {R"(\b(ERROR|FATAL|CRIT)\b)", false},
      {"^kernel:", false},
      {"timeout$", false},
      {"disk full", true},
      {R"(^[^ ]+ +[0-9]+ [0-9:]+ [^ ]+ systemd\[1\]: Failed to start )", false},
      {"kernel: .*Call Trace", false},
      {R"(HTTP/1\.[01]" 5[0-9][0-9] )", false},
      {R"([Tt]imed? ?[Oo]ut\b)", false},
      {R"(Failed password for (invalid user )?(?P<user>\S+) from)", false},
  };
  const std::vector<std::string> lines = {
      "Nov 23 01:02:03 host app[1]: ERROR connect to db: Connection refused",
      "kernel: [1.2] Call Trace:",
      "app: kernel: not at the start",
      "request timeout",
      "request timeout soon",
      "DISK FULL on /var",
      "Nov 23 01:02:03 host systemd[1]: Failed to start Foo.",
      "x Nov 23 01:02:03 host systemd[1]: Failed to start Foo.",
      "10.0.0.1 - - \"GET / HTTP/1.1\" 502 12",
      "ERRORS are not ERROR-free",
      "ERRORX",
      "it Timed Out",
      "sshd[9]: Failed password for invalid user bob from 10.0.0.2 port 22",
      "all good",
      "INFO request id=42 took 3ms",
      "timeout",
      "FATAL",
      "",
  };
  std::vector<LogPattern> line_patterns;
  for (const auto& [pattern, ignore_case] : patterns) {
    line_patterns.push_back(
        {static_cast<std::uint32_t>(line_patterns.size() + 1), pattern, ignore_case});
  }
  auto matcher = LogMatcher::compile(line_patterns);
  REQUIRE(matcher);
  auto prefilter = LinePrefilter::create(rules_of(patterns));
  REQUIRE(prefilter);

  std::string chunk;
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& line : lines) {
      spans.emplace_back(chunk.size(), line.size());
      chunk += line + "\n";
    }
  }
  prefilter->scan(chunk);
  auto set = matcher->make_match_set();
  std::size_t matching = 0;
  std::size_t kept = 0;
  for (const auto& [at, size] : spans) {
    const std::string_view line(chunk.data() + at, size);
    const bool matches = matcher->match(line, set) > 0;
    const bool maybe = prefilter->may_match(line);
    INFO(line);
    CHECK((!matches || maybe));
    matching += matches ? 1 : 0;
    kept += maybe ? 1 : 0;
  }
  CHECK(matching == 3 * 12);
  CHECK(kept == matching); // none of these lines is a false candidate
}

TEST_CASE("patterns whose meaning changes inside a chunk disable the prefilter", "[logrules]") {
  CHECK(LinePrefilter::create(rules_of({{"(?i)error", false}, {"(?i:warn)", false}})) != nullptr);
  CHECK(LinePrefilter::create(rules_of({{R"(\Aerror)", false}})) == nullptr);
  CHECK(LinePrefilter::create(rules_of({{R"(error\z)", false}})) == nullptr);
  CHECK(LinePrefilter::create(rules_of({{"(?-m)^error", false}})) == nullptr);
  CHECK(LinePrefilter::create(rules_of({{"(?U)retry a+b", false}})) == nullptr); // Hyperscan
  CHECK(LinePrefilter::create(rules_of({{"x*", false}})) == nullptr);            // matches ""
  CHECK(LinePrefilter::create({}) == nullptr);
}

TEST_CASE("the built-in log rules can be prefiltered", "[logrules]") {
  medic::agent::config::SensingConfig config;
  REQUIRE(medic::agent::config::finish_sensing(config));
  REQUIRE(!config.log_rules.empty());
  CHECK(LinePrefilter::create(config.log_rules) != nullptr);
}

TEST_CASE("a chunk with more matches than are kept sends the rest to the rules", "[logrules]") {
  auto prefilter = LinePrefilter::create(rules_of({{"a", false}}));
  REQUIRE(prefilter);
  std::string chunk;
  for (int i = 0; i < 10'000; ++i) {
    chunk += i % 2 == 0 ? "aaa\n" : "bbb\n";
  }
  prefilter->scan(chunk);
  std::size_t kept = 0;
  for (std::size_t at = 0; at < chunk.size(); at += 4) {
    kept += prefilter->may_match(std::string_view(chunk.data() + at, 3)) ? 1 : 0;
  }
  CHECK(kept >= 5'000); // every "aaa", and past the cap every line
  CHECK(kept < 10'000);
}

namespace {

using medic::agent::loop::LineRing;
using medic::agent::loop::LogContext;

std::string formatted(const LineRing::Line& line, char marker = ' ') {
  std::string out;
  medic::agent::loop::append_context_line(out, line, marker);
  return out;
}

} // namespace

TEST_CASE("the line ring keeps the newest lines when it wraps around", "[log-context]") {
  LineRing ring(3);
  CHECK(ring.size() == 0);
  const int file = 0;
  for (int i = 1; i <= 7; ++i) {
    ring.push("line " + std::to_string(i), static_cast<std::uint64_t>(i) * 10, &file);
  }
  REQUIRE(ring.size() == 3);
  CHECK(ring.at(0).text == "line 7");
  CHECK(ring.at(0).offset == 70);
  CHECK(ring.at(1).text == "line 6");
  CHECK(ring.at(2).text == "line 5");
  CHECK(ring.at(2).file == &file);
  CHECK(formatted(ring.at(1), '>') == "> 60: line 6\n");
}

TEST_CASE("a long line is cut in the ring and says how much is missing", "[log-context]") {
  LineRing ring(2);
  const std::string long_line(LineRing::k_max_line_bytes + 100, 'x');
  ring.push(long_line, 5, nullptr);
  REQUIRE(ring.at(0).text.size() == LineRing::k_max_line_bytes);
  CHECK(ring.at(0).size == long_line.size());
  CHECK_THAT(formatted(ring.at(0)), Catch::EndsWith("x [... 100 more bytes]\n"));
}

TEST_CASE("bytes that are not UTF-8 are escaped, valid text is kept", "[log-context]") {
  LineRing ring(1);
  // Invalid lead byte, a lone continuation byte, an overlong '/', a surrogate, a control
  // character, a multi-line record, and a cut in the middle of a character.
  const std::string text =
      "ok \xff \x80 \xc0\xaf \xed\xa0\x80 caf\xc3\xa9 \x01\tnext\nmore \xe2\x82";
  ring.push(text, 0, nullptr);
  CHECK(formatted(ring.at(0)) ==
        "  0: ok \\xFF \\x80 \\xC0\\xAF \\xED\\xA0\\x80 caf\xc3\xa9 \\x01\tnext\n      more "
        "\\xE2\\x82\n");
}

TEST_CASE("pushing lines into the ring allocates nothing", "[log-context]") {
  if (!medic::test::allocation_counting_works()) {
    WARN("allocation counting is not in effect here (a sanitizer's allocator): skipped");
    return;
  }
  LineRing ring(11);
  const std::string line(200, 'a');
  const std::string long_line(5000, 'b');
  CHECK(medic::test::allocations_in([&] {
          for (std::uint64_t i = 0; i < 10'000; ++i) {
            ring.push(i % 7 == 0 ? long_line : line, i, nullptr);
          }
        }) == 0);
}

namespace {

namespace fs = std::filesystem;
namespace protocol = medic::protocol;
using namespace std::chrono_literals;

// A LogPipeline following one real file ("app") with one count-1 rule on "BOOM".
class PipelineHarness {
public:
  PipelineHarness(const fs::path& dir, std::uint32_t before, std::uint32_t after,
                  bool mine = false) {
    uv_loop_init(&m_loop);
    medic::agent::config::SensingConfig config;
    config.tail = medic::test::tail::test_options((dir / "*.log").string());
    config.mine_templates = mine;
    config.new_error_templates = false;
    medic::agent::config::LogRuleConfig rule;
    rule.id = "boom";
    rule.pattern = "BOOM";
    rule.quiet = 0ms;
    config.log_rules = {rule};
    config.log_context = {{"app", before, after}};
    medic::agent::loop::LogOutput output;
    output.signal = [this](const protocol::SignalView& signal) {
      if (signal.state == protocol::SignalState::firing) {
        fingerprints.emplace_back(signal.fingerprint);
      }
    };
    output.event = [](const protocol::LogEventView&) {};
    output.evidence = [this](protocol::Evidence e) { evidence.push_back(std::move(e)); };
    auto created = medic::agent::loop::LogPipeline::create(m_loop, config, m_clock, output);
    REQUIRE(created);
    m_pipeline = std::move(*created);
    REQUIRE(m_pipeline->start());
  }
  PipelineHarness(const PipelineHarness&) = delete;
  PipelineHarness& operator=(const PipelineHarness&) = delete;
  ~PipelineHarness() {
    m_pipeline->stop();
    run_for(100ms); // the tailer's last requests come back
    m_pipeline.reset();
    medic::uv::close_loop(m_loop);
  }

  // Runs the loop, ticking the pipeline as the agent does, until `done` or the timeout.
  template <class Done>
  bool run_until(Done done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      uv_run(&m_loop, UV_RUN_NOWAIT);
      m_pipeline->tick();
      std::this_thread::sleep_for(5ms); // the tailer reads in the threadpool
    }
    return true;
  }
  void run_for(std::chrono::milliseconds duration) {
    (void)run_until([] { return false; }, duration);
  }

  [[nodiscard]] const medic::agent::loop::LogPipeline& pipeline() const { return *m_pipeline; }

  std::vector<std::string> fingerprints;
  std::vector<protocol::Evidence> evidence;

private:
  uv_loop_t m_loop{};
  medic::SystemClock m_clock;
  std::unique_ptr<medic::agent::loop::LogPipeline> m_pipeline;
};

} // namespace

TEST_CASE("with mining on, lines no rule can match are mined but not matched one by one",
          "[logrules]") {
  medic::test::TempDir dir;
  medic::test::tail::Writer writer(dir / "app.log");
  PipelineHarness harness(dir.path(), 0, 0, true);
  writer.write("l1 INFO started\nl2 BOOM\nl3 INFO stopped\n");
  REQUIRE(harness.run_until([&] { return !harness.fingerprints.empty(); }));
  const auto& pipeline = harness.pipeline();
  CHECK(pipeline.counters().lines_prefiltered == 2);
  CHECK(pipeline.rule_counters().lines == 3); // every line reached the miner
  CHECK(pipeline.rule_counters().matches == 1);
  CHECK(harness.fingerprints.size() == 1);
}

TEST_CASE("a firing log rule gets the lines before and after it from its file as evidence",
          "[log-context]") {
  medic::test::TempDir dir;
  const fs::path path = dir / "app.log";
  medic::test::tail::Writer writer(path);
  PipelineHarness harness(dir.path(), 3, 2);
  // Offsets: l1 0, l2 3, l3 6, l4 9, "l5 BOOM" 12, l6 20, l7 23, l8 26.
  writer.write("l1\nl2\nl3\nl4\nl5 BOOM\nl6\n");
  REQUIRE(harness.run_until([&] { return !harness.fingerprints.empty(); }));
  harness.run_for(200ms);
  CHECK(harness.evidence.empty()); // one of the two lines after has come
  writer.write("l7\nl8\n");
  REQUIRE(harness.run_until([&] { return !harness.evidence.empty(); }));
  const protocol::Evidence& e = harness.evidence.front();
  CHECK(e.action == "log-context");
  CHECK(e.rule == "boom");
  CHECK(e.fingerprint == harness.fingerprints.front());
  CHECK(e.status == protocol::ResultStatus::succeeded);
  CHECK(e.output == "source 'app', file " + path.string() +
                        " (byte offsets; '>' marks the line that fired)\n"
                        "  3: l2\n"
                        "  6: l3\n"
                        "  9: l4\n"
                        "> 12: l5 BOOM\n"
                        "  20: l6\n"
                        "  23: l7\n");
}

TEST_CASE("log context waits at most 2 s for its lines after, and stays bounded", "[log-context]") {
  medic::test::TempDir dir;
  medic::test::tail::Writer writer(dir / "app.log");
  PipelineHarness harness(dir.path(), 100, 5);
  std::string lines;
  for (int i = 0; i < 200; ++i) {
    lines += "filler line " + std::to_string(i) + " " + std::string(100, 'f') + "\n";
  }
  writer.write(lines + "the BOOM line\nafter 1\n");
  REQUIRE(harness.run_until([&] { return !harness.fingerprints.empty(); }));
  const auto fired = std::chrono::steady_clock::now();
  REQUIRE(harness.run_until([&] { return !harness.evidence.empty(); }, 5s));
  CHECK(std::chrono::steady_clock::now() - fired >= 1500ms);
  const std::string& output = harness.evidence.front().output;
  CHECK(output.size() <= LogContext::k_max_evidence_bytes);
  CHECK_THAT(output, Catch::Contains("filler line 199 "));
  CHECK_THAT(output, !Catch::Contains("filler line 100 ")); // the bound kept the nearest lines
  CHECK_THAT(output, Catch::Contains("> 23290: the BOOM line\n"));
  CHECK_THAT(output, Catch::EndsWith(": after 1\n"));
}

TEST_CASE("context_before and context_after are keys of a log source, bounded", "[log-context]") {
  using medic::agent::config::AgentConfig;
  const auto load = [](AgentConfig& config, std::string_view yaml) -> medic::Result<void> {
    auto schema = medic::agent::config::make_schema(config);
    if (auto loaded = schema.load_text(yaml, "agent.yaml"); !loaded) {
      return loaded;
    }
    return medic::agent::config::finish(config);
  };
  AgentConfig config;
  REQUIRE(load(config,
               "logs:\n"
               "  sources:\n"
               "    - {name: app, paths: ['/var/log/app/*.log'], context_before: 20,"
               " context_after: 5}\n"
               "    - {name: sys, paths: ['/var/log/syslog']}\n"));
  REQUIRE(config.sensing.log_context.size() == 2);
  CHECK(config.sensing.log_context[0].source == "app");
  CHECK(config.sensing.log_context[0].before == 20);
  CHECK(config.sensing.log_context[0].after == 5);
  CHECK(config.sensing.log_context[1].before == 10); // the defaults
  CHECK(config.sensing.log_context[1].after == 0);
  AgentConfig bad;
  auto refused = load(bad,
                      "logs:\n  sources:\n    - {name: app, paths: ['/x/*.log'], "
                      "context_after: 101}\n");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(),
             Catch::Contains("logs.sources[0]") && Catch::Contains("context_after: 101 lines"));
}
