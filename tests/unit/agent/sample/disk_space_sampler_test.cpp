// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/disk_space_sampler.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/sample/mount_table.hpp"
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

const fs::path k_fixtures = fs::path(MEDIC_FIXTURES_DIR) / "proc";

std::vector<std::string> selected_points(const std::vector<MountEntry>& mounts,
                                         const MountFilter& filter, std::size_t limit = 64) {
  std::vector<std::size_t> indexes;
  select_mounts(mounts, filter, limit, indexes);
  std::vector<std::string> points;
  points.reserve(indexes.size());
  for (const std::size_t index : indexes) {
    points.push_back(mounts[index].mount_point);
  }
  return points;
}

std::vector<MountEntry> edge_mounts() {
  std::vector<MountEntry> mounts;
  REQUIRE(parse_mounts(read_file(k_fixtures / "mounts" / "edge"), "edge", mounts));
  return mounts;
}

struct Loop {
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  uv_loop_t loop{};
};

// A proc root whose mount table lists `entries`.
void write_mounts(const TempDir& root, const std::string& entries) {
  fs::create_directories(root / "self");
  write_file(root / "self" / "mounts", entries);
}

} // namespace

TEST_CASE("parse_mounts unescapes the kernel's octal escapes", "[sample][disk]") {
  const auto mounts = edge_mounts();
  REQUIRE(mounts.size() == 15);
  CHECK(mounts[4] == MountEntry{"/dev/sdb1", "/mnt/my disk", "xfs"});
  CHECK(mounts[13] == MountEntry{"/dev/sdc1", "/data\ttab\\back", "btrfs"});
  CHECK(unescape_mount_field("a\\134b\\0") == "a\\b\\0"); // a cut escape stays as it is
  CHECK(unescape_mount_field("\\012") == "\n");
}

TEST_CASE("parse_mounts names file and line of a short line", "[sample][disk]") {
  std::vector<MountEntry> mounts;
  const auto parsed = parse_mounts("/dev/sda1 / ext4 rw 0 0\n\n/dev/sdb1 /mnt\n", "mounts", mounts);
  REQUIRE_FALSE(parsed);
  CHECK_THAT(parsed.error().message(), Catch::StartsWith("mounts: line 3: expected"));
}

TEST_CASE("the default filter measures local disks once each", "[sample][disk]") {
  const auto mounts = edge_mounts();
  // Pseudo (proc, tmpfs, overlay, squashfs, fuse.lxcfs, cgroup2) and network (nfs4, cifs,
  // fuse.sshfs) file systems are left out; the bind mounts of sda1 and sdb1 keep the shortest
  // mount point.
  CHECK(selected_points(mounts, MountFilter{}) ==
        std::vector<std::string>{"/", "/mnt/my disk", "/home", "/data\ttab\\back"});
  CHECK(classify_fstype("nfs4") == FsClass::network);
  CHECK(classify_fstype("fuse.sshfs") == FsClass::network);
  CHECK(classify_fstype("fuse.lxcfs") == FsClass::pseudo);
  CHECK(classify_fstype("devtmpfs") == FsClass::pseudo);
  CHECK(classify_fstype("fuseblk") == FsClass::local);
}

TEST_CASE("mount filters: include, exclude, types, classes, limit", "[sample][disk]") {
  const auto mounts = edge_mounts();
  SECTION("mount points asked for are measured whatever their type") {
    MountFilter filter;
    filter.mounts = {"/run", "/mnt/nfs", "/home"};
    CHECK(selected_points(mounts, filter) == std::vector<std::string>{"/run", "/mnt/nfs", "/home"});
  }
  SECTION("excluded mount points and types") {
    MountFilter filter;
    filter.exclude_mounts = {"/data*"};
    filter.exclude_fstypes = {"xfs"};
    CHECK(selected_points(mounts, filter) == std::vector<std::string>{"/", "/home"});
  }
  SECTION("only some types") {
    MountFilter filter;
    filter.fstypes = {"tmpfs", "nfs*"};
    CHECK(selected_points(mounts, filter) == std::vector<std::string>{"/run", "/mnt/nfs"});
  }
  SECTION("network file systems when asked for") {
    MountFilter filter;
    filter.network_fs = true;
    CHECK(selected_points(mounts, filter) ==
          std::vector<std::string>{"/", "/mnt/my disk", "/mnt/nfs", "/mnt/smb", "/mnt/ssh", "/home",
                                   "/data\ttab\\back"});
  }
  SECTION("pseudo file systems are not deduplicated by their device name") {
    MountFilter filter;
    filter.pseudo_fs = true;
    filter.fstypes = {};
    const auto points = selected_points(mounts, filter);
    CHECK(std::count(points.begin(), points.end(), "/run") == 1);
    CHECK(std::find(points.begin(), points.end(), "/sys/fs/cgroup") != points.end());
  }
  SECTION("the limit") {
    CHECK(selected_points(mounts, MountFilter{}, 2) ==
          std::vector<std::string>{"/", "/mnt/my disk"});
  }
  SECTION("a mount point mounted over keeps the visible entry") {
    const std::vector<MountEntry> stacked{{"/dev/sda1", "/srv", "ext4"},
                                          {"/dev/sdb1", "/srv", "xfs"}};
    std::vector<std::size_t> indexes;
    select_mounts(stacked, MountFilter{}, 10, indexes);
    CHECK(indexes == std::vector<std::size_t>{1});
  }
  SECTION("bad patterns") {
    MountFilter filter;
    filter.mounts = {"relative"};
    CHECK_THAT(filter.validate().error().message(), Catch::Contains("disk.mounts: 'relative'"));
    filter.mounts = {};
    filter.exclude_fstypes = {""};
    CHECK_THAT(filter.validate().error().message(), Catch::Contains("disk.exclude_fstypes"));
  }
}

TEST_CASE("DiskSpaceSampler measures on the threadpool and reports on the loop", "[sample][disk]") {
  TempDir root;
  TempDir data;
  write_mounts(root, "/dev/testdisk " + data.path().string() + " ext4 rw 0 0\n" +
                         "/dev/gone /no/such/mount ext4 rw 0 0\n");
  DiskSpaceConfig config;
  config.interval_ms = 10'000;
  DiskSpaceSampler sampler(config, root.path());
  Loop loop;
  REQUIRE(sampler.open(loop.loop));
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 5000));
  CHECK(sampler.in_flight());
  CHECK(sink.samples.empty()); // nothing until the loop runs the completion
  uv_run(&loop.loop, UV_RUN_DEFAULT);
  CHECK_FALSE(sampler.in_flight());

  struct statvfs expected {};
  REQUIRE(::statvfs(data.path().c_str(), &expected) == 0);
  const std::map<std::string, std::string> labels{
      {"mount", data.path().string()}, {"device", "/dev/testdisk"}, {"fstype", "ext4"}};
  CHECK(sink.value("disk.total_bytes", labels) ==
        static_cast<double>(expected.f_blocks) * static_cast<double>(expected.f_frsize));
  const auto used_pct = sink.value("disk.used_pct", labels);
  REQUIRE(used_pct);
  CHECK(*used_pct >= 0);
  CHECK(*used_pct <= 100);
  CHECK(sink.value("disk.free_bytes", labels) > 0);
  CHECK(sink.samples.front().time_ms == 5000);
  REQUIRE(sink.errors.size() == 1);
  CHECK_THAT(sink.errors[0], Catch::Contains("disk: statvfs /no/such/mount"));

  SECTION("not again before the interval; a changed mount table is read again") {
    CHECK_FALSE(sampler.polls_mount_table()); // a regular file: read at every round
    sink.clear();
    REQUIRE(sampler.sample(sink, 9000));
    CHECK_FALSE(sampler.in_flight());
    write_mounts(root, "/dev/testdisk " + data.path().string() + " ext4 rw 0 0\n");
    REQUIRE(sampler.sample(sink, 15'000));
    uv_run(&loop.loop, UV_RUN_DEFAULT);
    CHECK(sink.errors.empty());
    CHECK(sink.count("disk.used_pct") == 1);
  }
  SECTION("a tick while a round is in flight is skipped") {
    REQUIRE(sampler.sample(sink, 15'000));
    REQUIRE(sampler.sample(sink, 30'000));
    CHECK(sampler.rounds_skipped() == 1);
    uv_run(&loop.loop, UV_RUN_DEFAULT);
  }
  SECTION("close() drops what a round still in flight would report") {
    sink.clear();
    REQUIRE(sampler.sample(sink, 15'000));
    sampler.close();
    uv_run(&loop.loop, UV_RUN_DEFAULT);
    CHECK(sink.samples.empty());
  }
}

TEST_CASE("DiskSpaceSampler open errors", "[sample][disk]") {
  Loop loop;
  SECTION("wrong proc root") {
    DiskSpaceSampler sampler({}, "/no/such/proc");
    const auto opened = sampler.open(loop.loop);
    REQUIRE_FALSE(opened);
    CHECK_THAT(opened.error().message(), Catch::Contains("/no/such/proc/self/mounts"));
  }
  SECTION("bad config") {
    DiskSpaceConfig config;
    config.interval_ms = 10;
    DiskSpaceSampler sampler(config);
    CHECK_THAT(sampler.open(loop.loop).error().message(), Catch::Contains("disk.interval"));
  }
}

TEST_CASE("DiskSpaceSampler on the real mount table", "[sample][disk][real]") {
  DiskSpaceSampler sampler({});
  Loop loop;
  REQUIRE(sampler.open(loop.loop));
  CHECK(sampler.polls_mount_table()); // /proc/self/mounts says when it changed
  const auto selected = sampler.selected_mounts();
  REQUIRE_FALSE(selected.empty());
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1));
  uv_run(&loop.loop, UV_RUN_DEFAULT);
  CHECK(sink.count("disk.used_pct") >= 1);
  for (const auto& sample : sink.samples) {
    if (sample.name.ends_with("_pct")) {
      CHECK(sample.value >= 0);
      CHECK(sample.value <= 100);
    }
  }
}

namespace {

// In a mount namespace of its own: opens a sampler on the real mount table, checks that rounds
// do not read it while nothing changes, mounts a tmpfs on `point` and checks that the next
// round reads the table again and measures the new mount, and that an unmount takes it away
// again. Returns what failed, or nothing.
std::string mount_and_unmount(const fs::path& point) {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("unshare: ") + std::strerror(errno);
  }
  DiskSpaceConfig config;
  config.filter.mounts = {point.string()}; // a tmpfs is a pseudo file system: asked for by name
  DiskSpaceSampler sampler(config);
  Loop loop;
  if (!sampler.open(loop.loop) || !sampler.polls_mount_table()) {
    return "the mount table is not polled";
  }
  const auto measured = [&](std::int64_t now_ms) {
    RecordingSink sink;
    if (!sampler.sample(sink, now_ms)) {
      return false;
    }
    uv_run(&loop.loop, UV_RUN_DEFAULT);
    return sink.value("disk.total_bytes",
                      {{"mount", point.string()}, {"device", "medic-test"}, {"fstype", "tmpfs"}}) ==
           4.0 * 1024 * 1024;
  };
  const std::uint64_t reads = sampler.mount_table_reads();
  if (measured(1) || measured(20'000)) {
    return "measured before the mount";
  }
  if (sampler.mount_table_reads() != reads) {
    return "the unchanged mount table was read again";
  }
  if (::mount("medic-test", point.c_str(), "tmpfs", 0, "size=4m") != 0) {
    return std::string("mount: ") + std::strerror(errno);
  }
  if (!measured(40'000)) {
    return "the new mount was not measured";
  }
  if (sampler.mount_table_reads() == reads) {
    return "the mount table was not read again";
  }
  if (::umount(point.c_str()) != 0) {
    return std::string("umount: ") + std::strerror(errno);
  }
  if (measured(60'000)) {
    return "still measured after the unmount";
  }
  return {};
}

} // namespace

TEST_CASE("DiskSpaceSampler reads the mount table again only when the kernel says it changed",
          "[sample][disk][real]") {
  if (::geteuid() != 0) {
    WARN("not root: no mount namespace to mount in");
    return;
  }
  TempDir point;
  const auto child = medic::test::run_in_child([&] { return mount_and_unmount(point.path()); });
  INFO(child.reply);
  CHECK(child.status.exited_with(0));
  CHECK(child.reply.empty());
}
