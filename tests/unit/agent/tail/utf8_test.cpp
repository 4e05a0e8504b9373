// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/utf8.hpp"

#include <array>
#include <string>

#include <catch2/catch.hpp>

using medic::agent::tail::is_ascii_text;
using medic::agent::tail::is_clean_utf8;
using medic::agent::tail::repair_utf8;
using medic::agent::tail::utf8_cut;

namespace {

const std::string k_fffd = "\xef\xbf\xbd";

std::string repaired(std::string_view text, std::size_t capacity = 256) {
  std::string out(capacity, '\0');
  const auto result = repair_utf8(text, out);
  out.resize(result.size);
  return out;
}

} // namespace

TEST_CASE("clean UTF-8 is recognised and anything else is not", "[tail]") {
  CHECK(is_clean_utf8(""));
  CHECK(is_clean_utf8("plain ascii text that is longer than eight bytes"));
  CHECK(is_clean_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(is_clean_utf8(std::string_view("nul\0inside", 10)));
  CHECK_FALSE(is_clean_utf8("\xff"));
  CHECK_FALSE(is_clean_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(is_clean_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(is_clean_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
  CHECK_FALSE(is_clean_utf8("\xe2\x82"));         // cut short
}

TEST_CASE("each maximal invalid subpart becomes one U+FFFD", "[tail]") {
  CHECK(repaired("a\xffz") == "a" + k_fffd + "z");
  CHECK(repaired("a\xe2\x82z") == "a" + k_fffd + "z");         // one truncated sequence
  CHECK(repaired("\xc0\xaf") == k_fffd + k_fffd);              // C0 is never a lead
  CHECK(repaired("\xed\xa0\x80") == k_fffd + k_fffd + k_fffd); // surrogate: byte by byte
  CHECK(repaired("\xf0\x9f\x98") == k_fffd);
  CHECK(repaired(std::string_view("a\0b", 3)) == "ab");
  const auto result = repair_utf8("\xff\xfe", std::span<char>());
  CHECK(result.truncated);
}

TEST_CASE("repair stops at a character boundary when the output is full", "[tail]") {
  std::array<char, 5> out{};
  const auto result = repair_utf8(
      "ab\xe2\x82\xac"
      "cd",
      out);
  CHECK(result.truncated);
  CHECK(std::string(out.data(), result.size) == "ab\xe2\x82\xac");
  const auto tight = repair_utf8("abcd\xe2\x82\xac", out);
  CHECK(tight.truncated);
  CHECK(std::string(out.data(), tight.size) == "abcd");
}

TEST_CASE("a cut never splits a character", "[tail]") {
  const std::string text =
      "ab\xe2\x82\xac"
      "c"; // a b € c
  CHECK(utf8_cut(text, 2) == 2);
  CHECK(utf8_cut(text, 3) == 2);
  CHECK(utf8_cut(text, 4) == 2);
  CHECK(utf8_cut(text, 5) == 5);
  CHECK(utf8_cut(text, 100) == text.size());
  CHECK(utf8_cut("\x80\x80\x80\x80\x80", 4) == 4); // stray continuation bytes: cut anywhere
}

TEST_CASE("whole chunks of plain ASCII are recognised, at any length and position", "[tail]") {
  std::string chunk;
  for (int i = 0; chunk.size() < 1000; ++i) {
    chunk += "Nov 23 01:02:03 host app[" + std::to_string(i) + "]: INFO all good\n";
  }
  for (std::size_t size = 0; size <= 200; ++size) {
    CHECK(is_ascii_text(std::string_view(chunk).substr(0, size)));
  }
  CHECK(is_ascii_text(chunk));
  for (const char bad : {'\0', '\x80', '\xff', '\xc3'}) {
    for (std::size_t at : {std::size_t{0}, std::size_t{7}, std::size_t{63}, std::size_t{64},
                           std::size_t{130}, chunk.size() - 1}) {
      std::string spoiled = chunk;
      spoiled[at] = bad;
      CHECK_FALSE(is_ascii_text(spoiled));
    }
  }
}
