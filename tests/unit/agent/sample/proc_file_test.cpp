// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/proc_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using medic::ErrorCode;
using medic::agent::sample::ProcFile;

using medic::test::TempDir;

namespace {

const fs::path k_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc";

std::size_t open_fd_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// The fd this process holds on `target`, or -1.
int fd_for(const fs::path& target) {
  const fs::path wanted = fs::canonical(target);
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const fs::path points_to = fs::read_symlink(entry.path(), error);
    if (!error && points_to == wanted) {
      return std::stoi(entry.path().filename().string());
    }
  }
  return -1;
}

} // namespace

TEST_CASE("ProcFile reads a whole file that fits its buffer", "[agent][sample][proc_file]") {
  const fs::path path = k_fixtures / "meminfo";
  auto file = ProcFile::open(path, std::size_t{8} * 1024);
  REQUIRE(file);
  CHECK(file->is_open());
  CHECK(file->path() == path);
  CHECK(file->capacity() == std::size_t{8} * 1024);

  const auto text = file->read();
  REQUIRE(text);
  CHECK(*text == medic::test::read_file(path));
}

TEST_CASE("ProcFile returns the first capacity bytes of a larger file",
          "[agent][sample][proc_file]") {
  const std::string expected = medic::test::read_file(k_fixtures / "stat.1");
  REQUIRE(expected.size() > 16);

  auto small = ProcFile::open(k_fixtures / "stat.1", 16);
  REQUIRE(small);
  const auto head = small->read();
  REQUIRE(head);
  CHECK(*head == expected.substr(0, 16));

  auto exact = ProcFile::open(k_fixtures / "stat.1", expected.size());
  REQUIRE(exact);
  const auto whole = exact->read();
  REQUIRE(whole);
  CHECK(*whole == expected);
}

TEST_CASE("ProcFile re-reads from offset 0 into the same buffer", "[agent][sample][proc_file]") {
  TempDir dir;
  const fs::path path = dir.path() / "value";
  medic::test::write_file(path, "first contents\n");
  auto file = ProcFile::open(path, 64);
  REQUIRE(file);

  const auto first = file->read();
  REQUIRE(first);
  CHECK(*first == "first contents\n");

  medic::test::write_file(path, "x\n");
  const auto second = file->read();
  REQUIRE(second);
  // Shorter than before: nothing of the previous read may remain in the view.
  CHECK(*second == "x\n");
  CHECK(second->data() == first->data());

  const auto third = file->read();
  REQUIRE(third);
  CHECK(*third == "x\n");
}

TEST_CASE("ProcFile reads the real /proc/stat and /proc/meminfo", "[agent][sample][proc_file]") {
  auto stat = ProcFile::open("/proc/stat", std::size_t{16} * 1024);
  REQUIRE(stat);
  const auto stat_text = stat->read();
  REQUIRE(stat_text);
  CHECK(stat_text->starts_with("cpu "));
  CHECK(stat_text->find("\nctxt ") != std::string_view::npos);

  auto meminfo = ProcFile::open("/proc/meminfo", std::size_t{8} * 1024);
  REQUIRE(meminfo);
  const auto meminfo_text = meminfo->read();
  REQUIRE(meminfo_text);
  CHECK(meminfo_text->starts_with("MemTotal:"));
}

TEST_CASE("ProcFile keeps one close-on-exec fd and closes it", "[agent][sample][proc_file]") {
  const fs::path path = k_fixtures / "stat.2";
  const std::size_t before = open_fd_count();
  {
    auto file = ProcFile::open(path, 1024);
    REQUIRE(file);
    CHECK(open_fd_count() == before + 1);
    REQUIRE(file->read());
    REQUIRE(file->read());
    CHECK(open_fd_count() == before + 1);

    const int fd = fd_for(path);
    REQUIRE(fd >= 0);
    const int flags = ::fcntl(fd, F_GETFD);
    REQUIRE(flags >= 0);
    CHECK((flags & FD_CLOEXEC) != 0);
  }
  CHECK(open_fd_count() == before);
}

TEST_CASE("ProcFile moves its fd and buffer", "[agent][sample][proc_file]") {
  const std::size_t before = open_fd_count();
  auto opened = ProcFile::open(k_fixtures / "stat.old-kernel", 1024);
  REQUIRE(opened);
  ProcFile moved(std::move(*opened));
  CHECK_FALSE(opened->is_open());
  CHECK(moved.is_open());
  const auto from_moved_from = opened->read();
  REQUIRE_FALSE(from_moved_from);
  CHECK(from_moved_from.error().code() == ErrorCode::internal);

  const auto text = moved.read();
  REQUIRE(text);
  CHECK(text->starts_with("cpu  1000 20 300 8680\n"));

  // Assigning over an open file closes its old fd.
  auto other = ProcFile::open(k_fixtures / "stat.malformed", 1024);
  REQUIRE(other);
  CHECK(open_fd_count() == before + 2);
  moved = std::move(*other);
  CHECK(open_fd_count() == before + 1);
  const auto replaced = moved.read();
  REQUIRE(replaced);
  CHECK(replaced->starts_with("cpu  3533 0 18x7"));

  ProcFile closed;
  CHECK_FALSE(closed.is_open());
  CHECK_FALSE(closed.read());
}

TEST_CASE("ProcFile errors name the path", "[agent][sample][proc_file]") {
  SECTION("missing file") {
    const fs::path path = k_fixtures / "no-such-file";
    const auto file = ProcFile::open(path, 1024);
    REQUIRE_FALSE(file);
    CHECK(file.error().code() == ErrorCode::not_found);
    CHECK_THAT(file.error().message(), Catch::Contains("opening " + path.string()));
    CHECK_THAT(file.error().message(), Catch::Contains("No such file"));
  }
  SECTION("zero capacity") {
    const fs::path path = k_fixtures / "stat.1";
    const auto file = ProcFile::open(path, 0);
    REQUIRE_FALSE(file);
    CHECK(file.error().code() == ErrorCode::invalid_argument);
    CHECK_THAT(file.error().message(), Catch::Contains(path.string()));
    CHECK_THAT(file.error().message(), Catch::Contains("capacity"));
  }
  SECTION("read failure (a directory opens but cannot be read)") {
    auto file = ProcFile::open(k_fixtures, 1024);
    REQUIRE(file);
    const auto text = file->read();
    REQUIRE_FALSE(text);
    CHECK(text.error().code() == ErrorCode::io);
    CHECK_THAT(text.error().message(), Catch::Contains("reading " + k_fixtures.string()));
    CHECK_THAT(text.error().message(), Catch::Contains("Is a directory"));
  }
}

TEST_CASE("ProcFile stops at a short read where the file's kind says it is the end",
          "[agent][sample][proc_file]") {
  // Real /proc files: one record each (single_open), then a seq file of short lines.
  for (const char* path : {"/proc/loadavg", "/proc/meminfo", "/proc/self/stat"}) {
    auto file = ProcFile::open(path, std::size_t{16} * 1024);
    REQUIRE(file);
    REQUIRE(file->read());
    CHECK(file->preads() == 2); // by default a pread that returns 0 ends it
    file->set_short_read(ProcFile::ShortRead::is_the_end);
    const auto text = file->read();
    REQUIRE(text);
    CHECK(file->preads() == 3);
    CHECK(!text->empty());
    CHECK(text->back() == '\n');
  }
  auto lines = ProcFile::open("/proc/net/dev", std::size_t{16} * 1024);
  REQUIRE(lines);
  lines->set_short_read(ProcFile::ShortRead::of_small_lines_is_the_end);
  const auto dev = lines->read();
  REQUIRE(dev);
  CHECK(dev->find("lo:") != std::string_view::npos);
  CHECK(lines->preads() == (dev->size() <= 4096 - 512 ? 1U : 2U));
}

TEST_CASE("ProcFile reads on after a short read of more than a page less a line",
          "[agent][sample][proc_file]") {
  // A seq file hands out at most about a page per call: a longer file of short lines may come
  // in pieces, so a short read of more than 4096 - 512 bytes is not taken as the end.
  TempDir dir;
  const fs::path path = dir / "big";
  std::string text;
  while (text.size() < 6000) {
    text += "line " + std::to_string(text.size()) + "\n";
  }
  medic::test::write_file(path, text);
  auto file = ProcFile::open(path, std::size_t{16} * 1024);
  REQUIRE(file);
  file->set_short_read(ProcFile::ShortRead::of_small_lines_is_the_end);
  const auto read = file->read();
  REQUIRE(read);
  CHECK(*read == text);
  CHECK(file->preads() == 2);
  file->set_short_read(ProcFile::ShortRead::is_the_end);
  REQUIRE(file->read());
  CHECK(file->preads() == 3);
}
