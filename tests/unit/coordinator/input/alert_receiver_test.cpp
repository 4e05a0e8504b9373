// SPDX-License-Identifier: Apache-2.0
// AlertReceiver over real HTTP on loopback (httplib::Client and a raw socket): deliveries reach
// the listener on the loop thread; every refusal has its status; a full queue answers 503; close()
// while requests are in flight hands over every delivery it answered 200 and returns in bounded
// time. The listener here is a test double (the engine is the real one); it only records.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <httplib.h>

#include "coordinator/input/alert_receiver.hpp"
#include "tests/support/alertmanager.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace input = medic::coordinator::input;
using input::AlertInputConfig;
using input::AlertReceiver;
using namespace std::chrono_literals;

namespace {

// Test double of the engine: records what arrives and on which thread.
class RecordingListener final : public input::AlertListener {
public:
  void on_alerts(std::vector<medic::coordinator::escalate::InboundAlert> alerts,
                 std::int64_t received_ms) noexcept override {
    on_loop_thread = on_loop_thread && std::this_thread::get_id() == loop_thread;
    deliveries.push_back(std::move(alerts));
    last_received_ms = received_ms;
  }
  std::thread::id loop_thread = std::this_thread::get_id();
  bool on_loop_thread = true;
  std::vector<std::vector<medic::coordinator::escalate::InboundAlert>> deliveries;
  std::int64_t last_received_ms = 0;
};

std::string payload(const std::string& alertname, const std::string& instance) {
  return R"({"version": "4", "status": "firing", "receiver": "medic", "alerts": [{
    "status": "firing", "fingerprint": "f00d",
    "labels": {"alertname": ")" +
         alertname + R"(", "instance": ")" + instance + R"(", "severity": "critical"},
    "annotations": {"summary": "down"}, "startsAt": "2026-11-23T07:47:18Z"}]})";
}

struct Fixture {
  Fixture() { uv_loop_init(&loop); }
  ~Fixture() {
    if (receiver) {
      receiver->close();
    }
    uv_run(&loop, UV_RUN_NOWAIT); // the async handle's close callback
    uv_loop_close(&loop);
  }
  void start(AlertInputConfig config = {}) {
    if (config.listen.empty()) {
      config.listen = "127.0.0.1:0";
    }
    auto started = AlertReceiver::start(loop, config, listener);
    REQUIRE(started);
    receiver = std::move(*started);
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", receiver->port());
    c.set_read_timeout(5, 0);
    return c;
  }
  // Runs the loop until `n` deliveries reached the listener (or 5 s passed).
  bool await_deliveries(std::size_t n) {
    return medic::test::wait_until(
        [&] {
          uv_run(&loop, UV_RUN_NOWAIT);
          return listener.deliveries.size() >= n;
        },
        5s, 5ms);
  }
  uv_loop_t loop{};
  RecordingListener listener;
  std::unique_ptr<AlertReceiver> receiver;
};

int status_of(const httplib::Result& result) {
  return result ? result->status : -1;
}

} // namespace

TEST_CASE("alert receiver: a delivery reaches the listener on the loop thread", "[alert-input]") {
  Fixture f;
  f.start();
  auto client = f.client();
  auto res = client.Post(input::k_alertmanager_path, payload("PostgresDown", "db-1:9100"),
                         "application/json");
  REQUIRE(status_of(res) == 200);
  CHECK(res->body == "accepted 1 alerts\n");
  REQUIRE(f.await_deliveries(1));
  CHECK(f.listener.on_loop_thread);
  REQUIRE(f.listener.deliveries[0].size() == 1);
  CHECK(f.listener.deliveries[0][0].signal.rule == "PostgresDown");
  CHECK(f.listener.deliveries[0][0].host == "db-1");
  CHECK(f.listener.last_received_ms > 1'700'000'000'000);
  const auto c = f.receiver->counters();
  CHECK(c.accepted == 1);
  CHECK(c.alerts == 1);
  CHECK(c.handed_over == 1);
  CHECK(status_of(client.Get(input::k_healthy_path)) == 200);
}

TEST_CASE("alert receiver: refusals have their status codes", "[alert-input]") {
  const medic::test::TempDir dir;
  medic::test::write_file(dir / "token", "s3cret-token\n");
  ::chmod((dir / "token").c_str(), 0600);
  Fixture f;
  f.start({"127.0.0.1:0", (dir / "token").string(), 4});
  auto client = f.client();
  const auto good = payload("A", "h");

  CHECK(status_of(client.Post(input::k_alertmanager_path, good, "application/json")) == 401);
  httplib::Headers wrong{{"Authorization", "Bearer s3cret-tokeX"}};
  CHECK(status_of(client.Post(input::k_alertmanager_path, wrong, good, "application/json")) == 401);
  httplib::Headers basic{{"Authorization", "Basic s3cret-token"}};
  CHECK(status_of(client.Post(input::k_alertmanager_path, basic, good, "application/json")) == 401);
  client.set_bearer_token_auth("s3cret-token");
  CHECK(status_of(client.Post(input::k_alertmanager_path, good, "application/json")) == 200);

  const std::string big(medic::coordinator::escalate::k_max_webhook_body_bytes + 1, ' ');
  CHECK(status_of(client.Post(input::k_alertmanager_path, big, "application/json")) == 413);
  auto bad = client.Post(input::k_alertmanager_path, R"({"version": "3", "alerts": []})",
                         "application/json");
  REQUIRE(status_of(bad) == 400);
  CHECK(bad->body.find("only Alertmanager's version '4'") != std::string::npos);
  CHECK(status_of(client.Post(input::k_alertmanager_path, std::string("\xff\x00{", 3),
                              "application/json")) == 400);
  CHECK(status_of(client.Post("/api/v2/alerts", good, "application/json")) == 404);
  auto get = client.Get(input::k_alertmanager_path);
  REQUIRE(status_of(get) == 405);
  CHECK(get->get_header_value("Allow") == "POST");
  CHECK(status_of(client.Put(input::k_alertmanager_path, good, "application/json")) == 405);
  CHECK(status_of(client.Post(input::k_healthy_path, good, "application/json")) == 405);
  // The connection still works after the early refusals.
  CHECK(status_of(client.Post(input::k_alertmanager_path, good, "application/json")) == 200);

  const auto c = f.receiver->counters();
  CHECK(c.unauthorized == 3);
  CHECK(c.too_large == 1);
  CHECK(c.bad_payload == 2);
  CHECK(c.wrong_route == 3);
  CHECK(c.accepted == 2);
  REQUIRE(f.await_deliveries(2));
}

TEST_CASE("alert receiver: a full queue answers 503 until the loop catches up", "[alert-input]") {
  Fixture f;
  f.start({"127.0.0.1:0", "", 2});
  auto client = f.client();
  // The loop does not run here, so nothing is taken from the queue.
  CHECK(status_of(client.Post(input::k_alertmanager_path, payload("A", "h"), "text/json")) == 200);
  CHECK(status_of(client.Post(input::k_alertmanager_path, payload("B", "h"), "text/json")) == 200);
  auto full = client.Post(input::k_alertmanager_path, payload("C", "h"), "text/json");
  REQUIRE(status_of(full) == 503);
  CHECK(full->get_header_value("Retry-After") == "1");
  CHECK(f.receiver->counters().queue_full == 1);
  REQUIRE(f.await_deliveries(2));
  CHECK(f.listener.deliveries[1][0].signal.rule == "B");
  CHECK(status_of(client.Post(input::k_alertmanager_path, payload("C", "h"), "text/json")) == 200);
  REQUIRE(f.await_deliveries(3));
  CHECK(f.listener.deliveries[2][0].signal.rule == "C");
}

TEST_CASE("alert receiver: close while requests are in flight", "[alert-input]") {
  Fixture f;
  f.start({"127.0.0.1:0", "", 1000});
  const auto port = f.receiver->port();

  // A client that sent its headers and half its body, and then nothing.
  const int stalled = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(stalled, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string head = std::string("POST ") + input::k_alertmanager_path +
                           " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"version\"";
  REQUIRE(::send(stalled, head.data(), head.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(head.size()));

  // Clients posting as fast as they can while close() runs.
  std::atomic<int> answered_200{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int i = 0; i < 2; ++i) {
    senders.emplace_back([&, port] {
      httplib::Client c("127.0.0.1", port);
      c.set_connection_timeout(1, 0);
      while (!stop) {
        if (status_of(c.Post(input::k_alertmanager_path, payload("X", "h"), "text/json")) == 200) {
          ++answered_200;
        }
      }
    });
  }
  REQUIRE(medic::test::wait_until([&] { return answered_200 >= 5; }, 5s, 1ms));

  const auto before = std::chrono::steady_clock::now();
  f.receiver->close();
  const auto took = std::chrono::steady_clock::now() - before;
  stop = true;
  for (auto& t : senders) {
    t.join();
  }
  ::close(stalled);
  CHECK(took < 5s); // the stalled body is bounded by the 3 s read timeout
  // Every delivery answered 200 reached the listener; none was lost in the queue.
  CHECK(f.listener.deliveries.size() == static_cast<std::size_t>(answered_200.load()));
  CHECK(f.receiver->counters().handed_over == f.receiver->counters().accepted);
  f.receiver->close(); // idempotent
  httplib::Client late("127.0.0.1", port);
  late.set_connection_timeout(1, 0);
  CHECK(status_of(late.Get(input::k_healthy_path)) == -1); // nobody listens any more
}

TEST_CASE("alert receiver: start refuses bad tokens files and taken ports", "[alert-input]") {
  const medic::test::TempDir dir;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RecordingListener listener;
  const auto error_of = [&](const AlertInputConfig& config) {
    auto started = AlertReceiver::start(loop, config, listener);
    return started ? std::string() : started.error().message();
  };
  medic::test::write_file(dir / "open", "token");
  ::chmod((dir / "open").c_str(), 0644);
  CHECK(error_of({"127.0.0.1:0", (dir / "open").string(), 4})
            .find("readable or writable by "
                  "everyone") != std::string::npos);
  medic::test::write_file(dir / "empty", "\n");
  ::chmod((dir / "empty").c_str(), 0600);
  CHECK(error_of({"127.0.0.1:0", (dir / "empty").string(), 4}).find("empty") != std::string::npos);
  CHECK(error_of({"127.0.0.1:0", (dir / "missing").string(), 4}).find("No such file") !=
        std::string::npos);

  auto first = AlertReceiver::start(loop, {"127.0.0.1:0", "", 4}, listener);
  REQUIRE(first);
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  CHECK(error_of({taken, "", 4}) ==
        "Alertmanager input: cannot listen on " + taken + " (address taken or not local?)");
  (*first)->close();
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(uv_loop_close(&loop) == 0); // no handle left behind by the failed starts
}

TEST_CASE("alert receiver: listen addresses and the config keys", "[alert-input]") {
  CHECK(input::check_listen("127.0.0.1:9097"));
  CHECK(input::check_listen("[::1]:9097"));
  CHECK(input::check_listen("localhost:9097"));
  CHECK(input::check_listen("0.0.0.0:9097"));
  CHECK_FALSE(input::check_listen("127.0.0.1:0"));
  CHECK(input::check_listen("127.0.0.1:0", true));
  CHECK(input::check_listen("9097").error().message() ==
        "'9097': no address (expected address:port, e.g. 127.0.0.1:9097)");
  CHECK(input::check_listen("example.com:80").error().message().find("must be numeric IPv4") !=
        std::string::npos);
  CHECK(input::check_listen("127.0.0.1:65536").error().message().find("1 to 65535") !=
        std::string::npos);
  CHECK_FALSE(input::check_listen("[::1:9097"));
  CHECK_FALSE(input::check_listen("[zz]:9097"));

  AlertInputConfig config;
  medic::config::Schema schema("MEDIC_TEST_");
  input::add_alert_input_keys(schema, config);
  CHECK(config.listen.empty()); // off by default
  REQUIRE(
      schema.load_text("alertmanager_input:\n  listen: 127.0.0.1:9097\n  queue: 8\n", "c.yaml"));
  CHECK(config.listen == "127.0.0.1:9097");
  CHECK(config.queue == 8);
  auto bad = schema.load_text("alertmanager_input:\n  listen: ':9097'\n", "c.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("c.yaml:2:") != std::string::npos);
  CHECK(bad.error().message().find("no address") != std::string::npos);
  CHECK_FALSE(schema.load_text("alertmanager_input:\n  queue: 0\n", "c.yaml"));
}

TEST_CASE("alert receiver: a real Alertmanager delivers with its bearer token", "[alert-input]") {
  REQUIRE(std::filesystem::exists(medic::test::k_alertmanager_binary));
  const medic::test::TempDir dir;
  medic::test::write_file(dir / "token", "am-token-1\n");
  ::chmod((dir / "token").c_str(), 0640);
  Fixture f;
  f.start({"127.0.0.1:0", (dir / "token").string(), 8});
  const std::string url =
      "http://127.0.0.1:" + std::to_string(f.receiver->port()) + input::k_alertmanager_path;
  medic::test::Alertmanager alertmanager(dir.path(), medic::test::webhook_to(url, "am-token-1"));
  REQUIRE(alertmanager.wait_ready());
  REQUIRE(alertmanager.post_alerts(nlohmann::json::array(
      {{{"labels", {{"alertname", "DiskFull"}, {"instance", "db-7:9100"}, {"severity", "page"}}},
        {"annotations", {{"summary", "disk full"}}}}})));
  REQUIRE(f.await_deliveries(1));
  const auto& alert = f.listener.deliveries[0].at(0);
  CHECK(alert.signal.rule == "DiskFull");
  CHECK(alert.host == "db-7");
  CHECK(alert.signal.severity == medic::protocol::Severity::critical);
  CHECK(alert.signal.message == "disk full");
  CHECK(f.receiver->counters().unauthorized == 0);
}
