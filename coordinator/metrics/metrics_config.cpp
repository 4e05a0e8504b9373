// SPDX-License-Identifier: Apache-2.0
#include "coordinator/metrics/metrics_config.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace medic::coordinator::metrics {

namespace {

bool loopback_ipv4(const std::string& host) {
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127; // 127.0.0.0/8
}

bool loopback_ipv6(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET6, host.c_str(), &address) == 1 && IN6_IS_ADDR_LOOPBACK(&address) != 0;
}

} // namespace

bool metrics_off(std::string_view listen) noexcept {
  return listen.empty() || listen == "off";
}

Result<LoopbackAddress> parse_loopback_listen(std::string_view listen, bool allow_port_zero) {
  const auto bad = [listen](std::string_view what) {
    return fail(ErrorCode::config, "'" + std::string(listen) + "': " + std::string(what));
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return bad("expected address:port, e.g. 127.0.0.1:9464 (or off)");
  }
  LoopbackAddress out;
  const std::string_view port = listen.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || out.port > 65535 ||
      out.port < (allow_port_zero ? 0 : 1)) {
    return bad("the port must be a number from 1 to 65535");
  }
  const std::string_view host = listen.substr(0, colon);
  bool loopback = false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    out.host = std::string(host.substr(1, host.size() - 2));
    loopback = loopback_ipv6(out.host);
  } else {
    out.host = std::string(host);
    loopback = out.host == "localhost" || loopback_ipv4(out.host);
  }
  if (!loopback) {
    return bad(
        "/metrics has no authentication, so it listens on a loopback address only "
        "(127.0.0.1, [::1] or localhost); let a remote Prometheus scrape through a "
        "reverse proxy with TLS and authentication, or an SSH tunnel");
  }
  return out;
}

void add_metrics_keys(medic::config::Schema& schema, MetricsConfig& config) {
  schema.add_string("metrics.listen", config.listen,
                    "Where Prometheus scrapes GET /metrics: a loopback address:port, e.g. "
                    "127.0.0.1:9464; empty or off: no endpoint (docs/metrics.md)",
                    [](const std::string& text) -> Result<void> {
                      if (metrics_off(text)) {
                        return {};
                      }
                      auto parsed = parse_loopback_listen(text);
                      if (!parsed) {
                        return fail(std::move(parsed).error());
                      }
                      return {};
                    });
}

} // namespace medic::coordinator::metrics
