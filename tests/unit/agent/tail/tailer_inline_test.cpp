// SPDX-License-Identifier: Apache-2.0
// I/O passes on the loop: a pass whose calls cannot block (reads with RWF_NOWAIT, fstat, close)
// runs without a threadpool round trip; one whose read would wait for the disk, or on a file
// system without RWF_NOWAIT, goes on in the threadpool; a large backlog is read in bounded
// steps. Every test checks that each line is handed out exactly once.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/tail/tail_harness.hpp"

using namespace medic::test::tail;
using medic::agent::tail::ChangeWatch;
using medic::test::TempDir;

namespace {

// Follows one file with only inotify reporting its writes (the poll is 10 s away); returns once
// the file is open and every pass of the start-up is back.
void follow(Harness& harness, const fs::path& log, std::chrono::milliseconds read_interval = 50ms) {
  auto options = test_options(log.string());
  options.poll_interval = 10s;
  options.read_interval = read_interval;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  harness.run_for(100ms);
}

// Wakes the harness's loop every 10 ms, for a tailer ticked by its owner (no timer of its own):
// the harness's waits check their condition at each wake-up.
class Awake {
public:
  explicit Awake(uv_loop_t& loop) : m_loop(loop) {
    uv_timer_init(&loop, &m_timer);
    uv_timer_start(&m_timer, [](uv_timer_t*) {}, 10, 10);
  }
  Awake(const Awake&) = delete;
  Awake& operator=(const Awake&) = delete;
  ~Awake() {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
    uv_run(&m_loop, UV_RUN_NOWAIT);
  }

private:
  uv_loop_t& m_loop;
  uv_timer_t m_timer{};
};

std::uint64_t pool_passes(Harness& harness) {
  const auto& stats = harness.tailer().stats();
  return stats.io_passes - stats.inline_passes;
}

// Writes the file's pages to disk and drops [from, end) from the page cache: a read with
// RWF_NOWAIT there answers EAGAIN (or stops short at `from`). False when the page cache kept
// them (a file system that cannot drop clean pages, such as tmpfs).
bool evict(const fs::path& path, std::uint64_t from) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  ::fdatasync(fd);
  (void)::posix_fadvise(fd, static_cast<off_t>(from), 0, POSIX_FADV_DONTNEED);
  char byte = 0;
  iovec part{&byte, 1};
  const ssize_t rc = ::preadv2(fd, &part, 1, static_cast<off_t>(from), RWF_NOWAIT);
  const bool evicted = rc < 0 && errno == EAGAIN;
  ::close(fd);
  return evicted;
}

bool supports_nowait(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  char byte = 0;
  iovec part{&byte, 1};
  const ssize_t rc = ::preadv2(fd, &part, 1, 0, RWF_NOWAIT);
  const bool supported = !(rc < 0 && errno == EOPNOTSUPP);
  ::close(fd);
  return supported;
}

} // namespace

TEST_CASE("appended lines are read on the loop without a threadpool round trip", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  follow(harness, dir / "app.log");
  const std::uint64_t pool_before = pool_passes(harness);
  const std::uint64_t inline_before = harness.tailer().stats().inline_passes;
  for (int i = 1; i <= 5; ++i) {
    writer.lines(10 * i - 9, 10 * i);
    REQUIRE(harness.run_until_line(10 * i, 2s));
    harness.run_for(60ms); // the next write comes after a read_interval
  }
  CHECK(harness.numbers() == range(1, 50));
  CHECK(harness.gaps.empty());
  CHECK(harness.tailer().stats().inline_passes - inline_before >= 5);
  CHECK(pool_passes(harness) == pool_before);
  CHECK(harness.tailer().stats().inline_fallbacks == 0);
}

TEST_CASE("a read of bytes not in the page cache goes on in the threadpool", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 10);
  Harness harness;
  follow(harness, log);
  REQUIRE(harness.run_until_line(10));
  const std::uint64_t size = fs::file_size(log);
  // The loop does not run in between: the tailer sees the bytes only once they are evicted.
  const bool whole = GENERATE(true, false);
  writer.write(numbered_lines(11, 40'000)); // about 1.2 MB
  // Whole: the first new page is gone (EAGAIN). Else two pages stay cached: the RWF_NOWAIT read
  // stops short at a page boundary, which is not the end of the file.
  const std::uint64_t from = (size / 4096 + (whole ? 0 : 2)) * 4096;
  const bool evicted = evict(log, from);
  if (!evicted) {
    WARN("the page cache kept the file; only the lines are checked");
  }
  const std::uint64_t fallbacks = harness.tailer().stats().inline_fallbacks;
  REQUIRE(harness.run_until_line(40'000));
  harness.run_for(100ms);
  CHECK(harness.numbers() == range(1, 40'000));
  CHECK(harness.gaps.empty());
  if (evicted) {
    CHECK(harness.tailer().stats().inline_fallbacks > fallbacks);
  }
}

TEST_CASE("a file system without RWF_NOWAIT is read through the threadpool", "[tail]") {
  if (!fs::is_directory("/dev/shm")) {
    WARN("no /dev/shm here");
    return;
  }
  const TempDir dir("/dev/shm");
  const fs::path log = dir.path() / "app.log";
  Writer writer(log);
  writer.lines(1, 3);
  const bool supported = supports_nowait(log);
  Harness harness;
  follow(harness, log);
  REQUIRE(harness.run_until_line(3));
  for (int i = 1; i <= 4; ++i) {
    writer.lines(10 * i - 6, 10 * i + 3);
    REQUIRE(harness.run_until_line(10 * i + 3, 2s));
    harness.run_for(60ms);
  }
  CHECK(harness.numbers() == range(1, 43));
  CHECK(harness.gaps.empty());
  if (!supported) {
    // Tried once on the loop; from then on the file's reads go to the threadpool at once.
    CHECK(harness.tailer().stats().inline_fallbacks == 1);
    CHECK(pool_passes(harness) >= 5);
  } else {
    WARN("tmpfs supports RWF_NOWAIT on this kernel");
  }
}

TEST_CASE("a 20 MB backlog is read completely in bounded steps per loop turn", "[tail]") {
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  Harness harness;
  follow(harness, log, 0ms);
  constexpr std::size_t k_chunk = std::size_t{128} * 1024; // read_chunk_bytes
  const std::string filler(180, 'x');
  std::string backlog;
  int lines = 0;
  while (backlog.size() < std::size_t{20} * 1024 * 1024) {
    backlog += numbered_line(++lines, filler);
  }
  writer.write(backlog);
  const std::uint64_t bytes_before = harness.tailer().stats().bytes;
  const std::uint64_t inline_before = harness.tailer().stats().inline_passes;
  const std::uint64_t pool_before = pool_passes(harness);
  std::uint64_t last = bytes_before;
  std::uint64_t most_per_turn = 0;
  std::size_t turns = 0;
  // Checked once per loop turn (run_until runs the loop once between checks).
  const bool all = harness.run_until(
      [&] {
        const std::uint64_t now = harness.tailer().stats().bytes;
        most_per_turn = std::max(most_per_turn, now - last);
        last = now;
        ++turns;
        return now - bytes_before >= backlog.size();
      },
      60s);
  REQUIRE(all);
  harness.run_for(50ms);
  INFO("turns: " << turns << ", most bytes in one turn: " << most_per_turn);
  // A turn runs the timers (one pass on the loop each) and the passes back from the pool (each
  // brought one chunk and may run one pass on the loop): a few chunks, never the backlog.
  CHECK(most_per_turn <= 8 * k_chunk);
  CHECK(harness.tailer().stats().inline_passes > inline_before);
  CHECK(pool_passes(harness) > pool_before);
  CHECK(harness.numbers() == range(1, lines));
  CHECK(harness.gaps.empty());
}

TEST_CASE("a burst read in one wake-up does not pause inotify and a busy file does", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  constexpr auto k_read_interval = 200ms;
  follow(harness, dir / "app.log", k_read_interval);
  harness.run_for(k_read_interval + 50ms); // a quiet spell after the first pass
  int next = 1;
  for (int burst = 0; burst < 3; ++burst) {
    writer.lines(next, next + 9); // one write: one event, one wake-up
    next += 10;
    REQUIRE(harness.run_until_line(next - 1, 2s));
    harness.run_for(k_read_interval + 50ms);
  }
  CHECK(harness.tailer().stats().inotify_pauses == 0); // no epoll_ctl churn per burst

  // A line every 2 ms: a wake-up within read_interval of the last pass pauses the watch, so the
  // rest of the window costs no wake-up; the lines still come within about a read_interval. Once
  // paused, the watch stays paused while the writes go on (one wake-up per interval, the timer's).
  constexpr int k_steady = 500; // over a second: five intervals or more
  const std::uint64_t passes = harness.tailer().stats().io_passes;
  std::atomic<bool> done{false};
  const int first = next;
  std::thread producer([&] {
    for (int i = first; i < first + k_steady; ++i) {
      writer.lines(i, i);
      std::this_thread::sleep_for(2ms);
    }
    done = true;
  });
  const bool all = harness.run_until(
      [&] { return done && harness.records.size() == static_cast<std::size_t>(30 + k_steady); });
  producer.join();
  REQUIRE(all);
  harness.run_for(k_read_interval + 50ms);
  CHECK(harness.tailer().stats().inotify_pauses > 0);
  // Paused again after every pass, it would be one pause per interval. (Two: the writer may be
  // preempted for longer than an interval on a busy machine.)
  CHECK(harness.tailer().stats().inotify_pauses <= 2);
  CHECK(harness.tailer().stats().io_passes - passes < 30); // about one per read_interval
  CHECK(harness.numbers() == range(1, first + k_steady - 1));
  CHECK(harness.gaps.empty());
}

TEST_CASE("reading a log file leaves its access time alone", "[tail]") {
  // Under relatime every read of a file written since its last read updates the atime and so
  // dirties the inode; the tailer opens with O_NOATIME (it runs as the files' owner or root).
  const TempDir dir;
  const fs::path log = dir / "app.log";
  Writer writer(log);
  writer.lines(1, 5);
  const timespec old_atime{1'000'000, 0};
  const timespec times[2] = {old_atime, {0, UTIME_OMIT}};
  REQUIRE(::utimensat(AT_FDCWD, log.c_str(), times, 0) == 0);
  Harness harness;
  follow(harness, log);
  writer.lines(6, 20);
  REQUIRE(harness.run_until_line(20));
  CHECK(harness.numbers() == range(1, 20));
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  // Without O_NOATIME, relatime moves an atime older than the mtime to the time of the read.
  CHECK(st.st_atim.tv_sec == old_atime.tv_sec);
}

TEST_CASE("with inotify the path is stat'ed every stat_interval, or by globs as often", "[tail]") {
  // A stat by path goes to the threadpool; a poll without it (fstat, RWF_NOWAIT read) runs on
  // the loop. Rare with inotify watching: it reports renames at once. A glob stats the paths it
  // matches anyway and compares what it found with the files followed: with globs at least as
  // often as the stat rounds, the rounds stat no path again (their fstats run on the loop).
  enum class Mode { watched, poll_only, globs_as_often };
  for (const Mode mode : {Mode::watched, Mode::poll_only, Mode::globs_as_often}) {
    const TempDir dir;
    Writer writer(dir / "app.log");
    writer.lines(1, 1);
    Harness harness;
    auto options = test_options((dir / "app.log").string());
    options.poll_interval = 50ms;
    options.stat_interval = mode == Mode::globs_as_often ? 100ms : 1h;
    options.glob_interval = mode == Mode::globs_as_often ? 100ms : options.glob_interval;
    options.change_watch =
        mode == Mode::poll_only ? ChangeWatch::poll_only : ChangeWatch::inotify_and_poll;
    harness.start(options);
    REQUIRE(harness.run_until_line(1));
    harness.run_for(100ms); // the start-up's passes are back
    const auto& stats = harness.tailer().stats();
    const std::uint64_t pool_before = pool_passes(harness);
    const std::uint64_t inline_before = stats.inline_passes;
    const std::uint64_t fstats_before = stats.fstats;
    harness.run_for(600ms); // about 12 polls (and 6 globs and stat rounds: globs_as_often)
    INFO("mode " << static_cast<int>(mode));
    if (mode == Mode::poll_only) {
      CHECK(pool_passes(harness) - pool_before >= 5); // no inotify: the path at every poll
    } else {
      CHECK(pool_passes(harness) - pool_before <= 1);
      CHECK(stats.inline_passes - inline_before >= 5);
    }
    if (mode == Mode::globs_as_often) {
      CHECK(stats.fstats - fstats_before >= 3);
    }
    writer.lines(2, 3);
    REQUIRE(harness.run_until_line(3));
    CHECK(harness.numbers() == range(1, 3));
  }
}

TEST_CASE("a tailer ticked by its owner has no timer of its own", "[tail]") {
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  auto options = test_options((dir / "app.log").string());
  options.change_watch = ChangeWatch::poll_only; // only the poll finds appended lines
  options.external_tick = true;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  harness.run_for(100ms);
  writer.lines(1, 3);
  harness.run_for(300ms); // six poll_intervals: nothing polls by itself
  CHECK(harness.records.empty());
  harness.tailer().tick();
  REQUIRE(harness.run_until_line(3, 2s));
  CHECK(harness.numbers() == range(1, 3));
}

TEST_CASE("bursts of writes to several files settle into one pass each", "[tail]") {
  // Ten files written one after the other, every 300 ms (as a service logging to
  // several files per request). The first burst is read as its events come; once a burst came
  // in several reads, the next ones wait a few milliseconds and are read in one pass.
  const TempDir dir;
  constexpr int k_files = 10;
  const auto writers = writers_in(dir.path(), "app", k_files);
  Harness harness;
  auto options = test_options((dir / "*.log").string());
  options.poll_interval = 10s;
  options.read_interval = 100ms;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == k_files; }));
  harness.run_for(200ms);
  const auto burst = [&](int number) {
    for (auto& writer : writers) {
      writer->lines(number, number); // a few microseconds apart: well inside the settle
    }
  };
  burst(1); // the writes come while the loop is not running: one read for them all
  harness.run_for(300ms);
  std::uint64_t passes = harness.tailer().stats().io_passes;
  std::uint64_t settled = 0;
  for (int number = 2; number <= 9; ++number) {
    std::thread writer([&] { burst(number); });
    harness.run_for(300ms);
    writer.join();
    const std::uint64_t now = harness.tailer().stats().io_passes;
    settled += now - passes == 1 ? 1 : 0;
    passes = now;
  }
  CHECK(harness.records.size() == 9 * k_files);
  // Without the settle, a burst is read in two passes (the first event, then the rest). On a busy
  // machine the writer can be preempted for longer than the settle: some, not all.
  CHECK(settled >= 2);
}

namespace {

// Follows `log` read at most every second and ticked by the test (no timer of its own: the
// caller's Awake keeps the loop turning). Line 1, written after a quiet spell, is read at once;
// line 2, written within the interval, is left waiting for the tick.
void leave_a_line_for_the_tick(Harness& harness, Writer& writer, const fs::path& log,
                               std::chrono::milliseconds poll_interval) {
  auto options = test_options(log.string());
  options.poll_interval = poll_interval;
  options.read_interval = 1s;
  options.external_tick = true;
  harness.start(options);
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  harness.run_for(1100ms); // a quiet spell: the next write is read at once
  writer.lines(1, 1);
  REQUIRE(harness.run_until_line(1, 2s));
  writer.lines(2, 2); // within the interval: waits for the tick
  harness.run_for(600ms);
  REQUIRE(harness.records.size() == 1);
}

} // namespace

TEST_CASE("changes waiting for read_interval are served at the owner's tick", "[tail]") {
  // The agent ticks every second: a pass due within half an interval goes with the tick's
  // wake-up, not with one of its own, and the next passes keep in step with the tick.
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  const Awake awake(harness.loop());
  leave_a_line_for_the_tick(harness, writer, dir / "app.log", 10s); // only inotify reports
  const auto ticked = std::chrono::steady_clock::now();
  harness.tailer().tick(); // more than half an interval since the pass: served now
  REQUIRE(harness.run_until_line(2, 2s));
  // The timer would have served it about 400 ms from the tick.
  CHECK(std::chrono::steady_clock::now() - ticked < 250ms);
  CHECK(harness.numbers() == range(1, 2));
}

TEST_CASE("a file read to its end at the tick is not fstat'ed by the poll after", "[tail]") {
  // The agent's tick serves the writes waiting for read_interval and then polls: the pass has
  // just read the file to its end, so an fstat would only say so again.
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  const Awake awake(harness.loop());
  leave_a_line_for_the_tick(harness, writer, dir / "app.log", 50ms);
  const auto fstats = harness.tailer().stats().fstats;
  harness.tailer().tick(); // reads line 2 to the end, then polls
  REQUIRE(harness.run_until_line(2, 2s));
  CHECK(harness.tailer().stats().fstats == fstats);
  harness.run_for(100ms);
  harness.tailer().tick(); // nothing read at this tick: the poll fstats the file
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().fstats == fstats + 1; }, 2s));
  CHECK(harness.numbers() == range(1, 2));
}

TEST_CASE("a writer faster than 256 KiB per read_interval is followed without waiting", "[tail]") {
  // 1.6 MB/s for 1.5 s. The first interval is coalesced like any other; its pass reads more than
  // 256 KiB, so from then on every write is read at once, and the last line does not wait for
  // the next interval (half a second after the last write). No tick: only the coalescing timer
  // serves the writes.
  const TempDir dir;
  Writer writer(dir / "app.log");
  Harness harness;
  auto options = test_options((dir / "app.log").string());
  options.poll_interval = 10s;
  options.read_interval = 1s;
  options.external_tick = true;
  harness.start(options);
  const Awake awake(harness.loop());
  REQUIRE(harness.run_until([&] { return harness.tailer().stats().files_open == 1; }));
  harness.run_for(1100ms); // a quiet spell
  constexpr int k_chunks = 150;
  constexpr int k_lines = 500; // 16 KB
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> last_write_ns{0};
  std::thread producer([&] {
    for (int c = 0; c < k_chunks; ++c) {
      writer.lines(c * k_lines + 1, (c + 1) * k_lines);
      std::this_thread::sleep_for(10ms);
    }
    last_write_ns = std::chrono::steady_clock::now().time_since_epoch().count();
    done = true;
  });
  const bool all = harness.run_until(
      [&] { return done && harness.records.size() == std::size_t{k_chunks * k_lines}; }, 20s);
  const auto read_at = std::chrono::steady_clock::now().time_since_epoch().count();
  producer.join();
  REQUIRE(all);
  // The writer sleeps 10 ms after its last write: at most a few loop turns more.
  CHECK(std::chrono::nanoseconds(read_at - last_write_ns.load()) < 300ms);
  CHECK(harness.numbers() == range(1, k_chunks * k_lines));
  CHECK(harness.gaps.empty());
}
