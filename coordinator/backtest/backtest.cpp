// SPDX-License-Identifier: Apache-2.0
#include "coordinator/backtest/backtest.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "coordinator/storage/labels_json.hpp"

namespace medic::coordinator::backtest {

namespace {

constexpr std::size_t k_max_side_rows = 100'000; // log events, results: one read each
constexpr std::size_t k_max_live_incidents = 10'000;

storage::EventQuery period(std::int64_t since_ms, std::int64_t until_ms, std::size_t limit) {
  storage::EventQuery query;
  query.since_ms = since_ms;
  query.until_ms = until_ms;
  query.limit = limit;
  query.oldest_first = true;
  return query;
}

// Reads the signals and says whether the period held more than `limit`: the signals at the
// last time read are counted again with one more allowed (ties keep the arrival order).
Result<void> read_signals(storage::Store& store, const BacktestRequest& request,
                          ReplayInput& input) {
  auto signals = store.recent_signals(period(request.since_ms, request.until_ms, request.limit));
  if (!signals) {
    return fail(std::move(signals).error().context("reading the period's signals"));
  }
  input.signals = std::move(*signals);
  if (input.signals.size() < request.limit) {
    return {};
  }
  const std::int64_t last_ms = input.signals.back().signal.time_ms;
  const auto at_last = static_cast<std::size_t>(
      std::count_if(input.signals.rbegin(), input.signals.rend(),
                    [last_ms](const auto& record) { return record.signal.time_ms == last_ms; }));
  auto probe = store.recent_signals(period(last_ms, request.until_ms, at_last + 1));
  if (!probe) {
    return fail(std::move(probe).error().context("reading the period's signals"));
  }
  input.cut = probe->size() > at_last;
  return {};
}

Result<void> read_context(storage::Store& store, const BacktestRequest& request, ReplayInput& input,
                          std::vector<std::string>& notes) {
  const std::int64_t end = input.cut ? input.signals.back().signal.time_ms : request.until_ms;
  auto logs = store.recent_log_events(period(request.since_ms, end, k_max_side_rows));
  if (!logs) {
    return fail(std::move(logs).error().context("reading the period's log events"));
  }
  if (logs->size() == k_max_side_rows) {
    notes.push_back("only the first 100000 log events of the period were used for diagnosis");
  }
  input.log_events = std::move(*logs);
  // Outcomes of recoveries started near the end still count.
  const std::int64_t window = request.options.result_window.count();
  const std::int64_t results_end =
      end > std::numeric_limits<std::int64_t>::max() - window ? end : end + window;
  auto results = store.recent_results(period(request.since_ms, results_end, k_max_side_rows));
  if (!results) {
    return fail(std::move(results).error().context("reading the period's action results"));
  }
  input.results = std::move(*results);
  auto agents = store.list_agents();
  if (!agents) {
    return fail(std::move(agents).error().context("reading the agents"));
  }
  for (const auto& agent : *agents) {
    ReplayAgent replay_agent{agent.id, agent.host, storage::labels_from_json(agent.labels_json),
                             std::nullopt};
    if (const auto it = request.catalogs.find(agent.id); it != request.catalogs.end()) {
      replay_agent.catalog = it->second;
    }
    input.agents.push_back(std::move(replay_agent));
  }
  return {};
}

Result<LiveComparison> live_comparison(storage::Store& store, const BacktestRequest& request) {
  storage::IncidentQuery query;
  query.since_ms = request.since_ms; // last seen at or after: first seen is checked below
  query.limit = k_max_live_incidents;
  auto incidents = store.list_incidents(query);
  if (!incidents) {
    return fail(std::move(incidents).error().context("reading the live incidents"));
  }
  LiveComparison live;
  live.available = true;
  live.cut = incidents->size() == k_max_live_incidents;
  for (const auto& record : *incidents) {
    const auto& i = record.incident;
    if (i.first_seen_ms < request.since_ms || i.first_seen_ms > request.until_ms) {
      continue;
    }
    ++live.incidents;
    live.fleet_incidents += i.kind == correlate::IncidentKind::fleet ? 1 : 0;
    live.escalated += record.escalated ? 1 : 0;
    const auto diagnosis = nlohmann::json::parse(record.diagnosis_json, nullptr, false);
    if (diagnosis.is_object() && diagnosis.value("rule", "") == diagnose::k_needs_review) {
      ++live.needs_review;
    }
  }
  return live;
}

} // namespace

Result<ReplayReport> run_backtest(storage::Store& store, const BacktestRequest& request,
                                  const engine::EngineConfig& config,
                                  const diagnose::RuleSet& rules) {
  if (request.since_ms > request.until_ms) {
    return fail(ErrorCode::invalid_argument, "the period ends before it starts (since > until)");
  }
  if (request.limit == 0 || request.limit > k_max_limit) {
    return fail(ErrorCode::invalid_argument, "limit must be 1 to " + std::to_string(k_max_limit) +
                                                 " signals, not " + std::to_string(request.limit));
  }
  ReplayInput input;
  input.since_ms = request.since_ms;
  input.until_ms = request.until_ms;
  std::vector<std::string> notes;
  if (auto read = read_signals(store, request, input); !read) {
    return fail(std::move(read).error());
  }
  if (auto read = read_context(store, request, input, notes); !read) {
    return fail(std::move(read).error());
  }
  auto live = live_comparison(store, request);
  if (!live) {
    return fail(std::move(live).error());
  }
  ReplayOptions options = request.options;
  options.limit = request.limit;
  ReplayReport report = replay(input, config, rules, options);
  report.live = *live;
  report.notes.insert(report.notes.end(), notes.begin(), notes.end());
  if (report.agents_with_catalog < report.agents) {
    report.notes.push_back(
        "agents without a known catalog are assumed to offer every action the rules propose, at "
        "the rule's risk (else '" +
        options.assumed_risk + "')");
  }
  report.notes.push_back(
      "metric conditions see no samples: the store keeps only each series' "
      "latest value, not the period's");
  report.notes.push_back("a recovery with no stored outcome is assumed to succeed after " +
                         std::to_string(options.assumed_success_delay.count() / 1000) + " s");
  return report;
}

} // namespace medic::coordinator::backtest
