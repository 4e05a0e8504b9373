// SPDX-License-Identifier: Apache-2.0
// The real agent against a scripted coordinator (a raw CURVE ROUTER in this test, named as the
// stand-in it is): a COMMAND is never started past its deadline, nor twice for one id.
#include <csignal>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "protocol/codec.hpp"
#include "shared/security/curve_keys.hpp"
#include "tests/e2e/e2e_fixture.hpp"

using namespace std::chrono_literals;
namespace protocol = medic::protocol;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ScriptedCoordinator {
public:
  explicit ScriptedCoordinator(const medic::test::TempDir& dir)
      : m_keys(medic::security::load_or_create_keypair(dir / "coordinator.key").value()) {
    m_socket.set(zmq::sockopt::linger, 0);
    m_socket.set(zmq::sockopt::curve_server, 1);
    m_socket.set(zmq::sockopt::curve_secretkey, m_keys.secret_key);
    m_socket.bind("tcp://127.0.0.1:*");
  }

  std::string endpoint() { return m_socket.get(zmq::sockopt::last_endpoint); }

  // Answers heartbeats until a message of `type` arrives (or the timeout passes).
  std::optional<protocol::Message> await(protocol::MessageType type,
                                         std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{m_socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 100ms) <= 0) {
        continue;
      }
      zmq::message_t peer;
      zmq::message_t body;
      (void)m_socket.recv(peer);
      (void)m_socket.recv(body);
      m_peer = peer.to_string();
      auto message = protocol::decode(body.to_string_view());
      if (!message) {
        continue;
      }
      m_agent = message->envelope.agent_id;
      if (message->envelope.type == protocol::MessageType::heartbeat) {
        send([&](std::string& out, const protocol::Envelope& e) {
          protocol::encode_heartbeat(out, e, {});
        });
      }
      if (message->envelope.type == type) {
        return std::move(*message);
      }
    }
    return std::nullopt;
  }

  void command(const protocol::Command& command) {
    send([&](std::string& out, const protocol::Envelope& e) {
      protocol::encode_command(out, e, command);
    });
  }

private:
  template <class Encode>
  void send(Encode&& encode) {
    protocol::Envelope envelope;
    envelope.agent_id = m_agent;
    envelope.seq = ++m_seq;
    envelope.sent_at_ms = now_ms();
    std::string frame;
    encode(frame, envelope);
    m_socket.send(zmq::buffer(m_peer), zmq::send_flags::sndmore);
    m_socket.send(zmq::buffer(frame), zmq::send_flags::none);
  }

  medic::security::CurveKeyPair m_keys;
  zmq::context_t m_context;
  zmq::socket_t m_socket{m_context, zmq::socket_type::router};
  std::string m_peer;
  std::string m_agent = "-";
  std::uint64_t m_seq = 0;
};

} // namespace

TEST_CASE("a replayed or late COMMAND is refused by the real agent") {
  medic::test::TempDir dir;
  ScriptedCoordinator coordinator(dir);
  const auto config = dir / "agent.yaml";
  medic::test::write_file(config,
                          "agent: {id: e2e-commands}\n"
                          "coordinator:\n"
                          "  endpoint: " +
                              coordinator.endpoint() +
                              "\n"
                              "  public_key: " +
                              (dir / "coordinator.key.pub").string() +
                              "\n"
                              "  heartbeat_interval: 200ms\n"
                              "security: {key_file: " +
                              (dir / "agent.key").string() +
                              "}\n"
                              "spool: {path: " +
                              (dir / "spool.db").string() + "}\n");
  medic::test::Process agent({medic::test::k_agent_bin, "--config", config.string()},
                             dir / "agent.log");
  INFO(medic::test::read_file(dir / "agent.log"));
  REQUIRE(coordinator.await(protocol::MessageType::hello, 10s));

  auto result_of = [&](const protocol::Command& command) {
    coordinator.command(command);
    auto message = coordinator.await(protocol::MessageType::result, 5s);
    REQUIRE(message);
    const auto& result = std::get<protocol::CommandResult>(message->body);
    CHECK(result.command_id == command.id);
    return result;
  };
  const protocol::Command fresh{"cmd-1", now_ms() + 60'000, "restart-service", {{"unit", "x"}}};
  const auto first = result_of(fresh);
  CHECK(first.status == protocol::ResultStatus::rejected); // no action catalog in this version
  CHECK(first.reason.find("not in this agent's catalog") != std::string::npos);
  CHECK(result_of(fresh).status == protocol::ResultStatus::duplicate);
  const protocol::Command late{"cmd-2", now_ms() - 1'000, "restart-service", {}};
  CHECK(result_of(late).status == protocol::ResultStatus::expired);

  agent.signal(SIGTERM);
  const auto exited = agent.wait_for(2s);
  REQUIRE(exited);
  CHECK(exited->exited_with(0));
}
