// SPDX-License-Identifier: Apache-2.0
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shared/logs/token_masker.hpp"

using medic::logs::TokenMasker;
using medic::logs::TokenMaskerOptions;

namespace {

TokenMaskerOptions with(void (*set)(TokenMaskerOptions&)) {
  TokenMaskerOptions options;
  set(options);
  return options;
}

std::string masked(TokenMasker& masker, std::string_view line) {
  std::string out;
  for (const auto& token : masker.tokenize(line)) {
    if (!out.empty()) {
      out += ' ';
    }
    out += token.text;
  }
  return out;
}

std::string masked(std::string_view line) {
  TokenMasker masker;
  return masked(masker, line);
}

} // namespace

TEST_CASE("the masker splits on whitespace and keeps tokens without digits", "[logs]") {
  CHECK(masked("  Connection   refused\tby peer \r\n") == "Connection refused by peer");
  CHECK(masked("").empty());
  CHECK(masked(" \t \n").empty());
}

TEST_CASE("the masker masks numbers, hex, addresses, ids, dates and times", "[logs]") {
  CHECK(masked("took 42 tries") == "took <*> tries");
  CHECK(masked("value -17 and +3.25") == "value <*> and <*>");
  CHECK(masked("at 0xdeadBEEF now") == "at <*> now");
  CHECK(masked("commit 9f4ef63 built") == "commit <*> built");
  CHECK(masked("from 192.168.1.20:5432 ok") == "from <*> ok");
  CHECK(masked("id 123e4567-e89b-12d3-a456-426614174000 done") == "id <*> done");
  CHECK(masked("on 2016-09-28 at 04:30:30,123") == "on <*> at <*>");
  CHECK(masked("block blk_-6952295868487656571 from node-17") == "block blk_<*> from node-<*>");
  CHECK(masked("uid=1000, pid=1702)") == "uid=<*>, pid=<*>)");
  CHECK(masked("app appattempt_1445_0020_000001") == "app appattempt_<*>_<*>_<*>");
}

TEST_CASE("the masker folds units and consecutive variables into one variable", "[logs]") {
  CHECK(masked("done in 200ms") == "done in <*>");
  CHECK(masked("done in 1.5s") == "done in <*>");
  CHECK(masked("done in 5 sec") == "done in <*>");
  CHECK(masked("wrote 10MB") == "wrote <*>");
  CHECK(masked("close, 1190 bytes (1.16 KB) sent") == "close, <*> sent");
  CHECK(masked("close, 0 bytes sent") == "close, <*> sent");
  CHECK(masked("lifetime <1 sec") == "lifetime <*>");
  CHECK(masked("lifetime 00:02") == "lifetime <*>");
  CHECK(masked("stack @0x7fed806eb5d @0x7fef9fb9b6d @0xff83e97c)") == "stack <*>");
  // A unit word only folds after a variable.
  CHECK(masked("bytes sent") == "bytes sent");
}

TEST_CASE("a byte unit B folds and a repeated masked shape is a list", "[logs]") {
  CHECK(masked("(estimated size 93.0 B, free 317.1 KB)") == "(estimated size <*> free <*>");
  CHECK(masked("got 3 b") == "got <*> b");
  CHECK(masked("delete blk_1 blk_-2 blk_3 now") == "delete blk_<*> now");
  CHECK(masked("delete blk_4 now") == "delete blk_<*> now");
  CHECK(masked("name an14 an15 bn16 bn17") == "name an<*> bn<*>");
  CHECK(masked("node-1 ok node-2") == "node-<*> ok node-<*>");
}

TEST_CASE("month and weekday names are date parts, time zones fold like units", "[logs]") {
  CHECK(masked("connection at Sun Jul 10 03:55:15 2005 closed") == "connection at <*> closed");
  CHECK(masked("(Release Date: Fri Dec 10 19:02:14 EST 2004)") == "(Release Date: <*>");
  CHECK(masked("on JUL 4, 2005") == "on <*>");
  CHECK(masked("rebuilt in July") == "rebuilt in <*>");
  // Only title or upper case, and only the names themselves.
  CHECK(masked("the jul and Maybe and EST") == "the jul and Maybe and EST");
}

TEST_CASE("tokens are classed as words, values or symbols", "[logs]") {
  using medic::logs::TokenKind;
  TokenMasker masker;
  const auto tokens = masker.tokenize(
      "WindowsUpdateAgent. user=root end. com.foo.Bar /usr/bin a\\b file.txt a1 *** - <*>");
  const std::vector<TokenKind> expected = {TokenKind::word,   TokenKind::word,  TokenKind::word,
                                           TokenKind::value,  TokenKind::value, TokenKind::value,
                                           TokenKind::value,  TokenKind::value, TokenKind::symbol,
                                           TokenKind::symbol, TokenKind::symbol};
  REQUIRE(tokens.size() == expected.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    INFO(tokens[i].text);
    CHECK(tokens[i].kind == expected[i]);
  }
}

TEST_CASE("identifiers with digits keep their letters", "[logs]") {
  CHECK(masked("interface alt0 and ee0") == "interface alt<*> and ee<*>");
  CHECK(masked("jk2_init() Found child") == "jk<*>_init() Found child");
  CHECK(masked("v6.1.7601 ready") == "v<*> ready");
}

TEST_CASE("tokens past max_tokens fold into one variable", "[logs]") {
  TokenMasker masker(with([](TokenMaskerOptions& o) { o.max_tokens = 4; }));
  CHECK(masked(masker, "a b c d") == "a b c d");
  CHECK(masked(masker, "a b c d e") == "a b c <*>");
  CHECK(masked(masker, "a b c d e f g h") == "a b c <*>");
}

TEST_CASE("extra delimiters split tokens and masking can be turned off", "[logs]") {
  TokenMasker split(with([](TokenMaskerOptions& o) { o.extra_delimiters = ",="; }));
  CHECK(masked(split, "a=1,b=x") == "a <*> b x");
  TokenMasker verbatim(with([](TokenMaskerOptions& o) { o.mask_variables = false; }));
  CHECK(masked(verbatim, "took 42 ms") == "took 42 ms");
}

TEST_CASE("the masker takes any bytes", "[logs]") {
  TokenMasker masker;
  const std::string nul("a\0b 12\0 \xff\xfe\x80 z", 13);
  const auto tokens = masker.tokenize(nul);
  REQUIRE(tokens.size() == 4);
  CHECK(tokens[0].text == std::string_view("a\0b", 3));
  CHECK(tokens[1].is_variable);
  CHECK(tokens[2].text == "\xff\xfe\x80");
  const std::string huge(200'000, '7');
  CHECK(masked(masker, huge) == "<*>");
}

TEST_CASE("long tokens are masked in full, however many runs of digits they hold", "[logs]") {
  // Past 256 bytes the room for a masked token is counted (2 bytes more per run of digits):
  // here the masked text is twice as long as the token, and then shorter than it.
  TokenMasker masker;
  std::string runs;
  std::string runs_masked;
  for (int i = 0; i < 300; ++i) {
    runs += "g" + std::to_string(i % 10);
    runs_masked += "g<*>";
  }
  CHECK(masked(masker, runs + " tail") == runs_masked + " tail");
  std::string pairs;
  std::string pairs_masked;
  for (int i = 0; i < 200; ++i) {
    pairs += "k" + std::to_string(i) + "=" + std::to_string(1000 + i) + ",";
    pairs_masked += "k<*>=<*>,";
  }
  CHECK(masked(masker, "x " + pairs) == "x " + pairs_masked);
  // A short one after them reuses the scratch space; a list still folds.
  CHECK(masked(masker, "blk_1 blk_22 ab3") == "blk_<*> ab<*>");
}

TEST_CASE("equal token texts hash equally and different ones differently", "[logs]") {
  using medic::logs::hash_token;
  CHECK(hash_token("connection") == hash_token(std::string("connection")));
  CHECK(hash_token("connection") != hash_token("connectioN"));
  CHECK(hash_token("") != hash_token("a"));
  CHECK(hash_token("abcdefgh") != hash_token("abcdefghi"));
  CHECK(hash_token("abc") != hash_token("acc"));
}
