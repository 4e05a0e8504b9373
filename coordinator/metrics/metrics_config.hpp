// SPDX-License-Identifier: Apache-2.0
// The /metrics endpoint's configuration: metrics.listen, a loopback address or off.
#pragma once

#include <string>
#include <string_view>

#include "shared/config/schema.hpp"
#include "shared/error.hpp"

namespace medic::coordinator::metrics {

struct MetricsConfig {
  std::string listen; // "" or "off": no endpoint (the default); else loopback "address:port"
};

// metrics.listen; a non-loopback address is a config error.
void add_metrics_keys(medic::config::Schema& schema, MetricsConfig& config);

// True when `listen` turns the endpoint off ("" or "off").
[[nodiscard]] bool metrics_off(std::string_view listen) noexcept;

struct LoopbackAddress {
  std::string host; // without brackets, as getaddrinfo wants it
  int port = 0;
};

// "127.0.0.1:9464", "[::1]:9464", "localhost:9464" -> ok. Anything else is refused, since
// /metrics has no authentication: 0.0.0.0, a LAN address, a name. Port 0 (tests) only when
// allowed. Errors name the value and what to do.
[[nodiscard]] Result<LoopbackAddress> parse_loopback_listen(std::string_view listen,
                                                            bool allow_port_zero = false);

} // namespace medic::coordinator::metrics
