// SPDX-License-Identifier: Apache-2.0
// Bad input reaches the real programs: broken configs, a taken address, and garbage on the wire.
#include <csignal>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "protocol/codec.hpp"
#include "shared/security/curve_keys.hpp"
#include "tests/support/fleet_fixture.hpp"

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

namespace {

// A raw DEALER speaking CURVE with its own key pair, for sending whatever a test wants.
struct RawPeer {
  zmq::context_t context;
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  medic::security::CurveKeyPair keys = medic::security::generate_keypair().value();

  enum class Connect { now, later };
  explicit RawPeer(const Fleet& fleet, Connect when = Connect::now) {
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::curve_serverkey,
               medic::security::resolve_public_key(fleet.coordinator_public_key_file()).value());
    socket.set(zmq::sockopt::curve_publickey, keys.public_key);
    socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    if (when == Connect::now) {
      socket.connect(fleet.endpoint());
    }
  }

  // The next message from the coordinator, decoded, if one arrives within the timeout.
  std::optional<medic::protocol::Message> receive(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) <= 0) {
      return std::nullopt;
    }
    zmq::message_t message;
    if (!socket.recv(message, zmq::recv_flags::dontwait)) {
      return std::nullopt;
    }
    auto decoded = medic::protocol::decode(message.to_string_view());
    return decoded ? std::optional(std::move(*decoded)) : std::nullopt;
  }

  // The code of the next ERROR, skipping heartbeats and acks.
  std::string next_error_code(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto message = receive(std::chrono::milliseconds(200));
      if (message && message->envelope.type == medic::protocol::MessageType::error) {
        return std::get<medic::protocol::ErrorReply>(message->body).code;
      }
    }
    return "(none)";
  }
};

std::string heartbeat_frame(const std::string& agent_id) {
  std::string frame;
  medic::protocol::Envelope envelope;
  envelope.agent_id = agent_id;
  medic::protocol::encode_heartbeat(frame, envelope, {});
  return frame;
}

} // namespace

TEST_CASE(
    "garbage from an enrolled peer is answered, counted and dropped, a healthy agent goes on") {
  Fleet fleet;
  fleet.start_coordinator();
  fleet.start_agent("e2e-healthy");
  REQUIRE(medic::test::wait_until([&] { return fleet.agent("e2e-healthy").has_value(); }, 15s));

  // Enrolled before it connects: a handshake refused by ZAP is not retried at once.
  RawPeer peer(fleet, RawPeer::Connect::later);
  REQUIRE(
      fleet.ctl_words({"keys", "add", "e2e-garbage", peer.keys.public_key}).status.exited_with(0));
  peer.socket.connect(fleet.endpoint());
  const std::pair<std::string, std::string> garbage[] = {
      {std::string("\xff\xfe\x00 not msgpack", 15), "malformed"},
      {std::string("\x96\x01\x02", 3), "malformed"},         // truncated
      {std::string("\xdd\xff\xff\xff\xff", 5), "malformed"}, // 4 G items claimed
      {std::string("\x96\x09\x02\xa1"
                   "a\x01\x00\x80",
                   8),
       "unsupported-version"},
      {std::string("\x96\x01\x09\xa1"
                   "a\x01\x00\x80",
                   8),
       "unknown-type"},
      {std::string("\x96\x01\x02\xab"
                   "e2e-garbage\x01\x00\x80",
                   18),
       "malformed"},                                      // no samples
      {heartbeat_frame("e2e-healthy"), "wrong-agent-id"}, // valid, but not this key's agent
  };
  for (const auto& [frame, expected] : garbage) {
    REQUIRE(peer.socket.send(zmq::buffer(frame), zmq::send_flags::none));
    CHECK(peer.next_error_code(5s) == expected);
  }
  const auto status = fleet.ctl("status");
  REQUIRE(status);
  CHECK(status->at("ingest").value("malformed", 0) == 6);
  CHECK(status->at("ingest").value("unauthorized", 0) == 1);

  // The coordinator still serves the healthy agent after the garbage.
  const auto before = fleet.agent("e2e-healthy")->value("batches", 0);
  INFO(fleet.logs());
  CHECK(medic::test::wait_until(
      [&] {
        const auto now = fleet.agent("e2e-healthy");
        return now && now->value("batches", 0) > before;
      },
      10s));
  CHECK(fleet.coordinator().running());
}

TEST_CASE("an agent with an unenrolled key is refused at the handshake") {
  Fleet fleet;
  fleet.start_coordinator();
  RawPeer stranger(fleet);
  REQUIRE(stranger.socket.send(zmq::buffer(heartbeat_frame("stranger")), zmq::send_flags::none));
  CHECK_FALSE(stranger.receive(2s).has_value());
  const auto status = fleet.ctl("status");
  REQUIRE(status);
  CHECK(status->at("auth").value("refused", 0) >= 1);
  CHECK(status->at("ingest").value("frames", 1) == 0);

  // The real agent binary with an unenrolled key never gets listed.
  fleet.start_agent("e2e-unenrolled", false);
  medic::test::sleep_for(2s);
  CHECK_FALSE(fleet.agent("e2e-unenrolled").has_value());
}

TEST_CASE("a revoked agent is cut off while another keeps reporting") {
  Fleet fleet;
  fleet.start_coordinator();
  fleet.start_agent("e2e-keep");
  fleet.start_agent("e2e-revoke");
  REQUIRE(medic::test::wait_until(
      [&] { return fleet.agent("e2e-keep").has_value() && fleet.agent("e2e-revoke").has_value(); },
      15s));
  const auto revoked = fleet.ctl_words({"keys", "revoke", "e2e-revoke"});
  REQUIRE(revoked.status.exited_with(0));
  CHECK(revoked.output.find("revoked") != std::string::npos);
  medic::test::sleep_for(1s); // batches already in flight may land
  const auto frozen = fleet.agent("e2e-revoke")->value("batches", 0);
  const auto kept = fleet.agent("e2e-keep")->value("batches", 0);
  medic::test::sleep_for(2s);
  INFO(fleet.logs());
  CHECK(fleet.agent("e2e-revoke")->value("batches", 0) == frozen);
  CHECK(fleet.agent("e2e-keep")->value("batches", 0) > kept);
  const auto status = fleet.ctl("status");
  REQUIRE(status);
  CHECK(status->at("ingest").value("cut_offs", 0) == 1);
  CHECK(status->at("auth").value("refused", 0) >= 1);
  // A revoked key cannot be enrolled again.
  const auto keys = fleet.ctl("keys.list");
  CHECK_FALSE(
      fleet.ctl_words({"keys", "add", "e2e-revoke", (fleet.dir() / "e2e-revoke.key.pub").string()})
          .status.exited_with(0));
}
