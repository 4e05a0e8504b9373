// SPDX-License-Identifier: Apache-2.0
// The chunk prefilter of the log pipeline: never drops a line a rule matches on its own.
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/detect/log_matcher.hpp"
#include "agent/loop/log_pipeline.hpp"

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
