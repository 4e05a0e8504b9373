// SPDX-License-Identifier: Apache-2.0
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/detect/log_matcher.hpp"

using medic::agent::detect::LogMatcher;
using medic::agent::detect::LogPattern;
using medic::agent::detect::MatcherEngine;
using medic::agent::detect::MatchSet;

namespace {

const std::vector<LogPattern> k_patterns = {
    {1, "Connection refused", false},
    {2, R"(\bOut of memory: Killed process \d+)", false},
    {3, R"(segfault at [0-9a-f]+)", false},
    {4, R"(\b(ERROR|FATAL)\b)", false},
    {5, R"(Failed password for (invalid user )?\S+ from \d+\.\d+\.\d+\.\d+)", false},
    {6, R"(^kernel:)", false},
    {7, R"(timeout$)", false},
    {8, "disk full", true},
};

std::set<std::uint32_t> ids_of(LogMatcher& matcher, std::string_view line) {
  MatchSet set = matcher.make_match_set();
  const std::size_t n = matcher.match(line, set);
  std::set<std::uint32_t> ids;
  for (const std::uint32_t index : set.indices()) {
    ids.insert(matcher.pattern(index).id);
  }
  CHECK(ids.size() == n);
  return ids;
}

LogMatcher compile(const std::vector<LogPattern>& patterns, MatcherEngine engine) {
  auto matcher = LogMatcher::compile(patterns, engine);
  REQUIRE(matcher);
  return std::move(*matcher);
}

} // namespace

TEST_CASE("each pattern matches what it should, with both engines", "[logrules]") {
  for (const MatcherEngine engine : {MatcherEngine::hyperscan, MatcherEngine::re2_set}) {
    INFO(to_string(engine));
    LogMatcher m = compile(k_patterns, engine);
    CHECK(m.fallback_count() == 0);
    using Ids = std::set<std::uint32_t>;
    CHECK(ids_of(m, "connect to db: Connection refused") == Ids{1});
    CHECK(ids_of(m, "Out of memory: Killed process 4242 (java)") == Ids{2});
    CHECK(ids_of(m, "app[12]: segfault at 7f3a ip 0000 error 4") == Ids{3});
    CHECK(ids_of(m, "2024 ERROR something broke") == Ids{4});
    CHECK(ids_of(m, "2024 ERRORS are not a level").empty());
    CHECK(ids_of(m, "Failed password for invalid user bob from 10.1.2.3 port 22") == Ids{5});
    CHECK(ids_of(m, "Failed password for root from 10.1.2.3 port 22") == Ids{5});
    CHECK(ids_of(m, "kernel: oops") == Ids{6});
    CHECK(ids_of(m, "not kernel: oops").empty());
    CHECK(ids_of(m, "read timeout") == Ids{7});
    CHECK(ids_of(m, "read timeout later").empty());
    CHECK(ids_of(m, "FATAL: Connection refused, timeout") == Ids{1, 4, 7});
    CHECK(ids_of(m, "").empty());
  }
}

TEST_CASE("case-insensitive patterns ignore case and the others do not", "[logrules]") {
  for (const MatcherEngine engine : {MatcherEngine::hyperscan, MatcherEngine::re2_set}) {
    INFO(to_string(engine));
    LogMatcher m = compile(k_patterns, engine);
    CHECK(ids_of(m, "DISK FULL on /var") == std::set<std::uint32_t>{8});
    CHECK(ids_of(m, "Disk Full on /var") == std::set<std::uint32_t>{8});
    CHECK(ids_of(m, "connection REFUSED").empty());
  }
}

TEST_CASE("a bad pattern is refused with its position, id and text", "[logrules]") {
  for (const MatcherEngine engine : {MatcherEngine::hyperscan, MatcherEngine::re2_set}) {
    const std::vector<LogPattern> bad = {{10, "fine", false}, {11, "broken (group", false}};
    auto m = LogMatcher::compile(bad, engine);
    REQUIRE_FALSE(m);
    CHECK_THAT(m.error().message(), Catch::Contains("pattern #1 (id 11) 'broken (group'"));
    CHECK_THAT(m.error().message(), Catch::Contains("missing )"));
  }
  const auto refused = [](std::vector<LogPattern> patterns, const char* what) {
    auto m = LogMatcher::compile(patterns);
    REQUIRE_FALSE(m);
    CHECK_THAT(m.error().message(), Catch::Contains(what));
  };
  refused({}, "no pattern");
  refused({{1, "", false}}, "is empty");
  refused({{1, "a", false}, {1, "b", false}}, "id 1 is used by an earlier pattern");
  refused({{1, std::string("a\0b", 3), false}}, "NUL");
  refused({{1, "x{2,5000}", false}}, "invalid repetition size");
}

TEST_CASE("many patterns compile into one matcher", "[logrules]") {
  std::vector<LogPattern> many;
  for (std::uint32_t i = 0; i < 500; ++i) {
    many.push_back({i + 100, "\\bword" + std::to_string(i) + "\\b", i % 2 == 0});
  }
  for (const MatcherEngine engine : {MatcherEngine::hyperscan, MatcherEngine::re2_set}) {
    LogMatcher m = compile(many, engine);
    CHECK(m.pattern_count() == 500);
    CHECK(ids_of(m, "a word7 and WORD8 and word499 but not word5000") ==
          std::set<std::uint32_t>{107, 108, 599});
    CHECK(ids_of(m, "WORD7 (case-sensitive)").empty());
  }
}

TEST_CASE("a pattern Hyperscan cannot compile falls back to RE2", "[logrules]") {
  // (?U) (ungreedy by default) is RE2 syntax that Hyperscan does not parse.
  const std::vector<LogPattern> patterns = {{1, "(?U)retry a+b", false}, {2, "plain", false}};
  LogMatcher m = compile(patterns, MatcherEngine::hyperscan);
  CHECK(m.fallback_count() == 1);
  CHECK(ids_of(m, "retry aaab plain") == std::set<std::uint32_t>{1, 2});
  CHECK(ids_of(m, "retry b").empty());
}

TEST_CASE("NUL bytes and invalid UTF-8 in lines are matched as bytes", "[logrules]") {
  const std::vector<LogPattern> patterns = {
      {1, "bad\\x00byte", false}, {2, "\\xff\\xfe", false}, {3, "a.b", false}, {4, "end$", false}};
  for (const MatcherEngine engine : {MatcherEngine::hyperscan, MatcherEngine::re2_set}) {
    INFO(to_string(engine));
    LogMatcher m = compile(patterns, engine);
    CHECK(ids_of(m, std::string("bad\0byte", 8)) == std::set<std::uint32_t>{1});
    CHECK(ids_of(m, "x\xff\xfe\xc3") == std::set<std::uint32_t>{2});
    CHECK(ids_of(m,
                 "a\x80"
                 "b") == std::set<std::uint32_t>{3});
    CHECK(ids_of(m, std::string("\0\0 end", 6)) == std::set<std::uint32_t>{4});
    std::string noise;
    for (int i = 0; i < 4096; ++i) {
      noise.push_back(static_cast<char>((i * 7919) & 0xff));
    }
    MatchSet set = m.make_match_set();
    (void)m.match(noise, set);
    CHECK(m.scan_errors() == 0);
  }
}

TEST_CASE("a match set reports each index once and clears", "[logrules]") {
  MatchSet set(70);
  CHECK(set.add(3));
  CHECK_FALSE(set.add(3));
  CHECK(set.add(69));
  CHECK_FALSE(set.add(70));
  CHECK(set.contains(69));
  CHECK(set.indices().size() == 2);
  set.clear();
  CHECK(set.empty());
  CHECK_FALSE(set.contains(3));
}

TEST_CASE("patterns compiled in a child process match the same", "[logrules]") {
  using medic::agent::detect::CompileSite;
  using medic::agent::detect::set_compile_site;
  set_compile_site(CompileSite::child_process);
  std::vector<LogPattern> patterns = k_patterns;
  patterns.push_back({9, "(?U)retry a+b", false}); // refused by Hyperscan: the RE2 fallback
  auto in_child = LogMatcher::compile(patterns, MatcherEngine::hyperscan);
  set_compile_site(CompileSite::this_process);
  REQUIRE(in_child);
  LogMatcher here = compile(patterns, MatcherEngine::hyperscan);
  CHECK(in_child->fallback_count() == 1);
  CHECK(in_child->pattern_count() == here.pattern_count());
  for (const std::string_view line :
       {"kernel: app[12]: segfault at 7f3a ip 0", "ERROR: Connection refused", "DISK FULL",
        "retry aab timeout", "nothing to see"}) {
    CHECK(ids_of(*in_child, line) == ids_of(here, line));
  }
  CHECK(ids_of(*in_child, "retry aab").count(9) == 1);

  set_compile_site(CompileSite::child_process);
  const std::vector<LogPattern> bad = {{1, "a(b", false}};
  auto refused = LogMatcher::compile(bad, MatcherEngine::hyperscan);
  set_compile_site(CompileSite::this_process);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("missing )"));
}
