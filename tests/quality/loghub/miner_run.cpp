// SPDX-License-Identifier: Apache-2.0
#include "tests/quality/loghub/miner_run.hpp"

#include <time.h>

#include <cstdint>

#include "shared/logs/template_miner.hpp"

namespace medic::quality::loghub {

namespace {

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The sum of ids keeps the compiler from dropping the work.
std::uint64_t feed(logs::TemplateMiner& miner, const std::vector<std::string>& contents) {
  std::uint64_t sum = 0;
  for (const std::string& line : contents) {
    sum += miner.add(line).template_id;
  }
  return sum;
}

} // namespace

Result<MinerRun> run_miner(const std::vector<std::string>& contents, GroupBy group_by) {
  auto miner = logs::TemplateMiner::create({});
  if (!miner) {
    return fail(std::move(miner.error()).context("creating the template miner"));
  }
  std::vector<std::uint32_t> ids;
  ids.reserve(contents.size());
  for (const std::string& line : contents) {
    ids.push_back(miner->add(line).template_id);
  }
  MinerRun run;
  run.template_count = miner->template_count();
  run.labels.reserve(ids.size());
  for (const std::uint32_t id : ids) {
    run.templates.push_back(miner->template_text(id));
    // Templates merged after a line was mined count as one group, as in logparser's output.
    const std::uint32_t current = group_by == GroupBy::emitted_id ? id : miner->current_id(id);
    run.labels.push_back(group_by == GroupBy::template_text ? run.templates.back()
                                                            : std::to_string(current));
  }
  return run;
}

Result<Throughput> measure_miner(const std::vector<const std::vector<std::string>*>& samples,
                                 std::size_t passes) {
  Throughput t;
  double cold = 0;
  double warm = 0;
  std::uint64_t sink = 0;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    for (const std::vector<std::string>* contents : samples) {
      auto miner = logs::TemplateMiner::create({});
      if (!miner) {
        return fail(std::move(miner.error()).context("creating the template miner"));
      }
      const double start = thread_seconds();
      sink += feed(*miner, *contents);
      const double middle = thread_seconds();
      sink += feed(*miner, *contents);
      warm += thread_seconds() - middle;
      cold += middle - start;
      t.lines += pass == 0 ? contents->size() : 0;
    }
  }
  const double total = static_cast<double>(t.lines) * static_cast<double>(passes);
  t.cold_per_second = cold > 0 ? total / cold : 0;
  t.warm_per_second = warm > 0 ? total / warm : 0;
  // Published nowhere; only keeps `sink` alive.
  if (sink == 0 && total > 0) {
    return fail(ErrorCode::internal, "template miner returned only id 0");
  }
  return t;
}

} // namespace medic::quality::loghub
