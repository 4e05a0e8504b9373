// SPDX-License-Identifier: Apache-2.0
// Readers for action outcomes: the RESULT body, and BATCH's `results`, `budgets` and `evidence`
// entries (see PROTOCOL.md, "RESULT" and "BATCH").
#include <array>

#include "protocol/decode_fields.hpp"

namespace medic::protocol::detail {

namespace {

Result<bool> status_into(MsgpackReader& reader, ResultStatus& target) {
  auto text = reader.read_string(Limits::k_max_name_bytes);
  if (!text) {
    return fail(std::move(text).error());
  }
  const auto status = parse_result_status(*text);
  if (!status) {
    return fail(ErrorCode::protocol, "unknown status '" + std::string(text->substr(0, 32)) + "'");
  }
  target = *status;
  return true;
}

Result<bool> bool_into(MsgpackReader& reader, bool& target) {
  auto value = reader.read_bool();
  if (!value) {
    return fail(std::move(value).error());
  }
  target = *value;
  return true;
}

// An optional word naming a ResultStatus, kept as text (empty when absent).
Result<bool> status_word_into(MsgpackReader& reader, std::string& target) {
  ResultStatus status{};
  auto read = status_into(reader, status);
  if (read) {
    target = to_string(status);
  }
  return read;
}

Result<bool> result_key(MsgpackReader& reader, std::string_view key, CommandResult& result) {
  if (key == "id") {
    // A local action has no command id: the only field that may be empty.
    return text_into(reader, result.command_id, Limits::k_max_id_bytes);
  }
  if (key == "status") {
    return status_into(reader, result.status);
  }
  if (key == "reason") {
    return text_into(reader, result.reason, Limits::k_max_text_bytes);
  }
  if (key == "exit_code") {
    return int_into(reader, result.exit_code);
  }
  if (key == "started_ms") {
    return int_into(reader, result.started_ms);
  }
  if (key == "finished_ms") {
    return int_into(reader, result.finished_ms);
  }
  if (key == "output") {
    return text_into(reader, result.output, Limits::k_max_output_bytes);
  }
  if (key == "origin") {
    return name_into(reader, result.origin, Limits::k_max_name_bytes);
  }
  if (key == "action") {
    return name_into(reader, result.action, Limits::k_max_name_bytes);
  }
  if (key == "rule") {
    return name_into(reader, result.rule, Limits::k_max_name_bytes);
  }
  if (key == "target") {
    return text_into(reader, result.target, Limits::k_max_text_bytes);
  }
  if (key == "params") {
    return pairs_into(reader, result.params, Limits::k_max_params, Limits::k_max_param_value_bytes);
  }
  if (key == "post_check") {
    return name_into(reader, result.post_check, Limits::k_max_name_bytes);
  }
  if (key == "rollback") {
    return name_into(reader, result.rollback, Limits::k_max_name_bytes);
  }
  if (key == "rollback_status") {
    return status_word_into(reader, result.rollback_status);
  }
  if (key == "plan") {
    return text_into(reader, result.plan, Limits::k_max_text_bytes);
  }
  if (key == "audit_seq") {
    return uint_into(reader, result.audit_seq);
  }
  return false;
}

} // namespace

Result<void> read_result(MsgpackReader& reader, std::string_view where, CommandResult& result) {
  return read_body(reader, where, std::array<std::string_view, 2>{"id", "status"},
                   [&](std::string_view key) { return result_key(reader, key, result); });
}

Result<bool> result_into(MsgpackReader& reader, CommandResult& result) {
  return read_result(reader, "result", result).map([] { return true; });
}

Result<bool> budget_into(MsgpackReader& reader, BudgetReport& budget) {
  return read_body(reader, "budget", std::array<std::string_view, 2>{"target", "action"},
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "target") {
                       return name_into(reader, budget.target, Limits::k_max_text_bytes);
                     }
                     if (key == "action") {
                       return name_into(reader, budget.action, Limits::k_max_name_bytes);
                     }
                     if (key == "attempts") {
                       return uint_into(reader, budget.attempts);
                     }
                     if (key == "window_start_ms") {
                       return int_into(reader, budget.window_start_ms);
                     }
                     if (key == "next_allowed_ms") {
                       return int_into(reader, budget.next_allowed_ms);
                     }
                     if (key == "needs_person") {
                       return bool_into(reader, budget.needs_person);
                     }
                     return false;
                   })
      .map([] { return true; });
}

Result<bool> evidence_into(MsgpackReader& reader, Evidence& evidence) {
  return read_body(reader, "evidence",
                   std::array<std::string_view, 3>{"fingerprint", "action", "output"},
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "fingerprint") {
                       return name_into(reader, evidence.fingerprint, Limits::k_max_text_bytes);
                     }
                     if (key == "rule") {
                       return name_into(reader, evidence.rule, Limits::k_max_name_bytes);
                     }
                     if (key == "action") {
                       return name_into(reader, evidence.action, Limits::k_max_name_bytes);
                     }
                     if (key == "time_ms") {
                       return int_into(reader, evidence.time_ms);
                     }
                     if (key == "status") {
                       return status_into(reader, evidence.status);
                     }
                     if (key == "output") {
                       return text_into(reader, evidence.output, Limits::k_max_output_bytes);
                     }
                     return false;
                   })
      .map([] { return true; });
}

} // namespace medic::protocol::detail
