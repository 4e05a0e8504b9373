// SPDX-License-Identifier: Apache-2.0
// The real agent against a scripted coordinator (a raw CURVE ROUTER in this test, named as the
// stand-in it is, since the coordinator's planner comes later): COMMANDs run only from the
// agent's catalog with valid parameters, never twice for one id (also across an agent restart),
// never past their deadline, never inside the action's cooldown for the same parameters (also
// across a restart); a failed post-condition runs the rollback, which switches the
// `current` symlink; results arrive inside acknowledged BATCHes.
#include <csignal>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "protocol/codec.hpp"
#include "shared/security/curve_keys.hpp"
#include "tests/support/fleet_fixture.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
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

  // Serves the agent (heartbeats answered, batches acked and their results kept) until
  // `done()` holds or the timeout passes.
  template <class Done>
  bool serve(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
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
      m_hello = m_hello || message->envelope.type == protocol::MessageType::hello;
      if (message->envelope.type == protocol::MessageType::heartbeat) {
        send([&](std::string& out, const protocol::Envelope& e) {
          protocol::encode_heartbeat(out, e, {});
        });
      } else if (auto* batch = std::get_if<protocol::Batch>(&message->body)) {
        for (auto& result : batch->results) {
          results.push_back(std::move(result));
        }
        for (auto& entry : batch->evidence) {
          evidence.push_back(std::move(entry));
        }
        send([&, seq = message->envelope.seq](std::string& out, const protocol::Envelope& e) {
          protocol::encode_ack(out, e, protocol::Ack{seq});
        });
      }
    }
    return true;
  }

  bool await_hello(std::chrono::milliseconds timeout) {
    const bool heard = serve([this] { return m_hello; }, timeout);
    m_hello = false; // the next await waits for the next HELLO (a restarted agent)
    return heard;
  }

  // Sends the command and waits for a result with its id beyond the first `skip` ones.
  std::optional<protocol::CommandResult> run(const protocol::Command& command, std::size_t skip = 0,
                                             std::chrono::milliseconds timeout = 10s) {
    send([&](std::string& out, const protocol::Envelope& e) {
      protocol::encode_command(out, e, command);
    });
    std::optional<protocol::CommandResult> found;
    serve(
        [&] {
          std::size_t seen = 0;
          for (const auto& result : results) {
            if (result.command_id == command.id && seen++ == skip) {
              found = result;
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }

  std::vector<protocol::CommandResult> results;
  std::vector<protocol::Evidence> evidence;

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
  bool m_hello = false;
};

std::string agent_config(const medic::test::TempDir& dir, const std::string& endpoint) {
  const std::string d = dir.path().string();
  return "agent: {id: e2e-commands}\n"
         "coordinator:\n"
         "  endpoint: " +
         endpoint +
         "\n"
         "  public_key: " +
         d +
         "/coordinator.key.pub\n"
         "  heartbeat_interval: 200ms\n"
         "security: {key_file: " +
         d +
         "/agent.key}\n"
         "spool: {path: " +
         d +
         "/spool.db}\n"
         "batch: {event_delay: 50ms}\n"
         "processes:\n"
         "  - {name: never-running, process_name: medic-no-such-process}\n"
         "actions:\n"
         "  - name: touch-marker\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    argv: [/usr/bin/touch, '{name}']\n"
         "    cooldown: 10m\n"
         "    cwd: " +
         d +
         "/markers\n"
         "    params:\n"
         "      - {name: name, type: string, pattern: '[a-z0-9-]{1,32}'}\n"
         "  - name: deploy-check\n"
         "    kind: exec\n"
         "    risk: medium\n"
         "    argv: [/bin/true]\n"
         "    post_condition: {kind: process, target: never-running, within: 1s}\n"
         "    rollback: rollback-release\n"
         "  - name: block-marker\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    argv: [/usr/bin/touch, '{name}']\n"
         "    cwd: " +
         d +
         "/markers\n"
         "    params: [{name: name, type: string}]\n"
         "    temporary: {undo: unblock-marker, duration: 1s}\n"
         "  - name: unblock-marker\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    argv: [/bin/rm, -f, '{name}']\n"
         "    cwd: " +
         d +
         "/markers\n"
         "    params: [{name: name, type: string}]\n"
         "  - name: diag-echo\n"
         "    kind: exec\n"
         "    risk: low\n"
         "    diagnostic: true\n"
         "    argv: [/bin/echo, evidence for the coordinator]\n"
         "  - name: rollback-release\n"
         "    kind: rollback\n"
         "    risk: medium\n"
         "    releases_dir: " +
         d +
         "/releases\n"
         "    current_link: " +
         d +
         "/current\n"
         "diagnostics:\n"
         "  - {on_rule: process-down, actions: [diag-echo]}\n";
}

} // namespace

TEST_CASE("COMMANDs run from the catalog only, once per id, with rollback on a failed check") {
  medic::test::TempDir dir;
  fs::create_directories(dir / "markers");
  fs::create_directories(dir / "releases" / "v1");
  fs::create_directories(dir / "releases" / "v2");
  fs::create_symlink(dir / "releases" / "v2", dir / "current");
  ScriptedCoordinator coordinator(dir);
  const auto config = dir / "agent.yaml";
  medic::test::write_file(config, agent_config(dir, coordinator.endpoint()));
  auto agent = std::make_unique<medic::test::Process>(
      std::vector<std::string>{medic::test::k_agent_bin, "--config", config.string()},
      dir / "agent.log");
  INFO(medic::test::read_file(dir / "agent.log"));
  REQUIRE(coordinator.await_hello(10s));

  const protocol::Command touch{"cmd-1", now_ms() + 60'000, "touch-marker", {{"name", "one"}}};
  auto first = coordinator.run(touch);
  REQUIRE(first);
  CHECK(first->status == protocol::ResultStatus::succeeded);
  CHECK(first->origin == "coordinator");
  CHECK(fs::exists(dir / "markers" / "one"));

  // The same id again: not run a second time, the first outcome is sent again.
  fs::remove(dir / "markers" / "one");
  auto again = coordinator.run(touch, 1);
  REQUIRE(again);
  CHECK(again->status == protocol::ResultStatus::succeeded);
  CHECK(again->started_ms == first->started_ms);
  CHECK_FALSE(fs::exists(dir / "markers" / "one"));

  // Hostile parameters and unknown actions: refused with a reason, nothing runs.
  const std::vector<std::string> hostile = {
      "; rm -rf /", "$(id)", "`id`", "../../etc", "a\nb", std::string(100, 'a'), "-rf"};
  int n = 10;
  for (const auto& value : hostile) {
    const protocol::Command bad{
        "cmd-" + std::to_string(n++), now_ms() + 60'000, "touch-marker", {{"name", value}}};
    auto refused = coordinator.run(bad);
    REQUIRE(refused);
    CHECK(refused->status == protocol::ResultStatus::rejected);
    CHECK_THAT(refused->reason, Catch::Contains("name"));
  }
  auto unknown = coordinator.run({"cmd-u", now_ms() + 60'000, "format-disk", {}});
  REQUIRE(unknown);
  CHECK(unknown->status == protocol::ResultStatus::rejected);
  CHECK_THAT(unknown->reason, Catch::Contains("not in this agent's catalog"));
  auto late = coordinator.run({"cmd-late", now_ms() - 1'000, "touch-marker", {{"name", "x"}}});
  REQUIRE(late);
  CHECK(late->status == protocol::ResultStatus::expired);
  CHECK(fs::is_empty(dir / "markers"));
  CHECK_FALSE(coordinator.results.empty());

  // The action's cooldown holds per target: the same action and parameters under a new id is
  // refused with a reason naming the cooldown and its end; other parameters run.
  auto cool = coordinator.run({"cmd-cd-1", now_ms() + 60'000, "touch-marker", {{"name", "cd"}}});
  REQUIRE(cool);
  CHECK(cool->status == protocol::ResultStatus::succeeded);
  CHECK(fs::exists(dir / "markers" / "cd"));
  fs::remove(dir / "markers" / "cd");
  auto held = coordinator.run({"cmd-cd-2", now_ms() + 60'000, "touch-marker", {{"name", "cd"}}});
  REQUIRE(held);
  CHECK(held->status == protocol::ResultStatus::rejected);
  CHECK_THAT(held->reason,
             Catch::Contains("cooldown of 'touch-marker'") && Catch::Contains("ends at"));
  CHECK_FALSE(fs::exists(dir / "markers" / "cd"));
  auto other = coordinator.run({"cmd-ce-1", now_ms() + 60'000, "touch-marker", {{"name", "ce"}}});
  REQUIRE(other);
  CHECK(other->status == protocol::ResultStatus::succeeded);
  CHECK(fs::exists(dir / "markers" / "ce"));
  fs::remove(dir / "markers" / "ce");

  // The post-condition (a process that never runs) fails: the rollback switches `current`.
  auto deploy = coordinator.run({"cmd-deploy", now_ms() + 60'000, "deploy-check", {}}, 0, 15s);
  REQUIRE(deploy);
  CHECK(deploy->status == protocol::ResultStatus::failed);
  CHECK(deploy->post_check == "failed");
  CHECK(deploy->rollback == "rollback-release");
  CHECK(deploy->rollback_status == "succeeded");
  CHECK(fs::read_symlink(dir / "current").filename() == "v1");

  // A temporary action is undone by its inverse after its time (reported as a local action).
  auto block = coordinator.run({"cmd-block", now_ms() + 60'000, "block-marker", {{"name", "b"}}});
  REQUIRE(block);
  CHECK(block->status == protocol::ResultStatus::succeeded);
  const auto undone = [&] {
    for (const auto& result : coordinator.results) {
      if (result.action == "unblock-marker" && result.origin == "local" &&
          result.rule == "temporary:block-marker" &&
          result.status == protocol::ResultStatus::succeeded) {
        return true;
      }
    }
    return false;
  };
  CHECK(coordinator.serve(undone, 15s));
  CHECK_FALSE(fs::exists(dir / "markers" / "b"));

  // process-down fired at start (the watched process never runs): its diagnostic ran and its
  // output reached the coordinator as evidence.
  CHECK(coordinator.serve([&] { return !coordinator.evidence.empty(); }, 10s));
  if (!coordinator.evidence.empty()) {
    CHECK(coordinator.evidence.front().action == "diag-echo");
    CHECK(coordinator.evidence.front().rule == "process-down");
    CHECK_THAT(coordinator.evidence.front().output,
               Catch::Contains("evidence for the coordinator"));
  }

  // Across an agent restart the id is still remembered: the command does not run again.
  agent->signal(SIGTERM);
  REQUIRE(agent->wait_for(5s));
  agent = std::make_unique<medic::test::Process>(
      std::vector<std::string>{medic::test::k_agent_bin, "--config", config.string()},
      dir / "agent.log");
  REQUIRE(coordinator.await_hello(10s));
  const std::size_t before = coordinator.results.size();
  auto replay = coordinator.run(touch, 2, 15s);
  REQUIRE(replay);
  CHECK(replay->status == protocol::ResultStatus::succeeded);
  CHECK(replay->started_ms == first->started_ms);
  CHECK(coordinator.results.size() > before);
  CHECK_FALSE(fs::exists(dir / "markers" / "one"));
  // The cooldown survived the restart too (it lasts 10 minutes).
  auto still = coordinator.run({"cmd-cd-3", now_ms() + 60'000, "touch-marker", {{"name", "cd"}}});
  REQUIRE(still);
  CHECK(still->status == protocol::ResultStatus::rejected);
  CHECK_THAT(still->reason, Catch::Contains("cooldown"));
  CHECK_FALSE(fs::exists(dir / "markers" / "cd"));

  agent->signal(SIGTERM);
  const auto exited = agent->wait_for(5s);
  REQUIRE(exited);
  CHECK(exited->exited_with(0));
}
