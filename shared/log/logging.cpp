// SPDX-License-Identifier: Apache-2.0
#include "shared/log/logging.hpp"

#include <cstdlib>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace medic::log {

Result<spdlog::level::level_enum> parse_level(std::string_view text) {
  static constexpr std::string_view k_names[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  for (std::size_t i = 0; i < std::size(k_names); ++i) {
    if (text == k_names[i]) {
      return static_cast<spdlog::level::level_enum>(i);
    }
  }
  return fail(ErrorCode::invalid_argument,
              "unknown log level '" + std::string(text) +
                  "' (trace, debug, info, warn, error, critical, off)");
}

namespace {

// sd-daemon(3) priority prefixes, so journald records the right level.
class JournalPriorityFlag final : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr const char* k_prefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const auto index = static_cast<std::size_t>(msg.level);
    const std::string_view prefix = k_prefix[index < std::size(k_prefix) ? index : 6];
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriorityFlag>();
  }
};

} // namespace

void init(std::string_view program, spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(std::string(program),
                                                 std::make_shared<spdlog::sinks::stdout_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    formatter->add_flag<JournalPriorityFlag>('*').set_pattern("%*%v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

bool RateLimiter::allow(std::int64_t now_ms, std::uint64_t& suppressed) noexcept {
  if (now_ms - m_window_start_ms >= m_period_ms) {
    m_window_start_ms = now_ms;
    m_used = 0;
  }
  if (m_used < m_burst) {
    ++m_used;
    suppressed = m_suppressed;
    m_suppressed = 0;
    return true;
  }
  ++m_suppressed;
  return false;
}

} // namespace medic::log
