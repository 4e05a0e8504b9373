// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/webhook_sink.hpp"

#include <array>
#include <memory>
#include <mutex>

#include <sodium.h>

namespace medic::coordinator::escalate {

namespace {

class WebhookFormat final : public SinkFormat {
public:
  explicit WebhookFormat(WebhookSinkConfig config) : m_config(std::move(config)) {}
  [[nodiscard]] std::size_t max_batch() const noexcept override { return 1; }
  [[nodiscard]] bool reposts_firing() const noexcept override { return false; }
  [[nodiscard]] Result<HttpRequest> format(std::span<const Notification> batch,
                                           std::int64_t now_ms) const override {
    if (batch.size() != 1) {
      return fail(ErrorCode::internal, "a webhook request carries exactly one notification");
    }
    return webhook_request(m_config, batch.front(), now_ms);
  }

private:
  WebhookSinkConfig m_config;
};

} // namespace

std::string sign_body(std::string_view secret, std::string_view body) {
  static std::once_flag once;
  // -1 only when no random source exists; HMAC needs none, so the result is not needed.
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      return;
    }
  });
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  std::array<char, crypto_auth_hmacsha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), mac.data(), mac.size());
  sodium_memzero(&state, sizeof state);
  return "sha256=" + std::string(hex.data());
}

HttpRequest webhook_request(const WebhookSinkConfig& config, const Notification& notification,
                            std::int64_t now_ms) {
  HttpRequest request;
  request.url = config.url;
  request.body = webhook_body(notification, now_ms)
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  request.headers.emplace_back("Content-Type: application/json");
  if (!config.token.empty()) {
    request.headers.push_back("Authorization: Bearer " + config.token);
  }
  if (!config.secret.empty()) {
    request.headers.push_back(std::string(k_signature_header) + ": " +
                              sign_body(config.secret, request.body));
  }
  return request;
}

WebhookSink::WebhookSink(const WebhookSinkConfig& config, DeliveryOptions options)
    : Sink(config.name, std::make_unique<WebhookFormat>(config), options) {}

} // namespace medic::coordinator::escalate
