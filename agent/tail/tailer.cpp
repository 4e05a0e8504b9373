// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/tailer.hpp"

#include <re2/re2.h>

#include "agent/tail/tailer_core.hpp"

namespace medic::agent::tail {

Result<std::unique_ptr<Tailer>> Tailer::create(uv_loop_t& loop, TailerOptions options,
                                               TailCallbacks callbacks) {
  if (auto valid = validate(options); !valid) {
    return fail(std::move(valid).error());
  }
  std::vector<CompiledSource> sources(options.sources.size());
  for (std::size_t i = 0; i < options.sources.size(); ++i) {
    const std::string& pattern = options.sources[i].continuation_pattern;
    if (!pattern.empty()) {
      re2::RE2::Options re_options;
      re_options.set_log_errors(false);
      sources[i].continuation = std::make_unique<re2::RE2>(pattern, re_options);
    }
  }
  auto core = std::make_unique<TailerCore>(loop, std::move(options), std::move(callbacks),
                                           std::move(sources));
  return std::unique_ptr<Tailer>(new Tailer(std::move(core)));
}

Tailer::Tailer(std::unique_ptr<TailerCore> core) : m_core(std::move(core)) {}

Tailer::~Tailer() = default;

Result<void> Tailer::restore(std::span<const TailCursor> cursors) {
  return m_core->restore(cursors);
}

Result<void> Tailer::start() {
  return m_core->start();
}

void Tailer::stop() noexcept {
  m_core->stop();
}

bool Tailer::is_stopped() const noexcept {
  return m_core->is_stopped();
}

void Tailer::tick() noexcept {
  m_core->tick();
}

std::vector<TailCursor> Tailer::cursors() const {
  return m_core->cursors();
}

const TailStats& Tailer::stats() const noexcept {
  return m_core->stats();
}

} // namespace medic::agent::tail
