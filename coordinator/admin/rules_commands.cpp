// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/rules_commands.hpp"

#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>

#include "coordinator/admin/admin_reply.hpp"
#include "coordinator/backtest/backtest.hpp"
#include "coordinator/diagnose/rule_set.hpp"

namespace medic::coordinator::admin {

namespace {

using nlohmann::json;

constexpr std::size_t k_max_rules_bytes = 1024 * 1024;

// Where the candidate rules come from: inline text (what medicctl sends) or a file the
// coordinator can read.
struct RulesSource {
  std::string text;
  std::string file;
  std::string origin; // names the rules in errors: "origin:line:column: ..."
};

Result<RulesSource> rules_source(const json& request) {
  RulesSource source;
  const bool inline_text = request.contains("rules");
  const bool file = request.contains("rules_file");
  if (inline_text == file) {
    return fail(ErrorCode::invalid_argument,
                "give the candidate rules as \"rules\" (YAML text) or \"rules_file\" (a path the "
                "coordinator can read), one of the two");
  }
  source.text = string_field(request, "rules");
  source.file = string_field(request, "rules_file");
  if (inline_text ? !request["rules"].is_string() : source.file.empty()) {
    return fail(ErrorCode::invalid_argument, inline_text
                                                 ? "\"rules\" must be a string of YAML"
                                                 : "\"rules_file\" must be a non-empty path");
  }
  if (source.text.size() > k_max_rules_bytes) {
    return fail(ErrorCode::invalid_argument, "the rules text is " +
                                                 std::to_string(source.text.size()) +
                                                 " bytes; at most 1 MiB is accepted");
  }
  source.origin = string_field(request, "origin");
  if (source.origin.empty()) {
    source.origin = inline_text ? "<rules>" : source.file;
  }
  return source;
}

// Storage worker thread (file I/O and YAML parsing stay off the loop).
Result<diagnose::RuleSet> load(const RulesSource& source) {
  if (source.file.empty()) {
    return diagnose::load_rules_text(source.text, source.origin);
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(source.file, ec);
  if (ec) {
    return fail(ErrorCode::invalid_argument,
                "cannot read rules file " + source.file + ": " + ec.message());
  }
  if (size > k_max_rules_bytes) {
    return fail(ErrorCode::invalid_argument, "rules file " + source.file + " is " +
                                                 std::to_string(size) +
                                                 " bytes; at most 1 MiB is accepted");
  }
  return diagnose::load_rules_file(source.file);
}

json rules_json(const diagnose::RuleSet& rules) {
  json ids = json::array();
  for (const auto& rule : rules.rules()) {
    ids.push_back(rule.id);
  }
  return {{"origin", rules.origin()}, {"count", rules.size()}, {"top_level", std::move(ids)}};
}

// Runs `job` (which builds the whole answer) on the storage worker; answers on the loop.
template <class Job>
void on_worker(uv::Worker& worker, const Respond& respond, Job job) {
  const bool queued =
      worker.try_submit([respond, job = std::move(job)]() -> uv::Worker::Completion {
        json answer;
        try {
          answer = job();
        } catch (const std::exception& e) {
          spdlog::error("admin: rules request: {}", e.what());
          answer = failure("internal", e.what());
        }
        return [respond, answer = std::move(answer)] { respond(answer); };
      });
  if (!queued) {
    respond(failure("busy", "the storage queue is full; try again in a moment"));
  }
}

Result<backtest::BacktestRequest> backtest_request(const json& request) {
  backtest::BacktestRequest out;
  for (const char* name : {"since_ms", "until_ms", "limit", "assume_ms"}) {
    if (request.contains(name) && !unsigned_field(request, name)) {
      return fail(ErrorCode::invalid_argument,
                  "\"" + std::string(name) + "\" must be a non-negative integer");
    }
  }
  out.since_ms = static_cast<std::int64_t>(unsigned_field(request, "since_ms").value_or(0));
  if (const auto until = unsigned_field(request, "until_ms")) {
    out.until_ms = static_cast<std::int64_t>(
        std::min<std::uint64_t>(*until, std::numeric_limits<std::int64_t>::max()));
  }
  out.limit = static_cast<std::size_t>(
      std::min<std::uint64_t>(unsigned_field(request, "limit").value_or(backtest::k_default_limit),
                              std::numeric_limits<std::size_t>::max()));
  if (const auto assume = unsigned_field(request, "assume_ms")) {
    out.options.assumed_success_delay =
        std::chrono::milliseconds(std::min<std::uint64_t>(*assume, 86'400'000));
  }
  return out;
}

} // namespace

bool RulesCommands::handle(const std::string& name, const nlohmann::json& request,
                           const Respond& respond) {
  if (name == "rules.check") {
    check(request, respond);
  } else if (name == "rules.test") {
    test(request, respond);
  } else {
    return false;
  }
  return true;
}

void RulesCommands::check(const nlohmann::json& request, const Respond& respond) {
  auto source = rules_source(request);
  if (!source) {
    respond(failure("bad-request", source.error().message()));
    return;
  }
  on_worker(m_storage_worker, respond, [source = std::move(*source)]() -> json {
    auto rules = load(source);
    if (!rules) {
      return failure("bad-rules", rules.error().message());
    }
    return {{"ok", true}, {"rules", rules_json(*rules)}};
  });
}

void RulesCommands::test(const nlohmann::json& request, const Respond& respond) {
  auto source = rules_source(request);
  auto parsed = backtest_request(request);
  if (!source || !parsed) {
    respond(failure("bad-request", !source ? source.error().message() : parsed.error().message()));
    return;
  }
  auto backtest = std::make_shared<backtest::BacktestRequest>(std::move(*parsed));
  if (m_catalogs) {
    backtest->catalogs = m_catalogs(); // on the loop: the live view is the loop's
  }
  on_worker(m_storage_worker, respond, [this, source = std::move(*source), backtest]() -> json {
    auto rules = load(source);
    if (!rules) {
      return failure("bad-rules", rules.error().message());
    }
    auto report = backtest::run_backtest(m_store, *backtest, m_config, *rules);
    if (!report) {
      const bool refused = report.error().code() == ErrorCode::invalid_argument;
      return failure(refused ? "bad-request" : "storage", report.error().message());
    }
    return {{"ok", true}, {"report", backtest::report_json(*report)}};
  });
}

} // namespace medic::coordinator::admin
