// SPDX-License-Identifier: Apache-2.0
// Bad input reaches the real programs: broken configs, a taken address, and garbage on the wire.
#include <csignal>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "protocol/codec.hpp"
#include "tests/e2e/e2e_fixture.hpp"

using namespace std::chrono_literals;
using medic::test::Fleet;
using medic::test::run_command;

TEST_CASE("every program answers --help and --version") {
  for (const char* program :
       {medic::test::k_agent_bin, medic::test::k_coordinator_bin, medic::test::k_medicctl_bin}) {
    const auto help = run_command({program, "--help"});
    CHECK(help.status.exited_with(0));
    CHECK(help.output.find("Usage:") != std::string::npos);
    const auto version = run_command({program, "--version"});
    CHECK(version.status.exited_with(0));
    CHECK(version.output.find(medic::build_info::k_version) != std::string::npos);
  }
}

TEST_CASE("a malformed config names file, line and column and exits 2") {
  medic::test::TempDir dir;
  const auto bad_yaml = dir / "bad.yaml";
  medic::test::write_file(bad_yaml, "sample:\n  interval: [1s\n");
  const auto unknown_key = dir / "typo.yaml";
  medic::test::write_file(unknown_key, "sample:\n  intervall: 2s\n");
  const auto bad_value = dir / "value.yaml";
  medic::test::write_file(bad_value, "agents:\n  listen: nowhere\n");

  const auto syntax = run_command({medic::test::k_agent_bin, "--config", bad_yaml.string()});
  CHECK(syntax.status.exited_with(2));
  CHECK(syntax.errors.find(bad_yaml.string() + ":3:1") != std::string::npos);

  const auto typo = run_command({medic::test::k_agent_bin, "--config", unknown_key.string()});
  CHECK(typo.status.exited_with(2));
  CHECK(typo.errors.find(unknown_key.string() + ":2:3: unknown key 'sample.intervall'") !=
        std::string::npos);
  CHECK(typo.errors.find("did you mean 'sample.interval'") != std::string::npos);

  const auto value = run_command({medic::test::k_coordinator_bin, "--config", bad_value.string()});
  CHECK(value.status.exited_with(2));
  CHECK(value.errors.find(bad_value.string() + ":2:11") != std::string::npos);

  const auto missing =
      run_command({medic::test::k_coordinator_bin, "--config", "/nonexistent/c.yaml"});
  CHECK(missing.status.exited_with(2));
  CHECK(missing.errors.find("/nonexistent/c.yaml: cannot open") != std::string::npos);

  const auto check =
      run_command({medic::test::k_agent_bin, "--check-config", "--set", "sample.interval=2s"});
  CHECK(check.status.exited_with(0));
}

TEST_CASE("an address already in use is a clear error, exit 1") {
  Fleet fleet;
  const std::string endpoint = fleet.start_coordinator();
  medic::test::TempDir other;
  const auto result =
      run_command({medic::test::k_coordinator_bin, "--set", "agents.listen=" + endpoint, "--set",
                   "storage.url=sqlite://" + (other / "db").string(), "--set",
                   "admin.socket=" + (other / "sock").string()});
  CHECK(result.status.exited_with(1));
  CHECK(result.output.find("Address already in use") != std::string::npos);

  // A second coordinator on the same admin socket is refused, and the first keeps its socket.
  const auto second =
      run_command({medic::test::k_coordinator_bin, "--set", "agents.listen=tcp://127.0.0.1:*",
                   "--set", "storage.url=sqlite://" + (other / "db2").string(), "--set",
                   "admin.socket=" + fleet.socket_path()});
  CHECK(second.status.exited_with(1));
  CHECK(second.output.find("another process answers there") != std::string::npos);
  CHECK(fleet.ctl("status").has_value());
}

TEST_CASE("medicctl without a coordinator says so and exits 3") {
  medic::test::TempDir dir;
  const auto result = run_command(
      {medic::test::k_medicctl_bin, "--socket", (dir / "none.sock").string(), "agents"});
  CHECK(result.status.exited_with(3));
  CHECK(result.errors.find("is medic-coordinator running?") != std::string::npos);
}

TEST_CASE("malformed batches are counted and dropped while a healthy agent keeps reporting") {
  Fleet fleet;
  const std::string endpoint = fleet.start_coordinator();
  fleet.start_agent("e2e-healthy");
  REQUIRE(medic::test::wait_until([&] { return fleet.agent("e2e-healthy").has_value(); }, 15s));

  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(endpoint);
  const std::string garbage[] = {
      std::string("\xff\xfe\x00 not msgpack", 15),
      std::string("\x96\x01\x02", 3),         // truncated envelope
      std::string("\xdd\xff\xff\xff\xff", 5), // array claiming 4 G items
      std::string("\x96\x09\x02\xa1"
                  "a\x01\x00\x80",
                  8), // unsupported version 9
  };
  for (const auto& frame : garbage) {
    REQUIRE(peer.send(zmq::buffer(frame), zmq::send_flags::none));
  }
  const bool counted = medic::test::wait_until(
      [&] {
        const auto status = fleet.ctl("status");
        return status && status->at("ingest").value("malformed", 0) == 4;
      },
      10s);
  INFO(fleet.logs());
  CHECK(counted);

  // The coordinator still serves the healthy agent after the garbage.
  const auto before = fleet.agent("e2e-healthy")->value("batches", 0);
  CHECK(medic::test::wait_until(
      [&] {
        const auto now = fleet.agent("e2e-healthy");
        return now && now->value("batches", 0) > before;
      },
      10s));
  CHECK(fleet.coordinator().running());
}
