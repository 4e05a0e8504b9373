// SPDX-License-Identifier: Apache-2.0
#include "coordinator/escalate/alertmanager_sink.hpp"

#include <memory>

namespace medic::coordinator::escalate {

namespace {

// Alertmanager takes any number of alerts per POST; this keeps one request well under its
// default 1 MiB-ish proxies and our 5 s budget.
constexpr std::size_t k_max_batch = 64;

class AlertmanagerFormat final : public SinkFormat {
public:
  explicit AlertmanagerFormat(AlertmanagerSinkConfig config) : m_config(std::move(config)) {}
  [[nodiscard]] std::size_t max_batch() const noexcept override { return k_max_batch; }
  [[nodiscard]] bool reposts_firing() const noexcept override { return true; }
  [[nodiscard]] Result<HttpRequest> format(std::span<const Notification> batch,
                                           std::int64_t now_ms) const override {
    return alertmanager_request(m_config, batch, now_ms);
  }

private:
  AlertmanagerSinkConfig m_config;
};

} // namespace

HttpRequest alertmanager_request(const AlertmanagerSinkConfig& config,
                                 std::span<const Notification> batch, std::int64_t now_ms) {
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& notification : batch) {
    alerts.push_back(alertmanager_alert(notification, config.generator_url, now_ms));
  }
  std::string base = config.url;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  // Invalid UTF-8 from log lines is replaced, never thrown about.
  return HttpRequest{base + "/api/v2/alerts",
                     {"Content-Type: application/json"},
                     alerts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

AlertmanagerSink::AlertmanagerSink(const AlertmanagerSinkConfig& config, DeliveryOptions options)
    : Sink(config.name, std::make_unique<AlertmanagerFormat>(config), options) {}

} // namespace medic::coordinator::escalate
