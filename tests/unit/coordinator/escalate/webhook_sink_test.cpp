// SPDX-License-Identifier: Apache-2.0
// WebhookSink against a real HTTP receiver on loopback: the full context arrives signed, a dead
// receiver is retried with backoff and recorded as failed while another sink still delivers,
// duplicates wait for the repeat interval, and a full queue drops its oldest.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "coordinator/escalate/escalator.hpp"
#include "coordinator/escalate/webhook_sink.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/process.hpp"

namespace escalate = medic::coordinator::escalate;
using escalate::DeliveryOptions;
using escalate::Notification;
using escalate::NotificationState;
using medic::test::HttpReceiver;
using medic::test::wait_until;
using namespace std::chrono_literals;

namespace {

Notification notification(std::uint64_t id, NotificationState state = NotificationState::firing) {
  Notification n;
  n.incident_id = id;
  n.state = state;
  n.labels = {{"alertname", "ServiceDown"}, {"medic_incident", std::to_string(id)}};
  n.annotations = {{"summary", "web is down"}, {"root_cause", "crashed-service"}};
  n.starts_at_ms = 1795420038000;
  n.context = {{"signals", {{{"rule", "proc-down"}, {"host", "web-1"}}}},
               {"log_lines", {"segfault at 0 ip 00007f", "bad \xff byte"}},
               {"actions", {{{"action", "restart-service"}, {"output", "Job failed"}}}}};
  return n;
}

DeliveryOptions fast_options() {
  DeliveryOptions options;
  options.timeouts = {200ms, 1000ms};
  options.initial_backoff = 20ms;
  options.max_backoff = 80ms;
  options.max_attempts = 4;
  options.repeat_interval = 400ms;
  return options;
}

std::string dead_url() {
  return "http://127.0.0.1:" + std::to_string(medic::test::free_loopback_port()) + "/hook";
}

} // namespace

TEST_CASE("webhook sink: HMAC-SHA256 matches RFC 4231", "[escalate]") {
  CHECK(escalate::sign_body("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhook sink: the receiver gets the context, a bearer token and a valid signature",
          "[escalate]") {
  HttpReceiver receiver;
  REQUIRE(receiver.port() > 0);
  escalate::WebhookSink sink({"bot", receiver.url(), "t0ken", "sh4red"}, fast_options());
  sink.enqueue(notification(7));
  REQUIRE(wait_until([&] { return receiver.count() == 1; }, 5s));

  const auto request = receiver.received().front();
  CHECK(request.method == "POST");
  CHECK(request.path == "/hook");
  CHECK(request.headers.at("authorization") == "Bearer t0ken");
  CHECK(request.headers.at("content-type") == "application/json");
  CHECK(request.headers.at("x-medic-signature") == escalate::sign_body("sh4red", request.body));
  CHECK(request.headers.at("x-medic-signature") != escalate::sign_body("other", request.body));
  const auto body = nlohmann::json::parse(request.body);
  CHECK(body["incident_id"] == 7);
  CHECK(body["status"] == "firing");
  CHECK(body["labels"]["alertname"] == "ServiceDown");
  CHECK(body["annotations"]["root_cause"] == "crashed-service");
  CHECK(body["startsAt"] == "2026-11-23T07:47:18.000Z");
  CHECK(body["context"]["actions"][0]["output"] == "Job failed");
  CHECK(body["context"]["log_lines"][1] == "bad \xEF\xBF\xBD byte"); // invalid UTF-8 replaced

  REQUIRE(wait_until([&] { return sink.counters().sent == 1; }, 2s));
  const auto outcomes = sink.drain_outcomes();
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].delivered);
  CHECK(outcomes[0].http_status == 200);
  CHECK(outcomes[0].attempts == 1);
  CHECK(sink.drain_outcomes().empty());
}

TEST_CASE(
    "webhook sink: a dead receiver is retried with backoff, then recorded as failed while "
    "another sink delivers",
    "[escalate]") {
  HttpReceiver receiver;
  std::vector<std::unique_ptr<escalate::Sink>> sinks;
  sinks.push_back(std::make_unique<escalate::WebhookSink>(
      escalate::WebhookSinkConfig{"dead", dead_url(), "", ""}, fast_options()));
  sinks.push_back(std::make_unique<escalate::WebhookSink>(
      escalate::WebhookSinkConfig{"alive", receiver.url(), "", ""}, fast_options()));
  escalate::Escalator escalator(std::move(sinks), {{"env", "test"}});

  const auto started = std::chrono::steady_clock::now();
  escalator.escalate(notification(1));
  REQUIRE(wait_until([&] { return receiver.count() == 1; }, 5s));
  CHECK(std::chrono::steady_clock::now() - started < 1s); // not held back by the dead sink
  CHECK(nlohmann::json::parse(receiver.received()[0].body)["labels"]["env"] == "test");

  REQUIRE(wait_until([&] { return escalator.status()[0].counters.failed == 1; }, 5s));
  const auto status = escalator.status();
  CHECK(status[0].name == "dead");
  CHECK(status[0].counters.retried == 3);
  CHECK(status[0].counters.sent == 0);
  REQUIRE(status[0].failed.size() == 1);
  CHECK(status[0].failed[0].attempts == 4);
  CHECK(status[0].failed[0].incident_id == 1);
  CHECK(status[0].failed[0].error.find("Failed to connect to 127.0.0.1") != std::string::npos);
  CHECK(status[1].counters.sent == 1);
  CHECK(status[1].counters.failed == 0);

  const auto outcomes = escalator.drain_outcomes();
  REQUIRE(outcomes.size() == 2);
  CHECK_FALSE(outcomes[0].delivered);
  CHECK(outcomes[0].sink == "dead");
  CHECK(outcomes[1].delivered);
}

TEST_CASE("webhook sink: a 4xx answer is not retried, a 5xx answer is", "[escalate]") {
  HttpReceiver receiver(400);
  escalate::WebhookSink sink({"bot", receiver.url(), "", ""}, fast_options());
  sink.enqueue(notification(1));
  REQUIRE(wait_until([&] { return sink.counters().failed == 1; }, 5s));
  CHECK(receiver.count() == 1);
  CHECK(sink.counters().retried == 0);
  CHECK(sink.failed_deliveries().at(0).http_status == 400);

  receiver.set_status(503);
  sink.enqueue(notification(2));
  REQUIRE(wait_until([&] { return sink.counters().failed == 2; }, 5s));
  CHECK(receiver.count() == 5);
  CHECK(sink.counters().retried == 3);
  CHECK(sink.failed_deliveries().at(1).error.starts_with("HTTP 503"));
}

TEST_CASE("webhook sink: the same incident and state wait for the repeat interval", "[escalate]") {
  HttpReceiver receiver;
  escalate::WebhookSink sink({"bot", receiver.url(), "", ""}, fast_options());
  sink.enqueue(notification(1));
  sink.enqueue(notification(1));
  sink.enqueue(notification(2));
  REQUIRE(wait_until([&] { return sink.counters().sent + sink.counters().deduplicated == 3; }, 5s));
  CHECK(sink.counters().sent == 2);
  CHECK(sink.counters().deduplicated == 1);

  // A state change is news at once; the same state again after the interval is sent again.
  sink.enqueue(notification(1, NotificationState::resolved));
  REQUIRE(wait_until([&] { return sink.counters().sent == 3; }, 5s));
  medic::test::sleep_for(450ms);
  sink.enqueue(notification(1, NotificationState::resolved));
  REQUIRE(wait_until([&] { return sink.counters().sent == 4; }, 5s));
  CHECK(receiver.count() == 4);
  CHECK(sink.counters().deduplicated == 1);
}

TEST_CASE("webhook sink: a full queue drops the oldest and counts it", "[escalate]") {
  auto options = fast_options();
  options.queue_size = 2;
  options.max_attempts = 100;
  options.initial_backoff = 10s; // the worker sits in its backoff while the queue fills
  options.max_backoff = 10s;
  escalate::WebhookSink sink({"dead", dead_url(), "", ""}, options);
  sink.enqueue(notification(1));
  REQUIRE(wait_until([&] { return sink.counters().retried >= 1; }, 5s));
  for (std::uint64_t id = 2; id <= 6; ++id) {
    sink.enqueue(notification(id));
  }
  CHECK(sink.counters().dropped == 3);
  const auto outcomes = sink.drain_outcomes();
  REQUIRE(outcomes.size() == 3);
  CHECK(outcomes[0].incident_id == 2);
  CHECK(outcomes[2].incident_id == 4);
  CHECK(outcomes[0].error == "dropped: the queue of 2 notifications was full");

  const auto started = std::chrono::steady_clock::now();
  sink.stop(); // cancels the backoff; the two still queued count as dropped
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  CHECK(sink.counters().dropped == 5);
  CHECK(sink.counters().failed == 1);
}

TEST_CASE("webhook sink: full-jitter backoff stays under its capped ceiling", "[escalate]") {
  using escalate::full_jitter_backoff;
  CHECK(full_jitter_backoff(1, 100ms, 1000ms, 100) == 100ms);
  CHECK(full_jitter_backoff(1, 100ms, 1000ms, 101) == 0ms);
  CHECK(full_jitter_backoff(3, 100ms, 1000ms, 400) == 400ms);
  CHECK(full_jitter_backoff(3, 100ms, 1000ms, 401) == 0ms);
  CHECK(full_jitter_backoff(40, 100ms, 1000ms, 1000) == 1000ms);
  CHECK(full_jitter_backoff(40, 100ms, 1000ms, ~std::uint64_t{0}) <= 1000ms);
  const auto huge = std::chrono::milliseconds(std::int64_t{1} << 60); // no overflow
  CHECK(full_jitter_backoff(64, huge, huge, ~std::uint64_t{0}) <= huge);
  CHECK(full_jitter_backoff(0, 0ms, 0ms, 12345) == 0ms);
}
