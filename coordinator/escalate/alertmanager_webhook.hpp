// SPDX-License-Identifier: Apache-2.0
// Alertmanager's webhook (payload version 4) as an input: alerts from an existing Prometheus
// set-up become signals medic diagnoses and remediates like its own. Pure: bytes in, signals out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/message.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::escalate {

inline constexpr std::size_t k_max_webhook_body_bytes = std::size_t{1} << 20;
inline constexpr std::size_t k_max_webhook_alerts = 1000;

struct InboundAlert {
  // rule = alertname; state from the alert's status; severity and category from the labels of
  // those names (Prometheus' "warning"/"error"/"page" too; else medium / resource); fingerprint =
  // Alertmanager's; time = startsAt (firing) or endsAt (resolved); message = the summary or
  // description annotation; labels copied (at most protocol's limits, values cut to size).
  protocol::Signal signal;
  std::string host; // the "instance" label, else "host", without its port; '' when neither
};

// Errors name the alert ("alerts[3]: no 'alertname' label") or the payload ("body is 2 MiB,
// limit 1 MiB"). One bad alert refuses the whole payload: Alertmanager retries it, and a
// sender that keeps sending garbage shows up in its logs rather than as silent partial input.
[[nodiscard]] Result<std::vector<InboundAlert>> parse_alertmanager_webhook(std::string_view body);

// "host:9100" -> "host", "[::1]:9100" -> "::1", "fe80::1" stays (no brackets: no port).
[[nodiscard]] std::string strip_port(std::string_view instance);

// "2026-11-23T07:47:18.123456789Z" or with a "+02:00" offset -> Unix ms; nullopt when malformed.
// Alertmanager's "0001-01-01T00:00:00Z" (no time) gives a negative value the caller ignores.
[[nodiscard]] std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

} // namespace medic::coordinator::escalate
