// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/disk_io_sampler.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

namespace fs = std::filesystem;
using namespace medic::agent::sample;
using medic::test::read_file;
using medic::test::RecordingSink;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

const fs::path k_proc = fs::path(MEDIC_FIXTURES_DIR) / "proc";
const fs::path k_sys = fs::path(MEDIC_FIXTURES_DIR) / "sys";

std::map<std::string, std::string> device(const std::string& name) {
  return {{"device", name}};
}

} // namespace

TEST_CASE("parse_diskstats_line", "[sample][diskio]") {
  std::string_view name;
  const auto counters = parse_diskstats_line(
      " 254       0 vda 245394 24887 8734506 348216 445802 58563 85754232 298251 0 82108 665463 "
      "47475 18 63754208 12929 138597 6066",
      name);
  REQUIRE(counters);
  CHECK(name == "vda");
  CHECK(*counters == DiskCounters{245394, 8734506, 348216, 445802, 85754232, 298251, 82108});
  CHECK_THAT(parse_diskstats_line("8 16 sdb 1 2 3", name).error().message(),
             Catch::Contains("device 'sdb' has 3 counters, at least 11"));
  CHECK_THAT(parse_diskstats_line("8 16 sdb 1 2 3 4 5 6 7 8 9 1o 11", name).error().message(),
             Catch::Contains("counter 10 '1o'"));
  CHECK_THAT(parse_diskstats_line("x y", name).error().message(), Catch::Contains("expected"));
}

TEST_CASE("DiskIoSampler rates between two captured readings", "[sample][diskio]") {
  TempDir root;
  write_file(root / "diskstats", read_file(k_proc / "disk" / "diskstats.1"));
  DiskIoSampler sampler({}, root.path(), k_sys);
  REQUIRE(sampler.open());
  // Whole disks with a /sys/block entry; loop* and zram* excluded; sda1 is a partition.
  CHECK(sampler.devices() == std::vector<std::string>{"vda", "sda"});
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 10'000));
  CHECK(sink.samples.empty());

  write_file(root / "diskstats", read_file(k_proc / "disk" / "diskstats.2"));
  REQUIRE(sampler.sample(sink, 12'000));
  // vda over 2 s: reads +100 (800 sectors, 50 ms), writes +200 (4000 sectors, 300 ms), io +500 ms.
  CHECK(sink.value("disk.io.util_pct", device("vda")) == Approx(25));
  CHECK(sink.value("disk.io.read_await_ms", device("vda")) == Approx(0.5));
  CHECK(sink.value("disk.io.write_await_ms", device("vda")) == Approx(1.5));
  CHECK(sink.value("disk.io.read_ops_per_s", device("vda")) == Approx(50));
  CHECK(sink.value("disk.io.write_ops_per_s", device("vda")) == Approx(100));
  CHECK(sink.value("disk.io.read_bytes_per_s", device("vda")) == Approx(800 * 512 / 2));
  CHECK(sink.value("disk.io.write_bytes_per_s", device("vda")) == Approx(4000 * 512 / 2));
  // sda's 32-bit millisecond counters wrapped: read ms 4294967000 -> 200 is 496 ms for 100
  // reads, io ms 4294967290 -> 10 is 16 ms.
  CHECK(sink.value("disk.io.read_await_ms", device("sda")) == Approx(4.96));
  CHECK(sink.value("disk.io.util_pct", device("sda")) == Approx(0.8));
  CHECK(sink.value("disk.io.write_await_ms", device("sda")) == 0); // no writes
  CHECK(sink.label_values("disk.io.util_pct", "device") == std::vector<std::string>{"vda", "sda"});

  SECTION("a device that disappears and comes back starts over") {
    write_file(root / "diskstats",
               "   8       0 sda 1200 0 2600 300 3000 0 48000 9000 0 20 9700\n");
    sink.clear();
    REQUIRE(sampler.sample(sink, 14'000));
    CHECK(sink.label_values("disk.io.util_pct", "device") == std::vector<std::string>{"sda"});
    CHECK(sampler.devices() == std::vector<std::string>{"sda"});
    write_file(root / "diskstats", read_file(k_proc / "disk" / "diskstats.2"));
    sink.clear();
    REQUIRE(sampler.sample(sink, 16'000));
    // sda went back (reset), vda is new again: neither has a rate this time.
    CHECK(sink.samples.empty());
    write_file(root / "diskstats", read_file(k_proc / "disk" / "diskstats.2"));
    REQUIRE(sampler.sample(sink, 18'000));
    CHECK(sink.value("disk.io.util_pct", device("vda")) == 0);
  }
  SECTION("a malformed line is reported with file and line, the rest still counts") {
    write_file(root / "diskstats", read_file(k_proc / "disk" / "diskstats.2") + "8 16 sdb 1 2 3\n");
    sink.clear();
    const auto result = sampler.sample(sink, 14'000);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(),
               Catch::StartsWith((root / "diskstats").string() + ": line 6: device 'sdb'"));
    CHECK(sink.count("disk.io.util_pct") == 2);
  }
  SECTION("the clock did not advance: no rates") {
    sink.clear();
    REQUIRE(sampler.sample(sink, 12'000));
    CHECK(sink.samples.empty());
  }
}

TEST_CASE("DiskIoSampler reads a disk's own stat file between discoveries", "[sample][diskio]") {
  // A /sys with one disk and its stat file (the counters of its diskstats line, no names).
  TempDir root;
  fs::create_directories(root / "proc");
  fs::create_directories(root / "sys" / "block" / "vda");
  fs::create_directories(root / "sys" / "class" / "block" / "vda");
  const fs::path stat = root / "sys" / "class" / "block" / "vda" / "stat";
  const auto counters = [](const std::string& line) { return line.substr(line.find("vda") + 3); };
  const std::string vda1 = " 254 0 vda 100 0 800 50 200 0 4000 300 0 500 900 0 0 0 0 0 0\n";
  const std::string vda2 = " 254 0 vda 200 0 1600 100 400 0 8000 600 0 1000 1800 0 0 0 0 0 0\n";
  write_file(root / "proc" / "diskstats", "   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n" + vda1);
  write_file(stat, counters(vda1));
  DiskIoConfig config;
  config.discover_interval_ms = 10'000;
  DiskIoSampler sampler(config, root / "proc", root / "sys");
  REQUIRE(sampler.open());
  CHECK(sampler.diskstats_reads() == 1);
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1'000));
  // From here on, only the stat file moves: diskstats is not read again within the interval.
  write_file(stat, counters(vda2));
  REQUIRE(sampler.sample(sink, 2'000));
  CHECK(sampler.diskstats_reads() == 1);
  CHECK(sink.value("disk.io.util_pct", device("vda")) == Approx(50));
  CHECK(sink.value("disk.io.read_ops_per_s", device("vda")) == Approx(100));
  CHECK(sink.value("disk.io.write_bytes_per_s", device("vda")) == Approx(4000 * 512));

  SECTION("a new device shows at the next discovery") {
    write_file(root / "proc" / "diskstats", vda2 + "   8 0 sdb 1 0 8 1 1 0 8 1 0 1 2\n");
    fs::create_directories(root / "sys" / "block" / "sdb");
    REQUIRE(sampler.sample(sink, 3'000));
    CHECK(sampler.devices() == std::vector<std::string>{"vda"});
    REQUIRE(sampler.sample(sink, 11'000));
    CHECK(sampler.diskstats_reads() == 2);
    CHECK(sampler.devices() == std::vector<std::string>{"vda", "sdb"});
    // sdb has no stat file (an old kernel, say): every round reads diskstats, and still counts.
    write_file(root / "proc" / "diskstats", vda2 + "   8 0 sdb 3 0 8 1 1 0 8 1 0 1 2\n");
    sink.clear();
    REQUIRE(sampler.sample(sink, 12'000));
    CHECK(sampler.diskstats_reads() == 3);
    CHECK(sink.value("disk.io.read_ops_per_s", device("sdb")) == Approx(2));
  }
  SECTION("a stat file that fails sends the next round to diskstats, which drops a gone disk") {
    write_file(stat, "gone\n");
    write_file(root / "proc" / "diskstats", "   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n");
    sink.clear();
    REQUIRE(sampler.sample(sink, 3'000));
    CHECK(sink.samples.empty());
    CHECK(sampler.diskstats_reads() == 1);
    REQUIRE(sampler.sample(sink, 4'000));
    CHECK(sampler.diskstats_reads() == 2);
    CHECK(sampler.devices().empty());
  }
}

TEST_CASE("DiskIoSampler options", "[sample][diskio]") {
  TempDir root;
  write_file(root / "diskstats", read_file(k_proc / "disk" / "diskstats.1"));
  SECTION("partitions and an explicit device list") {
    DiskIoConfig config;
    config.partitions = true;
    config.devices = {"sd*", "loop0"};
    config.exclude_devices = {};
    DiskIoSampler sampler(config, root.path(), "/no/sys");
    REQUIRE(sampler.open());
    CHECK(sampler.devices() == std::vector<std::string>{"loop0", "sda", "sda1"});
  }
  SECTION("max_devices") {
    DiskIoConfig config;
    config.max_devices = 1;
    DiskIoSampler sampler(config, root.path(), k_sys);
    REQUIRE(sampler.open());
    CHECK(sampler.devices() == std::vector<std::string>{"vda"});
  }
  SECTION("no /sys/block to tell disks from partitions") {
    DiskIoSampler sampler({}, root.path(), root.path());
    const auto opened = sampler.open();
    REQUIRE_FALSE(opened);
    CHECK_THAT(opened.error().message(), Catch::Contains("cannot tell whole disks"));
  }
  SECTION("wrong proc root") {
    DiskIoSampler sampler({}, "/no/such/proc", k_sys);
    CHECK_THAT(sampler.open().error().message(), Catch::Contains("/no/such/proc/diskstats"));
  }
  SECTION("bad config") {
    DiskIoConfig config;
    config.devices = {"/dev/sda"};
    DiskIoSampler sampler(config, root.path(), k_sys);
    CHECK_THAT(sampler.open().error().message(), Catch::Contains("diskio.devices: '/dev/sda'"));
  }
}

TEST_CASE("DiskIoSampler on the real /proc and /sys", "[sample][diskio][real]") {
  DiskIoSampler sampler;
  REQUIRE(sampler.open());
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 0));
  medic::test::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(sampler.sample(sink, 20));
  // Every disk has /sys/class/block/<name>/stat here: diskstats was read only by open().
  CHECK(sampler.diskstats_reads() == 1);
  for (const auto& name : sampler.devices()) {
    CHECK(sink.count("disk.io.util_pct") >= 1);
    CHECK(fs::exists("/sys/class/block/" + name + "/stat"));
  }
  for (const auto& sample : sink.samples) {
    CHECK(sample.value >= 0);
    if (sample.name == "disk.io.util_pct") {
      CHECK(sample.value <= 100);
    }
  }
}
