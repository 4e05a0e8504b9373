// SPDX-License-Identifier: Apache-2.0
#include "protocol/message.hpp"

#include <array>

namespace medic::protocol {

std::string_view to_string(MessageType type) noexcept {
  switch (type) {
  case MessageType::hello: return "HELLO";
  case MessageType::batch: return "BATCH";
  case MessageType::ack: return "ACK";
  case MessageType::heartbeat: return "HEARTBEAT";
  case MessageType::command: return "COMMAND";
  case MessageType::result: return "RESULT";
  case MessageType::error: return "ERROR";
  case MessageType::policy: return "POLICY";
  }
  return "UNKNOWN";
}

std::string_view to_string(ResultStatus status) noexcept {
  switch (status) {
  case ResultStatus::succeeded: return "succeeded";
  case ResultStatus::failed: return "failed";
  case ResultStatus::rejected: return "rejected";
  case ResultStatus::dry_run: return "dry-run";
  case ResultStatus::needs_person: return "needs-person";
  case ResultStatus::expired: return "expired";
  case ResultStatus::duplicate: return "duplicate";
  case ResultStatus::timed_out: return "timed-out";
  }
  return "unknown";
}

namespace {

template <class Enum, std::size_t N>
std::optional<Enum> parse_enum(std::string_view text, const std::array<Enum, N>& values) noexcept {
  for (const Enum value : values) {
    if (to_string(value) == text) {
      return value;
    }
  }
  return std::nullopt;
}

} // namespace

std::string_view to_string(Category category) noexcept {
  switch (category) {
  case Category::authentication: return "authentication";
  case Category::database: return "database";
  case Category::api: return "api";
  case Category::performance: return "performance";
  case Category::integration: return "integration";
  case Category::resource: return "resource";
  case Category::configuration: return "configuration";
  case Category::network: return "network";
  }
  return "unknown";
}

std::string_view to_string(Severity severity) noexcept {
  switch (severity) {
  case Severity::critical: return "critical";
  case Severity::high: return "high";
  case Severity::medium: return "medium";
  case Severity::low: return "low";
  case Severity::info: return "info";
  }
  return "unknown";
}

std::string_view to_string(SignalState state) noexcept {
  return state == SignalState::firing ? "firing" : "cleared";
}

std::optional<Category> parse_category(std::string_view text) noexcept {
  return parse_enum(text,
                    std::array{Category::authentication, Category::database, Category::api,
                               Category::performance, Category::integration, Category::resource,
                               Category::configuration, Category::network});
}

std::optional<Severity> parse_severity(std::string_view text) noexcept {
  return parse_enum(text, std::array{Severity::critical, Severity::high, Severity::medium,
                                     Severity::low, Severity::info});
}

std::optional<ResultStatus> parse_result_status(std::string_view text) noexcept {
  return parse_enum(
      text, std::array{ResultStatus::succeeded, ResultStatus::failed, ResultStatus::rejected,
                       ResultStatus::expired, ResultStatus::duplicate, ResultStatus::timed_out,
                       ResultStatus::dry_run, ResultStatus::needs_person});
}

std::optional<SignalState> parse_signal_state(std::string_view text) noexcept {
  return parse_enum(text, std::array{SignalState::firing, SignalState::cleared});
}

} // namespace medic::protocol
