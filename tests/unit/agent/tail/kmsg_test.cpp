// SPDX-License-Identifier: Apache-2.0
// The kernel's log as a source: parsing /dev/kmsg records, resuming after a cursor, and the real
// /dev/kmsg of this machine (lines written to it by the test, tagged so that other kernel
// messages, and other tests writing at the same time, do not matter; worded so that no built-in
// rule of an agent following the kernel's log elsewhere matches them). Needs root, as the agent.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <uv.h>
#include <catch2/catch.hpp>

#include "agent/tail/kmsg_record.hpp"
#include "agent/tail/kmsg_source.hpp"
#include "shared/uv/handle.hpp"
#include "tests/unit/agent/tail/kmsg_writer.hpp"

using medic::agent::tail::admit_kmsg;
using medic::agent::tail::k_kmsg_record_bytes;
using medic::agent::tail::kmsg_boot_identity;
using medic::agent::tail::KmsgCursor;
using medic::agent::tail::KmsgRecord;
using medic::agent::tail::KmsgSource;
using medic::agent::tail::parse_kmsg_record;
using namespace std::chrono_literals;

TEST_CASE("a /dev/kmsg record gives its level, facility, sequence, time and message", "[kmsg]") {
  auto kernel = parse_kmsg_record(
      "6,1234,5678901,-;usb 1-1: new device\n SUBSYSTEM=usb\n"
      " DEVICE=c189:1\n");
  REQUIRE(kernel);
  CHECK(kernel->level == 6);
  CHECK(kernel->facility == 0);
  CHECK(kernel->seq == 1234);
  CHECK(kernel->usec == 5678901);
  CHECK(kernel->message == "usb 1-1: new device");

  // Written by a process with "<3>": facility user (1), level err (3); newer kernels add
  // fields after the flags.
  auto user = parse_kmsg_record("11,7,100,-,caller=T12;app[9]: segfault at 0 ip 1 sp 2\n");
  REQUIRE(user);
  CHECK(user->level == 3);
  CHECK(user->facility == 1);
  CHECK(user->seq == 7);
  CHECK(user->message == "app[9]: segfault at 0 ip 1 sp 2");

  auto escaped = parse_kmsg_record("4,8,9,c;tab\\x09and \\x5c done\n");
  REQUIRE(escaped);
  CHECK(escaped->message == "tab\\x09and \\x5c done"); // unescape_kmsg undoes them

  auto empty = parse_kmsg_record("7,9,10,-;\n");
  REQUIRE(empty);
  CHECK(empty->message.empty());
}

TEST_CASE("a malformed /dev/kmsg record is an error that says what is wrong", "[kmsg]") {
  const auto error_of = [](std::string_view bytes) {
    auto parsed = parse_kmsg_record(bytes);
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK(error_of("no separator here\n") ==
        "kernel log record: no ';' after the prefix in its first line");
  CHECK(error_of("6,1,2,-\n KEY=a;b\n") ==
        "kernel log record: no ';' after the prefix in its first line");
  CHECK(error_of("x,1,2,-;m\n") == "kernel log record: the priority (first field) is not a number");
  CHECK(error_of("99999999,1,2,-;m\n") ==
        "kernel log record: the priority 99999999 is out of range");
  CHECK(error_of("6,,2,-;m\n") ==
        "kernel log record: the sequence number (second field) is not a number");
  CHECK(error_of("6,-1,2,-;m\n") ==
        "kernel log record: the sequence number (second field) is not a number");
  CHECK(error_of("6,1;m\n") == "kernel log record: the timestamp (third field) is not a number");
  CHECK(error_of("") == "kernel log record: no ';' after the prefix in its first line");
}

TEST_CASE("the kernel's hex escapes (backslash x NN) are undone, other backslashes kept", "[kmsg]") {
  const auto unescape = [](std::string_view message) {
    std::string out(message.size(), '\0');
    out.resize(medic::agent::tail::unescape_kmsg(message, out));
    return out;
  };
  CHECK(unescape("tab\\x09and \\x5c done") == "tab\tand \\ done");
  CHECK(unescape("caf\\xc3\\xa9") == "caf\xc3\xa9"); // UTF-8 arrives escaped byte by byte
  CHECK(unescape("\\xZZ \\x4") == "\\xZZ \\x4");     // not an escape: kept
  CHECK(unescape("end\\") == "end\\");
  CHECK(unescape("") == "");
}

TEST_CASE("resuming skips what was handed out and counts what was overwritten", "[kmsg]") {
  std::uint64_t next = 10;
  auto old = admit_kmsg(next, 5);
  CHECK_FALSE(old.deliver);
  CHECK(next == 10);
  auto due = admit_kmsg(next, 10);
  CHECK(due.deliver);
  CHECK(due.lost == 0);
  CHECK(next == 11);
  auto after_loss = admit_kmsg(next, 15); // 11..14 were overwritten
  CHECK(after_loss.deliver);
  CHECK(after_loss.lost == 4);
  CHECK(next == 16);
}

TEST_CASE("the boot identity comes from boot_id's first line and is never 0", "[kmsg]") {
  const auto a = kmsg_boot_identity("5b3e7a1c-7d4e-4b8e-9a59-0d2f6c1e8a11\n");
  CHECK(a == kmsg_boot_identity("5b3e7a1c-7d4e-4b8e-9a59-0d2f6c1e8a11"));
  CHECK(a != kmsg_boot_identity("5b3e7a1c-7d4e-4b8e-9a59-0d2f6c1e8a12\n"));
  CHECK(a != 0);
}

namespace {

struct Seen {
  KmsgRecord record;
  std::string text;
};

// A loop with a KmsgSource on the real /dev/kmsg, keeping the records that carry `tag`.
class KmsgHarness {
public:
  KmsgHarness(std::string tag, std::optional<KmsgCursor> resume) : m_tag(std::move(tag)) {
    uv_loop_init(&m_loop);
    medic::agent::tail::KmsgCallbacks callbacks;
    callbacks.on_record = [this](const KmsgRecord& record, std::string_view text) {
      ++all;
      if (text.find(m_tag) != std::string_view::npos) {
        seen.push_back({record, std::string(text)});
      }
    };
    auto opened = KmsgSource::open(m_loop, "/dev/kmsg", resume, std::move(callbacks));
    REQUIRE(opened);
    source = std::move(*opened);
  }
  KmsgHarness(const KmsgHarness&) = delete;
  KmsgHarness& operator=(const KmsgHarness&) = delete;
  ~KmsgHarness() {
    source->stop();
    uv_run(&m_loop, UV_RUN_NOWAIT);
    source.reset();
    medic::uv::close_loop(m_loop);
  }

  template <class Done>
  bool run_until(Done done, std::chrono::milliseconds timeout = 5s) {
    return medic::test::kmsg::run_loop_until(m_loop, done, timeout);
  }
  void run_for(std::chrono::milliseconds duration) {
    (void)run_until([] { return false; }, duration);
  }

  std::unique_ptr<KmsgSource> source;
  std::vector<Seen> seen;
  std::size_t all = 0;

private:
  std::string m_tag;
  uv_loop_t m_loop{};
};

} // namespace

TEST_CASE("a line written to the kernel's log arrives with its level, once", "[kmsg]") {
  const std::string tag = medic::test::kmsg::unique_tag("medic-kmsg-test");
  KmsgHarness kmsg(tag, std::nullopt);
  CHECK_FALSE(kmsg.source->cursor()); // nothing read yet: a restart would start at the end too
  medic::test::kmsg::write_line(tag + " test record, then two bytes \xff\xfe");
  REQUIRE(kmsg.run_until([&] { return !kmsg.seen.empty(); }));
  kmsg.run_for(50ms);
  REQUIRE(kmsg.seen.size() == 1);
  CHECK(kmsg.seen[0].record.level == 3);
  CHECK(kmsg.seen[0].record.facility == 1);
  // The kernel escapes the two bytes (\xff\xfe); unescaped they are not UTF-8, so each is
  // replaced by U+FFFD.
  CHECK(kmsg.seen[0].text == tag + " test record, then two bytes \xEF\xBF\xBD\xEF\xBF\xBD");
  const auto cursor = kmsg.source->cursor();
  REQUIRE(cursor);
  CHECK(cursor->next_seq > kmsg.seen[0].record.seq);
  CHECK(kmsg.source->stats().records == kmsg.all);
}

TEST_CASE("a restart resumes after its cursor: no line lost, none repeated", "[kmsg]") {
  const std::string tag = medic::test::kmsg::unique_tag("medic-kmsg-test");
  std::optional<KmsgCursor> cursor;
  std::uint64_t first_seq = 0;
  {
    KmsgHarness before(tag, std::nullopt);
    medic::test::kmsg::write_line(tag + " line 1");
    REQUIRE(before.run_until([&] { return !before.seen.empty(); }));
    first_seq = before.seen[0].record.seq;
    cursor = before.source->cursor();
    REQUIRE(cursor);
  }
  medic::test::kmsg::write_line(tag + " line 2"); // while "the agent" is stopped
  medic::test::kmsg::write_line(tag + " line 3");
  KmsgHarness after(tag, cursor);
  REQUIRE(after.run_until([&] { return after.seen.size() >= 2; }));
  after.run_for(50ms);
  REQUIRE(after.seen.size() == 2);
  CHECK(after.seen[0].text == tag + " line 2");
  CHECK(after.seen[1].text == tag + " line 3");
  CHECK(after.seen[0].record.seq > first_seq);
  CHECK(after.source->stats().lost == 0);
}

TEST_CASE("a cursor of another boot starts at the end, as a new reader does", "[kmsg]") {
  const std::string tag = medic::test::kmsg::unique_tag("medic-kmsg-test");
  medic::test::kmsg::write_line(tag + " before");
  KmsgHarness kmsg(tag, KmsgCursor{42, 0}); // boot 42 is not this one: seq 0 means nothing
  medic::test::kmsg::write_line(tag + " after");
  REQUIRE(kmsg.run_until([&] { return !kmsg.seen.empty(); }));
  kmsg.run_for(50ms);
  REQUIRE(kmsg.seen.size() == 1);
  CHECK(kmsg.seen[0].text == tag + " after");
}

TEST_CASE("a missing kernel log device is a not-found error naming it", "[kmsg]") {
  uv_loop_t loop{};
  uv_loop_init(&loop);
  auto opened = KmsgSource::open(loop, "/nonexistent/kmsg", std::nullopt, {});
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code() == medic::ErrorCode::not_found);
  CHECK(opened.error().message().find("/nonexistent/kmsg") != std::string::npos);
  medic::uv::close_loop(loop);
  CHECK(k_kmsg_record_bytes == 8192);
}

TEST_CASE("records the ring overwrote before a resumed reader came are one gap", "[kmsg]") {
  // The oldest record still in this machine's ring, read directly.
  const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string record(k_kmsg_record_bytes, '\0');
  ssize_t got = ::read(fd, record.data(), record.size());
  while (got < 0 && errno == EPIPE) { // overwritten between open and read
    got = ::read(fd, record.data(), record.size());
  }
  ::close(fd);
  REQUIRE(got > 0);
  auto oldest = parse_kmsg_record(std::string_view(record.data(), static_cast<std::size_t>(got)));
  REQUIRE(oldest);
  std::string boot_id(64, '\0');
  const int boot_fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  REQUIRE(boot_fd >= 0);
  boot_id.resize(
      static_cast<std::size_t>(std::max<ssize_t>(0, ::read(boot_fd, boot_id.data(), 64))));
  ::close(boot_fd);

  // A cursor of this boot at sequence number 0: everything before the oldest record is gone.
  uv_loop_t loop{};
  uv_loop_init(&loop);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
  std::uint64_t first_seq = UINT64_MAX;
  medic::agent::tail::KmsgCallbacks callbacks;
  callbacks.on_record = [&](const KmsgRecord& r, std::string_view) {
    first_seq = std::min(first_seq, r.seq);
  };
  callbacks.on_gap = [&](std::uint64_t first, std::uint64_t count) {
    gaps.emplace_back(first, count);
  };
  auto source = KmsgSource::open(loop, "/dev/kmsg", KmsgCursor{kmsg_boot_identity(boot_id), 0},
                                 std::move(callbacks));
  REQUIRE(source);
  (*source)->drain();
  REQUIRE(first_seq != UINT64_MAX);
  if (first_seq == 0) {
    CHECK(gaps.empty()); // this ring never wrapped: nothing was lost
  } else {
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].first == 0);
    CHECK(gaps[0].second == first_seq);
    CHECK((*source)->stats().lost == first_seq);
  }
  CHECK(first_seq <= oldest->seq + 1000); // the ring's start, give or take what wrapped since
  (*source)->stop();
  uv_run(&loop, UV_RUN_NOWAIT);
  source->reset();
  medic::uv::close_loop(loop);
}
