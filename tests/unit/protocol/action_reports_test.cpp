// SPDX-License-Identifier: Apache-2.0
// Action outcomes on the wire: RESULT with its optional details, and BATCH `results`, `budgets`
// and `evidence` (round trips, compatibility with the short RESULT, refusals).
#include <catch2/catch.hpp>

#include "protocol/codec.hpp"

using namespace medic::protocol;

namespace {

Envelope agent_envelope(std::uint64_t seq) {
  Envelope envelope;
  envelope.agent_id = "web-1";
  envelope.seq = seq;
  envelope.sent_at_ms = 1'700'000'000'000;
  return envelope;
}

CommandResult local_heal() {
  CommandResult result;
  result.status = ResultStatus::succeeded;
  result.reason = "exit 0";
  result.exit_code = 0;
  result.started_ms = 1000;
  result.finished_ms = 1450;
  result.output = "restarted\n";
  result.origin = "local";
  result.action = "restart-service";
  result.rule = "restart-web";
  result.target = "proc-down:web";
  result.params = {{"unit", "web.service"}};
  result.post_check = "failed";
  result.rollback = "rollback-web";
  result.rollback_status = "succeeded";
  result.plan = "/bin/systemctl restart web.service";
  result.audit_seq = 7;
  return result;
}

Batch action_batch() {
  Batch batch;
  batch.results.push_back(local_heal());
  CommandResult answer;
  answer.command_id = "cmd-1";
  answer.status = ResultStatus::dry_run;
  answer.origin = "coordinator";
  batch.results.push_back(answer);
  batch.budgets.push_back({"proc-down:web", "restart-service", 3, 900, 5000, true});
  batch.evidence.push_back(
      {"proc-down:web", "process-down", "diag-process-tree", 1200, ResultStatus::succeeded, "PID"});
  return batch;
}

} // namespace

TEST_CASE("results, budgets and evidence round-trip in a batch", "[protocol]") {
  const Batch batch = action_batch();
  std::string frame;
  encode_batch(frame, agent_envelope(3), batch);
  auto decoded = decode(frame);
  REQUIRE(decoded);
  CHECK(std::get<Batch>(decoded->body) == batch);

  BatchView view;
  view.results = batch.results;
  view.budgets = batch.budgets;
  view.evidence = batch.evidence;
  std::string from_view;
  encode_batch(from_view, agent_envelope(3), view);
  CHECK(from_view == frame);
}

TEST_CASE("a RESULT carries its details, and a short RESULT still decodes", "[protocol]") {
  std::string frame;
  encode_result(frame, agent_envelope(0), local_heal());
  auto decoded = decode(frame);
  REQUIRE(decoded);
  CHECK(std::get<CommandResult>(decoded->body) == local_heal());

  CommandResult short_result;
  short_result.command_id = "cmd-9";
  short_result.status = ResultStatus::needs_person;
  std::string short_frame;
  encode_result(short_frame, agent_envelope(0), short_result);
  auto short_decoded = decode(short_frame);
  REQUIRE(short_decoded);
  CHECK(std::get<CommandResult>(short_decoded->body) == short_result);
  // The details are optional keys: none of them is written when empty.
  CHECK(short_frame.find("origin") == std::string::npos);
}

TEST_CASE("every result status has a wire word that parses back", "[protocol]") {
  for (const auto status : {ResultStatus::succeeded, ResultStatus::failed, ResultStatus::rejected,
                            ResultStatus::expired, ResultStatus::duplicate, ResultStatus::timed_out,
                            ResultStatus::dry_run, ResultStatus::needs_person}) {
    CHECK(parse_result_status(to_string(status)) == status);
  }
  CHECK_FALSE(parse_result_status("exploded"));
}

TEST_CASE("bad action reports in a batch are refused with their path", "[protocol]") {
  Batch batch = action_batch();
  std::string frame;
  encode_batch(frame, agent_envelope(4), batch);
  // An unknown status word in the first result.
  std::string bad = frame;
  const auto at = bad.find("succeeded");
  REQUIRE(at != std::string::npos);
  bad.replace(at, 9, "exploded!");
  auto decoded = decode(bad);
  REQUIRE_FALSE(decoded);
  CHECK_THAT(decoded.error().message(),
             Catch::Contains("results") && Catch::Contains("unknown status 'exploded!'"));

  // A budget without its action.
  Batch no_action;
  no_action.budgets.push_back({"t", "", 1, 0, 0, false});
  no_action.budgets.front().action = "";
  std::string frame2;
  encode_batch(frame2, agent_envelope(5), no_action);
  auto refused = decode(frame2);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("budgets") && Catch::Contains("action"));
}
