// SPDX-License-Identifier: Apache-2.0
// Escalation to any HTTP receiver (a chat bridge, a ticketing system, a code-fixing bot): one
// POST per notification with the incident's full context as JSON (see webhook_body). Receivers
// authenticate medic by an optional bearer token and/or an HMAC-SHA256 of the exact body under a
// shared secret, sent as "X-Medic-Signature: sha256=<hex>".
#pragma once

#include <string>
#include <string_view>

#include "coordinator/escalate/sink.hpp"

namespace medic::coordinator::escalate {

struct WebhookSinkConfig {
  std::string name;
  std::string url;
  std::string token;  // "Authorization: Bearer <token>" when set
  std::string secret; // X-Medic-Signature when set
};

inline constexpr const char* k_signature_header = "X-Medic-Signature";

class WebhookSink final : public Sink {
public:
  WebhookSink(const WebhookSinkConfig& config, DeliveryOptions options);
};

// "sha256=" + lowercase hex of HMAC-SHA256(secret, body). Thread-safe.
[[nodiscard]] std::string sign_body(std::string_view secret, std::string_view body);

// The request WebhookSink sends for one notification.
[[nodiscard]] HttpRequest webhook_request(const WebhookSinkConfig& config,
                                          const Notification& notification, std::int64_t now_ms);

} // namespace medic::coordinator::escalate
