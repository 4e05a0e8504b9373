// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/network_sampler.hpp"

#include <chrono>
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

const fs::path k_net = fs::path(MEDIC_FIXTURES_DIR) / "proc" / "net";

std::map<std::string, std::string> interface(const std::string& name) {
  return {{"interface", name}};
}

void write_dev(const TempDir& root, const std::string& dev) {
  fs::create_directories(root / "net");
  write_file(root / "net" / "dev", dev);
}

} // namespace

TEST_CASE("parse_netdev_line", "[sample][net]") {
  std::string_view name;
  const auto counters = parse_netdev_line(
      "  eth0: 45670327    1271    1    2    0     0          0         0    58741     670    3    "
      "4 "
      "   0     0       0          0",
      name);
  REQUIRE(counters);
  CHECK(name == "eth0");
  CHECK(*counters == NetCounters{45670327, 1271, 1, 2, 58741, 670, 3, 4});
  // Old kernels print a long counter right after the colon.
  REQUIRE(parse_netdev_line("eth1:4294967296 1 0 0 0 0 0 0 5 6 0 0", name));
  CHECK(name == "eth1");
  CHECK_THAT(parse_netdev_line("eth0: 1 2 3", name).error().message(),
             Catch::Contains("interface 'eth0' has 3 counters, at least 12"));
  CHECK_THAT(parse_netdev_line("eth0: 1 2 3 4 5 6 7 8 x 10 11 12", name).error().message(),
             Catch::Contains("counter 9 'x'"));
}

TEST_CASE("NetworkSampler rates between two captured readings", "[sample][net]") {
  TempDir root;
  write_dev(root, read_file(k_net / "dev.1"));
  NetworkSampler sampler({}, root.path());
  REQUIRE(sampler.open());
  CHECK(sampler.interfaces() == std::vector<std::string>{"ifb0", "ifb1", "eth0", "old32"});
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 1000));
  CHECK(sink.samples.empty());

  // dev.2, 2 s later: eth0 +200000/+200/+2/+4 received, +100000/+200/+6/+8 sent; ifb1 is gone;
  // old32's counters wrapped at 32 bits.
  write_file(root / "net" / "dev", read_file(k_net / "dev.2"));
  REQUIRE(sampler.sample(sink, 3000));
  CHECK(sink.value("net.rx_bytes_per_s", interface("eth0")) == Approx(100'000));
  CHECK(sink.value("net.rx_packets_per_s", interface("eth0")) == Approx(100));
  CHECK(sink.value("net.rx_errors_per_s", interface("eth0")) == Approx(1));
  CHECK(sink.value("net.rx_drops_per_s", interface("eth0")) == Approx(2));
  CHECK(sink.value("net.tx_bytes_per_s", interface("eth0")) == Approx(50'000));
  CHECK(sink.value("net.tx_packets_per_s", interface("eth0")) == Approx(100));
  CHECK(sink.value("net.tx_errors_per_s", interface("eth0")) == Approx(3));
  CHECK(sink.value("net.tx_drops_per_s", interface("eth0")) == Approx(4));
  CHECK(sink.value("net.rx_bytes_per_s", interface("old32")) == Approx(248));
  CHECK(sink.value("net.rx_packets_per_s", interface("old32")) == Approx(8));
  CHECK(sink.value("net.tx_bytes_per_s", interface("old32")) == Approx(200));
  CHECK(sink.value("net.tx_packets_per_s", interface("old32")) == Approx(15));
  CHECK(sink.label_values("net.rx_bytes_per_s", "interface") ==
        std::vector<std::string>{"ifb0", "eth0", "old32"}); // no lo, no ifb1
  CHECK(sampler.interfaces() == std::vector<std::string>{"ifb0", "eth0", "old32"});
  CHECK(sink.samples.back().time_ms == 3000);
}

TEST_CASE("NetworkSampler options and errors", "[sample][net]") {
  TempDir root;
  write_dev(root, read_file(k_net / "dev.1"));
  SECTION("include patterns, loopback on request") {
    NetworkConfig config;
    config.interfaces = {"lo", "eth*"};
    config.exclude_interfaces = {};
    NetworkSampler sampler(config, root.path());
    REQUIRE(sampler.open());
    CHECK(sampler.interfaces() == std::vector<std::string>{"lo", "eth0"});
  }
  SECTION("exclude patterns and the bound") {
    NetworkConfig config;
    config.exclude_interfaces = {"lo", "ifb*"};
    config.max_interfaces = 1;
    NetworkSampler sampler(config, root.path());
    REQUIRE(sampler.open());
    CHECK(sampler.interfaces() == std::vector<std::string>{"eth0"});
  }
  SECTION("a malformed line") {
    NetworkSampler sampler({}, root.path());
    REQUIRE(sampler.open());
    write_file(root / "net" / "dev", read_file(k_net / "dev.2") + "  bad0: 1 2\n");
    RecordingSink sink;
    const auto result = sampler.sample(sink, 5);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(),
               Catch::StartsWith((root / "net" / "dev").string() + ": line 7: interface 'bad0'"));
  }
  SECTION("a malformed file fails open") {
    write_file(root / "net" / "dev", "Inter-|\n face |\n  eth0: 1 2 x\n");
    NetworkSampler sampler({}, root.path());
    CHECK_THAT(sampler.open().error().message(), Catch::Contains("line 3"));
  }
  SECTION("bad config") {
    NetworkConfig config;
    config.interfaces = {"eth0:1"};
    NetworkSampler sampler(config, root.path());
    CHECK_THAT(sampler.open().error().message(), Catch::Contains("net.interfaces: 'eth0:1'"));
  }
  SECTION("wrong root") {
    NetworkSampler sampler({}, "/no/such/proc");
    CHECK_THAT(sampler.open().error().message(), Catch::Contains("/no/such/proc/net/dev"));
  }
}

TEST_CASE("NetworkSampler on the real /proc", "[sample][net][real]") {
  NetworkConfig config;
  config.exclude_interfaces = {};
  NetworkSampler sampler(config);
  REQUIRE(sampler.open());
  const auto names = sampler.interfaces();
  CHECK(std::find(names.begin(), names.end(), "lo") != names.end());
  RecordingSink sink;
  REQUIRE(sampler.sample(sink, 0));
  medic::test::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(sampler.sample(sink, 20));
  CHECK(sink.count("net.rx_bytes_per_s") == names.size());
  for (const auto& sample : sink.samples) {
    CHECK(sample.value >= 0);
  }
}
