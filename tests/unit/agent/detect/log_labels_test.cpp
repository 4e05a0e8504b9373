// SPDX-License-Identifier: Apache-2.0
#include "agent/detect/log_labels.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using medic::agent::detect::LogLabel;
using medic::agent::detect::LogLabelExtractor;
using medic::agent::detect::StoredLine;

TEST_CASE("a label extractor without named groups extracts nothing and still checks the pattern",
          "[logrules]") {
  auto plain = LogLabelExtractor::create("Connection (refused|reset)", false, 8, 64);
  REQUIRE(plain.has_value());
  CHECK(plain->empty());
  CHECK(plain->extract("connect: Connection refused").empty());
  LogLabelExtractor moved = std::move(*plain); // holds no compiled pattern: moving is still fine
  CHECK(moved.extract("Connection reset").empty());

  auto bad = LogLabelExtractor::create("Connection (refused", false, 8, 64);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message().find("Connection (refused") != std::string::npos);

  auto named = LogLabelExtractor::create("for user (?P<user>\\S+)", false, 8, 64);
  REQUIRE(named.has_value());
  CHECK_FALSE(named->empty());
  const auto labels = named->extract("Failed password for user root from ::1");
  REQUIRE(labels.size() == 1);
  CHECK(labels[0].name == "user");
  CHECK(labels[0].value == "root");
}

TEST_CASE("a stored line reserves at its first assign and keeps its views over later ones",
          "[logrules]") {
  StoredLine stored(16, 2, 4);
  CHECK(stored.line().empty());
  CHECK(stored.labels().empty());

  const std::vector<LogLabel> first{{"user", "alice"}, {"ip", "10.0.0.1"}, {"x", "dropped"}};
  stored.assign("app", "a line longer than sixteen bytes", 7, first);
  CHECK(stored.source() == "app");
  CHECK(stored.line() == "a line longer th");
  CHECK(stored.template_id() == 7);
  REQUIRE(stored.labels().size() == 2);
  CHECK(stored.labels()[0].value == "alic");
  CHECK(stored.labels()[1].value == "10.0");
  const char* const line_data = stored.line().data();

  const std::vector<LogLabel> second{{"user", "bob"}};
  stored.assign("other", "short", 9, second);
  CHECK(stored.line() == "short");
  CHECK(stored.line().data() == line_data); // the reserved buffer, not a new one
  REQUIRE(stored.labels().size() == 1);
  CHECK(stored.labels()[0].name == "user");
  CHECK(stored.labels()[0].value == "bob");
}
