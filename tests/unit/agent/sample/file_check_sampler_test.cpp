// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/file_check_sampler.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/sample/recording_sink.hpp"

namespace fs = std::filesystem;
using namespace medic::agent::sample;
using medic::test::RecordingSink;
using medic::test::TempDir;
using medic::test::write_file;

namespace {

struct Loop {
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  uv_loop_t loop{};
};

// Sets the file's mtime to `unix_s`.
void set_mtime(const fs::path& path, std::int64_t unix_s) {
  const timespec times[2] = {{static_cast<time_t>(unix_s), 0}, {static_cast<time_t>(unix_s), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::map<std::string, std::string> named(const std::string& name) {
  return {{"file", name}};
}

} // namespace

TEST_CASE("FileCheckSampler: exists, age, size, growth", "[sample][file]") {
  TempDir dir;
  write_file(dir / "app.log", std::string(1000, 'x'));
  set_mtime(dir / "app.log", 1'700'000'000);
  FileChecksConfig config;
  config.files = {{"log", (dir / "app.log").string()}, {"dump", (dir / "core.dump").string()}};
  FileCheckSampler sampler(config);
  Loop loop;
  REQUIRE(sampler.open(loop.loop));
  RecordingSink sink;
  const std::int64_t now_ms = 1'700'000'090'500;
  REQUIRE(sampler.sample(sink, now_ms));
  CHECK(sink.samples.empty());
  uv_run(&loop.loop, UV_RUN_DEFAULT);
  CHECK(sink.value("file.exists", {{"file", "log"}, {"path", (dir / "app.log").string()}}) == 1);
  CHECK(sink.value("file.age_s", named("log")) == Approx(90.5));
  CHECK(sink.value("file.size_bytes", named("log")) == 1000);
  CHECK(sink.count("file.growth_bytes_per_s") == 0);
  CHECK(sink.value("file.exists", named("dump")) == 0);
  CHECK(sink.count("file.size_bytes") == 1);
  CHECK(sink.errors.empty());

  write_file(dir / "app.log", std::string(3000, 'x'));
  write_file(dir / "core.dump", "x");
  sink.clear();
  REQUIRE(sampler.sample(sink, now_ms + 5000)); // within the interval: nothing
  CHECK_FALSE(sampler.in_flight());
  REQUIRE(sampler.sample(sink, now_ms + 10'000));
  uv_run(&loop.loop, UV_RUN_DEFAULT);
  CHECK(sink.value("file.growth_bytes_per_s", named("log")) == Approx(200));
  CHECK(sink.value("file.exists", named("dump")) == 1);
  CHECK(sink.count("file.growth_bytes_per_s") == 1); // the dump has no previous size yet

  write_file(dir / "app.log", "");
  sink.clear();
  REQUIRE(sampler.sample(sink, now_ms + 20'000));
  uv_run(&loop.loop, UV_RUN_DEFAULT);
  CHECK(sink.value("file.growth_bytes_per_s", named("log")) == Approx(-300)); // truncated
}

TEST_CASE("FileCheckSampler reports stat errors other than a missing file", "[sample][file]") {
  if (::geteuid() == 0) {
    SUCCEED("root reads everything: no permission error to provoke");
    return;
  }
  TempDir dir;
  fs::create_directories(dir / "closed");
  write_file(dir / "closed" / "f", "x");
  fs::permissions(dir / "closed", fs::perms::none);
  FileChecksConfig config;
  config.files = {{"f", (dir / "closed" / "f").string()}};
  FileCheckSampler sampler(config);
  Loop loop;
  REQUIRE(sampler.open(loop.loop));
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1));
  uv_run(&loop.loop, UV_RUN_DEFAULT);
  fs::permissions(dir / "closed", fs::perms::owner_all);
  CHECK(sink.samples.empty());
  REQUIRE(sink.errors.size() == 1);
  CHECK_THAT(sink.errors[0], Catch::Contains("file: stat " + (dir / "closed" / "f").string()));
}

TEST_CASE("FileChecksConfig validation", "[sample][file]") {
  FileChecksConfig config;
  config.files = {{"a", "relative/path"}};
  CHECK_THAT(config.validate().error().message(),
             Catch::Contains("files[0].path: 'relative/path' is not an absolute path"));
  config.files = {{"a", "/x"}, {"a", "/y"}};
  CHECK_THAT(config.validate().error().message(),
             Catch::Contains("files[1].name: 'a' is used twice"));
  config.files = {};
  config.interval_ms = 0;
  CHECK_THAT(config.validate().error().message(), Catch::Contains("files.interval"));
}
