// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/probe_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_max_path_bytes = 1024;
constexpr std::size_t k_min_response_bytes = 64;
constexpr std::size_t k_max_response_bytes = std::size_t{64} * 1024;
constexpr std::int64_t k_min_timeout_ms = 10;
constexpr std::int64_t k_max_timeout_ms = 60'000;
constexpr std::int64_t k_min_interval_ms = 1000;

Result<void> check_path(const std::string& where, const std::string& path) {
  if (path.empty() || path.front() != '/' || path.size() > k_max_path_bytes) {
    return fail(ErrorCode::config,
                where + ".path: '" + path + "' must start with '/' and be at most 1024 bytes");
  }
  const auto unsafe = [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20U || byte >= 0x7FU;
  };
  if (std::any_of(path.begin(), path.end(), unsafe)) {
    return fail(
        ErrorCode::config,
        where + ".path: '" + path + "' has a space, control or non-ASCII byte (percent-encode it)");
  }
  return {};
}

Result<void> check_numbers(const std::string& where, const ProbeConfig& config) {
  if (config.port == 0) {
    return fail(ErrorCode::config, where + ".port: must be between 1 and 65535");
  }
  if (config.timeout_ms < k_min_timeout_ms || config.timeout_ms > k_max_timeout_ms) {
    return fail(ErrorCode::config, where + ".timeout: must be between 10 ms and 60 s, not " +
                                       std::to_string(config.timeout_ms) + " ms");
  }
  if (config.interval_ms < k_min_interval_ms) {
    return fail(ErrorCode::config, where + ".interval: must be at least 1 s, not " +
                                       std::to_string(config.interval_ms) + " ms");
  }
  if (config.kind == ProbeKind::http && (config.max_response_bytes < k_min_response_bytes ||
                                         config.max_response_bytes > k_max_response_bytes)) {
    return fail(ErrorCode::config, where + ".max_response_bytes: must be between 64 and 65536");
  }
  if (config.expected_status != 0 &&
      (config.expected_status < 100 || config.expected_status > 599)) {
    return fail(ErrorCode::config,
                where + ".expected_status: " + std::to_string(config.expected_status) +
                    " is not an HTTP status (100-599, or 0 for any 2xx/3xx)");
  }
  return {};
}

} // namespace

Result<void> ProbeConfig::validate(std::string_view field) const {
  const std::string where(field);
  if (auto ok = check_label_name(where + ".name", name); !ok) {
    return ok;
  }
  if (auto ok = check_numbers(where, *this); !ok) {
    return ok;
  }
  if (auto address = probe_address(field, host, port); !address) {
    return fail(std::move(address).error());
  }
  if (kind == ProbeKind::http) {
    return check_path(where, path);
  }
  return {};
}

Result<void> ProbesConfig::validate() const {
  for (std::size_t i = 0; i < probes.size(); ++i) {
    const std::string field = "probes[" + std::to_string(i) + "]";
    if (auto ok = probes[i].validate(field); !ok) {
      return ok;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (probes[j].name == probes[i].name) {
        return fail(ErrorCode::config, field + ".name: '" + probes[i].name + "' is used twice");
      }
    }
  }
  return {};
}

Result<sockaddr_storage> probe_address(std::string_view field, const std::string& host,
                                       std::uint16_t port) {
  sockaddr_storage storage{};
  const std::string& numeric = host == "localhost" ? std::string("127.0.0.1") : host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (::inet_pton(AF_INET, numeric.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return storage;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET6, numeric.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return storage;
  }
  return fail(ErrorCode::config,
              std::string(field) + ".host: '" + host +
                  "' is not a numeric IP address or 'localhost' (the agent does no DNS lookups)");
}

std::string probe_target(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string http_request(const ProbeConfig& config) {
  return "GET " + config.path + " HTTP/1.1\r\nHost: " + probe_target(config.host, config.port) +
         "\r\nUser-Agent: medic-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

HttpStatusParse parse_http_status(std::string_view response, int& status) noexcept {
  const std::size_t end = response.find('\n');
  const std::string_view line = response.substr(0, end);
  // "HTTP/1.1 200" is the shortest status line that can be judged.
  constexpr std::string_view k_prefix = "HTTP/1.";
  if (line.size() < k_prefix.size() && k_prefix.starts_with(line) &&
      end == std::string_view::npos) {
    return HttpStatusParse::incomplete;
  }
  if (!line.starts_with(k_prefix)) {
    return HttpStatusParse::malformed;
  }
  if (end == std::string_view::npos) {
    return HttpStatusParse::incomplete;
  }
  // "HTTP/1.1 200 OK\r"
  if (line.size() < 12 || line[8] != ' ') {
    return HttpStatusParse::malformed;
  }
  int code = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      return HttpStatusParse::malformed;
    }
    code = code * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ' && line[12] != '\r') {
    return HttpStatusParse::malformed;
  }
  status = code;
  return HttpStatusParse::ok;
}

bool http_headers_complete(std::string_view response) noexcept {
  return response.find("\r\n\r\n") != std::string_view::npos ||
         response.find("\n\n") != std::string_view::npos;
}

} // namespace medic::agent::sample
