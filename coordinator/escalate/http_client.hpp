// SPDX-License-Identifier: Apache-2.0
// Outgoing HTTP POST for escalation sinks, on libcurl: http and https only, no redirects,
// connect and total timeouts, a bounded response, and a cancel flag so stop() never waits for
// a slow peer longer than libcurl's next progress call.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::coordinator::escalate {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers; // "Name: value"
  std::string body;
};

struct HttpResponse {
  long status = 0;
  std::string body; // the first k_max_response_bytes, for error messages
};

struct HttpTimeouts {
  std::chrono::milliseconds connect{2000};
  std::chrono::milliseconds total{5000};
};

inline constexpr std::size_t k_max_response_bytes = 4096;

// Ok for "http://host[:port][/path]" and "https://..."; a clear error for anything else
// (other schemes, no host, spaces or control characters).
[[nodiscard]] Result<void> check_http_url(std::string_view url);

// One connection cache per instance: use one per thread (not thread-safe).
class HttpClient {
public:
  HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // Any HTTP status is a response; an error is a transport failure (refused, timed out,
  // cancelled, TLS) with libcurl's words. `cancel` is checked during the transfer.
  [[nodiscard]] Result<HttpResponse> post(const HttpRequest& request, const HttpTimeouts& timeouts,
                                          const std::atomic<bool>& cancel);

private:
  void* m_curl = nullptr; // CURL*
};

} // namespace medic::coordinator::escalate
