// SPDX-License-Identifier: Apache-2.0
#include "agent/loop/footprint.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "agent/loop/log_pipeline.hpp"

using namespace medic::agent::loop;

TEST_CASE("the footprint reads VmRSS and VmHWM of this process", "[footprint]") {
  auto parsed =
      parse_status_memory("Name:\tmedic-agent\nVmHWM:\t  11588 kB\nVmRSS:\t    8872 kB\n");
  REQUIRE(parsed);
  CHECK(parsed->rss_bytes == 8872ULL * 1024);
  CHECK(parsed->peak_rss_bytes == 11588ULL * 1024);
  CHECK_FALSE(parse_status_memory("Name:\tx\nVmRSS:\tlots kB\n"));
  CHECK_FALSE(parse_status_memory("Name:\tx\n"));

  Footprint footprint;
  REQUIRE(footprint.open());
  auto reading = footprint.read();
  REQUIRE(reading);
  CHECK(reading->rss_bytes > 1024 * 1024);
  CHECK(reading->peak_rss_bytes >= reading->rss_bytes);
  CHECK(reading->cpu_seconds > 0);
}

TEST_CASE("releasing start-up code keeps the process working", "[footprint]") {
  CHECK(release_startup_code() >= 2); // at least this program and libc
  // Code runs again after its pages were dropped: they come back from the page cache.
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    text += std::to_string(i);
  }
  CHECK(text.size() == 2890);
  CHECK(release_startup_code() >= 2);
}

TEST_CASE("the miner sees the message part of syslog and ISO-stamped lines", "[footprint]") {
  CHECK(log_message("Nov 23 01:02:03 db1 postgres[42]: FATAL: role \"x\" does not exist") ==
        "FATAL: role \"x\" does not exist");
  CHECK(log_message("2026-11-23T01:02:03.123Z web1 nginx: upstream timed out") ==
        "upstream timed out");
  CHECK(log_message("plain text line") == "plain text line");
  CHECK(log_message("") == "");
}
