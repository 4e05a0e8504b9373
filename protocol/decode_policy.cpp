// SPDX-License-Identifier: Apache-2.0
// Reader for the POLICY body (see PROTOCOL.md, "POLICY"): the freeze and the maintenance
// windows the coordinator pushes to an agent. Times are Unix ms sent as non-negative ints.
#include <array>
#include <cstdint>
#include <limits>

#include "protocol/decode_fields.hpp"

namespace medic::protocol::detail {

namespace {

// A point in time: a non-negative int that fits the int64 the structs hold.
Result<bool> time_into(MsgpackReader& reader, std::int64_t& target) {
  std::uint64_t value = 0;
  auto read = uint_into(reader, value);
  if (!read) {
    return read;
  }
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return fail(ErrorCode::protocol, std::to_string(value) + " is out of range (at most 2^63-1)");
  }
  target = static_cast<std::int64_t>(value);
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

Result<bool> freeze_into(MsgpackReader& reader, Freeze& freeze) {
  return read_body(reader, "freeze", std::array<std::string_view, 1>{"on"},
                   [&](std::string_view key) -> Result<bool> {
                     if (key == "on") {
                       return bool_into(reader, freeze.on);
                     }
                     if (key == "until_ms") {
                       return time_into(reader, freeze.until_ms);
                     }
                     if (key == "reason") {
                       return text_into(reader, freeze.reason, Limits::k_max_policy_reason_bytes);
                     }
                     return false;
                   })
      .map([] { return true; });
}

Result<bool> services_into(MsgpackReader& reader, std::vector<std::string>& services) {
  auto count = reader.read_array(Limits::k_max_window_services);
  if (!count) {
    return fail(std::move(count).error());
  }
  services.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto name = read_name(reader, Limits::k_max_id_bytes);
    if (!name) {
      return fail(at("[" + std::to_string(i) + "]", std::move(name).error()));
    }
    services.emplace_back(*name);
  }
  return true;
}

Result<bool> window_key(MsgpackReader& reader, std::string_view key, MaintenanceWindow& window) {
  if (key == "id") {
    return name_into(reader, window.id, Limits::k_max_id_bytes);
  }
  if (key == "start_ms") {
    return time_into(reader, window.start_ms);
  }
  if (key == "end_ms") {
    return time_into(reader, window.end_ms);
  }
  if (key == "services") {
    return services_into(reader, window.services);
  }
  if (key == "reason") {
    return text_into(reader, window.reason, Limits::k_max_policy_reason_bytes);
  }
  return false;
}

Result<bool> window_into(MsgpackReader& reader, MaintenanceWindow& window) {
  auto read =
      read_body(reader, "window", std::array<std::string_view, 3>{"id", "start_ms", "end_ms"},
                [&](std::string_view key) { return window_key(reader, key, window); });
  if (!read) {
    return fail(std::move(read).error());
  }
  if (window.end_ms <= window.start_ms) {
    return fail(ErrorCode::protocol, "window.end_ms: " + std::to_string(window.end_ms) +
                                         " is not after start_ms " +
                                         std::to_string(window.start_ms));
  }
  return true;
}

Result<bool> windows_into(MsgpackReader& reader, std::vector<MaintenanceWindow>& windows) {
  auto count = reader.read_array(Limits::k_max_windows);
  if (!count) {
    return fail(std::move(count).error());
  }
  windows.resize(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    if (auto window = window_into(reader, windows[i]); !window) {
      return fail(at("[" + std::to_string(i) + "]", std::move(window).error()));
    }
  }
  return true;
}

} // namespace

Result<Body> read_policy_body(MsgpackReader& reader) {
  Policy policy;
  auto read =
      read_body(reader, "POLICY", std::array<std::string_view, 3>{"version", "freeze", "windows"},
                [&](std::string_view key) -> Result<bool> {
                  if (key == "version") {
                    auto got = uint_into(reader, policy.version);
                    if (got && policy.version == 0) {
                      return fail(ErrorCode::protocol, "must be above 0");
                    }
                    return got;
                  }
                  if (key == "freeze") {
                    return freeze_into(reader, policy.freeze);
                  }
                  if (key == "windows") {
                    return windows_into(reader, policy.windows);
                  }
                  return false;
                });
  if (!read) {
    return fail(std::move(read).error());
  }
  return Body(std::move(policy));
}

} // namespace medic::protocol::detail
