// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/text_scan.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace medic::agent::sample;

TEST_CASE("LineCursor numbers lines and keeps a last line without newline", "[sample][text]") {
  LineCursor lines("a\n\nb c\nlast");
  std::string_view line;
  std::vector<std::string> seen;
  while (lines.next(line)) {
    seen.emplace_back(line);
  }
  CHECK(seen == std::vector<std::string>{"a", "", "b c", "last"});
  CHECK(lines.line_number() == 4);
}

TEST_CASE("number parsing takes whole tokens only", "[sample][text]") {
  std::uint64_t value = 0;
  CHECK(parse_u64("18446744073709551615", value));
  CHECK(value == 18446744073709551615ULL);
  CHECK_FALSE(parse_u64("18446744073709551616", value));
  CHECK_FALSE(parse_u64("12x", value));
  CHECK_FALSE(parse_u64("-1", value));
  CHECK_FALSE(parse_u64("", value));
  double load = 0;
  CHECK(parse_double("0.25", load));
  CHECK(load == 0.25);
  std::string_view rest = "  a\tbb  ";
  CHECK(next_token(rest) == "a");
  CHECK(next_token(rest) == "bb");
  CHECK(next_token(rest).empty());
}

TEST_CASE("counter_delta follows 32-bit wraps and refuses resets", "[sample][text]") {
  CHECK(counter_delta(10, 15) == 5U);
  CHECK(counter_delta(4294967000ULL, 200) == 496U);     // 32-bit wrap
  CHECK(counter_delta(5000, 10) == std::nullopt);       // reset (a wrap would be ~4e9)
  CHECK(counter_delta(1ULL << 40, 10) == std::nullopt); // 64-bit counter went back: reset
  CHECK(counter_delta(0, 0) == 0U);
}

TEST_CASE("glob_match", "[sample][text]") {
  CHECK(glob_match("sd*", "sda"));
  CHECK(glob_match("sd*", "sd"));
  CHECK_FALSE(glob_match("sd*", "vda"));
  CHECK(glob_match("loop?", "loop0"));
  CHECK_FALSE(glob_match("loop?", "loop10"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("/var/lib/docker/*", "/var/lib/docker/overlay2/x/merged"));
  CHECK_FALSE(glob_match("/var/lib/docker/*", "/var/lib/docker"));
  CHECK(glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
  CHECK(glob_match("eth0", "eth0"));
  CHECK_FALSE(glob_match("eth0", "eth01"));
}

TEST_CASE("label_value cuts long values on a character boundary", "[sample][text]") {
  const std::string short_value(256, 'a');
  CHECK(label_value(short_value).size() == 256);
  std::string long_value(255, 'a');
  long_value += "\xC3\xA9tail"; // 'é' straddles byte 256
  CHECK(label_value(long_value) == std::string(255, 'a'));
  CHECK_FALSE(check_label_name("x.name", ""));
  CHECK_THAT(check_label_name("x.name", "a\nb").error().message(),
             Catch::Contains("x.name: contains a control character"));
  CHECK(check_label_name("x.name", "web"));
}
