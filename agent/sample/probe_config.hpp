// SPDX-License-Identifier: Apache-2.0
// What a probe checks (a TCP connect or an HTTP GET against a local endpoint) and the pure parts
// of probing: resolving the configured address without DNS and reading an HTTP status line.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::agent::sample {

enum class ProbeKind { tcp, http };

struct ProbeConfig {
  std::string name; // the `probe` label value
  ProbeKind kind = ProbeKind::tcp;
  // A numeric IPv4 or IPv6 address, or "localhost" (127.0.0.1). Names that need DNS are refused:
  // a lookup would block the loop.
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  // HTTP only: the request target, sent as `GET <path> HTTP/1.1` with Host and
  // Connection: close.
  std::string path = "/";
  // HTTP only: the status that means up; 0 means any 2xx or 3xx.
  int expected_status = 0;
  // The whole attempt (connect, and for HTTP the status line and headers) must end within it.
  std::int64_t timeout_ms = 2000;
  std::int64_t interval_ms = 10'000;
  // HTTP only: at most this much of the response (status line and headers) is read.
  std::size_t max_response_bytes = 4096;

  // `field` names the probe in errors ("probes[2]").
  [[nodiscard]] Result<void> validate(std::string_view field) const;
};

struct ProbesConfig {
  std::vector<ProbeConfig> probes;

  [[nodiscard]] Result<void> validate() const; // also refuses a name used twice
};

// The socket address of `host`:`port` (host checked as in ProbeConfig). `field` as in validate.
[[nodiscard]] Result<sockaddr_storage> probe_address(std::string_view field,
                                                     const std::string& host, std::uint16_t port);

// "127.0.0.1:8080", "[::1]:8080", "localhost:8080": the `target` label and the Host header.
[[nodiscard]] std::string probe_target(const std::string& host, std::uint16_t port);

// The request bytes of an HTTP probe.
[[nodiscard]] std::string http_request(const ProbeConfig& config);

enum class HttpStatusParse {
  incomplete, // the status line has not fully arrived
  ok,
  malformed, // not "HTTP/1.x <3 digits> ..."
};

// Reads the status code from the start of a response; never looks past the first line.
[[nodiscard]] HttpStatusParse parse_http_status(std::string_view response, int& status) noexcept;

// True once the blank line ending the headers has arrived.
[[nodiscard]] bool http_headers_complete(std::string_view response) noexcept;

} // namespace medic::agent::sample
