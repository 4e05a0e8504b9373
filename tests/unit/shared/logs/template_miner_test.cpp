// SPDX-License-Identifier: Apache-2.0
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shared/logs/template_miner.hpp"
#include "tests/support/allocation_counter.hpp"

using medic::logs::TemplateMiner;
using medic::logs::TemplateMinerOptions;

namespace {

TemplateMinerOptions with(void (*set)(TemplateMinerOptions&)) {
  TemplateMinerOptions options;
  set(options);
  return options;
}

TemplateMiner make(TemplateMinerOptions options = {}) {
  auto miner = TemplateMiner::create(std::move(options));
  REQUIRE(miner);
  return std::move(*miner);
}

} // namespace

TEST_CASE("lines of the same shape share a template id", "[logs]") {
  TemplateMiner miner = make();
  const auto a = miner.add("Accepted password for root from 10.0.0.1 port 52144 ssh2");
  const auto b = miner.add("Accepted password for root from 192.168.7.9 port 22 ssh2");
  const auto c = miner.add("Accepted password for root from 10.0.0.3 port 4000 ssh2");
  CHECK(a.template_id == b.template_id);
  CHECK(a.template_id == c.template_id);
  CHECK(miner.template_text(a.template_id) ==
        "Accepted password for root from <*> port <*> ssh<*>");
  CHECK(miner.template_size(a.template_id) == 3);
  CHECK(miner.template_count() == 1);
  CHECK(miner.current_id(a.template_id) == a.template_id);
  CHECK(miner.current_id(12345) == 0);
}

TEST_CASE("variables are masked before the tree", "[logs]") {
  TemplateMiner miner = make();
  const auto first = miner.add("request 8f14e45f-ceea-467f-a0e6-3b2b1a1e9f0c took 12ms");
  CHECK(first.is_new_template);
  CHECK(miner.template_text(first.template_id) == "request <*> took <*>");
  // Every position already holds a variable, so any values give the same template unchanged.
  const auto second = miner.add("request 0b2d9c6e-1111-4a5a-9c3d-aaaaaaaaaaaa took 3.5s");
  CHECK(second.template_id == first.template_id);
  CHECK_FALSE(second.is_new_template);
  CHECK(miner.template_text(first.template_id) == "request <*> took <*>");
}

TEST_CASE("a new template is flagged once", "[logs]") {
  TemplateMiner miner = make();
  const auto first = miner.add("disk /dev/sda1 is full");
  CHECK(first.is_new_template);
  for (int i = 0; i < 10; ++i) {
    const auto again = miner.add("disk /dev/sda1 is full");
    CHECK(again.template_id == first.template_id);
    CHECK_FALSE(again.is_new_template);
  }
  const auto other = miner.add("fan speed is low");
  CHECK(other.is_new_template);
  CHECK(other.template_id != first.template_id);
}

TEST_CASE("lines that differ in too many constants get their own templates", "[logs]") {
  TemplateMiner miner = make();
  const auto started = miner.add("Starting the installer service now");
  const auto user = miner.add("Starting the session manager now");
  CHECK(started.template_id != user.template_id); // 3 of 5 equal: below 0.7
  // Different token counts never share a template.
  const auto shorter = miner.add("Starting the installer service");
  CHECK(shorter.template_id != started.template_id);
}

TEST_CASE("two words at one position are two events", "[logs]") {
  TemplateMiner miner = make();
  std::set<std::uint32_t> begin;
  std::set<std::uint32_t> end;
  for (int i = 0; i < 20; ++i) {
    begin.insert(miner.add("The change caused us to need to do a layout begin").template_id);
    end.insert(miner.add("The change caused us to need to do a layout end").template_id);
  }
  CHECK(begin.size() == 1);
  CHECK(end.size() == 1);
  CHECK(*begin.begin() != *end.begin());
  // 9 of 10 equal would pass the similarity threshold: only the word rule keeps them apart.
  CHECK(miner.template_count() == 2);
}

TEST_CASE("the fourth word at one position makes it a variable", "[logs]") {
  TemplateMiner miner = make();
  std::vector<std::uint32_t> ids;
  for (const char* user : {"alice", "bob", "carol", "alice", "dave", "erin"}) {
    ids.push_back(
        miner.add("session opened for user " + std::string(user) + " by sshd on tty1").template_id);
  }
  CHECK(ids[0] != ids[1]);
  CHECK(ids[1] != ids[2]);
  CHECK(ids[3] == ids[0]);
  // dave is the fourth user: the three templates merge into the oldest, which takes dave.
  CHECK(ids[4] == ids[0]);
  CHECK(ids[5] == ids[0]);
  for (const std::uint32_t id : ids) {
    CHECK(miner.current_id(id) == ids[0]);
    CHECK(miner.template_text(id) == "session opened for user <*> by sshd on tty<*>");
  }
  CHECK(miner.template_size(ids[1]) == 6);
  CHECK(miner.template_count() == 1);
  CHECK(miner.merged_count() == 2);
}

TEST_CASE("a template that gains <*> takes in the templates it now covers", "[logs]") {
  TemplateMiner miner = make();
  const auto alpha = miner.add("open file alpha now for reading");
  const auto beta = miner.add("open file beta now for reading");
  CHECK(alpha.template_id != beta.template_id); // two words: two events, so far
  // A path is a value, not a word: the oldest template takes it and gets <*>, which covers beta.
  const auto path = miner.add("open file /tmp/a now for reading");
  CHECK(path.template_id == alpha.template_id);
  CHECK(miner.current_id(beta.template_id) == alpha.template_id);
  CHECK(miner.template_text(beta.template_id) == "open file <*> now for reading");
  CHECK(miner.template_size(alpha.template_id) == 3);
  CHECK(miner.template_count() == 1);
  CHECK(miner.add("open file beta now for reading").template_id == alpha.template_id);
}

TEST_CASE("ids merged into a template are forgotten when it is evicted", "[logs]") {
  TemplateMiner miner = make(with([](TemplateMinerOptions& o) { o.max_clusters = 2; }));
  const auto alpha = miner.add("open file alpha now for reading");
  const auto beta = miner.add("open file beta now for reading");
  (void)miner.add("open file /tmp/a now for reading"); // beta merged into alpha
  CHECK(miner.current_id(beta.template_id) == alpha.template_id);
  (void)miner.add("disk full on some volume");
  (void)miner.add("fan speed low on some board now"); // evicts alpha, the least recently used
  CHECK(miner.template_count() == 2);
  CHECK(miner.current_id(alpha.template_id) == 0);
  CHECK(miner.current_id(beta.template_id) == 0);
  std::string text;
  CHECK_FALSE(miner.template_text(beta.template_id, text));
}

TEST_CASE("eviction keeps at most max_clusters templates and never reuses ids", "[logs]") {
  TemplateMiner miner = make(with([](TemplateMinerOptions& o) {
    o.max_clusters = 8;
    o.max_tokens = 128;
  }));
  std::set<std::uint32_t> ids;
  std::uint32_t first_id = 0;
  const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"};
  for (int i = 0; i < 100; ++i) {
    // Lines of i+1 words: every one is a new shape.
    std::string line;
    for (int w = 0; w <= i; ++w) {
      line += words[(w + i) % 7];
      line += ' ';
    }
    const auto r = miner.add(line);
    CHECK(r.is_new_template);
    ids.insert(r.template_id);
    first_id = first_id == 0 ? r.template_id : first_id;
    CHECK(miner.template_count() <= 8);
  }
  CHECK(ids.size() == 100);
  CHECK(miner.template_count() == 8);
  CHECK(miner.evicted_count() == 92);
  std::string text;
  CHECK_FALSE(miner.template_text(first_id, text));
  CHECK(text.empty());
  // The most recently used survive; touching one keeps it alive through further evictions.
  const auto kept = miner.add("kept line");
  for (int i = 0; i < 20; ++i) {
    (void)miner.add("kept line");
    (void)miner.add("filler number " + std::string(static_cast<std::size_t>(i + 1), 'x'));
  }
  CHECK(miner.template_text(kept.template_id) == "kept line");
}

TEST_CASE("a full leaf gives up its least recently used template", "[logs]") {
  TemplateMiner miner = make(with([](TemplateMinerOptions& o) { o.max_leaf_templates = 2; }));
  // Same length and first token: one leaf. Different words: different templates.
  const auto a = miner.add("x alpha bravo");
  const auto b = miner.add("x charlie delta");
  CHECK(miner.add("x alpha bravo").template_id == a.template_id); // a used after b
  const auto c = miner.add("x echo foxtrot");
  CHECK(c.is_new_template);
  CHECK(miner.template_count() == 2);
  CHECK(miner.current_id(b.template_id) == 0);
  CHECK(miner.current_id(a.template_id) == a.template_id);
  CHECK(miner.evicted_count() == 1);
  // A leaf of one still works: each new shape replaces the last.
  TemplateMiner single = make(with([](TemplateMinerOptions& o) { o.max_leaf_templates = 1; }));
  for (int i = 0; i < 5; ++i) {
    CHECK(single.add(i % 2 == 0 ? "y alpha bravo" : "y charlie delta").is_new_template);
  }
  CHECK(single.template_count() == 1);
}

TEST_CASE("eviction frees tree nodes so the same shapes can come back", "[logs]") {
  TemplateMiner miner = make(with([](TemplateMinerOptions& o) { o.max_clusters = 2; }));
  for (int round = 0; round < 50; ++round) {
    const auto a = miner.add("service alpha started");
    const auto b = miner.add("service beta stopped cleanly");
    const auto c = miner.add("kernel gamma panic here now");
    CHECK(a.is_new_template);
    CHECK(b.is_new_template);
    CHECK(c.is_new_template);
  }
  CHECK(miner.template_count() == 2);
}

TEST_CASE("odd input is mined without failing", "[logs]") {
  TemplateMiner miner = make(with([](TemplateMinerOptions& o) { o.max_tokens = 8; }));
  const auto empty = miner.add("");
  CHECK(miner.add("   ").template_id == empty.template_id);
  CHECK(miner.template_text(empty.template_id).empty());
  const std::string binary("\0\xff\xfe \x80\x81 ok", 9);
  const auto b = miner.add(binary);
  CHECK(miner.add(binary).template_id == b.template_id);
  const auto long_a = miner.add("a b c d e f g h i j k l m n o p");
  const auto long_b = miner.add("a b c d e f g h i j k l m n o p q r s t u v");
  CHECK(long_a.template_id == long_b.template_id);
  CHECK(miner.template_text(long_a.template_id) == "a b c d e f g <*>");
  (void)miner.add(std::string(1 << 20, 'x'));
}

TEST_CASE("options out of range are refused with their name", "[logs]") {
  const auto refused = [](TemplateMinerOptions options, const char* name) {
    auto miner = TemplateMiner::create(std::move(options));
    REQUIRE_FALSE(miner);
    CHECK_THAT(miner.error().message(), Catch::Contains(name));
  };
  refused(with([](TemplateMinerOptions& o) { o.similarity_threshold = 0.0; }),
          "similarity_threshold");
  refused(with([](TemplateMinerOptions& o) { o.similarity_threshold = 1.5; }),
          "similarity_threshold");
  refused(with([](TemplateMinerOptions& o) { o.prefix_depth = 17; }), "prefix_depth");
  refused(with([](TemplateMinerOptions& o) { o.max_children = 1; }), "max_children");
  refused(with([](TemplateMinerOptions& o) { o.words_for_variable = 1; }), "words_for_variable");
  refused(with([](TemplateMinerOptions& o) { o.max_leaf_templates = 0; }), "max_leaf_templates");
  refused(with([](TemplateMinerOptions& o) { o.max_clusters = 0; }), "max_clusters");
  refused(with([](TemplateMinerOptions& o) { o.max_tokens = 1; }), "max_tokens");
}

TEST_CASE("a full tree node sends new tokens to the <*> child", "[logs]") {
  TemplateMiner miner = make(with([](TemplateMinerOptions& o) {
    o.prefix_depth = 1;
    o.max_children = 3;
    o.words_for_variable = 3;
  }));
  std::vector<std::uint32_t> ids;
  for (const char* word : {"apple", "banana", "cherry", "damson", "elder"}) {
    ids.push_back(miner.add(std::string(word) + " tree fell down today").template_id);
  }
  // Two token children fit; the rest share the <*> child, where the third word there (elder)
  // merges them.
  std::set<std::uint32_t> current;
  for (const std::uint32_t id : ids) {
    current.insert(miner.current_id(id));
  }
  CHECK(current.size() == 3);
  CHECK(miner.template_text(ids[4]) == "<*> tree fell down today");
}

TEST_CASE("mining allocates nothing once the templates are known", "[logs]") {
  if (!medic::test::allocation_counting_works()) {
    WARN("operator new is not ours here (a sanitizer's allocator): allocation counts skipped");
    return;
  }
  TemplateMiner miner = make();
  std::vector<std::string> lines;
  for (int i = 0; i < 400; ++i) {
    const std::string n = std::to_string(i * 7919 % 10007);
    lines.push_back("session opened for user u" + std::to_string(i % 9) + " by sshd pid " + n);
    lines.push_back("Accepted password for root from 10.0.0." + n + " port " + n + " ssh2");
    lines.push_back("delete blk_" + n + " blk_" + n + n + " from /data/" + n + "/x.log");
    lines.push_back(std::string(i % 2 == 0 ? "layout begin" : "layout end") + " after " + n + "ms");
    lines.push_back("user " + std::string(1, static_cast<char>('a' + i % 6)) + "x logged in");
  }
  for (const std::string& line : lines) {
    (void)miner.add(line); // templates and merges happen here
  }
  const std::size_t count = miner.template_count();
  const std::size_t allocations = medic::test::allocations_in([&] {
    for (const std::string& line : lines) {
      (void)miner.add(line);
    }
  });
  CHECK(allocations == 0);
  CHECK(miner.template_count() == count);
}
