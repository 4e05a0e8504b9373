// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/load_sampler.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_loadavg_capacity = 256;

bool parse_load(std::string_view token, double& value) noexcept {
  return parse_double(token, value) && std::isfinite(value) && value >= 0;
}

} // namespace

Result<LoadAverage> parse_loadavg(std::string_view text) {
  std::string_view line;
  LineCursor lines(text);
  if (!lines.next(line)) {
    return fail(ErrorCode::invalid_argument, "empty file");
  }
  LoadAverage load;
  std::string_view rest = line;
  const std::string_view names[] = {"1-minute load", "5-minute load", "15-minute load"};
  double* const targets[] = {&load.load_1, &load.load_5, &load.load_15};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string_view token = next_token(rest);
    if (!parse_load(token, *targets[i])) {
      return fail(ErrorCode::invalid_argument, "line 1: " + std::string(names[i]) + " '" +
                                                   std::string(token) +
                                                   "' is not a non-negative number");
    }
  }
  const std::string_view tasks = next_token(rest);
  const std::size_t slash = tasks.find('/');
  if (slash == std::string_view::npos || !parse_u64(tasks.substr(0, slash), load.runnable) ||
      !parse_u64(tasks.substr(slash + 1), load.tasks)) {
    return fail(ErrorCode::invalid_argument,
                "line 1: task field '" + std::string(tasks) + "' is not <runnable>/<total>");
  }
  return load;
}

LoadSampler::LoadSampler(std::filesystem::path proc_root) : m_proc_root(std::move(proc_root)) {}

Result<void> LoadSampler::open() {
  auto file = ProcFile::open(m_proc_root / "loadavg", k_loadavg_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  m_file.set_short_read(ProcFile::ShortRead::is_the_end);
  if (auto load = read(); !load) {
    m_file = ProcFile();
    return fail(std::move(load).error());
  }
  return {};
}

Result<LoadAverage> LoadSampler::read() {
  if (!m_file.is_open()) {
    return fail(ErrorCode::internal, "load sampler: sample() called before a successful open()");
  }
  auto text = m_file.read();
  if (!text) {
    return fail(std::move(text).error());
  }
  auto load = parse_loadavg(*text);
  if (!load) {
    return fail(std::move(load).error().context(m_file.path().string()));
  }
  return load;
}

Result<void> LoadSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  auto load = read();
  if (!load) {
    return fail(std::move(load).error());
  }
  sink.add("load.1", load->load_1, now_ms, {});
  sink.add("load.5", load->load_5, now_ms, {});
  sink.add("load.15", load->load_15, now_ms, {});
  sink.add("load.runnable", static_cast<double>(load->runnable), now_ms, {});
  sink.add("load.tasks", static_cast<double>(load->tasks), now_ms, {});
  return {};
}

} // namespace medic::agent::sample
